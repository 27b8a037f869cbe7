// Command runsc is Palisade's OCI runtime: it runs containers on the
// sentry, a Linux kernel reimplemented in user space.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/google/subcommands"

	"palisade.dev/runsc/cmd"
	"palisade.dev/runsc/config"
)

func main() {
	subcommands.Register(subcommands.HelpCommand(), "")
	subcommands.Register(subcommands.FlagsCommand(), "")
	subcommands.Register(new(cmd.Do), "")
	subcommands.Register(new(cmd.Syscalls), "")
	subcommands.Register(new(cmd.Boot), "internal")
	subcommands.Register(new(cmd.Gofer), "internal")

	config.RegisterFlags(flag.CommandLine)
	flag.Parse()
	conf, err := config.NewFromFlags(flag.CommandLine)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc: %v\n", err)
		os.Exit(1)
	}
	os.Exit(int(subcommands.Execute(context.Background(), conf)))
}
