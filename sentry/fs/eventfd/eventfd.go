// Package eventfd implements eventfd(2): a file that is a 64-bit counter.
// A write of 8 bytes adds their value to it; a read of 8 bytes or more
// returns it and resets it to zero, or in semaphore mode returns 1 and
// decrements it.
//
// Reads and writes never block here: a read of a zero counter, or a write
// that would take it past 0xfffffffffffffffe, answers EAGAIN, and the
// system call layer waits on the file's queue (it is a waiter.Waitable)
// when the description is blocking.
//
// Lock order: EventFD.mu, then waiter.Queue.mu (notifications are sent
// after dropping EventFD.mu).
package eventfd

import (
	"context"
	"encoding/binary"
	"math"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/epoll"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// Flags of eventfd2(2).
const (
	EFD_SEMAPHORE = 1
	EFD_CLOEXEC   = unix.O_CLOEXEC
	EFD_NONBLOCK  = unix.O_NONBLOCK
)

// maxCount is the most the counter may hold.
const maxCount = math.MaxUint64 - 1

// EventFD is an eventfd, the implementation of its file.
type EventFD struct {
	vfs.FileDefaults
	// ReleaseHooks tell the epolls that watch the file that it is gone.
	epoll.ReleaseHooks

	queue     waiter.Queue
	semaphore bool

	mu    sync.Mutex
	count uint64
}

// Check that EventFD is what the syscall layer expects.
var (
	_ vfs.FileImpl    = (*EventFD)(nil)
	_ waiter.Waitable = (*EventFD)(nil)
)

// New returns the file of a new eventfd whose counter starts at initval,
// with one reference. flags may hold O_NONBLOCK.
func New(initval uint64, semaphore bool, flags uint32) *vfs.FileDescription {
	e := &EventFD{count: initval, semaphore: semaphore}
	flags = unix.O_RDWR | flags&unix.O_NONBLOCK
	return epoll.NewAnonFile(e, "[eventfd]", flags)
}

// Count returns the counter's value.
func (e *EventFD) Count() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count
}

// Read implements vfs.FileImpl.Read: it stores the counter (or 1 in
// semaphore mode) in the first 8 bytes of dst, in host order, and takes
// that much from the counter. A zero counter is EAGAIN; fewer than 8 bytes
// are EINVAL.
func (e *EventFD) Read(_ context.Context, dst []byte) (int, error) {
	if len(dst) < 8 {
		return 0, unix.EINVAL
	}
	e.mu.Lock()
	if e.count == 0 {
		e.mu.Unlock()
		return 0, unix.EAGAIN
	}
	v := e.count
	if e.semaphore {
		v = 1
	}
	e.count -= v
	e.mu.Unlock()
	binary.NativeEndian.PutUint64(dst, v)
	e.queue.Notify(waiter.EventOut)
	return 8, nil
}

// Write implements vfs.FileImpl.Write: it adds the value in the first 8
// bytes of src, in host order, to the counter. Fewer than 8 bytes, or the
// value 0xffffffffffffffff, are EINVAL; a sum beyond 0xfffffffffffffffe
// is EAGAIN. (Linux 6.9 and later also refuse more than 8 bytes; the man
// page and the kernel the sentry reports accept them.) Every write, even
// of 0, notifies readers, as Linux's does.
func (e *EventFD) Write(_ context.Context, src []byte) (int, error) {
	if len(src) < 8 {
		return 0, unix.EINVAL
	}
	v := binary.NativeEndian.Uint64(src)
	if v == math.MaxUint64 {
		return 0, unix.EINVAL
	}
	e.mu.Lock()
	if v > maxCount-e.count {
		e.mu.Unlock()
		return 0, unix.EAGAIN
	}
	e.count += v
	e.mu.Unlock()
	e.queue.Notify(waiter.EventIn)
	return 8, nil
}

// Readiness implements waiter.Waitable.Readiness, as Linux's eventfd_poll:
// readable while the counter isn't zero, writable while a write of 1
// wouldn't block.
func (e *EventFD) Readiness(mask waiter.EventMask) waiter.EventMask {
	e.mu.Lock()
	c := e.count
	e.mu.Unlock()
	var ev waiter.EventMask
	if c > 0 {
		ev |= waiter.EventIn
	}
	if c < maxCount {
		ev |= waiter.EventOut
	}
	return ev & mask
}

// EventRegister implements waiter.Waitable.EventRegister.
func (e *EventFD) EventRegister(w *waiter.Entry) { e.queue.EventRegister(w) }

// EventUnregister implements waiter.Waitable.EventUnregister.
func (e *EventFD) EventUnregister(w *waiter.Entry) { e.queue.EventUnregister(w) }

// Release implements vfs.FileImpl.Release.
func (e *EventFD) Release() { e.ReleaseHooks.Fire() }

// Seek implements vfs.FileImpl.Seek: the offset stays 0, as Linux's
// noop_llseek leaves it.
func (e *EventFD) Seek(context.Context, int64, int) (int64, error) { return 0, nil }
