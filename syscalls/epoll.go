package syscalls

import (
	"encoding/binary"
	"math"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/fs/epoll"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

func init() {
	full(unix.SYS_EPOLL_CREATE, EpollCreate, Int)
	full(unix.SYS_EPOLL_CREATE1, EpollCreate1, Hex)
	partial(unix.SYS_EPOLL_CTL, EpollCtl, "EPOLLEXCLUSIVE wakes every exclusive waiter, not one; pipes and host files stay registered after their last descriptor closes until the sentry's garbage collector frees them (vfs has no release hook for them yet)", FD, Int, FD, Ptr)
	full(unix.SYS_EPOLL_WAIT, EpollWait, FD, Ptr, Int, Int)
	full(unix.SYS_EPOLL_PWAIT, EpollPwait, FD, Ptr, Int, Int, Ptr, Int)
	full(unix.SYS_EPOLL_PWAIT2, EpollPwait2, FD, Ptr, Int, Ptr, Ptr, Int)
}

const (
	// epMaxEvents is EP_MAX_EVENTS, the most events one epoll_wait may
	// ask for.
	epMaxEvents = math.MaxInt32 / epoll.EventSize
	// taskSize is the end of the user address space (TASK_SIZE_MAX),
	// which epoll_wait's event array must lie below.
	taskSize = 0x7ffffffff000
)

// EpollCreate implements Linux syscall epoll_create(2): size is ignored
// but must be positive.
func EpollCreate(t *kernel.Task, a args) (uintptr, error) {
	if a[0].Int() <= 0 {
		return 0, unix.EINVAL
	}
	return newEpoll(t, false)
}

// EpollCreate1 implements Linux syscall epoll_create1(2).
func EpollCreate1(t *kernel.Task, a args) (uintptr, error) {
	flags := a[0].Int()
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	return newEpoll(t, flags&unix.EPOLL_CLOEXEC != 0)
}

func newEpoll(t *kernel.Task, cloexec bool) (uintptr, error) {
	f := epoll.New()
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, cloexec, nofile(t))
	return uintptr(fd), err
}

// getPollFile returns the file at fd with a reference, or EBADF; as in
// Linux, an O_PATH descriptor is no descriptor for epoll.
func getPollFile(t *kernel.Task, fd int32) (*vfs.FileDescription, error) {
	f, err := getFile(t, fd)
	if err != nil {
		return nil, err
	}
	if f.IsPath() {
		f.DecRef()
		return nil, unix.EBADF
	}
	return f, nil
}

// EpollCtl implements Linux syscall epoll_ctl(2).
func EpollCtl(t *kernel.Task, a args) (uintptr, error) {
	epfd, op, fd := a[0].Int(), int(a[1].Int()), a[2].Int()
	var ev epoll.Event
	// Every operation but EPOLL_CTL_DEL reads its event first, unknown
	// ones included.
	if op != epoll.CtlDel {
		var b [epoll.EventSize]byte
		if _, err := t.CopyIn(a[3].Pointer(), b[:]); err != nil {
			return 0, unix.EFAULT
		}
		ev = epoll.Event{Events: binary.LittleEndian.Uint32(b[0:]), Data: binary.LittleEndian.Uint64(b[4:])}
	}
	epf, err := getPollFile(t, epfd)
	if err != nil {
		return 0, err
	}
	defer epf.DecRef()
	f, err := getPollFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, epoll.Ctl(epf, op, f, fd, ev)
}

// EpollWait implements Linux syscall epoll_wait(2).
func EpollWait(t *kernel.Task, a args) (uintptr, error) {
	return epollWait(t, a[0].Int(), a[1].Pointer(), a[2].Int(), msTimeout(a[3].Int()), time.Now())
}

// EpollPwait implements Linux syscall epoll_pwait(2).
func EpollPwait(t *kernel.Task, a args) (uintptr, error) {
	start := time.Now()
	if err := setSyscallMask(t, a[4].Pointer(), a[5].Uint64()); err != nil {
		return 0, err
	}
	return epollWait(t, a[0].Int(), a[1].Pointer(), a[2].Int(), msTimeout(a[3].Int()), start)
}

// EpollPwait2 implements Linux syscall epoll_pwait2(2): epoll_pwait with
// a struct timespec timeout (NULL: none).
func EpollPwait2(t *kernel.Task, a args) (uintptr, error) {
	start := time.Now()
	timeout := time.Duration(-1)
	if tsp := a[3].Pointer(); tsp != 0 {
		var err error
		if timeout, err = copyInPollTimespec(t, tsp); err != nil {
			return 0, err
		}
	}
	if err := setSyscallMask(t, a[4].Pointer(), a[5].Uint64()); err != nil {
		return 0, err
	}
	return epollWait(t, a[0].Int(), a[1].Pointer(), a[2].Int(), timeout, start)
}

// msTimeout converts epoll_wait's timeout in milliseconds (negative: none).
func msTimeout(ms int32) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// epollWait waits for events on the epoll at epfd and stores up to
// maxevents of them at addr, for as long as timeout (negative: no limit;
// zero: don't wait) from start. Linux fails an interrupted epoll_wait with
// EINTR whether or not a handler runs; here it fails with EINTR when a
// handler runs and restarts otherwise (ERESTARTNOHAND, as poll(2)), which
// keeps the signal mask of epoll_pwait in place for the handler and only
// differs after a stop signal.
func epollWait(t *kernel.Task, epfd int32, addr uintptr, maxevents int32, timeout time.Duration, start time.Time) (uintptr, error) {
	if maxevents <= 0 || maxevents > epMaxEvents {
		return 0, unix.EINVAL
	}
	if end := uint64(addr) + uint64(maxevents)*epoll.EventSize; end > taskSize || end < uint64(addr) {
		return 0, unix.EFAULT
	}
	f, err := getPollFile(t, epfd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	ep, ok := f.Impl().(*epoll.EventPoll)
	if !ok {
		return 0, unix.EINVAL
	}
	deliver := func(evs []epoll.Event) (int, error) {
		b := make([]byte, len(evs)*epoll.EventSize)
		for i, ev := range evs {
			binary.LittleEndian.PutUint32(b[i*epoll.EventSize:], ev.Events)
			binary.LittleEndian.PutUint64(b[i*epoll.EventSize+4:], ev.Data)
		}
		n, err := t.CopyOut(addr, b)
		return n / epoll.EventSize, err
	}
	collect := func() (uintptr, error) {
		n, err := ep.ReadEvents(int(maxevents), deliver)
		return uintptr(n), err
	}
	if timeout == 0 {
		return collect()
	}
	e, ch := waiter.NewEntry(waiter.EventIn)
	ep.EventRegister(e)
	defer ep.EventUnregister(e)
	var deadline time.Time
	if timeout > 0 && timeout < maxPollTimeout {
		deadline = start.Add(timeout)
	}
	for {
		// Registered first, then collected: no event is lost.
		if n, err := collect(); n > 0 || err != nil {
			return n, err
		}
		switch err := t.Block(ch, deadline); err {
		case nil:
		case unix.ETIMEDOUT:
			return collect()
		case kernel.ErrInterrupted:
			// Events that are there win over the signal.
			if n, err := collect(); n > 0 || err != nil {
				return n, err
			}
			return 0, linux.ERESTARTNOHAND
		default:
			return 0, err
		}
	}
}
