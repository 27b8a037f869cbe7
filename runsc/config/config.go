// Package config turns runsc's global flags into a Config. Flag names
// follow runc's where runc has the flag (--root, --log, --log-format,
// --debug) and gVisor's otherwise (--debug-log, --strace, --platform).
package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is runsc's configuration.
type Config struct {
	// RootDir is where container state lives.
	RootDir string
	// Debug enables debug logging.
	Debug bool
	// LogFilename is runc's --log: where runsc writes its own errors.
	LogFilename string
	// LogFormat is "text" or "json".
	LogFormat string
	// DebugLog is where the sandbox's processes log: a file name, or a
	// directory when it ends in "/". %ID% and %COMMAND% are replaced.
	DebugLog string
	// Strace logs every system call the application makes.
	Strace bool
	// Platform names the platform: only "ptrace" exists.
	Platform string
	// Overlay says how the root filesystem is layered: "memory" (the
	// default) puts a memory-backed upper layer over the gofer's root so
	// that writes never reach the host; "none" writes through the gofer
	// to the host root.
	Overlay string
	// FileAccess says how the root filesystem's files are shared with
	// the host: "exclusive" (the default) lets the sandbox cache names
	// and attributes, taking the root to be its own while it runs;
	// "shared" checks them with the host on each use, so changes the
	// host makes meanwhile are seen.
	FileAccess string
	// FileAccessMounts is FileAccess for bind mounts: "shared" (the
	// default) or "exclusive".
	FileAccessMounts string
	// SystemdCgroup is accepted for runc compatibility and ignored.
	SystemdCgroup bool
}

// RegisterFlags defines the global flags on fs.
func RegisterFlags(fs *flag.FlagSet) {
	fs.String("root", "/var/run/runsc", "root directory for storage of container state")
	fs.Bool("debug", false, "enable debug logging")
	fs.String("log", "", "file path where runsc writes its own log and errors (default: stderr)")
	fs.String("log-format", "text", "log format: text or json")
	fs.String("debug-log", "", "additional location for logs of all sandbox processes; a directory ends with '/'; %ID% and %COMMAND% are substituted")
	fs.Bool("strace", false, "log every system call the application makes (needs --debug-log or --log to be useful)")
	fs.String("platform", "ptrace", "platform that runs application code: ptrace")
	fs.String("overlay", "memory", "root filesystem layering: memory (writes stay in sandbox memory) or none (writes go through the gofer to the host root)")
	fs.String("file-access", "exclusive", "root filesystem access: exclusive (the sandbox caches the root's names and attributes) or shared (changes the host makes while the sandbox runs are seen)")
	fs.String("file-access-mounts", "shared", "bind mount access: shared (changes the host makes while the sandbox runs are seen) or exclusive (names and attributes are cached)")
	fs.Bool("systemd-cgroup", false, "accepted for runc compatibility; ignored")
}

// NewFromFlags reads the global flags.
func NewFromFlags(fs *flag.FlagSet) (*Config, error) {
	get := func(name string) string { return fs.Lookup(name).Value.String() }
	c := &Config{
		RootDir:          get("root"),
		Debug:            get("debug") == "true",
		LogFilename:      get("log"),
		LogFormat:        get("log-format"),
		DebugLog:         get("debug-log"),
		Strace:           get("strace") == "true",
		Platform:         get("platform"),
		Overlay:          get("overlay"),
		FileAccess:       get("file-access"),
		FileAccessMounts: get("file-access-mounts"),
		SystemdCgroup:    get("systemd-cgroup") == "true",
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, fmt.Errorf("invalid --log-format %q: want text or json", c.LogFormat)
	}
	if c.Platform != "ptrace" {
		return nil, fmt.Errorf("invalid --platform %q: only ptrace is available", c.Platform)
	}
	if c.Overlay != "memory" && c.Overlay != "none" {
		return nil, fmt.Errorf("invalid --overlay %q: want memory or none", c.Overlay)
	}
	for _, f := range []struct{ name, v string }{{"file-access", c.FileAccess}, {"file-access-mounts", c.FileAccessMounts}} {
		if f.v != "exclusive" && f.v != "shared" {
			return nil, fmt.Errorf("invalid --%s %q: want exclusive or shared", f.name, f.v)
		}
	}
	if c.RootDir == "" {
		return nil, fmt.Errorf("--root must not be empty")
	}
	return c, nil
}

// ToFlags renders c as command-line flags for the sandbox's processes.
func (c *Config) ToFlags() []string {
	return []string{
		"--root=" + c.RootDir,
		fmt.Sprintf("--debug=%t", c.Debug),
		"--log-format=" + c.LogFormat,
		fmt.Sprintf("--strace=%t", c.Strace),
		"--platform=" + c.Platform,
		"--overlay=" + c.Overlay,
		"--file-access=" + c.FileAccess,
		"--file-access-mounts=" + c.FileAccessMounts,
	}
}

// OpenDebugLog opens the debug log for a sandbox process, or returns nil
// if none is configured.
func (c *Config) OpenDebugLog(id, command string) (*os.File, error) {
	if c.DebugLog == "" {
		return nil, nil
	}
	name := c.DebugLog
	if strings.HasSuffix(name, "/") {
		name += fmt.Sprintf("runsc.log.%s.%s.txt", time.Now().Format("20060102-150405.000000"), "%COMMAND%")
	}
	name = strings.ReplaceAll(name, "%ID%", id)
	name = strings.ReplaceAll(name, "%COMMAND%", command)
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return nil, fmt.Errorf("debug log: %w", err)
	}
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("debug log: %w", err)
	}
	return f, nil
}
