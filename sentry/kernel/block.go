package kernel

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/waiter"
)

// ErrInterrupted is returned by Block when something needs the task's
// attention (a signal, a stop, a kill) before the wait is over. System
// calls turn it into the right restart errno (ERESTARTSYS and friends).
var ErrInterrupted = errors.New("task interrupted")

// Block waits until ch is ready, the task is interrupted, or the deadline
// (if not zero) passes (ETIMEDOUT).
//
// Preconditions: called on the task goroutine.
func (t *Task) Block(ch <-chan struct{}, deadline time.Time) error {
	if t.Interrupted() {
		return ErrInterrupted
	}
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return unix.ETIMEDOUT
		}
		timer := time.NewTimer(d)
		defer timer.Stop()
		timeout = timer.C
	}
	// Time spent blocked is neither user nor system time.
	start := time.Now()
	defer func() { t.sysNS.Add(-int64(time.Since(start))) }()
	t.proc.sleep()
	defer t.proc.wake()
	select {
	case <-ch:
		return nil
	case <-t.interruptCh:
		return ErrInterrupted
	case <-timeout:
		return unix.ETIMEDOUT
	}
}

// BlockOn waits until w has an event in mask, following the waiter
// protocol (register, check, block). It returns nil when ready.
func (t *Task) BlockOn(w waiter.Waitable, mask waiter.EventMask, deadline time.Time) error {
	e, ch := waiter.NewEntry(mask)
	w.EventRegister(e)
	defer w.EventUnregister(e)
	if w.Readiness(mask) != 0 {
		return nil
	}
	return t.Block(ch, deadline)
}

// Interrupt makes the task's current or next Block return ErrInterrupted
// and stops it running application code, so that it looks at its signals.
func (t *Task) Interrupt() {
	select {
	case t.interruptCh <- struct{}{}:
	default:
	}
	t.pctx.Interrupt()
}
