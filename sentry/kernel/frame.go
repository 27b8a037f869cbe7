package kernel

import (
	"errors"

	"palisade.dev/sentry/arch"
)

// setupSignalFrame builds the frame for a handler of sig on the task's
// stack (or alternate stack) and points the registers at the handler.
func (t *Task) setupSignalFrame(sig int, info *SigInfo, act *SigAction, oldMask uint64) error {
	if err := t.pctx.PullFPState(t.mm.AddressSpace(), &t.arch); err != nil {
		return err
	}
	raw := info.Marshal()
	var ai arch.SignalInfo
	ai.Unmarshal(raw[:])
	a := arch.SignalAct{Handler: act.Handler, Flags: act.Flags, Restorer: act.Restorer, Mask: act.Mask}
	t.mu.Lock()
	as := t.altStack
	t.mu.Unlock()
	alt := arch.SignalStack{SP: as.SP, Flags: as.Flags, Size: as.Size}
	if as.Size == 0 {
		alt.Flags = arch.SSDisable
	}
	trap := t.lastTrap
	if err := t.arch.SignalSetup(t.mm, &a, &ai, &alt, oldMask, &trap); err != nil {
		return err
	}
	if as.Flags&arch.SSAutoDisarm != 0 {
		// SS_AUTODISARM: saving the stack into a frame disarms it
		// until sigreturn restores it from uc_stack.
		t.mu.Lock()
		t.altStack = AltStack{Flags: SS_DISABLE}
		t.mu.Unlock()
	}
	return nil
}

// SignalReturn implements rt_sigreturn(2): the registers, FP state,
// signal mask and alternate stack come back from the frame at the stack
// pointer. A corrupt frame is a SIGSEGV.
func (t *Task) SignalReturn() error {
	mask, alt, err := t.arch.SignalRestore(t.mm)
	t.restartFn = nil // a pending restart_syscall now fails with EINTR
	if err != nil {
		var se *arch.SigreturnError
		if errors.As(err, &se) && se.MaskRestored {
			t.SetSignalMask(mask)
		}
		t.forceSignal(&SigInfo{Signo: SIGSEGV, Code: SI_KERNEL})
		return ErrNoReturn
	}
	t.SetSignalMask(mask)
	// uc_stack is applied as sigaltstack(2) would, errors ignored.
	if alt.Flags&arch.SSDisable != 0 {
		t.SetAltStack(AltStack{Flags: SS_DISABLE})
	} else if alt.Size >= 2048 {
		t.SetAltStack(AltStack{SP: alt.SP, Flags: alt.Flags, Size: alt.Size})
	}
	return ErrNoReturn
}
