package cmd

import (
	"context"
	"flag"

	"github.com/google/subcommands"
	"golang.org/x/sys/unix"

	"palisade.dev/gofer/server"
	"palisade.dev/runsc/config"
)

// Gofer implements the internal "runsc gofer": the process that serves
// one host directory tree to the sentry.
type Gofer struct {
	root     string
	ioFD     int
	logFD    int
	writable bool
}

// Name implements subcommands.Command.
func (*Gofer) Name() string { return "gofer" }

// Synopsis implements subcommands.Command.
func (*Gofer) Synopsis() string {
	return "internal: serve a container's root filesystem to its sentry (started by runsc itself)"
}

// Usage implements subcommands.Command.
func (*Gofer) Usage() string { return "gofer --root DIR --io-fd N [--rw]\n" }

// SetFlags implements subcommands.Command.
func (g *Gofer) SetFlags(f *flag.FlagSet) {
	f.StringVar(&g.root, "root", "", "directory tree to serve")
	f.IntVar(&g.ioFD, "io-fd", -1, "FD of the connection to the sentry")
	f.IntVar(&g.logFD, "log-fd", -1, "FD to write logs to")
	f.BoolVar(&g.writable, "rw", false, "serve the tree read-write (--overlay=none with a writable root); read-only otherwise")
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
	log.Debug("gofer serving", "root", g.root, "writable", g.writable)
	if err := server.ServeWith(g.ioFD, rootFD, server.Options{Writable: g.writable}); err != nil {
		return Errorf(conf, "gofer: %v", err)
	}
	return subcommands.ExitSuccess
}
