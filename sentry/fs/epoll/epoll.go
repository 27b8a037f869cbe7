// Package epoll implements epoll(7): an interest list of registrations,
// each a (file description, descriptor number) pair with the events it
// asks for, and a ready list of the registrations whose files have
// notified events since they were last collected.
//
// Every registration has its own waiter.Entry on its file, for the events
// it asks for, and a goroutine that moves it to the ready list when the
// entry fires and then wakes the epoll's own waiters (epoll_wait, poll(2)
// on the epoll, epolls that watch this one). Collecting also sweeps every
// entry itself, so an event that happened before epoll_wait was called is
// reported even if the goroutine hasn't run yet. (A waiter.Entry that runs
// a callback would make both the goroutines and the sweep unnecessary.)
//
// The ready list holds candidates: each is polled again when collected and
// reported only if its file is still ready, as Linux's ep_send_events
// does. A level-triggered registration stays on the list while it is
// reported ready; an edge-triggered one leaves it when reported and comes
// back only when its file notifies again; a one-shot one is disarmed when
// reported, until EPOLL_CTL_MOD arms it again.
//
// A registration goes away with EPOLL_CTL_DEL, with its epoll, or when its
// file description is released (see watchRelease).
//
// Lock order: nestMu; then EventPoll.mu, that of an outer epoll before
// that of an epoll it watches (ELOOP keeps the nesting acyclic); then what
// the watched files' Readiness, EventRegister and EventUnregister take,
// waiter.Queue.mu among them; then the waiter.Entry's lock. ReleaseHooks.mu
// is a leaf; release hooks run with no lock held.
package epoll

import (
	"container/list"
	"context"
	"sync"
	"weak"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// epoll_ctl operations.
const (
	CtlAdd = 1 // EPOLL_CTL_ADD
	CtlDel = 2 // EPOLL_CTL_DEL
	CtlMod = 3 // EPOLL_CTL_MOD
)

// Event flags beyond poll(2)'s events (which have their poll values).
const (
	EPOLLIN        = uint32(waiter.EventIn)
	EPOLLOUT       = uint32(waiter.EventOut)
	EPOLLERR       = uint32(waiter.EventErr)
	EPOLLHUP       = uint32(waiter.EventHUp)
	EPOLLEXCLUSIVE = 1 << 28
	EPOLLWAKEUP    = 1 << 29
	EPOLLONESHOT   = 1 << 30
	EPOLLET        = 1 << 31

	// privateBits are the flags that say how to report rather than what
	// (EP_PRIVATE_BITS); a one-shot registration keeps only these once
	// disarmed.
	privateBits = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET
	// exclusiveOK are the flags EPOLLEXCLUSIVE may be combined with.
	exclusiveOK = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE
	// pollBits are the bits that are file events.
	pollBits = 0xffff

	// maxNests is EP_MAX_NESTS: a chain of epolls watching epolls may be
	// at most maxNests+1 long.
	maxNests = 4
)

// readable is what an epoll reports when it has events ready.
const readable = waiter.EventIn | waiter.EventRdNorm

// Event is a struct epoll_event.
type Event struct {
	Events uint32
	Data   uint64
}

// EventSize is the size of a struct epoll_event on x86-64, where it is
// packed.
const EventSize = 12

// nestMu protects every EventPoll's children and parents, and serialises
// the additions of epolls to epolls with the ELOOP check they need
// (Linux's epnested_mutex).
var nestMu sync.Mutex

// EventPoll is an epoll instance, the implementation of its file.
type EventPoll struct {
	vfs.FileDefaults
	// ReleaseHooks tell the epolls that watch this one that it is gone.
	ReleaseHooks

	// queue holds the epoll's own waiters. It is notified with EventIn
	// when a registration may have become ready.
	queue waiter.Queue

	// mu protects the fields below it and the fields of items marked as
	// protected by it.
	mu    sync.Mutex
	items map[key]*item
	// all is every registration, oldest first, for sweeping.
	all list.List
	// ready is the ready list, in about the order the events came.
	ready list.List

	// children and parents count the registrations of epolls by this one,
	// and of this one by epolls. Protected by nestMu.
	children, parents map[*EventPoll]int
}

// Check that EventPoll is what the syscall layer expects.
var (
	_ vfs.FileImpl    = (*EventPoll)(nil)
	_ waiter.Waitable = (*EventPoll)(nil)
)

// key identifies a registration: Linux keys them by file and descriptor
// number, so that dup'd descriptors of one file can be registered apart.
type key struct {
	file fileRef
	fd   int32
}

// item is one registration (Linux's epitem).
type item struct {
	ep  *EventPoll
	key key
	// target is the watched file's implementation when that is an epoll.
	target *EventPoll

	// Protected by ep.mu.
	events uint32
	data   uint64
	// entry is registered with the file for entryMask; stop ends the
	// goroutine that watches it.
	entry     *waiter.Entry
	entryMask waiter.EventMask
	stop      chan struct{}
	// cancelRelease stops watching for the file's release.
	cancelRelease      func()
	allElem, readyElem *list.Element
	removed            bool
}

// New returns the file of a new epoll instance, with one reference.
func New() *vfs.FileDescription {
	ep := &EventPoll{items: make(map[key]*item)}
	return NewAnonFile(ep, "[eventpoll]", unix.O_RDWR)
}

// CanPoll reports whether f can be registered with an epoll. Linux refuses
// files that have no poll operation with EPERM: regular files,
// directories, and the memory devices /dev/null, zero, full and urandom
// (only /dev/random polls). Here that is files that can't be waited for,
// which the memory devices are not either, and regular files and
// directories whatever they are (a host's regular file is a
// waiter.Waitable that is always ready).
func CanPoll(f *vfs.FileDescription) bool {
	if _, ok := f.Impl().(waiter.Waitable); !ok {
		return false
	}
	switch f.Dentry().Mode() & vfs.S_IFMT {
	case vfs.S_IFREG, vfs.S_IFDIR:
		return false
	}
	return true
}

// Ctl implements epoll_ctl(2) once the descriptors are looked up: it
// applies op to the registration of f, open as descriptor fd, with the
// epoll whose file is epf. ev is ignored by CtlDel.
func Ctl(epf *vfs.FileDescription, op int, f *vfs.FileDescription, fd int32, ev Event) error {
	if !CanPoll(f) {
		return unix.EPERM
	}
	ep, ok := epf.Impl().(*EventPoll)
	if !ok || epf == f {
		return unix.EINVAL
	}
	_, targetIsEpoll := f.Impl().(*EventPoll)
	if op != CtlDel && ev.Events&EPOLLEXCLUSIVE != 0 {
		// Exclusive wake-ups are chosen once, at EPOLL_CTL_ADD, and only
		// for plain input and output.
		if op == CtlMod || (op == CtlAdd && (targetIsEpoll || ev.Events&^exclusiveOK != 0)) {
			return unix.EINVAL
		}
	}
	switch op {
	case CtlAdd:
		return ep.add(f, fd, ev)
	case CtlMod:
		return ep.modify(f, fd, ev)
	case CtlDel:
		return ep.del(f, fd)
	}
	return unix.EINVAL
}

// waitable returns f's implementation as a waiter.Waitable.
//
// Preconditions: CanPoll(f).
func waitable(f *vfs.FileDescription) waiter.Waitable { return f.Impl().(waiter.Waitable) }

// add implements EPOLL_CTL_ADD.
func (ep *EventPoll) add(f *vfs.FileDescription, fd int32, ev Event) error {
	target, _ := f.Impl().(*EventPoll)
	if target != nil {
		nestMu.Lock()
		defer nestMu.Unlock()
		if !nestingOK(ep, target) {
			return unix.ELOOP
		}
	}
	k := key{weak.Make(f), fd}
	ep.mu.Lock()
	if _, ok := ep.items[k]; ok {
		ep.mu.Unlock()
		return unix.EEXIST
	}
	it := &item{ep: ep, key: k, target: target, events: ev.Events | EPOLLERR | EPOLLHUP, data: ev.Data}
	w := waitable(f)
	ep.items[k] = it
	it.allElem = ep.all.PushBack(it)
	ep.armLocked(it, w)
	it.cancelRelease = watchRelease(f, func() { ep.remove(it, false) })
	// A file that is ready already is on the ready list at once, whatever
	// the triggering.
	ready := it.pollLocked(w) != 0
	if ready {
		it.readyElem = ep.ready.PushBack(it)
	}
	ep.mu.Unlock()
	if target != nil {
		linkLocked(ep, target, 1)
	}
	if ready {
		ep.queue.Notify(readable)
	}
	return nil
}

// modify implements EPOLL_CTL_MOD: it replaces the events and data of a
// registration, which arms a disarmed one-shot registration again, and
// polls the file anew.
func (ep *EventPoll) modify(f *vfs.FileDescription, fd int32, ev Event) error {
	ep.mu.Lock()
	it, ok := ep.items[key{weak.Make(f), fd}]
	if !ok {
		ep.mu.Unlock()
		return unix.ENOENT
	}
	if it.events&EPOLLEXCLUSIVE != 0 {
		ep.mu.Unlock()
		return unix.EINVAL
	}
	it.events, it.data = ev.Events|EPOLLERR|EPOLLHUP, ev.Data
	w := waitable(f)
	if it.mask() != it.entryMask {
		ep.disarmLocked(it)
		ep.armLocked(it, w)
	}
	ready := it.pollLocked(w) != 0
	if ready && it.readyElem == nil {
		it.readyElem = ep.ready.PushBack(it)
	}
	ep.mu.Unlock()
	if ready {
		ep.queue.Notify(readable)
	}
	return nil
}

// del implements EPOLL_CTL_DEL.
func (ep *EventPoll) del(f *vfs.FileDescription, fd int32) error {
	ep.mu.Lock()
	it, ok := ep.items[key{weak.Make(f), fd}]
	ep.mu.Unlock()
	if !ok {
		return unix.ENOENT
	}
	ep.remove(it, true)
	return nil
}

// remove takes it off the interest list, if it is still there. cancel says
// to stop watching for the file's release (false when that is why).
func (ep *EventPoll) remove(it *item, cancel bool) {
	if it.target != nil {
		nestMu.Lock()
		defer nestMu.Unlock()
	}
	ep.mu.Lock()
	if it.removed {
		ep.mu.Unlock()
		return
	}
	ep.forgetLocked(it, cancel)
	delete(ep.items, it.key)
	ep.mu.Unlock()
	if it.target != nil {
		linkLocked(ep, it.target, -1)
	}
}

// forgetLocked undoes everything it does, except its place in ep.items.
//
// Preconditions: ep.mu is held; so is nestMu if it.target != nil.
func (ep *EventPoll) forgetLocked(it *item, cancel bool) {
	it.removed = true
	ep.all.Remove(it.allElem)
	if it.readyElem != nil {
		ep.ready.Remove(it.readyElem)
		it.readyElem = nil
	}
	ep.disarmLocked(it)
	if cancel {
		it.cancelRelease()
	}
}

// mask returns the events it's entry waits for.
func (it *item) mask() waiter.EventMask { return waiter.EventMask(it.events & pollBits) }

// armLocked registers a new entry for it with w, and starts the goroutine
// that watches it.
//
// Preconditions: ep.mu is held.
func (ep *EventPoll) armLocked(it *item, w waiter.Waitable) {
	e, ch := waiter.NewEntry(it.mask())
	it.entry, it.entryMask, it.stop = e, it.mask(), make(chan struct{})
	w.EventRegister(e)
	go ep.watch(it, ch, it.stop)
}

// disarmLocked unregisters it's entry from its file, if the file is still
// there, and stops the goroutine that watches it.
//
// Preconditions: ep.mu is held.
func (ep *EventPoll) disarmLocked(it *item) {
	if f := it.key.file.Value(); f != nil {
		waitable(f).EventUnregister(it.entry)
	}
	close(it.stop)
}

// watch moves it to the ready list whenever its entry fires, until stop is
// closed.
func (ep *EventPoll) watch(it *item, ch <-chan struct{}, stop <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-stop:
			return
		}
		ep.mu.Lock()
		woke := ep.takeFiredLocked(it)
		ep.mu.Unlock()
		if woke {
			ep.queue.Notify(readable)
		}
	}
}

// takeFiredLocked puts it on the ready list if its file has notified
// events that it is armed for since this was last asked, and reports
// whether it did (it may be on the list already).
//
// Preconditions: ep.mu is held.
func (ep *EventPoll) takeFiredLocked(it *item) bool {
	if it.removed {
		return false
	}
	if it.entry.Fired()&waiter.EventMask(it.events) == 0 {
		// Nothing, or nothing a disarmed one-shot registration reports.
		return false
	}
	if it.readyElem == nil {
		it.readyElem = ep.ready.PushBack(it)
	}
	return true
}

// sweepLocked takes every registration whose file has notified events,
// first sweeping the epolls watched, so that what happened in them before
// now reaches this one. It reports whether it found any.
//
// Preconditions: ep.mu is held.
func (ep *EventPoll) sweepLocked() bool {
	found := false
	for e := ep.all.Front(); e != nil; e = e.Next() {
		it := e.Value.(*item)
		if it.target != nil {
			it.target.propagate()
		}
		if ep.takeFiredLocked(it) {
			found = true
		}
	}
	return found
}

// propagate sweeps ep and wakes its waiters if that found anything.
func (ep *EventPoll) propagate() {
	ep.mu.Lock()
	found := ep.sweepLocked()
	ep.mu.Unlock()
	if found {
		ep.queue.Notify(readable)
	}
}

// pollLocked returns the events it asks for that are ready on w, its
// file.
//
// Preconditions: ep.mu is held.
func (it *item) pollLocked(w waiter.Waitable) waiter.EventMask {
	return w.Readiness(it.mask()) & waiter.EventMask(it.events)
}

// pollItemLocked is pollLocked for a registration whose file may be gone.
//
// Preconditions: ep.mu is held.
func (it *item) pollItemLocked() waiter.EventMask {
	f := it.key.file.Value()
	if f == nil {
		return 0
	}
	return it.pollLocked(waitable(f))
}

// ReadEvents collects up to maxEvents ready events without waiting and hands
// them to deliver, which stores them (copies them out) and returns how
// many it stored, with an error if not all. Stored events are consumed:
// edge-triggered registrations leave the ready list, one-shot ones are
// disarmed, level-triggered ones go to its back to be reported again while
// ready; the rest stay. ReadEvents returns the number stored, or deliver's
// error if none was.
func (ep *EventPoll) ReadEvents(maxEvents int, deliver func([]Event) (int, error)) (int, error) {
	ep.mu.Lock()
	found := ep.sweepLocked()
	var its []*item
	var evs []Event
	for e := ep.ready.Front(); e != nil && len(evs) < maxEvents; {
		next := e.Next()
		it := e.Value.(*item)
		if r := it.pollItemLocked(); r != 0 {
			its = append(its, it)
			evs = append(evs, Event{Events: uint32(r), Data: it.data})
		} else {
			// Notified, but not (or no longer) ready.
			ep.ready.Remove(e)
			it.readyElem = nil
		}
		e = next
	}
	var n int
	var err error
	if len(evs) > 0 {
		n, err = deliver(evs)
		n = min(max(n, 0), len(evs))
	}
	for _, it := range its[:n] {
		switch {
		case it.events&EPOLLONESHOT != 0:
			it.events &= privateBits
			fallthrough
		case it.events&EPOLLET != 0:
			ep.ready.Remove(it.readyElem)
			it.readyElem = nil
		default:
			ep.ready.MoveToBack(it.readyElem)
		}
	}
	ep.mu.Unlock()
	if found {
		ep.queue.Notify(readable)
	}
	if n == 0 && err != nil {
		return 0, err
	}
	return n, nil
}

// Readiness implements waiter.Waitable.Readiness: an epoll is readable
// when one of its registrations has an event to report.
func (ep *EventPoll) Readiness(mask waiter.EventMask) waiter.EventMask {
	if mask&readable == 0 {
		return 0
	}
	ep.mu.Lock()
	found := ep.sweepLocked()
	ready := false
	for e := ep.ready.Front(); e != nil; {
		next := e.Next()
		it := e.Value.(*item)
		if it.pollItemLocked() != 0 {
			ready = true
			break
		}
		ep.ready.Remove(e)
		it.readyElem = nil
		e = next
	}
	ep.mu.Unlock()
	if found {
		ep.queue.Notify(readable)
	}
	if !ready {
		return 0
	}
	return mask & readable
}

// EventRegister implements waiter.Waitable.EventRegister.
func (ep *EventPoll) EventRegister(e *waiter.Entry) { ep.queue.EventRegister(e) }

// EventUnregister implements waiter.Waitable.EventUnregister.
func (ep *EventPoll) EventUnregister(e *waiter.Entry) { ep.queue.EventUnregister(e) }

// Release implements vfs.FileImpl.Release: the epoll leaves the interest
// lists it is on and empties its own.
func (ep *EventPoll) Release() {
	ep.ReleaseHooks.Fire()
	nestMu.Lock()
	defer nestMu.Unlock()
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for e := ep.all.Front(); e != nil; {
		next := e.Next()
		it := e.Value.(*item)
		ep.forgetLocked(it, true)
		if it.target != nil {
			linkLocked(ep, it.target, -1)
		}
		e = next
	}
	clear(ep.items)
}

// Seek implements vfs.FileImpl.Seek: an epoll's offset stays 0, as
// Linux's noop_llseek leaves it.
func (ep *EventPoll) Seek(context.Context, int64, int) (int64, error) { return 0, nil }

// linkLocked counts n more registrations of epoll to by epoll from.
//
// Preconditions: nestMu is held.
func linkLocked(from, to *EventPoll, n int) {
	if from.children == nil {
		from.children = make(map[*EventPoll]int)
	}
	if to.parents == nil {
		to.parents = make(map[*EventPoll]int)
	}
	if from.children[to] += n; from.children[to] == 0 {
		delete(from.children, to)
	}
	if to.parents[from] += n; to.parents[from] == 0 {
		delete(to.parents, from)
	}
}

// nestingOK reports whether ep may watch epoll to: the epolls would not
// watch each other in a cycle, and no chain of epolls watching epolls
// would be longer than maxNests+1 (Linux's ep_loop_check).
//
// Preconditions: nestMu is held.
func nestingOK(ep, to *EventPoll) bool {
	below := depth(to, func(e *EventPoll) map[*EventPoll]int { return e.children }, ep)
	if below > maxNests {
		return false
	}
	above := depth(ep, func(e *EventPoll) map[*EventPoll]int { return e.parents }, nil)
	return below+1+above <= maxNests
}

// depth returns the length of the longest chain of links from e, following
// next, or more than maxNests if that is too long or reaches stop.
//
// Preconditions: nestMu is held.
func depth(e *EventPoll, next func(*EventPoll) map[*EventPoll]int, stop *EventPoll) int {
	memo := make(map[*EventPoll]int)
	var walk func(e *EventPoll) int
	walk = func(e *EventPoll) int {
		if d, ok := memo[e]; ok {
			return d
		}
		d := 0
		for c := range next(e) {
			if c == stop {
				d = maxNests + 1
			} else {
				d = max(d, walk(c)+1)
			}
			if d > maxNests {
				break
			}
		}
		memo[e] = d
		return d
	}
	return walk(e)
}
