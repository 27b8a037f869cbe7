// Command runsc is Palisade's OCI runtime: it runs containers on the
// sentry, a Linux kernel reimplemented in user space.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/google/subcommands"

	"palisade.dev/runsc/cmd"
	"palisade.dev/runsc/config"
)

func main() {
	top := flag.NewFlagSet("runsc", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	config.RegisterFlags(top)
	cdr := subcommands.NewCommander(top, "runsc")
	// A bad flag is one line; the full usage is for --help and "runsc help".
	explain := top.Usage
	top.Usage = func() {}
	cdr.Register(cdr.HelpCommand(), "")
	cdr.Register(cdr.FlagsCommand(), "")
	cdr.Register(cmd.OneLineFlagErrors(new(cmd.Do)), "")
	cdr.Register(cmd.OneLineFlagErrors(new(cmd.Syscalls)), "")
	cdr.Register(cmd.OneLineFlagErrors(new(cmd.Boot)), "internal")
	cdr.Register(cmd.OneLineFlagErrors(new(cmd.Gofer)), "internal")

	if err := top.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			explain()
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "runsc: %v (see 'runsc flags')\n", err)
		os.Exit(2)
	}
	conf, err := config.NewFromFlags(top)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		os.Exit(1)
	}
	os.Exit(int(cdr.Execute(context.Background(), conf)))
}
