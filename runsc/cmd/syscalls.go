package cmd

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/google/subcommands"

	"palisade.dev/runsc/config"
	"palisade.dev/sentry/kernel"
	"palisade.dev/syscalls"
)

// Syscalls implements "runsc syscalls": print the system call table.
type Syscalls struct {
	format string
	all    bool
}

// Name implements subcommands.Command.
func (*Syscalls) Name() string { return "syscalls" }

// Synopsis implements subcommands.Command.
func (*Syscalls) Synopsis() string {
	return "list the system calls and how completely they are implemented"
}

// Usage implements subcommands.Command.
func (*Syscalls) Usage() string { return "syscalls [--format table|json] [--all]\n" }

// SetFlags implements subcommands.Command.
func (s *Syscalls) SetFlags(f *flag.FlagSet) {
	f.StringVar(&s.format, "format", "table", "output format: table or json")
	f.BoolVar(&s.all, "all", false, "include unimplemented system calls")
}

type syscallInfo struct {
	Number  int    `json:"number"`
	Name    string `json:"name"`
	Support string `json:"support"`
	Note    string `json:"note,omitempty"`
}

// Execute implements subcommands.Command.
func (s *Syscalls) Execute(ctx context.Context, f *flag.FlagSet, args ...any) subcommands.ExitStatus {
	conf := args[0].(*config.Config)
	var out []syscallInfo
	for nr, e := range syscalls.Table().Entries {
		if e.Name == "" || (!s.all && e.Support == kernel.Unimplemented) {
			continue
		}
		out = append(out, syscallInfo{nr, e.Name, e.Support.String(), e.Note})
	}
	switch s.format {
	case "json":
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Println(string(b))
	case "table":
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "NUMBER\tNAME\tSUPPORT\tNOTE")
		for _, e := range out {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", e.Number, e.Name, e.Support, e.Note)
		}
		w.Flush()
	default:
		return Errorf(conf, "syscalls: invalid --format %q: want table or json", s.format)
	}
	return subcommands.ExitSuccess
}
