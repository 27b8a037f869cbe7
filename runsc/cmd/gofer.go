package cmd

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"palisade.dev/gofer/server"
	"palisade.dev/runsc/config"
)

// Gofer implements the internal "runsc gofer": the process that serves a
// container's root filesystem, and the sources of its bind mounts, to the
// sentry. It is the only process of a sandbox that opens host paths.
type Gofer struct {
	root     string
	ioFD     int
	logFD    int
	writable bool
	binds    bindFlags
}

// bindFlags are the --bind flags: one per bind mount of the spec, each
// "FD:ro|rw:SOURCE", SOURCE an absolute host path without symlinks.
type bindFlags []goferBind

type goferBind struct {
	fd       int
	writable bool
	source   string
}

// String implements flag.Value.
func (b *bindFlags) String() string {
	var s []string
	for _, x := range *b {
		mode := "ro"
		if x.writable {
			mode = "rw"
		}
		s = append(s, fmt.Sprintf("%d:%s:%s", x.fd, mode, x.source))
	}
	return strings.Join(s, " ")
}

// Set implements flag.Value.
func (b *bindFlags) Set(v string) error {
	parts := strings.SplitN(v, ":", 3)
	if len(parts) != 3 {
		return fmt.Errorf("want FD:ro|rw:SOURCE")
	}
	fd, err := strconv.Atoi(parts[0])
	if err != nil || fd < 0 {
		return fmt.Errorf("bad descriptor %q", parts[0])
	}
	if parts[1] != "ro" && parts[1] != "rw" {
		return fmt.Errorf("mode %q: want ro or rw", parts[1])
	}
	if !filepath.IsAbs(parts[2]) {
		return fmt.Errorf("source %q is not an absolute path", parts[2])
	}
	*b = append(*b, goferBind{fd: fd, writable: parts[1] == "rw", source: parts[2]})
	return nil
}

// Name implements subcommands.Command.
func (*Gofer) Name() string { return "gofer" }

// Synopsis implements subcommands.Command.
func (*Gofer) Synopsis() string {
	return "internal: serve a container's root filesystem and bind mounts to its sentry (started by runsc itself)"
}

// Usage implements subcommands.Command.
func (*Gofer) Usage() string {
	return "gofer --root DIR --io-fd N [--rw] [--bind FD:ro|rw:SOURCE]...\n"
}

// SetFlags implements subcommands.Command.
func (g *Gofer) SetFlags(f *flag.FlagSet) {
	f.StringVar(&g.root, "root", "", "directory tree to serve")
	f.IntVar(&g.ioFD, "io-fd", -1, "FD of the connection to the sentry")
	f.IntVar(&g.logFD, "log-fd", -1, "FD to write logs to")
	f.BoolVar(&g.writable, "rw", false, "serve the tree read-write (--overlay=none with a writable root); read-only otherwise")
	f.Var(&g.binds, "bind", "serve the host file or directory SOURCE on connection FD, read-only (ro) or read-write (rw): a bind mount (repeatable)")
}

// Execute implements subcommands.Command.
func (g *Gofer) Execute(ctx context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := args[0].(*config.Config)
	if g.root == "" || g.ioFD < 0 {
		return Errorf(conf, "gofer: needs --root and --io-fd")
	}
	log := processLogger(conf, g.logFD)
	// runsc started us in our own mount namespace: keep mount changes
	// there, and confine ourselves to the tree we serve.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return Errorf(conf, "gofer: make mounts private: %v", err)
	}
	// Bind mount sources lie anywhere on the host: open them before the
	// chroot takes the host's tree away. Their descriptors are all the
	// gofer keeps of it.
	var serveBinds []func() error
	for _, b := range g.binds {
		serve, err := openBind(b)
		if err != nil {
			return Errorf(conf, "gofer: bind mount source %q: %v", b.source, err)
		}
		serveBinds = append(serveBinds, serve)
	}
	if err := unix.Chroot(g.root); err != nil {
		return Errorf(conf, "gofer: chroot %q: %v", g.root, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return Errorf(conf, "gofer: chdir: %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return Errorf(conf, "gofer: no_new_privs: %v", err)
	}
	rootFD, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Errorf(conf, "gofer: open root: %v", err)
	}
	// The sentry applies the application's umask; new files get the
	// modes it asks for.
	unix.Umask(0)
	// Each tree is served on its own connection by its own goroutine;
	// the sandbox lives as long as the root's connection.
	for i, serve := range serveBinds {
		b := g.binds[i]
		log.Debug("gofer serving bind mount", "source", b.source, "writable", b.writable, "fd", b.fd)
		go func() {
			if err := serve(); err != nil {
				log.Error("gofer: bind mount failed", "source", b.source, "err", err)
			}
		}()
	}
	log.Debug("gofer serving", "root", g.root, "writable", g.writable)
	if err := server.ServeWith(g.ioFD, rootFD, server.Options{Writable: g.writable}); err != nil {
		return Errorf(conf, "gofer: %v", err)
	}
	return subcommands.ExitSuccess
}

// openBind opens the source of a bind mount and returns the function that
// serves it on its connection: a directory as a tree of its own, anything
// else as the single entry of the directory holding it.
func openBind(b goferBind) (func() error, error) {
	o := server.Options{Writable: b.writable}
	fd, err := unix.Open(b.source, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return func() error { return server.ServeWith(b.fd, fd, o) }, nil
	}
	unix.Close(fd)
	dir, name := filepath.Split(b.source)
	if name == "" {
		return nil, unix.EINVAL
	}
	dfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return func() error { return server.ServeEntry(b.fd, dfd, name, o) }, nil
}
