package kernel

import (
	"palisade.dev/sentry/arch"
	"palisade.dev/sentry/strace"
)

// SyscallFn implements one system call. It returns the value for rax, or
// an error that becomes -errno (see abi/linux.ToErrno). A handler that
// replaced the task's registers (execve, rt_sigreturn) returns ErrNoReturn.
type SyscallFn func(t *Task, args arch.SyscallArguments) (uintptr, error)

// Support says how complete a system call is.
type Support int

// Support levels, as `runsc syscalls` prints them.
const (
	// Unimplemented calls return ENOSYS (and are logged once).
	Unimplemented Support = iota
	// Partial calls work for common uses; Note says what is missing.
	Partial
	// Full calls follow the man page.
	Full
)

func (s Support) String() string {
	switch s {
	case Full:
		return "full"
	case Partial:
		return "partial"
	}
	return "unimplemented"
}

// Syscall describes one table entry.
type Syscall struct {
	Name    string
	Fn      SyscallFn
	Support Support
	Note    string
	// Args says how --strace formats the arguments.
	Args []strace.Arg
	// Probe marks an unimplemented call that libc probes and falls back
	// from by design (rseq): its ENOSYS is logged at info level, so it
	// reaches the debug log but not the container's stderr.
	Probe bool
}

// SyscallTable maps system call numbers to handlers.
type SyscallTable struct {
	Entries []Syscall // indexed by number
}

// Lookup returns the entry for sysno, or nil.
func (st *SyscallTable) Lookup(sysno uintptr) *Syscall {
	if sysno >= uintptr(len(st.Entries)) || st.Entries[sysno].Name == "" {
		return nil
	}
	return &st.Entries[sysno]
}
