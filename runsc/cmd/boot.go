package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"strconv"
	"strings"

	"github.com/google/subcommands"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"palisade.dev/runsc/boot"
	"palisade.dev/runsc/config"
)

// Boot implements the internal "runsc boot": the sentry process.
type Boot struct {
	specFD, goferFD, controllerFD, logFD int
	// mountFDs are the gofer connections of the spec's bind mounts, in
	// the spec's order, comma-separated.
	mountFDs string
}

// Name implements subcommands.Command.
func (*Boot) Name() string { return "boot" }

// Synopsis implements subcommands.Command.
func (*Boot) Synopsis() string {
	return "internal: run the sentry of a sandbox (started by runsc itself)"
}

// Usage implements subcommands.Command.
func (*Boot) Usage() string { return "boot [flags] <container id>\n" }

// SetFlags implements subcommands.Command.
func (b *Boot) SetFlags(f *flag.FlagSet) {
	f.IntVar(&b.specFD, "spec-fd", -1, "FD to read the OCI spec from")
	f.IntVar(&b.goferFD, "gofer-fd", -1, "FD of the connection to the root filesystem's gofer")
	f.IntVar(&b.controllerFD, "controller-fd", -1, "FD of the listening control socket")
	f.IntVar(&b.logFD, "log-fd", -1, "FD to write logs to (default: warnings to stderr)")
	f.StringVar(&b.mountFDs, "mount-fds", "", "comma-separated FDs of the gofer connections of the spec's bind mounts, in the spec's order")
}

// Execute implements subcommands.Command.
func (b *Boot) Execute(ctx context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := args[0].(*config.Config)
	if f.NArg() != 1 || b.specFD < 0 || b.goferFD < 0 || b.controllerFD < 0 {
		return Errorf(conf, "boot: needs --spec-fd, --gofer-fd, --controller-fd and a container id")
	}
	var mountFDs []int
	if b.mountFDs != "" {
		for _, x := range strings.Split(b.mountFDs, ",") {
			fd, err := strconv.Atoi(x)
			if err != nil || fd < 0 {
				return Errorf(conf, "boot: bad --mount-fds %q", b.mountFDs)
			}
			mountFDs = append(mountFDs, fd)
		}
	}
	log := processLogger(conf, b.logFD)
	var spec specs.Spec
	sf := os.NewFile(uintptr(b.specFD), "spec")
	if err := json.NewDecoder(sf).Decode(&spec); err != nil {
		return Errorf(conf, "boot %q: read spec: %v", f.Arg(0), err)
	}
	sf.Close()
	err := boot.Run(boot.Args{
		ID: f.Arg(0), Spec: &spec, Conf: conf, GoferFD: b.goferFD, MountFDs: mountFDs, ControllerFD: b.controllerFD,
		StdioFDs: []int{0, 1, 2}, Log: log,
	})
	if b.logFD >= 0 {
		// Without a log file, the logger writes to stderr, where
		// Errorf says it.
		log.Error("sentry failed", "err", err)
	}
	return Errorf(conf, "boot %q: %v", f.Arg(0), err)
}
