// Package signalfd implements signalfd(2): a file whose reads take the
// signals of a set that are pending for the reading task, each as a
// 128-byte struct signalfd_siginfo, instead of having them delivered.
//
// A read takes as many signals as fit; with none pending it blocks (or is
// EAGAIN on a non-blocking description) until one of the set is queued.
// poll, select and epoll see the file readable while a signal of the set
// is pending for the task that made it (Linux looks at the polling task;
// the two differ only when a signalfd is shared with another process or
// thread).
//
// Lock order: SignalFD.mu, then the kernel's locks.
package signalfd

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/fs/epoll"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// Flags of signalfd4(2).
const (
	SFD_CLOEXEC  = unix.O_CLOEXEC
	SFD_NONBLOCK = unix.O_NONBLOCK
)

// infoSize is sizeof(struct signalfd_siginfo).
const infoSize = 128

// SignalFD is a signalfd, the implementation of its file.
type SignalFD struct {
	vfs.FileDefaults
	// ReleaseHooks tell the epolls that watch the file that it is gone.
	epoll.ReleaseHooks

	// owner is the task that made the file, whose signals readiness
	// reports.
	owner *kernel.Task
	// fd is the file's description, whose O_NONBLOCK fcntl may change.
	fd *vfs.FileDescription

	mu   sync.Mutex
	mask uint64
}

// Check that SignalFD is what the syscall layer expects.
var (
	_ vfs.FileImpl    = (*SignalFD)(nil)
	_ waiter.Waitable = (*SignalFD)(nil)
)

// New returns the file of a new signalfd of t for the signals of mask,
// with one reference. flags may hold O_NONBLOCK.
func New(t *kernel.Task, mask uint64, flags uint32) *vfs.FileDescription {
	s := &SignalFD{owner: t, mask: mask}
	s.fd = epoll.NewAnonFile(s, "[signalfd]", unix.O_RDWR|flags&unix.O_NONBLOCK)
	return s.fd
}

// Mask returns the set of signals the file reads.
func (s *SignalFD) Mask() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mask
}

// SetMask replaces the set of signals the file reads.
func (s *SignalFD) SetMask(mask uint64) {
	s.mu.Lock()
	s.mask = mask
	s.mu.Unlock()
}

// Read implements vfs.FileImpl.Read: it fills dst with as many
// signalfd_siginfo records as fit, taking their signals. A buffer smaller
// than one record is EINVAL.
func (s *SignalFD) Read(ctx context.Context, dst []byte) (int, error) {
	if len(dst) < infoSize {
		return 0, unix.EINVAL
	}
	t := kernel.TaskFromContext(ctx)
	if t == nil {
		return 0, unix.EINVAL
	}
	n := 0
	for len(dst)-n >= infoSize {
		info, ok := t.TakeSignal(s.Mask())
		if !ok {
			if n > 0 {
				break
			}
			if s.fd.Flags()&unix.O_NONBLOCK != 0 {
				return 0, unix.EAGAIN
			}
			if err := t.WaitSignal(s.Mask(), time.Time{}); err != nil {
				if err == kernel.ErrInterrupted {
					return 0, linux.ERESTARTSYS
				}
				return 0, err
			}
			continue
		}
		encode(dst[n:n+infoSize], &info)
		n += infoSize
	}
	return n, nil
}

// encode writes info as a struct signalfd_siginfo, filling the fields of
// the siginfo_t union member the signal uses, as Linux does.
func encode(b []byte, info *kernel.SigInfo) {
	clear(b)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(info.Signo))
	le.PutUint32(b[4:], uint32(info.Errno))
	le.PutUint32(b[8:], uint32(info.Code))
	switch info.Layout() {
	case kernel.LayoutTimer:
		le.PutUint32(b[24:], uint32(info.TimerID)) // ssi_tid
		le.PutUint32(b[32:], uint32(info.Overrun)) // ssi_overrun
		le.PutUint64(b[48:], info.Value)           // ssi_ptr
		le.PutUint32(b[44:], uint32(info.Value))   // ssi_int
	case kernel.LayoutChld:
		le.PutUint32(b[12:], uint32(info.PID))
		le.PutUint32(b[16:], info.UID)
		le.PutUint32(b[40:], uint32(info.Status))
		le.PutUint64(b[56:], uint64(info.UTime))
		le.PutUint64(b[64:], uint64(info.STime))
	case kernel.LayoutFault:
		le.PutUint64(b[72:], info.Addr)
	case kernel.LayoutPoll:
		le.PutUint32(b[28:], uint32(info.Band))
		le.PutUint32(b[20:], uint32(info.FD))
	default:
		// kill, tgkill, sigqueue: the sender and the value.
		le.PutUint32(b[12:], uint32(info.PID))
		le.PutUint32(b[16:], info.UID)
		le.PutUint64(b[48:], info.Value)
		le.PutUint32(b[44:], uint32(info.Value))
	}
}

// Readiness implements waiter.Waitable.Readiness: readable while a signal
// of the set is pending for the task that made the file.
func (s *SignalFD) Readiness(mask waiter.EventMask) waiter.EventMask {
	if s.owner.HasSignalIn(s.Mask()) {
		return (waiter.EventIn | waiter.EventRdNorm) & mask
	}
	return 0
}

// EventRegister implements waiter.Waitable.EventRegister.
func (s *SignalFD) EventRegister(e *waiter.Entry) { s.owner.SignalEventRegister(e) }

// EventUnregister implements waiter.Waitable.EventUnregister.
func (s *SignalFD) EventUnregister(e *waiter.Entry) { s.owner.SignalEventUnregister(e) }

// Release implements vfs.FileImpl.Release.
func (s *SignalFD) Release() { s.ReleaseHooks.Fire() }

// Seek implements vfs.FileImpl.Seek: the offset stays 0.
func (s *SignalFD) Seek(context.Context, int64, int) (int64, error) { return 0, nil }
