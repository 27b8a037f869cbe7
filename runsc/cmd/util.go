// Package cmd holds runsc's subcommands, one per file.
package cmd

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/google/subcommands"

	"palisade.dev/runsc/config"
)

// Errorf reports a user-facing error in runc's style: one line on stderr
// and, with --log, in the log file (as JSON with --log-format=json).
func Errorf(conf *config.Config, format string, args ...any) subcommands.ExitStatus {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(os.Stderr, "runsc: %s\n", msg)
	if conf != nil && conf.LogFilename != "" {
		if f, err := os.OpenFile(conf.LogFilename, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			if conf.LogFormat == "json" {
				b, _ := json.Marshal(map[string]string{"level": "error", "msg": msg, "time": time.Now().Format(time.RFC3339Nano)})
				f.Write(append(b, '\n'))
			} else {
				fmt.Fprintf(f, "%s level=error msg=%q\n", time.Now().Format(time.RFC3339Nano), msg)
			}
			f.Close()
		}
	}
	return subcommands.ExitFailure
}

// newLogger returns a logger writing to w at level in the configured
// format.
func newLogger(conf *config.Config, w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if conf.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// processLogger returns the logger of a sandbox process: the debug log
// file logFD if runsc passed one (everything at debug level with --debug),
// else stderr for warnings (and strace lines with --strace).
func processLogger(conf *config.Config, logFD int) *slog.Logger {
	if logFD >= 0 {
		level := slog.LevelInfo
		if conf.Debug {
			level = slog.LevelDebug
		}
		return newLogger(conf, os.NewFile(uintptr(logFD), "log"), level)
	}
	level := slog.LevelWarn
	if conf.Strace {
		level = slog.LevelInfo
	}
	return newLogger(conf, os.Stderr, level)
}

// OneLineFlagErrors wraps c so that a bad flag is reported as one line,
// "runsc: NAME: ..." (the full usage stays available from "runsc help NAME").
func OneLineFlagErrors(c subcommands.Command) subcommands.Command { return oneLine{c} }

type oneLine struct{ subcommands.Command }

func (o oneLine) SetFlags(f *flag.FlagSet) {
	o.Command.SetFlags(f)
	if f.ErrorHandling() != flag.ContinueOnError {
		// "runsc help NAME" prints the defaults: leave it alone.
		return
	}
	f.SetOutput(prefixWriter{"runsc: " + o.Name() + ": "})
	f.Usage = func() {}
}

type prefixWriter struct{ prefix string }

func (p prefixWriter) Write(b []byte) (int, error) {
	os.Stderr.WriteString(p.prefix + string(b))
	return len(b), nil
}
