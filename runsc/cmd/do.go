package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"palisade.dev/runsc/config"
	"palisade.dev/runsc/container"
	"palisade.dev/runsc/specutils"
)

// Do implements "runsc do": run a command in a new sandbox whose root is
// the host's (or --root-dir), with the caller's stdio, through the same
// create → start → wait → delete path as any container.
type Do struct {
	rootDir string
	cwd     string
}

// Name implements subcommands.Command.
func (*Do) Name() string { return "do" }

// Synopsis implements subcommands.Command.
func (*Do) Synopsis() string { return "run a command in a new sandbox" }

// Usage implements subcommands.Command.
func (*Do) Usage() string {
	return `do [flags] CMD [ARG...]

Runs CMD in a new sandbox whose root filesystem is the host's / (or
--root-dir), served read-only through a gofer. The command's standard
input, output and error are runsc's, and runsc exits with its exit status
(128+N if it was killed by signal N).
`
}

// SetFlags implements subcommands.Command.
func (d *Do) SetFlags(f *flag.FlagSet) {
	f.StringVar(&d.rootDir, "root-dir", "/", "directory to use as the sandbox's root filesystem")
	f.StringVar(&d.cwd, "cwd", "", "working directory inside the sandbox (default: the current directory when --root-dir is /, else /)")
}

// Execute implements subcommands.Command.
func (d *Do) Execute(ctx context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := args[0].(*config.Config)
	if f.NArg() == 0 {
		return Errorf(conf, "do: missing command (usage: runsc do [flags] CMD [ARG...])")
	}
	rootDir, err := filepath.Abs(d.rootDir)
	if err != nil {
		return Errorf(conf, "do: --root-dir %q: %v", d.rootDir, err)
	}
	if st, err := os.Stat(rootDir); err != nil {
		return Errorf(conf, "do: --root-dir: %v", err)
	} else if !st.IsDir() {
		return Errorf(conf, "do: --root-dir %q is not a directory", rootDir)
	}
	cwd := d.cwd
	if cwd == "" {
		cwd = "/"
		if rootDir == "/" {
			if wd, err := os.Getwd(); err == nil {
				cwd = wd
			}
		}
	}
	if !filepath.IsAbs(cwd) {
		return Errorf(conf, "do: --cwd %q must be an absolute path", cwd)
	}

	// Sandboxes of "runsc do"s that were killed left their state behind.
	container.CollectDead(conf, doPrefix)
	var rnd [6]byte
	rand.Read(rnd[:])
	id := doPrefix + hex.EncodeToString(rnd[:])
	bundle, err := os.MkdirTemp("", "runsc-do-")
	if err != nil {
		return Errorf(conf, "do: bundle: %v", err)
	}
	defer os.RemoveAll(bundle)
	spec := doSpec(rootDir, cwd, f.Args())
	b, _ := json.MarshalIndent(spec, "", "  ")
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o644); err != nil {
		return Errorf(conf, "do: bundle: %v", err)
	}

	c, err := container.Create(conf, id, bundle, [3]*os.File{os.Stdin, os.Stdout, os.Stderr}, true)
	if err != nil {
		return Errorf(conf, "do: create: %v", err)
	}
	defer c.Destroy()

	// Until signals are forwarded into the sandbox, a signal to runsc
	// tears the sandbox down and exits as the process would have.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		s := <-sigs
		c.Destroy()
		os.RemoveAll(bundle)
		os.Exit(128 + int(s.(syscall.Signal)))
	}()

	if err := c.Start(); err != nil {
		status := Errorf(conf, "do: %v", err)
		switch {
		case errors.Is(err, syscall.ENOENT):
			return 127
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC):
			return 126
		}
		return status
	}
	code, signaled, err := c.Wait()
	if err != nil {
		return Errorf(conf, "do: wait: %v", err)
	}
	if signaled {
		return subcommands.ExitStatus(128 + code)
	}
	return subcommands.ExitStatus(code)
}

// doPrefix starts the IDs of "runsc do" containers.
const doPrefix = "runsc-do-"

// doSpec is the spec of a "runsc do" container.
func doSpec(rootDir, cwd string, argv []string) *specs.Spec {
	hostname, _ := os.Hostname()
	env := os.Environ()
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs"},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "nodev", "mode=1777"}},
	}
	// A fresh /tmp would hide the working directory when that lies under
	// /tmp (a checkout in /tmp, say); then /tmp comes from the root
	// filesystem like any other directory.
	if !under(cwd, "/tmp") {
		mounts = append(mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}})
	}
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: argv,
			Env:  env,
			Cwd:  cwd,
			User: specs.User{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())},
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  specutils.DefaultCapabilities,
				Effective: specutils.DefaultCapabilities,
				Permitted: specutils.DefaultCapabilities,
			},
		},
		Root:     &specs.Root{Path: rootDir},
		Hostname: hostname,
		Mounts:   mounts,
	}
}

// under reports whether path is dir or lies beneath it.
func under(path, dir string) bool {
	path = filepath.Clean(path)
	return path == dir || strings.HasPrefix(path, dir+"/")
}

func hasEnv(env []string, name string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}
