// Package waiter lets blocking operations wait for events on objects such
// as pipes and host files: an object keeps a Queue, a waiter registers an
// Entry with the events it cares about, and the object calls Notify when
// its readiness changes.
//
// The protocol: register, then check readiness, then block; never the
// other way round, or an event between the check and the registration is
// lost.
//
// Lock order: Queue.mu is a leaf lock.
package waiter

import "sync"

// EventMask is a set of poll(2) events.
type EventMask uint64

// Events, with poll(2)'s values.
const (
	EventIn     EventMask = 0x01
	EventPri    EventMask = 0x02
	EventOut    EventMask = 0x04
	EventErr    EventMask = 0x08
	EventHUp    EventMask = 0x10
	EventRdNorm EventMask = 0x40
	EventRdBand EventMask = 0x80
	EventWrNorm EventMask = 0x100
	EventWrBand EventMask = 0x200
	EventRdHUp  EventMask = 0x2000

	// ReadableEvents and WritableEvents are what readers and writers
	// wait for; errors and hang-ups always wake.
	ReadableEvents = EventIn | EventRdNorm
	WritableEvents = EventOut | EventWrNorm
	alwaysEvents   = EventErr | EventHUp
)

// Entry is one waiter.
type Entry struct {
	mask EventMask
	ch   chan struct{}
	// fired holds the events that woke the entry (for epoll and poll).
	mu    sync.Mutex
	fired EventMask
}

// NewEntry returns an entry waiting for mask (plus errors and hang-ups)
// and the channel that receives a wake-up when one happens.
func NewEntry(mask EventMask) (*Entry, <-chan struct{}) {
	e := &Entry{mask: mask | alwaysEvents, ch: make(chan struct{}, 1)}
	return e, e.ch
}

// Fired returns and clears the events that woke the entry.
func (e *Entry) Fired() EventMask {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := e.fired
	e.fired = 0
	return f
}

func (e *Entry) notify(m EventMask) {
	e.mu.Lock()
	e.fired |= m
	e.mu.Unlock()
	select {
	case e.ch <- struct{}{}:
	default:
	}
}

// Queue is a set of waiters on one object.
type Queue struct {
	mu      sync.Mutex
	entries map[*Entry]struct{}
}

// EventRegister adds e.
func (q *Queue) EventRegister(e *Entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.entries == nil {
		q.entries = make(map[*Entry]struct{})
	}
	q.entries[e] = struct{}{}
}

// EventUnregister removes e.
func (q *Queue) EventUnregister(e *Entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.entries, e)
}

// Notify wakes the entries waiting for any event in m.
func (q *Queue) Notify(m EventMask) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for e := range q.entries {
		if e.mask&m != 0 {
			e.notify(m & e.mask)
		}
	}
}

// Waitable is an object whose readiness can be polled and waited for.
type Waitable interface {
	// Readiness returns the events in mask that are ready now.
	Readiness(mask EventMask) EventMask
	EventRegister(e *Entry)
	EventUnregister(e *Entry)
}
