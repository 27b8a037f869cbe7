package syscalls

import (
	"sync"

	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// I/O signals (O_ASYNC): while a file that supports them (a
// vfs.Fasyncer) has O_ASYNC set, a goroutine waits on it and, each time
// it reports readiness, sends its owner (F_SETOWN) SIGIO, or F_SETSIG's
// signal with si_code, si_band and si_fd saying what became possible.
// Readiness that comes several times before the goroutine runs is one
// signal, where Linux may send one per event.

// POLL_* si_codes and the bands Linux reports with them.
const (
	pollIn  = 1
	pollOut = 2
	pollErr = 4
	pollHup = 6

	pollMsg = 0x400
)

// setAsync starts (on) or stops the I/O signals of f, which the caller
// named fd.
func setAsync(t *kernel.Task, f *vfs.FileDescription, fd int32, on bool) {
	if !on {
		if stop := f.SetAsync(nil); stop != nil {
			stop()
		}
		return
	}
	w, ok := f.Impl().(waiter.Waitable)
	if _, fasync := f.Impl().(vfs.Fasyncer); !ok || !fasync {
		// As Linux: the flag is set, and nothing is signalled.
		return
	}
	mask := waiter.EventErr | waiter.EventHUp
	if f.Readable() {
		mask |= waiter.ReadableEvents
	}
	if f.Writable() {
		mask |= waiter.WritableEvents
	}
	e, ch := waiter.NewEntry(mask)
	done := make(chan struct{})
	var once sync.Once
	var cancel func()
	stop := func() {
		once.Do(func() {
			close(done)
			if cancel != nil {
				cancel()
			}
		})
	}
	w.EventRegister(e)
	cancel = f.OnRelease(func() { once.Do(func() { close(done) }) })
	k := t.Kernel()
	go func() {
		defer w.EventUnregister(e)
		for {
			select {
			case <-done:
				return
			case <-ch:
				sendIOSignal(k, f, fd, e.Fired())
			}
		}
	}()
	if old := f.SetAsync(stop); old != nil {
		old()
	}
}

// sendIOSignal signals f's owner that the events ev happened.
func sendIOSignal(k *kernel.Kernel, f *vfs.FileDescription, fd int32, ev waiter.EventMask) {
	typ, id := f.Owner()
	if id == 0 {
		return
	}
	creds := f.OwnerCreds()
	sig := f.Sig()
	if sig == 0 {
		// Plain SIGIO carries no information.
		k.SendIOSignal(typ, id, creds, kernel.SigInfo{Signo: kernel.SIGIO, Code: kernel.SI_KERNEL})
		return
	}
	for _, r := range []struct {
		ev   waiter.EventMask
		code int32
		band int64
	}{
		{waiter.ReadableEvents, pollIn, int64(waiter.EventIn | waiter.EventRdNorm | pollMsg)},
		{waiter.WritableEvents, pollOut, int64(waiter.EventOut | waiter.EventWrNorm | waiter.EventWrBand)},
		{waiter.EventErr, pollErr, int64(waiter.EventErr)},
		{waiter.EventHUp, pollHup, int64(waiter.EventHUp | waiter.EventErr)},
	} {
		if ev&r.ev != 0 {
			k.SendIOSignal(typ, id, creds, kernel.SigInfo{Signo: sig, Code: r.code, Band: r.band, FD: fd})
		}
	}
}
