package kernel

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
