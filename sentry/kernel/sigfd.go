package kernel

import (
	"time"

	"palisade.dev/sentry/waiter"
)

// Support for signalfd(2): a file that reads the signals pending for the
// task that reads it, taking them as rt_sigtimedwait would.
//
// A thread group's signal waiters (signalWaiters) are told, with
// EventIn, of every signal queued to the group or one of its tasks.

// TakeSignal dequeues a pending signal of set for the task: one directed
// at it first, then one directed at its process, synchronous signals
// first and then the lowest number, as a delivery would. SIGKILL and
// SIGSTOP are never taken.
func (t *Task) TakeSignal(set uint64) (SigInfo, bool) {
	set &^= unblockable
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	info, ok := t.pending.dequeue(^set)
	if !ok {
		info, ok = t.tg.pending.dequeue(^set)
	}
	return info, ok
}

// HasSignalIn reports whether a signal of set is pending for the task.
func (t *Task) HasSignalIn(set uint64) bool {
	set &^= unblockable
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	return (t.pending.set|t.tg.pending.set)&set != 0
}

// SignalEventRegister adds e to the waiters told of signals queued to the
// task's process or any of its threads.
func (t *Task) SignalEventRegister(e *waiter.Entry) { t.tg.signalWaiters.EventRegister(e) }

// SignalEventUnregister removes e added by SignalEventRegister.
func (t *Task) SignalEventUnregister(e *waiter.Entry) { t.tg.signalWaiters.EventUnregister(e) }

// WaitSignal blocks until a signal of set is pending for the task, the
// task is interrupted (ErrInterrupted) or the deadline passes (zero:
// never). Unlike Sigtimedwait it leaves the signal pending and the mask
// alone: a signal of set that is not blocked is delivered as usual, and
// interrupts the wait.
func (t *Task) WaitSignal(set uint64, deadline time.Time) error {
	e, ch := waiter.NewEntry(waiter.EventIn)
	t.SignalEventRegister(e)
	defer t.SignalEventUnregister(e)
	for !t.HasSignalIn(set) {
		if err := t.Block(ch, deadline); err != nil {
			return err
		}
	}
	return nil
}
