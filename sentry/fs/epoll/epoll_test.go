package epoll_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/epoll"
	"palisade.dev/sentry/fs/eventfd"
	"palisade.dev/sentry/fs/pipe"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

var ctx = context.Background()

const (
	in  = epoll.EPOLLIN
	out = epoll.EPOLLOUT
	hup = epoll.EPOLLHUP
	et  = epoll.EPOLLET
)

// newEpoll returns a new epoll's file and implementation.
func newEpoll(t *testing.T) (*vfs.FileDescription, *epoll.EventPoll) {
	t.Helper()
	f := epoll.New()
	t.Cleanup(f.DecRef)
	return f, f.Impl().(*epoll.EventPoll)
}

func newEventfd(t *testing.T) *vfs.FileDescription {
	t.Helper()
	f := eventfd.New(0, false, unix.O_NONBLOCK)
	t.Cleanup(f.DecRef)
	return f
}

func newPipe(t *testing.T) (r, w *vfs.FileDescription) {
	t.Helper()
	r, w = pipe.NewFiles(0, 0, unix.O_NONBLOCK)
	t.Cleanup(r.DecRef)
	t.Cleanup(w.DecRef)
	return r, w
}

func signal(t *testing.T, f *vfs.FileDescription, v uint64) {
	t.Helper()
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], v)
	if _, err := f.Write(ctx, b[:]); err != nil {
		t.Fatalf("eventfd write: %v", err)
	}
}

func drain(t *testing.T, f *vfs.FileDescription) {
	t.Helper()
	if _, err := f.Read(ctx, make([]byte, 1<<16)); err != nil {
		t.Fatalf("read: %v", err)
	}
}

func ctl(epf *vfs.FileDescription, op int, f *vfs.FileDescription, fd int32, events uint32) error {
	return epoll.Ctl(epf, op, f, fd, epoll.Event{Events: events, Data: uint64(fd)})
}

func mustCtl(t *testing.T, epf *vfs.FileDescription, op int, f *vfs.FileDescription, fd int32, events uint32) {
	t.Helper()
	if err := ctl(epf, op, f, fd, events); err != nil {
		t.Fatalf("epoll_ctl(%d, fd %d, %#x): %v", op, fd, events, err)
	}
}

// collect returns the events ready now, up to max.
func collect(ep *epoll.EventPoll, max int) []epoll.Event {
	var got []epoll.Event
	ep.ReadEvents(max, func(evs []epoll.Event) (int, error) {
		got = append(got, evs...)
		return len(evs), nil
	})
	return got
}

func expect(t *testing.T, ep *epoll.EventPoll, what string, want ...epoll.Event) {
	t.Helper()
	got := collect(ep, 100)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: events %v, want %v", what, got, want)
	}
}

func ev(fd int32, events uint32) epoll.Event { return epoll.Event{Events: events, Data: uint64(fd)} }

func TestLevelTriggered(t *testing.T) {
	epf, ep := newEpoll(t)
	e := newEventfd(t)
	mustCtl(t, epf, epoll.CtlAdd, e, 5, in)
	expect(t, ep, "nothing written")
	signal(t, e, 1)
	expect(t, ep, "after a write", ev(5, in))
	expect(t, ep, "again, unread", ev(5, in))
	drain(t, e)
	expect(t, ep, "after the read")
	signal(t, e, 1)
	expect(t, ep, "after another write", ev(5, in))
}

func TestEdgeTriggered(t *testing.T) {
	epf, ep := newEpoll(t)
	r, w := newPipe(t)
	mustCtl(t, epf, epoll.CtlAdd, r, 3, in|et)
	expect(t, ep, "empty pipe")
	w.Write(ctx, []byte("a"))
	expect(t, ep, "after a write", ev(3, in))
	expect(t, ep, "no new write")
	w.Write(ctx, []byte("b"))
	expect(t, ep, "after a second write, unread", ev(3, in))
	// A write that doesn't concern the registration is no edge for it.
	mustCtl(t, epf, epoll.CtlAdd, w, 4, out|et)
	expect(t, ep, "writer added while writable", ev(4, out))
	drain(t, r)
	expect(t, ep, "read: an edge for the writer only", ev(4, out))
}

func TestEdgeAlreadyReadyAtAdd(t *testing.T) {
	epf, ep := newEpoll(t)
	e := newEventfd(t)
	signal(t, e, 1)
	mustCtl(t, epf, epoll.CtlAdd, e, 1, in|et)
	expect(t, ep, "ready when added", ev(1, in))
	expect(t, ep, "once")
	signal(t, e, 0)
	expect(t, ep, "a write of 0 is an edge", ev(1, in))
}

func TestOneShot(t *testing.T) {
	epf, ep := newEpoll(t)
	e := newEventfd(t)
	mustCtl(t, epf, epoll.CtlAdd, e, 1, in|epoll.EPOLLONESHOT)
	signal(t, e, 1)
	expect(t, ep, "first event", ev(1, in))
	expect(t, ep, "disarmed")
	signal(t, e, 1)
	expect(t, ep, "disarmed after a new write")
	if err := ctl(epf, epoll.CtlAdd, e, 1, in); err != unix.EEXIST {
		t.Errorf("a disarmed registration is still registered: ADD gave %v, want EEXIST", err)
	}
	mustCtl(t, epf, epoll.CtlMod, e, 1, in|epoll.EPOLLONESHOT)
	expect(t, ep, "re-armed by MOD", ev(1, in))
	expect(t, ep, "disarmed again")
}

func TestHangUp(t *testing.T) {
	epf, ep := newEpoll(t)
	r, w := pipe.NewFiles(0, 0, 0)
	defer r.DecRef()
	// Hang-ups are reported even when not asked for.
	mustCtl(t, epf, epoll.CtlAdd, r, 0, out)
	expect(t, ep, "writer open")
	w.DecRef()
	expect(t, ep, "writer closed", ev(0, hup))
}

func TestModify(t *testing.T) {
	epf, ep := newEpoll(t)
	r, w := newPipe(t)
	mustCtl(t, epf, epoll.CtlAdd, w, 1, in)
	expect(t, ep, "write end asked for POLLIN")
	mustCtl(t, epf, epoll.CtlMod, w, 1, out)
	expect(t, ep, "after MOD to POLLOUT", ev(1, out))
	if err := ctl(epf, epoll.CtlMod, r, 1, in); err != unix.ENOENT {
		t.Errorf("MOD of another file under the same number: %v, want ENOENT", err)
	}
}

func TestDupRegistrations(t *testing.T) {
	epf, ep := newEpoll(t)
	e := newEventfd(t)
	// One file under two descriptor numbers is two registrations.
	mustCtl(t, epf, epoll.CtlAdd, e, 3, in)
	mustCtl(t, epf, epoll.CtlAdd, e, 4, in)
	signal(t, e, 1)
	expect(t, ep, "both", ev(3, in), ev(4, in))
	mustCtl(t, epf, epoll.CtlDel, e, 3, 0)
	expect(t, ep, "after DEL of one", ev(4, in))
	if err := ctl(epf, epoll.CtlDel, e, 3, 0); err != unix.ENOENT {
		t.Errorf("second DEL: %v, want ENOENT", err)
	}
}

// nonWaitable is a file that can't be waited for, like a regular file.
type nonWaitable struct{ vfs.FileDefaults }

// alwaysReady is a waitable file whose dentry says it is regular, like a
// host regular file.
type alwaysReady struct{ vfs.FileDefaults }

func (alwaysReady) Readiness(m waiter.EventMask) waiter.EventMask { return m }
func (alwaysReady) EventRegister(*waiter.Entry)                   {}
func (alwaysReady) EventUnregister(*waiter.Entry)                 {}

type regularDentry struct{ vfs.Dentry }

func (regularDentry) Mode() uint32 { return vfs.S_IFREG | 0o644 }

func TestCtlErrors(t *testing.T) {
	epf, _ := newEpoll(t)
	e := newEventfd(t)
	e2 := newEventfd(t)
	nw := vfs.NewFileDescription(nonWaitable{}, vfs.VirtualDentry{}, unix.O_RDONLY)
	reg := vfs.NewFileDescription(alwaysReady{}, vfs.VirtualDentry{Dentry: regularDentry{}}, unix.O_RDONLY)
	other, _ := newEpoll(t)
	mustCtl(t, epf, epoll.CtlAdd, e, 1, in|epoll.EPOLLEXCLUSIVE)
	for _, tc := range []struct {
		name string
		epf  *vfs.FileDescription
		op   int
		f    *vfs.FileDescription
		ev   uint32
		want error
	}{
		{"ADD twice", epf, epoll.CtlAdd, e, in, unix.EEXIST},
		{"MOD of an unregistered file", epf, epoll.CtlMod, e2, in, unix.ENOENT},
		{"DEL of an unregistered file", epf, epoll.CtlDel, e2, 0, unix.ENOENT},
		{"a file that can't be waited for", epf, epoll.CtlAdd, nw, in, unix.EPERM},
		{"a regular file", epf, epoll.CtlAdd, reg, in, unix.EPERM},
		{"an epoll in itself", epf, epoll.CtlAdd, epf, in, unix.EINVAL},
		{"epfd not an epoll", e2, epoll.CtlAdd, e, in, unix.EINVAL},
		{"EPERM before not-an-epoll", e2, epoll.CtlAdd, nw, in, unix.EPERM},
		{"unknown op", epf, 4, e2, in, unix.EINVAL},
		{"EPOLLEXCLUSIVE with MOD", epf, epoll.CtlMod, e, in | epoll.EPOLLEXCLUSIVE, unix.EINVAL},
		{"MOD of an exclusive registration", epf, epoll.CtlMod, e, in, unix.EINVAL},
		{"EPOLLEXCLUSIVE with EPOLLONESHOT", epf, epoll.CtlAdd, e2, in | epoll.EPOLLEXCLUSIVE | epoll.EPOLLONESHOT, unix.EINVAL},
		{"EPOLLEXCLUSIVE with EPOLLRDHUP", epf, epoll.CtlAdd, e2, in | epoll.EPOLLEXCLUSIVE | 0x2000, unix.EINVAL},
		{"EPOLLEXCLUSIVE on an epoll", epf, epoll.CtlAdd, other, in | epoll.EPOLLEXCLUSIVE, unix.EINVAL},
	} {
		if err := ctl(tc.epf, tc.op, tc.f, 1, tc.ev); err != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	mustCtl(t, epf, epoll.CtlAdd, e2, 1, in|out|epoll.EPOLLEXCLUSIVE|et|epoll.EPOLLWAKEUP)
}

func TestNesting(t *testing.T) {
	var eps [7]*vfs.FileDescription
	for i := range eps {
		eps[i] = epoll.New()
	}
	defer func() {
		for _, f := range eps {
			if f != nil {
				f.DecRef()
			}
		}
	}()
	// eps[i] watches eps[i-1]: a chain of 5 epolls is the longest allowed.
	for i := 1; i < 5; i++ {
		mustCtl(t, eps[i], epoll.CtlAdd, eps[i-1], 0, in)
	}
	if err := ctl(eps[5], epoll.CtlAdd, eps[4], 0, in); err != unix.ELOOP {
		t.Errorf("a chain of 6 epolls: %v, want ELOOP", err)
	}
	// What is above the watcher counts too.
	mustCtl(t, eps[6], epoll.CtlAdd, eps[5], 0, in)
	if err := ctl(eps[0], epoll.CtlAdd, eps[6], 0, in); err != unix.ELOOP {
		t.Errorf("joining chains of 2 and 5: %v, want ELOOP", err)
	}
	if err := ctl(eps[0], epoll.CtlAdd, eps[2], 0, in); err != unix.ELOOP {
		t.Errorf("a cycle: %v, want ELOOP", err)
	}
	// Removing a link makes room.
	mustCtl(t, eps[1], epoll.CtlDel, eps[0], 0, 0)
	mustCtl(t, eps[0], epoll.CtlAdd, eps[6], 0, in)
	if err := ctl(eps[1], epoll.CtlAdd, eps[0], 0, in); err != unix.ELOOP {
		t.Errorf("joining chains of 3 and 4: %v, want ELOOP", err)
	}
	// So does releasing an epoll in the middle of a chain.
	eps[2].DecRef()
	eps[2] = nil
	mustCtl(t, eps[1], epoll.CtlAdd, eps[0], 0, in)
}

func TestNested(t *testing.T) {
	outerf, outer := newEpoll(t)
	innerf, inner := newEpoll(t)
	e := newEventfd(t)
	mustCtl(t, innerf, epoll.CtlAdd, e, 1, in)
	mustCtl(t, outerf, epoll.CtlAdd, innerf, 2, in)
	expect(t, outer, "nothing ready")
	if got := inner.Readiness(waiter.EventIn | waiter.EventOut); got != 0 {
		t.Errorf("inner readiness with nothing ready = %#x", got)
	}
	signal(t, e, 1)
	// At once: no goroutine has to run first.
	expect(t, outer, "eventfd written", ev(2, in))
	if got := inner.Readiness(waiter.EventIn | waiter.EventOut); got != waiter.EventIn {
		t.Errorf("inner readiness = %#x, want POLLIN", got)
	}
	expect(t, inner, "inner", ev(1, in))
	drain(t, e)
	expect(t, outer, "eventfd read")
}

func TestNestedEdge(t *testing.T) {
	outerf, outer := newEpoll(t)
	innerf, _ := newEpoll(t)
	e := newEventfd(t)
	mustCtl(t, innerf, epoll.CtlAdd, e, 1, in|et)
	mustCtl(t, outerf, epoll.CtlAdd, innerf, 2, in|et)
	signal(t, e, 1)
	expect(t, outer, "edge through the inner epoll", ev(2, in))
	expect(t, outer, "once")
	signal(t, e, 1)
	expect(t, outer, "another edge", ev(2, in))
}

// TestWakeUp checks that a waiter of the epoll is woken by an event that
// comes while it waits, directly and through a nested epoll.
func TestWakeUp(t *testing.T) {
	outerf, outer := newEpoll(t)
	innerf, inner := newEpoll(t)
	e := newEventfd(t)
	r, w := newPipe(t)
	mustCtl(t, innerf, epoll.CtlAdd, e, 1, in)
	mustCtl(t, outerf, epoll.CtlAdd, innerf, 2, in)
	mustCtl(t, outerf, epoll.CtlAdd, r, 3, in|et)
	for _, tc := range []struct {
		name  string
		ep    *epoll.EventPoll
		event func()
	}{
		{"inner, eventfd", inner, func() { signal(t, e, 1) }},
		{"outer, through inner", outer, func() { signal(t, e, 1) }},
		{"outer, pipe", outer, func() { w.Write(ctx, []byte("x")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Read(ctx, make([]byte, 8))
			r.Read(ctx, make([]byte, 8))
			collect(inner, 100)
			collect(outer, 100)
			entry, ch := waiter.NewEntry(waiter.EventIn)
			tc.ep.EventRegister(entry)
			defer tc.ep.EventUnregister(entry)
			if len(collect(tc.ep, 100)) != 0 {
				t.Fatal("events before the test")
			}
			go func() {
				time.Sleep(10 * time.Millisecond)
				tc.event()
			}()
			select {
			case <-ch:
			case <-time.After(5 * time.Second):
				t.Fatal("not woken")
			}
			// A wake-up may come before its event is collectable only
			// if the event is collectable on the next look.
			if len(collect(tc.ep, 100)) == 0 {
				t.Error("woken with nothing to collect")
			}
		})
	}
}

func TestMaxEventsAndOrder(t *testing.T) {
	epf, ep := newEpoll(t)
	var es []*vfs.FileDescription
	for i := 0; i < 4; i++ {
		e := newEventfd(t)
		es = append(es, e)
		mustCtl(t, epf, epoll.CtlAdd, e, int32(i), in)
	}
	for _, e := range es {
		signal(t, e, 1)
	}
	// Level-triggered registrations that were reported go to the back:
	// each turn reports the ones that waited longest. (Events that come
	// together are queued in no particular order.)
	first := collect(ep, 3)
	if len(first) != 3 {
		t.Fatalf("first turn of 3: %v", first)
	}
	left := 0 + 1 + 2 + 3 - first[0].Data - first[1].Data - first[2].Data
	want := []epoll.Event{ev(int32(left), in), first[0], first[1]}
	if got := collect(ep, 3); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after %v, second turn of 3: %v, want %v", first, got, want)
	}
}

func TestPartialDelivery(t *testing.T) {
	epf, ep := newEpoll(t)
	var es []*vfs.FileDescription
	for i := 0; i < 3; i++ {
		e := newEventfd(t)
		es = append(es, e)
		mustCtl(t, epf, epoll.CtlAdd, e, int32(i), in|et)
		signal(t, e, 1)
	}
	n, err := ep.ReadEvents(10, func(evs []epoll.Event) (int, error) { return 1, unix.EFAULT })
	if n != 1 || err != nil {
		t.Errorf("ReadEvents with one event stored = %d, %v; want 1, nil", n, err)
	}
	// The events not stored are still there.
	expect(t, ep, "the rest", ev(1, in), ev(2, in))
	signal(t, es[0], 1)
	n, err = ep.ReadEvents(10, func(evs []epoll.Event) (int, error) { return 0, unix.EFAULT })
	if n != 0 || err != unix.EFAULT {
		t.Errorf("ReadEvents with nothing stored = %d, %v; want 0, EFAULT", n, err)
	}
	expect(t, ep, "the event not stored", ev(0, in))
}

func TestReleasedFileLeaves(t *testing.T) {
	epf, ep := newEpoll(t)
	e := eventfd.New(1, false, 0)
	mustCtl(t, epf, epoll.CtlAdd, e, 1, in)
	dup := e
	dup.IncRef()
	e.DecRef()
	expect(t, ep, "a reference is left", ev(1, in))
	dup.DecRef()
	expect(t, ep, "released")

	// An epoll that is released leaves the epolls that watch it.
	innerf := epoll.New()
	e2 := newEventfd(t)
	mustCtl(t, innerf, epoll.CtlAdd, e2, 1, in)
	mustCtl(t, epf, epoll.CtlAdd, innerf, 2, in)
	signal(t, e2, 1)
	expect(t, ep, "inner ready", ev(2, in))
	innerf.DecRef()
	expect(t, ep, "inner released")
}

// TestReleasedWithoutHook checks the fallback for files that don't tell
// epoll when they are released: the registration goes once the garbage
// collector has freed the description.
func TestReleasedWithoutHook(t *testing.T) {
	epf, ep := newEpoll(t)
	w := func() *vfs.FileDescription {
		r, w := pipe.NewFiles(0, 0, 0)
		mustCtl(t, epf, epoll.CtlAdd, r, 1, in)
		w.Write(ctx, []byte("x"))
		r.DecRef()
		return w
	}()
	defer w.DecRef()
	deadline := time.Now().Add(10 * time.Second)
	for len(collect(ep, 10)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the registration of a released pipe never went")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// TestConcurrent has writers signal eventfds while a reader collects
// edge-triggered events, and checks that every write is eventually seen.
func TestConcurrent(t *testing.T) {
	epf, ep := newEpoll(t)
	const writers, writes = 8, 500
	var es []*vfs.FileDescription
	for i := 0; i < writers; i++ {
		e := newEventfd(t)
		es = append(es, e)
		mustCtl(t, epf, epoll.CtlAdd, e, int32(i), in|et)
	}
	var wg sync.WaitGroup
	for _, e := range es {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < writes; j++ {
				signal(t, e, 1)
				if j%50 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	total := uint64(0)
	entry, ch := waiter.NewEntry(waiter.EventIn)
	ep.EventRegister(entry)
	defer ep.EventUnregister(entry)
	deadline := time.After(20 * time.Second)
	for total < writers*writes {
		evs := collect(ep, 3)
		for _, x := range evs {
			var b [8]byte
			if _, err := es[x.Data].Read(ctx, b[:]); err == nil {
				total += binary.NativeEndian.Uint64(b[:])
			}
		}
		if len(evs) == 0 {
			select {
			case <-ch:
			case <-deadline:
				t.Fatalf("stuck after %d of %d writes", total, writers*writes)
			}
		}
	}
	wg.Wait()
}

// TestPollable checks the epoll as a file: reads and writes are EINVAL,
// the offset stays 0 and the name is Linux's.
func TestPollable(t *testing.T) {
	epf, _ := newEpoll(t)
	if _, err := epf.Read(ctx, make([]byte, 8)); err != unix.EINVAL {
		t.Errorf("read: %v, want EINVAL", err)
	}
	if _, err := epf.Write(ctx, make([]byte, 8)); err != unix.EINVAL {
		t.Errorf("write: %v, want EINVAL", err)
	}
	if off, err := epf.Seek(ctx, 3, 0); off != 0 || err != nil {
		t.Errorf("lseek = %d, %v; want 0, nil", off, err)
	}
	if name := epf.Dentry().Name(); name != "anon_inode:[eventpoll]" {
		t.Errorf("name = %q", name)
	}
	if epf.Flags() != unix.O_RDWR {
		t.Errorf("flags = %#x, want O_RDWR", epf.Flags())
	}
}
