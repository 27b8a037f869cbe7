package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
)

func init() {
	full(unix.SYS_RT_SIGACTION, RtSigaction, Int, Ptr, Ptr, Int)
	full(unix.SYS_RT_SIGPROCMASK, RtSigprocmask, Int, Ptr, Ptr, Int)
	full(unix.SYS_SIGALTSTACK, Sigaltstack, Ptr, Ptr)
	full(unix.SYS_RT_SIGPENDING, RtSigpending, Ptr, Int)
	full(unix.SYS_RT_SIGSUSPEND, RtSigsuspend, Ptr, Int)
	full(unix.SYS_RT_SIGTIMEDWAIT, RtSigtimedwait, Ptr, Ptr, Ptr, Int)
	full(unix.SYS_PAUSE, Pause)
	full(unix.SYS_RT_SIGRETURN, RtSigreturn)
}

const sigsetSize = 8

// RtSigaction implements rt_sigaction(2).
func RtSigaction(t *kernel.Task, a args) (uintptr, error) {
	sig := int(a[0].Int())
	if a[3].SizeT() != sigsetSize || sig < 1 || sig > kernel.NumSignals {
		return 0, unix.EINVAL
	}
	tg := t.ThreadGroup()
	old := tg.SigAction(sig)
	if p := a[1].Pointer(); p != 0 {
		if sig == kernel.SIGKILL || sig == kernel.SIGSTOP {
			return 0, unix.EINVAL
		}
		var b [32]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		le := binary.LittleEndian
		n := kernel.SigAction{Handler: le.Uint64(b[0:]), Flags: le.Uint64(b[8:]), Restorer: le.Uint64(b[16:]), Mask: le.Uint64(b[24:])}
		n.Mask &^= 1<<(kernel.SIGKILL-1) | 1<<(kernel.SIGSTOP-1)
		old = tg.SetSigAction(sig, n)
	}
	if p := a[2].Pointer(); p != 0 {
		var b [32]byte
		le := binary.LittleEndian
		le.PutUint64(b[0:], old.Handler)
		le.PutUint64(b[8:], old.Flags)
		le.PutUint64(b[16:], old.Restorer)
		le.PutUint64(b[24:], old.Mask)
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// RtSigprocmask implements rt_sigprocmask(2).
func RtSigprocmask(t *kernel.Task, a args) (uintptr, error) {
	if a[3].SizeT() != sigsetSize {
		return 0, unix.EINVAL
	}
	old := t.SignalMask()
	if p := a[1].Pointer(); p != 0 {
		set, err := t.MemoryManager().CopyInUint64(p)
		if err != nil {
			return 0, err
		}
		switch a[0].Int() {
		case unix.SIG_BLOCK:
			t.SetSignalMask(old | set)
		case unix.SIG_UNBLOCK:
			t.SetSignalMask(old &^ set)
		case unix.SIG_SETMASK:
			t.SetSignalMask(set)
		default:
			return 0, unix.EINVAL
		}
	}
	if p := a[2].Pointer(); p != 0 {
		if err := t.MemoryManager().CopyOutUint64(p, old); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

const (
	ssOnstack    = 1
	ssDisable    = 2
	ssAutodisarm = uint32(1) << 31
	minSigStkSz  = 2048
)

// Sigaltstack implements sigaltstack(2) (storing the stack).
func Sigaltstack(t *kernel.Task, a args) (uintptr, error) {
	cur := t.AltStack()
	if p := a[1].Pointer(); p != 0 {
		var b [24]byte
		binary.LittleEndian.PutUint64(b[0:], cur.SP)
		binary.LittleEndian.PutUint32(b[8:], cur.Flags)
		binary.LittleEndian.PutUint64(b[16:], cur.Size)
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	if p := a[0].Pointer(); p != 0 {
		var b [24]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		n := kernel.AltStack{SP: binary.LittleEndian.Uint64(b[0:]), Flags: binary.LittleEndian.Uint32(b[8:]), Size: binary.LittleEndian.Uint64(b[16:])}
		if n.Flags&^(ssDisable|ssAutodisarm) != 0 {
			return 0, unix.EINVAL
		}
		if n.Flags&ssDisable == 0 && n.Size < minSigStkSz {
			return 0, unix.ENOMEM
		}
		if n.Flags&ssDisable != 0 {
			n = kernel.AltStack{Flags: ssDisable}
		}
		if err := t.SetAltStack(n); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// RtSigpending implements rt_sigpending(2): the pending signals that are
// blocked.
func RtSigpending(t *kernel.Task, a args) (uintptr, error) {
	if a[1].SizeT() > sigsetSize {
		return 0, unix.EINVAL
	}
	set := t.PendingSignals() & t.SignalMask()
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, set)
	_, err := t.CopyOut(a[0].Pointer(), b[:a[1].SizeT()])
	return 0, err
}

// RtSigsuspend implements rt_sigsuspend(2): wait with a temporary mask
// until a signal is delivered; always EINTR.
func RtSigsuspend(t *kernel.Task, a args) (uintptr, error) {
	if a[1].SizeT() != sigsetSize {
		return 0, unix.EINVAL
	}
	mask, err := t.MemoryManager().CopyInUint64(a[0].Pointer())
	if err != nil {
		return 0, err
	}
	t.SetSyscallSignalMask(mask)
	for {
		if err := t.Block(nil, time.Time{}); err == kernel.ErrInterrupted {
			return 0, linux.ERESTARTNOHAND
		}
	}
}

// Pause implements pause(2).
func Pause(t *kernel.Task, a args) (uintptr, error) {
	for {
		if err := t.Block(nil, time.Time{}); err == kernel.ErrInterrupted {
			return 0, linux.ERESTARTNOHAND
		}
	}
}

// RtSigtimedwait implements rt_sigtimedwait(2).
func RtSigtimedwait(t *kernel.Task, a args) (uintptr, error) {
	if a[3].SizeT() != sigsetSize {
		return 0, unix.EINVAL
	}
	set, err := t.MemoryManager().CopyInUint64(a[0].Pointer())
	if err != nil {
		return 0, err
	}
	var deadline time.Time
	if p := a[2].Pointer(); p != 0 {
		ns, err := copyInTimespec(t, p)
		if err != nil {
			return 0, err
		}
		deadline = time.Now().Add(time.Duration(ns))
	}
	info, err := t.Sigtimedwait(set, deadline)
	if err != nil {
		if err == unix.ETIMEDOUT {
			return 0, unix.EAGAIN
		}
		return 0, err
	}
	if p := a[1].Pointer(); p != 0 {
		b := info.Marshal()
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	return uintptr(info.Signo), nil
}

// RtSigreturn implements rt_sigreturn(2).
func RtSigreturn(t *kernel.Task, a args) (uintptr, error) {
	return 0, t.SignalReturn()
}
