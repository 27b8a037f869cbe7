package kernel

import "fmt"

// Signal numbers the kernel refers to.
const (
	SIGKILL    = 9
	SIGSTOP    = 19
	NumSignals = 64
)

// Special signal handler values.
const (
	sigDfl = 0
	sigIgn = 1
)

// SigAction is a signal's disposition (struct sigaction as the kernel
// sees it).
type SigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// SigAction returns the disposition of sig (1-based).
func (tg *ThreadGroup) SigAction(sig int) SigAction {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.sigactions[sig-1]
}

// SetSigAction replaces the disposition of sig and returns the old one.
func (tg *ThreadGroup) SetSigAction(sig int, a SigAction) SigAction {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	old := tg.sigactions[sig-1]
	tg.sigactions[sig-1] = a
	return old
}

// AltStack is a signal stack (stack_t).
type AltStack struct {
	SP    uint64
	Flags uint32
	Size  uint64
}

// AltStack returns the task's signal stack.
func (t *Task) AltStack() AltStack {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.altStack.Flags == 0 && t.altStack.SP == 0 {
		return AltStack{Flags: 2} // SS_DISABLE
	}
	return t.altStack
}

// SetAltStack sets the task's signal stack.
func (t *Task) SetAltStack(s AltStack) {
	t.mu.Lock()
	t.altStack = s
	t.mu.Unlock()
}

// SIGPIPE is sent to a task that writes to a pipe with no reader.
const SIGPIPE = 13

// defaultTerminates reports whether sig's default action ends the process,
// and whether it dumps core.
func defaultTerminates(sig int) (terminate, core bool) {
	switch sig {
	case 3, 4, 5, 6, 7, 8, 11, 24, 25, 31: // QUIT ILL TRAP ABRT BUS FPE SEGV XCPU XFSZ SYS
		return true, true
	case 17, 18, 19, 20, 21, 22, 23, 28: // CHLD CONT STOP TSTP TTIN TTOU URG WINCH
		return false, false
	}
	return true, false
}

// SendSignalSelf handles a signal a task's own system call raises (SIGPIPE
// from a write to a broken pipe). Until signal delivery lands, only the
// dispositions that need no handler are honoured: ignored or blocked, the
// signal is dropped; default, its default action is taken. A handler the
// application installed can't run yet: that is logged and the signal
// dropped.
func (t *Task) SendSignalSelf(sig int) {
	if t.SignalMask()&(1<<uint(sig-1)) != 0 {
		return
	}
	act := t.tg.SigAction(sig)
	switch act.Handler {
	case sigIgn:
		return
	case sigDfl:
		if term, core := defaultTerminates(sig); term {
			t.k.Log.Debug("signal's default action ends the process", "tid", t.tid, "signal", sig)
			t.exitGroup(SignaledStatus(sig, core))
		}
	default:
		t.k.LogUnimplemented(t, uintptr(1000+sig), fmt.Sprintf("delivery of signal %d to a handler", sig), false)
	}
}

// SetSyscallSignalMask sets the signal mask for the rest of the current
// system call (ppoll, pselect6, rt_sigsuspend, epoll_pwait): the old mask
// comes back when the call returns — or, if a signal handler runs because
// of the call's interruption, when that handler returns (Linux's
// set_restore_sigmask).
//
// Preconditions: called on the task goroutine, during a system call.
func (t *Task) SetSyscallSignalMask(m uint64) {
	if !t.haveSavedMask {
		t.savedMask, t.haveSavedMask = t.SignalMask(), true
	}
	t.SetSignalMask(m)
}

// restoreSyscallSignalMask undoes SetSyscallSignalMask at the end of a
// system call that ran no handler.
func (t *Task) restoreSyscallSignalMask() {
	if t.haveSavedMask {
		t.SetSignalMask(t.savedMask)
		t.haveSavedMask = false
	}
}
