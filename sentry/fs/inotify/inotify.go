// Package inotify implements inotify(7): instances (files that queue
// events), their watches on dentries, and the vfs.Notifier that turns
// what the system calls report into events.
//
// Lock order: registry.mu, then Inotify.mu, then waiter.Queue.mu
// (notifications are sent after dropping Inotify.mu).
package inotify

import (
	"context"
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/epoll"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// Flags and bits of inotify_init1(2) and inotify_add_watch(2) that are
// not events.
const (
	IN_NONBLOCK    = unix.O_NONBLOCK
	IN_CLOEXEC     = unix.O_CLOEXEC
	IN_ALL_EVENTS  = 0xfff
	IN_UNMOUNT     = 0x2000
	IN_Q_OVERFLOW  = 0x4000
	IN_IGNORED     = 0x8000
	IN_ONLYDIR     = 0x1000000
	IN_DONT_FOLLOW = 0x2000000
	IN_EXCL_UNLINK = 0x4000000
	IN_MASK_CREATE = 0x10000000
	IN_MASK_ADD    = 0x20000000
	IN_ONESHOT     = 0x80000000
)

// MaxQueuedEvents is /proc/sys/fs/inotify/max_queued_events.
const MaxQueuedEvents = 16384

// eventHeader is sizeof(struct inotify_event).
const eventHeader = 16

type event struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string
}

// size is the event's length as read(2) returns it: the header and the
// name, NUL-terminated and padded to a multiple of the header's size.
func (e *event) size() int {
	if e.name == "" {
		return eventHeader
	}
	return eventHeader + (len(e.name)+1+eventHeader-1)/eventHeader*eventHeader
}

func (e *event) encode(b []byte) {
	binary.LittleEndian.PutUint32(b[0:], uint32(e.wd))
	binary.LittleEndian.PutUint32(b[4:], e.mask)
	binary.LittleEndian.PutUint32(b[8:], e.cookie)
	n := e.size() - eventHeader
	binary.LittleEndian.PutUint32(b[12:], uint32(n))
	clear(b[eventHeader:e.size()])
	copy(b[eventHeader:], e.name)
}

// watch is one inotify watch of one dentry.
type watch struct {
	in   *Inotify
	wd   int32
	d    vfs.Dentry
	mask uint32
}

// registry maps watched dentries to their watches.
var registry struct {
	mu      sync.Mutex
	watches map[vfs.Dentry][]*watch
}

type notifier struct{}

func init() { vfs.SetNotifier(notifier{}) }

// Event implements vfs.Notifier.
func (notifier) Event(d vfs.Dentry, mask, cookie uint32, name string) {
	registry.mu.Lock()
	ws := registry.watches[d]
	var oneshots []*watch
	for _, w := range ws {
		if w.mask&mask&IN_ALL_EVENTS == 0 {
			continue
		}
		w.in.queue(event{wd: w.wd, mask: mask, cookie: cookie, name: name})
		if w.mask&IN_ONESHOT != 0 {
			oneshots = append(oneshots, w)
		}
	}
	for _, w := range oneshots {
		removeLocked(w)
	}
	registry.mu.Unlock()
}

// Gone implements vfs.Notifier: a deleted file's watches end with
// IN_IGNORED.
func (notifier) Gone(d vfs.Dentry) {
	registry.mu.Lock()
	for _, w := range append([]*watch(nil), registry.watches[d]...) {
		removeLocked(w)
	}
	registry.mu.Unlock()
}

// removeLocked ends w, queueing IN_IGNORED.
func removeLocked(w *watch) {
	ws := registry.watches[w.d]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(registry.watches, w.d)
	} else {
		registry.watches[w.d] = ws
	}
	w.in.mu.Lock()
	delete(w.in.watches, w.wd)
	w.in.mu.Unlock()
	w.in.queue(event{wd: w.wd, mask: IN_IGNORED})
}

// Inotify is an inotify instance, the implementation of its file.
type Inotify struct {
	vfs.FileDefaults
	epoll.ReleaseHooks

	q waiter.Queue

	mu      sync.Mutex
	events  []event
	bytes   int // total size of events
	watches map[int32]*watch
	nextWD  int32
}

var (
	_ vfs.FileImpl    = (*Inotify)(nil)
	_ waiter.Waitable = (*Inotify)(nil)
)

// New returns the file of a new instance, with one reference. flags may
// hold O_NONBLOCK.
func New(flags uint32) *vfs.FileDescription {
	in := &Inotify{watches: make(map[int32]*watch), nextWD: 1}
	return epoll.NewAnonFile(in, "inotify", unix.O_RDONLY|flags&unix.O_NONBLOCK)
}

// queue adds e unless it repeats the newest queued event; past the limit
// only one IN_Q_OVERFLOW is queued.
func (in *Inotify) queue(e event) {
	in.mu.Lock()
	if n := len(in.events); n > 0 {
		last := &in.events[n-1]
		if *last == e || last.mask == IN_Q_OVERFLOW {
			in.mu.Unlock()
			return
		}
	}
	if len(in.events) >= MaxQueuedEvents {
		e = event{wd: -1, mask: IN_Q_OVERFLOW}
	}
	in.events = append(in.events, e)
	in.bytes += e.size()
	in.mu.Unlock()
	in.q.Notify(waiter.EventIn)
}

// AddWatch implements inotify_add_watch(2) for d, returning the watch
// descriptor; d's existing watch of this instance is updated.
func (in *Inotify) AddWatch(d vfs.Dentry, mask uint32) (int32, error) {
	events := mask & IN_ALL_EVENTS
	if events == 0 {
		return 0, unix.EINVAL
	}
	if mask&IN_MASK_ADD != 0 && mask&IN_MASK_CREATE != 0 {
		return 0, unix.EINVAL
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	for _, w := range registry.watches[d] {
		if w.in != in {
			continue
		}
		if mask&IN_MASK_CREATE != 0 {
			return 0, unix.EEXIST
		}
		keep := uint32(0)
		if mask&IN_MASK_ADD != 0 {
			keep = w.mask
		}
		w.mask = keep | mask&^(IN_MASK_ADD|IN_MASK_CREATE|IN_DONT_FOLLOW|IN_ONLYDIR)
		return w.wd, nil
	}
	if registry.watches == nil {
		registry.watches = make(map[vfs.Dentry][]*watch)
	}
	in.mu.Lock()
	wd := in.nextWD
	in.nextWD++
	w := &watch{in: in, wd: wd, d: d, mask: mask &^ (IN_MASK_ADD | IN_MASK_CREATE | IN_DONT_FOLLOW | IN_ONLYDIR)}
	in.watches[wd] = w
	in.mu.Unlock()
	registry.watches[d] = append(registry.watches[d], w)
	vfs.Watching()
	return wd, nil
}

// RemoveWatch implements inotify_rm_watch(2).
func (in *Inotify) RemoveWatch(wd int32) error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	in.mu.Lock()
	w := in.watches[wd]
	in.mu.Unlock()
	if w == nil {
		return unix.EINVAL
	}
	removeLocked(w)
	return nil
}

// Read implements vfs.FileImpl.Read: as many whole events as fit; EINVAL
// if not even the first does; EAGAIN when there are none.
func (in *Inotify) Read(_ context.Context, dst []byte) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.events) == 0 {
		return 0, unix.EAGAIN
	}
	n := 0
	for len(in.events) > 0 {
		e := &in.events[0]
		sz := e.size()
		if n+sz > len(dst) {
			break
		}
		e.encode(dst[n:])
		n += sz
		in.bytes -= sz
		in.events[0] = event{}
		in.events = in.events[1:]
	}
	if n == 0 {
		return 0, unix.EINVAL
	}
	return n, nil
}

// Ioctl implements FIONREAD: the bytes a read could return.
func (in *Inotify) Ioctl(_ context.Context, mem vfs.UserMemory, cmd uint32, arg uintptr) (uintptr, error) {
	if cmd != unix.TIOCINQ { // FIONREAD
		return 0, unix.ENOTTY
	}
	in.mu.Lock()
	n := in.bytes
	in.mu.Unlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	if _, err := mem.CopyOut(arg, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Readiness implements waiter.Waitable.
func (in *Inotify) Readiness(mask waiter.EventMask) waiter.EventMask {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.events) > 0 {
		return mask & waiter.ReadableEvents
	}
	return 0
}

// EventRegister implements waiter.Waitable.
func (in *Inotify) EventRegister(e *waiter.Entry) { in.q.EventRegister(e) }

// EventUnregister implements waiter.Waitable.
func (in *Inotify) EventUnregister(e *waiter.Entry) { in.q.EventUnregister(e) }

// Fasync implements vfs.Fasyncer: with O_ASYNC, a queued event signals
// the owner.
func (in *Inotify) Fasync() {}

// Release implements vfs.FileImpl: the instance's watches go.
func (in *Inotify) Release() {
	in.ReleaseHooks.Fire()
	registry.mu.Lock()
	in.mu.Lock()
	ws := make([]*watch, 0, len(in.watches))
	for _, w := range in.watches {
		ws = append(ws, w)
	}
	in.mu.Unlock()
	for _, w := range ws {
		removeLocked(w)
	}
	registry.mu.Unlock()
}
