package arch

// FPState is the x87/SSE/AVX state of a thread in XSAVE format.
//
// The live state of a running thread is kept by the platform (for ptrace,
// inside the host stub thread), so the sentry fetches it only when it needs
// to look at it (signal frames, fork) and pushes it back only when it
// changed it. The flags below record which copy is current.
type FPState struct {
	// Data is the XSAVE area. It is valid only when Loaded is true.
	Data []byte
	// Loaded is true when Data holds the thread's current state.
	Loaded bool
	// Dirty is true when Data was changed by the sentry and must be written
	// back to the platform before the thread runs again.
	Dirty bool
	// Init is true when the state must be reset to the processor's initial
	// state before the thread runs again (after execve).
	Init bool
}

// Reset marks the state as needing the processor's initial state.
func (f *FPState) Reset() {
	f.Init = true
	f.Loaded = false
	f.Dirty = false
}

// Fork returns a copy of f for a new thread. The caller must have loaded the
// state (Loaded true) unless Init is set.
func (f *FPState) Fork() FPState {
	n := FPState{Loaded: f.Loaded, Init: f.Init, Dirty: f.Loaded}
	if f.Loaded {
		n.Data = append([]byte(nil), f.Data...)
	}
	return n
}
