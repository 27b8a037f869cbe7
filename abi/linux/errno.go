package linux

import (
	"errors"
	"syscall"
)

// Errno is a Linux error number. It is the sentry's only error type for
// errors visible to applications.
type Errno = syscall.Errno

// The restart errnos are internal to the kernel: they never reach an
// application. A handler returns one to ask the task goroutine to restart
// the system call (see the signals issue for the full semantics).
const (
	ERESTARTSYS           = Errno(512)
	ERESTARTNOINTR        = Errno(513)
	ERESTARTNOHAND        = Errno(514)
	ERESTART_RESTARTBLOCK = Errno(516)
)

// ToErrno converts err to the Errno an application should see. A nil error
// is 0. Errors that carry no errno (which is a sentry bug) become EIO.
func ToErrno(err error) Errno {
	if err == nil {
		return 0
	}
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}
