package eventfd

import (
	"context"
	"encoding/binary"
	"math"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

var ctx = context.Background()

func newFile(t *testing.T, initval uint64, semaphore bool) (*vfs.FileDescription, *EventFD) {
	t.Helper()
	f := New(initval, semaphore, 0)
	t.Cleanup(f.DecRef)
	return f, f.Impl().(*EventFD)
}

func write(f *vfs.FileDescription, v uint64) error {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], v)
	n, err := f.Write(ctx, b[:])
	if err == nil && n != 8 {
		return unix.EIO
	}
	return err
}

func read(f *vfs.FileDescription) (uint64, error) {
	var b [8]byte
	n, err := f.Read(ctx, b[:])
	if err != nil {
		return 0, err
	}
	if n != 8 {
		return 0, unix.EIO
	}
	return binary.NativeEndian.Uint64(b[:]), nil
}

func TestCounter(t *testing.T) {
	f, e := newFile(t, 3, false)
	if got, err := read(f); got != 3 || err != nil {
		t.Fatalf("read = %d, %v; want 3, nil", got, err)
	}
	if _, err := read(f); err != unix.EAGAIN {
		t.Errorf("read of a zero counter: %v, want EAGAIN", err)
	}
	for _, v := range []uint64{5, 0, 7} {
		if err := write(f, v); err != nil {
			t.Fatalf("write %d: %v", v, err)
		}
	}
	if got := e.Count(); got != 12 {
		t.Errorf("counter = %d, want 12", got)
	}
	// A larger buffer reads 8 bytes.
	b := make([]byte, 16)
	if n, err := f.Read(ctx, b); n != 8 || err != nil || binary.NativeEndian.Uint64(b) != 12 {
		t.Errorf("read into 16 bytes = %d, %v, value %d; want 8, nil, 12", n, err, binary.NativeEndian.Uint64(b))
	}
}

func TestSemaphore(t *testing.T) {
	f, e := newFile(t, 2, true)
	for i := 0; i < 2; i++ {
		if got, err := read(f); got != 1 || err != nil {
			t.Fatalf("semaphore read %d = %d, %v; want 1, nil", i, got, err)
		}
	}
	if _, err := read(f); err != unix.EAGAIN {
		t.Errorf("semaphore read at zero: %v, want EAGAIN", err)
	}
	write(f, 5)
	read(f)
	if got := e.Count(); got != 4 {
		t.Errorf("counter after writing 5 and reading once = %d, want 4", got)
	}
}

func TestBadSizesAndValues(t *testing.T) {
	f, e := newFile(t, 0, false)
	if _, err := f.Read(ctx, make([]byte, 7)); err != unix.EINVAL {
		t.Errorf("read of 7 bytes: %v, want EINVAL", err)
	}
	if _, err := f.Write(ctx, make([]byte, 4)); err != unix.EINVAL {
		t.Errorf("write of 4 bytes: %v, want EINVAL", err)
	}
	if err := write(f, math.MaxUint64); err != unix.EINVAL {
		t.Errorf("write of 0xffffffffffffffff: %v, want EINVAL", err)
	}
	if err := write(f, math.MaxUint64-1); err != nil {
		t.Fatalf("write of the largest count: %v", err)
	}
	if err := write(f, 1); err != unix.EAGAIN {
		t.Errorf("write past the largest count: %v, want EAGAIN", err)
	}
	if err := write(f, 0); err != nil {
		t.Errorf("write of 0 to a full counter: %v, want success", err)
	}
	if got := e.Count(); got != math.MaxUint64-1 {
		t.Errorf("counter = %#x, want %#x", got, uint64(math.MaxUint64-1))
	}
}

func TestReadiness(t *testing.T) {
	const all = waiter.EventMask(0xffff)
	for _, tc := range []struct {
		count uint64
		want  waiter.EventMask
	}{
		{0, waiter.EventOut},
		{1, waiter.EventIn | waiter.EventOut},
		{math.MaxUint64 - 2, waiter.EventIn | waiter.EventOut},
		{math.MaxUint64 - 1, waiter.EventIn},
	} {
		_, e := newFile(t, 0, false)
		e.count = tc.count
		if got := e.Readiness(all); got != tc.want {
			t.Errorf("readiness at %#x = %#x, want %#x", tc.count, got, tc.want)
		}
		if got := e.Readiness(waiter.EventOut); got != tc.want&waiter.EventOut {
			t.Errorf("readiness for POLLOUT at %#x = %#x, want %#x", tc.count, got, tc.want&waiter.EventOut)
		}
	}
}

func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(100 * time.Millisecond):
		return false
	}
}

func TestNotifications(t *testing.T) {
	f, e := newFile(t, 0, false)
	in, inCh := waiter.NewEntry(waiter.EventIn)
	out, outCh := waiter.NewEntry(waiter.EventOut)
	e.EventRegister(in)
	e.EventRegister(out)
	defer e.EventUnregister(in)
	defer e.EventUnregister(out)
	write(f, 0)
	if !woken(inCh) {
		t.Error("a write of 0 didn't wake a reader")
	}
	write(f, 1)
	if !woken(inCh) {
		t.Error("a write didn't wake a reader")
	}
	select {
	case <-outCh:
		t.Error("a write woke a writer")
	default:
	}
	read(f)
	if !woken(outCh) {
		t.Error("a read didn't wake a writer")
	}
}

// TestBlockingRead reads as the system call layer does (EAGAIN, wait,
// retry) while another goroutine writes.
func TestBlockingRead(t *testing.T) {
	f, e := newFile(t, 0, false)
	done := make(chan uint64)
	go func() {
		for {
			w, ch := waiter.NewEntry(waiter.ReadableEvents)
			e.EventRegister(w)
			v, err := read(f)
			if err != unix.EAGAIN {
				e.EventUnregister(w)
				done <- v
				return
			}
			<-ch
			e.EventUnregister(w)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	write(f, 42)
	select {
	case v := <-done:
		if v != 42 {
			t.Errorf("blocked read returned %d, want 42", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write didn't wake the blocked reader")
	}
}

func TestFile(t *testing.T) {
	f := New(0, false, unix.O_NONBLOCK|unix.O_APPEND)
	defer f.DecRef()
	if got := f.Flags(); got != unix.O_RDWR|unix.O_NONBLOCK {
		t.Errorf("flags = %#x, want O_RDWR|O_NONBLOCK", got)
	}
	if name := f.Dentry().Name(); name != "anon_inode:[eventfd]" {
		t.Errorf("name = %q, want anon_inode:[eventfd]", name)
	}
	st, err := f.Stat(ctx)
	if err != nil || st.Mode != 0o600 || st.Nlink != 1 {
		t.Errorf("stat = mode %#o nlink %d, %v; want 0600, 1", st.Mode, st.Nlink, err)
	}
	if off, err := f.Seek(ctx, 5, 0); off != 0 || err != nil {
		t.Errorf("lseek = %d, %v; want 0, nil", off, err)
	}
	if _, err := f.PRead(ctx, make([]byte, 8), 0); err != unix.ESPIPE {
		t.Errorf("pread: %v, want ESPIPE", err)
	}
	if _, err := f.Dentry().Open(ctx, f.VirtualDentry(), unix.O_RDWR); err != unix.ENXIO {
		t.Errorf("reopen: %v, want ENXIO", err)
	}
	if sfs, err := f.VirtualDentry().Mount.FS.Statfs(ctx); err != nil || sfs.Type != 0x09041934 {
		t.Errorf("statfs type = %#x, %v; want ANON_INODE_FS_MAGIC", sfs.Type, err)
	}
}

func TestReleaseHooks(t *testing.T) {
	f := New(0, false, 0)
	e := f.Impl().(*EventFD)
	fired, cancelled := 0, 0
	e.OnRelease(func() { fired++ })
	cancel := e.OnRelease(func() { cancelled++ })
	cancel()
	f.IncRef()
	f.DecRef()
	if fired != 0 {
		t.Fatal("release hook ran with a reference left")
	}
	f.DecRef()
	if fired != 1 || cancelled != 0 {
		t.Errorf("after the last reference: hook ran %d times, cancelled hook %d; want 1, 0", fired, cancelled)
	}
}
