package epoll

import (
	"runtime"
	"sync"
	"weak"

	"palisade.dev/sentry/vfs"
)

// releaseNotifier is what tells epoll that a file description has been
// released, so that its registrations go from every interest list at once,
// as Linux's __fput does through eventpoll_release. Epoll looks for it on
// the description (for when vfs offers it for every file) and then on the
// description's implementation (files that embed ReleaseHooks).
type releaseNotifier interface {
	// OnRelease arranges for fn to run when the last reference to the
	// file goes, and returns a function that cancels the arrangement.
	OnRelease(fn func()) (cancel func())
}

// ReleaseHooks runs functions when the file it belongs to is released.
// Embed it in a vfs.FileImpl and call Fire from Release, and epoll drops
// the file's registrations the moment the last descriptor referring to it
// is closed; without it, epoll only notices when the description has been
// garbage collected (see watchRelease). The zero value is ready to use.
type ReleaseHooks struct {
	mu    sync.Mutex
	next  uint64
	hooks map[uint64]func()
	fired bool
}

// OnRelease implements releaseNotifier.OnRelease.
//
// Preconditions: the caller holds a reference to the file, so it hasn't
// been released yet.
func (h *ReleaseHooks) OnRelease(fn func()) (cancel func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fired {
		return func() {}
	}
	if h.hooks == nil {
		h.hooks = make(map[uint64]func())
	}
	id := h.next
	h.next++
	h.hooks[id] = fn
	return func() {
		h.mu.Lock()
		delete(h.hooks, id)
		h.mu.Unlock()
	}
}

// Fire runs the registered functions, without holding any lock, and
// forgets them. Call it once, from the file's Release.
func (h *ReleaseHooks) Fire() {
	h.mu.Lock()
	hooks := h.hooks
	h.hooks, h.fired = nil, true
	h.mu.Unlock()
	for _, fn := range hooks {
		fn()
	}
}

// watchRelease arranges for fn to run when f is released, and returns the
// function that cancels it. Files with no release notification are
// watched through a weak reference instead: fn runs once f has been
// garbage collected, which can be long after its last descriptor was
// closed. fn must not refer to f.
func watchRelease(f *vfs.FileDescription, fn func()) (cancel func()) {
	if n, ok := any(f).(releaseNotifier); ok {
		return n.OnRelease(fn)
	}
	if n, ok := f.Impl().(releaseNotifier); ok {
		return n.OnRelease(fn)
	}
	c := runtime.AddCleanup(f, func(fn func()) { fn() }, fn)
	return c.Stop
}

// fileRef is a weak reference to a watched file: an interest list must
// not keep the description reachable, or the garbage collector could never
// tell watchRelease that a file without release notification is gone.
type fileRef = weak.Pointer[vfs.FileDescription]
