package syscalls

import (
	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/eventfd"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
)

func init() {
	full(unix.SYS_EVENTFD, Eventfd, Int)
	full(unix.SYS_EVENTFD2, Eventfd2, Int, Hex)
}

// Eventfd implements Linux syscall eventfd(2).
func Eventfd(t *kernel.Task, a args) (uintptr, error) {
	return newEventfd(t, a[0].Uint(), 0)
}

// Eventfd2 implements Linux syscall eventfd2(2).
func Eventfd2(t *kernel.Task, a args) (uintptr, error) {
	return newEventfd(t, a[0].Uint(), a[1].Uint())
}

func newEventfd(t *kernel.Task, initval, flags uint32) (uintptr, error) {
	if flags&^(eventfd.EFD_CLOEXEC|eventfd.EFD_NONBLOCK|eventfd.EFD_SEMAPHORE) != 0 {
		return 0, unix.EINVAL
	}
	f := eventfd.New(uint64(initval), flags&eventfd.EFD_SEMAPHORE != 0, flags&eventfd.EFD_NONBLOCK)
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, flags&eventfd.EFD_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}
