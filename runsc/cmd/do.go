package cmd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
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
	capAdd  string
	capDrop string
	volumes volumeFlags
}

// Name implements subcommands.Command.
func (*Do) Name() string { return "do" }

// Synopsis implements subcommands.Command.
func (*Do) Synopsis() string { return "run a command in a new sandbox" }

// Usage implements subcommands.Command.
func (*Do) Usage() string {
	return `do [flags] CMD [ARG...]

Runs CMD in a new sandbox whose root filesystem is the host's / (or
--root-dir), served through a gofer under a memory overlay (with the
global --overlay=none, writes reach the host). The command's standard
input, output and error are runsc's, and runsc exits with its exit status
(128+N if it was killed by signal N). The process runs as the caller's
user with Docker's default capabilities, changed by --cap-add and
--cap-drop. --volume (-v) HOST:CTR[:ro] bind-mounts the host file or
directory HOST at CTR, as docker run -v does: writes reach the host
unless it is read-only (ro).
`
}

// SetFlags implements subcommands.Command.
func (d *Do) SetFlags(f *flag.FlagSet) {
	f.StringVar(&d.rootDir, "root-dir", "/", "directory to use as the sandbox's root filesystem")
	f.StringVar(&d.cwd, "cwd", "", "working directory inside the sandbox (default: the current directory when --root-dir is /, else /)")
	f.StringVar(&d.capAdd, "cap-add", "", "comma-separated capabilities to add to Docker's default set (SYS_ADMIN or CAP_SYS_ADMIN; ALL for every one)")
	f.StringVar(&d.capDrop, "cap-drop", "", "comma-separated capabilities to remove from the set (ALL for every one)")
	f.Var(&d.volumes, "volume", "bind-mount a host file or directory: HOST:CTR[:ro|rw] (repeatable)")
	f.Var(&d.volumes, "v", "shorthand for --volume")
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

	caps, err := capabilities(d.capAdd, d.capDrop)
	if err != nil {
		return Errorf(conf, "do: %v", err)
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
	spec := doSpec(rootDir, cwd, f.Args(), caps)
	// As docker run: a volume inside another goes on top of it,
	// whichever was named first.
	vols := slices.Clone(d.volumes)
	slices.SortStableFunc(vols, func(a, b specs.Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
	spec.Mounts = append(spec.Mounts, vols...)
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
func doSpec(rootDir, cwd string, argv []string, caps []string) *specs.Spec {
	hostname, _ := os.Hostname()
	env := os.Environ()
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	mounts := []specs.Mount{
		// Docker's defaults.
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777"}},
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
				Bounding:  caps,
				Effective: caps,
				Permitted: caps,
			},
		},
		Root:     &specs.Root{Path: rootDir},
		Hostname: hostname,
		Mounts:   mounts,
	}
}

// volumeFlags are the --volume flags, as bind mounts.
type volumeFlags []specs.Mount

// String implements flag.Value.
func (v *volumeFlags) String() string {
	var s []string
	for _, m := range *v {
		x := m.Source + ":" + m.Destination
		if specutils.MountReadOnly(m) {
			x += ":ro"
		}
		s = append(s, x)
	}
	return strings.Join(s, " ")
}

// Set implements flag.Value: HOST:CTR[:OPTIONS] as docker run -v takes
// it, HOST an existing file or directory, CTR an absolute path, and
// OPTIONS a comma-separated list of ro and rw.
func (v *volumeFlags) Set(val string) error {
	parts := strings.Split(val, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("want HOST:CTR[:ro|rw]")
	}
	host, ctr := parts[0], parts[1]
	if !filepath.IsAbs(ctr) {
		return fmt.Errorf("container path %q must be absolute", ctr)
	}
	if filepath.Clean(ctr) == "/" {
		return fmt.Errorf("cannot mount over the root")
	}
	opts := []string{"rbind"}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro", "rw":
				opts = append(opts, o)
			default:
				return fmt.Errorf("unknown option %q (want ro or rw)", o)
			}
		}
	}
	host, err := filepath.Abs(host)
	if err != nil {
		return err
	}
	if _, err := os.Stat(host); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("host path %q: %v", host, err)
	}
	ctr = filepath.Clean(ctr)
	for _, m := range *v {
		if m.Destination == ctr {
			return fmt.Errorf("duplicate mount point %q", ctr)
		}
	}
	*v = append(*v, specs.Mount{Destination: ctr, Type: "bind", Source: host, Options: opts})
	return nil
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

// capabilities applies --cap-add and --cap-drop to Docker's default set,
// as `docker run` does: names with or without "CAP_", in any case; ALL in
// --cap-drop starts from nothing and ALL in --cap-add from everything;
// then the named capabilities are dropped, then the named ones added.
func capabilities(add, drop string) ([]string, error) {
	parse := func(flag, list string) (names []string, all bool, err error) {
		if list == "" {
			return nil, false, nil
		}
		for _, name := range strings.Split(list, ",") {
			n := strings.ToUpper(strings.TrimSpace(name))
			if n == "ALL" {
				all = true
				continue
			}
			if !strings.HasPrefix(n, "CAP_") {
				n = "CAP_" + n
			}
			if _, err := specutils.CapMask([]string{n}); err != nil {
				return nil, false, fmt.Errorf("%s: unknown capability %q", flag, name)
			}
			names = append(names, n)
		}
		return names, all, nil
	}
	adds, addAll, err := parse("--cap-add", add)
	if err != nil {
		return nil, err
	}
	drops, dropAll, err := parse("--cap-drop", drop)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	switch {
	case addAll:
		for _, c := range specutils.AllCapabilities() {
			set[c] = true
		}
	case !dropAll:
		for _, c := range specutils.DefaultCapabilities {
			set[c] = true
		}
	}
	for _, c := range drops {
		delete(set, c)
	}
	for _, c := range adds {
		set[c] = true
	}
	var out []string
	for _, c := range specutils.AllCapabilities() {
		if set[c] {
			out = append(out, c)
		}
	}
	return out, nil
}
