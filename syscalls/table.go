// Package syscalls is the system call table: number → handler, name and
// support level, with the handlers grouped by area (file.go, mmap.go, ...).
// Handlers are thin: they decode and validate arguments against the man
// page, call into the kernel, vfs or mm, and copy results out. Errors are
// errnos; the dispatcher in package kernel turns them into return values.
package syscalls

import (
	"sync"

	"palisade.dev/sentry/arch"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/strace"
)

type entry struct {
	fn      kernel.SyscallFn
	support kernel.Support
	note    string
	args    []strace.Arg
	probe   bool
}

// probes are unimplemented calls libc probes at startup and falls back
// from by design; see kernel.Syscall.Probe.
var probes = map[uintptr]string{
	334: "per-CPU critical sections are not supported; glibc falls back without them", // rseq
}

// handlers are filled in by the init functions of the area files.
var handlers = map[uintptr]entry{}

func reg(nr uintptr, fn kernel.SyscallFn, s kernel.Support, note string, args ...strace.Arg) {
	if _, dup := handlers[nr]; dup {
		panic("syscalls: duplicate registration of " + names[nr])
	}
	handlers[nr] = entry{fn: fn, support: s, note: note, args: args}
}

// full and partial register handlers.
func full(nr uintptr, fn kernel.SyscallFn, args ...strace.Arg) { reg(nr, fn, kernel.Full, "", args...) }
func partial(nr uintptr, fn kernel.SyscallFn, note string, args ...strace.Arg) {
	reg(nr, fn, kernel.Partial, note, args...)
}

var (
	tableOnce sync.Once
	table     *kernel.SyscallTable
)

// Table returns the x86-64 system call table.
func Table() *kernel.SyscallTable {
	tableOnce.Do(func() {
		t := &kernel.SyscallTable{Entries: make([]kernel.Syscall, len(names))}
		for nr, name := range names {
			if name == "" {
				continue
			}
			e := handlers[uintptr(nr)]
			if note, ok := probes[uintptr(nr)]; ok {
				e.note, e.probe = note, true
			}
			t.Entries[nr] = kernel.Syscall{Name: name, Fn: e.fn, Support: e.support, Note: e.note, Args: e.args, Probe: e.probe}
		}
		table = t
	})
	return table
}

// Argument helpers.
type args = arch.SyscallArguments
