package pipe

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

var ctx = context.Background()

// newPipe returns a pipe's ends, released when the test ends. Tests that
// close an end themselves use NewFiles.
func newPipe(t *testing.T, flags uint32) (r, w *vfs.FileDescription) {
	t.Helper()
	r, w = NewFiles(1000, 1001, flags)
	t.Cleanup(func() {
		r.DecRef()
		w.DecRef()
	})
	return r, w
}

func impl(fd *vfs.FileDescription) *File { return fd.Impl().(*File) }

func mustWrite(t *testing.T, w *vfs.FileDescription, b []byte) {
	t.Helper()
	n, err := w.Write(ctx, b)
	if n != len(b) || err != nil {
		t.Fatalf("write of %d bytes = %d, %v; want %d, nil", len(b), n, err, len(b))
	}
}

func mustRead(t *testing.T, r *vfs.FileDescription, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	n, err := r.Read(ctx, b)
	if err != nil {
		t.Fatalf("read of %d bytes: %v", size, err)
	}
	return b[:n]
}

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}

func TestOrdering(t *testing.T) {
	r, w := newPipe(t, 0)
	mustWrite(t, w, []byte("abc"))
	mustWrite(t, w, []byte("defg"))
	if got := mustRead(t, r, 2); string(got) != "ab" {
		t.Errorf("first read = %q, want %q", got, "ab")
	}
	if got := mustRead(t, r, 100); string(got) != "cdefg" {
		t.Errorf("second read = %q, want %q", got, "cdefg")
	}
	// Data across many buffers comes out in order, whatever the sizes.
	rng := rand.New(rand.NewSource(1))
	var in, out bytes.Buffer
	for in.Len() < 1<<20 {
		chunk := pattern(1+rng.Intn(10000), in.Len())
		n, err := w.Write(ctx, chunk)
		if err != nil && err != unix.EAGAIN {
			t.Fatalf("write: %v", err)
		}
		in.Write(chunk[:n])
		if n < len(chunk) || rng.Intn(3) == 0 {
			out.Write(mustRead(t, r, 1+rng.Intn(70000)))
		}
	}
	for out.Len() < in.Len() {
		out.Write(mustRead(t, r, 1<<16))
	}
	if !bytes.Equal(in.Bytes(), out.Bytes()) {
		t.Errorf("the %d bytes read differ from those written", out.Len())
	}
}

func TestEmptyAndEOF(t *testing.T) {
	r, w := NewFiles(0, 0, 0)
	defer r.DecRef()
	if n, err := r.Read(ctx, make([]byte, 10)); n != 0 || err != unix.EAGAIN {
		t.Errorf("read of an empty pipe with a writer = %d, %v; want 0, EAGAIN", n, err)
	}
	if n, err := r.Read(ctx, nil); n != 0 || err != nil {
		t.Errorf("read of 0 bytes = %d, %v; want 0, nil", n, err)
	}
	mustWrite(t, w, []byte("tail"))
	w.DecRef()
	if got := mustRead(t, r, 10); string(got) != "tail" {
		t.Errorf("read after the writer closed = %q, want the data left, %q", got, "tail")
	}
	for i := 0; i < 2; i++ {
		if n, err := r.Read(ctx, make([]byte, 10)); n != 0 || err != nil {
			t.Errorf("read of an empty pipe without writers = %d, %v; want 0, nil (EOF)", n, err)
		}
	}
}

func TestEPIPE(t *testing.T) {
	r, w := NewFiles(0, 0, 0)
	defer w.DecRef()
	r.DecRef()
	if n, err := w.Write(ctx, []byte("x")); n != 0 || err != unix.EPIPE {
		t.Errorf("write without readers = %d, %v; want 0, EPIPE", n, err)
	}
	if n, err := w.Write(ctx, nil); n != 0 || err != nil {
		t.Errorf("write of 0 bytes without readers = %d, %v; want 0, nil (as Linux)", n, err)
	}
}

func TestWrongEnd(t *testing.T) {
	r, w := newPipe(t, 0)
	if _, err := r.Write(ctx, []byte("x")); err != unix.EBADF {
		t.Errorf("write to the read end: %v, want EBADF", err)
	}
	if _, err := w.Read(ctx, make([]byte, 1)); err != unix.EBADF {
		t.Errorf("read from the write end: %v, want EBADF", err)
	}
	if _, err := r.Seek(ctx, 0, unix.SEEK_CUR); err != unix.ESPIPE {
		t.Errorf("lseek: %v, want ESPIPE", err)
	}
	if _, err := r.PRead(ctx, make([]byte, 1), 0); err != unix.ESPIPE {
		t.Errorf("pread: %v, want ESPIPE", err)
	}
}

func TestAtomicWrites(t *testing.T) {
	r, w := newPipe(t, 0)
	// 15 full pages and 4000 bytes: every slot is used, the last has
	// 96 bytes free.
	mustWrite(t, w, pattern(15*PageSize+4000, 0))
	if n, err := w.Write(ctx, make([]byte, 100)); n != 0 || err != unix.EAGAIN {
		t.Errorf("write of 100 bytes into 96 free = %d, %v; want 0, EAGAIN (PIPE_BUF writes are atomic)", n, err)
	}
	if n, err := w.Write(ctx, make([]byte, PipeBuf)); n != 0 || err != unix.EAGAIN {
		t.Errorf("write of PIPE_BUF bytes into a full pipe = %d, %v; want 0, EAGAIN", n, err)
	}
	mustWrite(t, w, make([]byte, 96))
	if n, err := w.Write(ctx, make([]byte, 1)); n != 0 || err != unix.EAGAIN {
		t.Errorf("write of 1 byte into a full pipe = %d, %v; want 0, EAGAIN", n, err)
	}
	if got := impl(r).Pipe().Unread(); got != DefaultSize {
		t.Errorf("unread = %d, want %d", got, DefaultSize)
	}
	// Reading part of a page frees no slot: a PIPE_BUF write still
	// doesn't fit, a small one still can't be appended (the last page
	// is full).
	mustRead(t, r, 100)
	if n, err := w.Write(ctx, make([]byte, 50)); n != 0 || err != unix.EAGAIN {
		t.Errorf("write after a partial-page read = %d, %v; want 0, EAGAIN", n, err)
	}
	// Freeing the first page makes room for one atomic write.
	mustRead(t, r, PageSize-100)
	mustWrite(t, w, make([]byte, PipeBuf))
}

func TestLargeWrites(t *testing.T) {
	tests := []struct {
		name    string
		before  int // bytes written first
		size    int
		want    int
		wantErr error
	}{
		{"empty pipe", 0, 100000, DefaultSize, nil},
		{"exactly full", 0, DefaultSize, DefaultSize, nil},
		// The 1-byte write takes a slot; a write that is a multiple
		// of the page size fills whole pages only.
		{"one byte queued", 1, DefaultSize, DefaultSize - PageSize, nil},
		// The remainder (904 bytes) is appended to the queued byte's
		// page, then whole pages follow.
		{"remainder appended", 1, 5000 + 15*PageSize, 5000 + 14*PageSize, nil},
		{"full pipe", DefaultSize, 5000, 0, unix.EAGAIN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, w := newPipe(t, 0)
			if tc.before > 0 {
				mustWrite(t, w, make([]byte, tc.before))
			}
			n, err := w.Write(ctx, pattern(tc.size, 3))
			if n != tc.want || err != tc.wantErr {
				t.Fatalf("write of %d = %d, %v; want %d, %v", tc.size, n, err, tc.want, tc.wantErr)
			}
			got := mustRead(t, r, 1<<20)
			if len(got) != tc.before+n || !bytes.Equal(got[tc.before:], pattern(tc.size, 3)[:n]) {
				t.Errorf("read back %d bytes, want the %d written", len(got), tc.before+n)
			}
		})
	}
}

func TestReadiness(t *testing.T) {
	const (
		in  = waiter.EventIn | waiter.EventRdNorm
		out = waiter.EventOut | waiter.EventWrNorm
		all = waiter.EventMask(0xffff)
	)
	type state struct {
		name   string
		setup  func(t *testing.T, r, w *vfs.FileDescription) (rr, ww *vfs.FileDescription)
		rd, wr waiter.EventMask
	}
	closeR := func(r *vfs.FileDescription) *vfs.FileDescription { r.DecRef(); return nil }
	states := []state{
		{"empty", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			return r, w
		}, 0, out},
		{"data", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			mustWrite(t, w, []byte("x"))
			return r, w
		}, in, out},
		{"one slot free", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			mustWrite(t, w, make([]byte, DefaultSize-PageSize))
			return r, w
		}, in, out},
		{"full", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			mustWrite(t, w, make([]byte, DefaultSize))
			return r, w
		}, in, 0},
		{"slots full, last page not", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			mustWrite(t, w, make([]byte, DefaultSize-1))
			return r, w
		}, in, 0},
		{"drained", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			mustWrite(t, w, make([]byte, DefaultSize))
			mustRead(t, r, DefaultSize)
			return r, w
		}, 0, out},
		{"no writers, empty", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			return r, closeR(w)
		}, waiter.EventHUp, 0},
		{"no writers, data", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			mustWrite(t, w, []byte("x"))
			return r, closeR(w)
		}, in | waiter.EventHUp, 0},
		{"no readers", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			return closeR(r), w
		}, 0, out | waiter.EventErr},
		{"no readers, full", func(t *testing.T, r, w *vfs.FileDescription) (*vfs.FileDescription, *vfs.FileDescription) {
			mustWrite(t, w, make([]byte, DefaultSize))
			return closeR(r), w
		}, 0, waiter.EventErr},
	}
	for _, s := range states {
		t.Run(s.name, func(t *testing.T) {
			r, w := NewFiles(0, 0, 0)
			r, w = s.setup(t, r, w)
			if r != nil {
				defer r.DecRef()
				if got := impl(r).Readiness(all); got != s.rd {
					t.Errorf("read end readiness = %#x, want %#x", got, s.rd)
				}
				// Hang-ups are reported whatever the mask.
				if got, want := impl(r).Readiness(waiter.EventOut), s.rd&waiter.EventHUp; got != want {
					t.Errorf("read end readiness for POLLOUT = %#x, want %#x", got, want)
				}
			}
			if w != nil {
				defer w.DecRef()
				if got := impl(w).Readiness(all); got != s.wr {
					t.Errorf("write end readiness = %#x, want %#x", got, s.wr)
				}
				if got, want := impl(w).Readiness(waiter.EventIn), s.wr&waiter.EventErr; got != want {
					t.Errorf("write end readiness for POLLIN = %#x, want %#x", got, want)
				}
			}
		})
	}
}

// woken reports whether ch has a wake-up, waiting briefly for one.
func woken(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(100 * time.Millisecond):
		return false
	}
}

func TestNotifications(t *testing.T) {
	t.Run("data in wakes readers, not writers", func(t *testing.T) {
		r, w := newPipe(t, 0)
		re, rch := waiter.NewEntry(waiter.ReadableEvents)
		we, wch := waiter.NewEntry(waiter.WritableEvents)
		impl(r).EventRegister(re)
		impl(w).EventRegister(we)
		defer impl(r).EventUnregister(re)
		defer impl(w).EventUnregister(we)
		mustWrite(t, w, []byte("x"))
		if !woken(rch) {
			t.Error("a write didn't wake the reader")
		}
		if f := re.Fired(); f&waiter.EventIn == 0 {
			t.Errorf("reader woken with %#x, want POLLIN", f)
		}
		select {
		case <-wch:
			t.Error("a write woke a writer")
		default:
		}
	})
	t.Run("data out wakes writers", func(t *testing.T) {
		r, w := newPipe(t, 0)
		mustWrite(t, w, make([]byte, DefaultSize))
		e, ch := waiter.NewEntry(waiter.WritableEvents)
		impl(w).EventRegister(e)
		defer impl(w).EventUnregister(e)
		mustRead(t, r, PageSize)
		if !woken(ch) {
			t.Error("a read didn't wake the writer")
		}
	})
	t.Run("last writer closing wakes readers", func(t *testing.T) {
		r, w := NewFiles(0, 0, 0)
		defer r.DecRef()
		w2 := impl(w).Pipe().Open(unix.O_WRONLY)
		e, ch := waiter.NewEntry(waiter.ReadableEvents)
		impl(r).EventRegister(e)
		defer impl(r).EventUnregister(e)
		w.DecRef()
		if woken(ch) {
			t.Error("closing one of two writers woke the reader")
		}
		w2.DecRef()
		if !woken(ch) {
			t.Fatal("closing the last writer didn't wake the reader")
		}
		if f := e.Fired(); f&waiter.EventHUp == 0 {
			t.Errorf("reader woken with %#x, want POLLHUP", f)
		}
	})
	t.Run("last reader closing wakes writers", func(t *testing.T) {
		r, w := NewFiles(0, 0, 0)
		defer w.DecRef()
		mustWrite(t, w, make([]byte, DefaultSize))
		e, ch := waiter.NewEntry(waiter.WritableEvents)
		impl(w).EventRegister(e)
		defer impl(w).EventUnregister(e)
		r.DecRef()
		if !woken(ch) {
			t.Fatal("closing the reader didn't wake the writer")
		}
		if f := e.Fired(); f&waiter.EventErr == 0 {
			t.Errorf("writer woken with %#x, want POLLERR", f)
		}
		if _, err := w.Write(ctx, []byte("x")); err != unix.EPIPE {
			t.Errorf("write after the reader closed: %v, want EPIPE", err)
		}
	})
	t.Run("growing wakes writers", func(t *testing.T) {
		r, w := newPipe(t, 0)
		mustWrite(t, w, make([]byte, DefaultSize))
		e, ch := waiter.NewEntry(waiter.WritableEvents)
		impl(w).EventRegister(e)
		defer impl(w).EventUnregister(e)
		if _, err := impl(r).SetPipeSize(2*DefaultSize, false); err != nil {
			t.Fatal(err)
		}
		if !woken(ch) {
			t.Error("F_SETPIPE_SZ growing a full pipe didn't wake the writer")
		}
	})
}

// TestConcurrent streams data between goroutines that wait as the system
// call layer does: register, check, block.
func TestConcurrent(t *testing.T) {
	r, w := NewFiles(0, 0, 0)
	defer r.DecRef()
	data := pattern(3<<20, 5)
	wait := func(f *File, mask waiter.EventMask) {
		e, ch := waiter.NewEntry(mask)
		f.EventRegister(e)
		defer f.EventUnregister(e)
		if f.Readiness(mask) == 0 {
			<-ch
		}
	}
	done := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewSource(2))
		for off := 0; off < len(data); {
			n, err := w.Write(ctx, data[off:min(len(data), off+1+rng.Intn(20000))])
			off += n
			switch err {
			case nil:
			case unix.EAGAIN:
				wait(impl(w), waiter.WritableEvents)
			default:
				done <- err
				return
			}
		}
		w.DecRef()
		done <- nil
	}()
	var got []byte
	buf := make([]byte, 9000)
	for {
		n, err := r.Read(ctx, buf)
		if err == unix.EAGAIN {
			wait(impl(r), waiter.ReadableEvents)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("read %d bytes that differ from the %d written", len(got), len(data))
	}
}

type fakeMem struct{ b [8]byte }

func (m *fakeMem) CopyIn(addr uintptr, dst []byte) (int, error) { return copy(dst, m.b[addr:]), nil }
func (m *fakeMem) CopyOut(addr uintptr, src []byte) (int, error) {
	if int(addr)+len(src) > len(m.b) {
		return 0, unix.EFAULT
	}
	return copy(m.b[addr:], src), nil
}

func TestFIONREAD(t *testing.T) {
	r, w := newPipe(t, 0)
	for _, step := range []struct {
		write, read int
		want        uint32
	}{
		{0, 0, 0},
		{10, 0, 10},
		// 70000 % 4096 = 368 bytes join the first page, then 15 pages.
		{70000, 0, 10 + 368 + 15*PageSize},
		{0, 5000, 10 + 368 + 15*PageSize - 5000},
	} {
		if step.write > 0 {
			w.Write(ctx, make([]byte, step.write))
		}
		if step.read > 0 {
			mustRead(t, r, step.read)
		}
		for _, end := range []*vfs.FileDescription{r, w} {
			var mem fakeMem
			if _, err := end.Ioctl(ctx, &mem, FIONREAD, 4); err != nil {
				t.Fatalf("FIONREAD: %v", err)
			}
			if got := binary.LittleEndian.Uint32(mem.b[4:]); got != step.want {
				t.Errorf("FIONREAD = %d, want %d", got, step.want)
			}
		}
	}
	var mem fakeMem
	if _, err := r.Ioctl(ctx, &mem, FIONREAD, 6); err != unix.EFAULT {
		t.Errorf("FIONREAD to a bad address: %v, want EFAULT", err)
	}
	if _, err := r.Ioctl(ctx, &mem, 0x5401, 0); err != unix.ENOTTY {
		t.Errorf("TCGETS on a pipe: %v, want ENOTTY", err)
	}
}

func TestSetPipeSize(t *testing.T) {
	tests := []struct {
		size       uint64
		privileged bool
		want       int64
		wantErr    error
	}{
		{0, false, PageSize, nil},
		{1, false, PageSize, nil},
		{PageSize, false, PageSize, nil},
		{PageSize + 1, false, 2 * PageSize, nil},
		{3 * PageSize, false, 4 * PageSize, nil},
		{65537, false, 131072, nil},
		{MaxSize, false, MaxSize, nil},
		{MaxSize + 1, false, 0, unix.EPERM},
		{MaxSize + 1, true, 2 * MaxSize, nil},
		{1 << 31, true, 1 << 31, nil},
		{1<<31 + 1, true, 0, unix.EINVAL},
		{^uint64(0), true, 0, unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.size, tc.privileged), func(t *testing.T) {
			r, _ := newPipe(t, 0)
			got, err := impl(r).SetPipeSize(tc.size, tc.privileged)
			if got != tc.want || err != tc.wantErr {
				t.Fatalf("SetPipeSize(%d) = %d, %v; want %d, %v", tc.size, got, err, tc.want, tc.wantErr)
			}
			want := tc.want
			if err != nil {
				want = DefaultSize
			}
			if got := impl(r).PipeSize(); got != want {
				t.Errorf("PipeSize = %d, want %d", got, want)
			}
		})
	}

	t.Run("shrinking", func(t *testing.T) {
		r, w := newPipe(t, 0)
		mustWrite(t, w, make([]byte, 3*PageSize-10)) // 3 slots
		if _, err := impl(w).SetPipeSize(2*PageSize, false); err != unix.EBUSY {
			t.Errorf("shrinking to fewer slots than are used: %v, want EBUSY", err)
		}
		if n, err := impl(w).SetPipeSize(4*PageSize, false); n != 4*PageSize || err != nil {
			t.Errorf("shrinking to 4 pages with 3 used = %d, %v; want %d, nil", n, err, 4*PageSize)
		}
		// One slot is free: fill it.
		mustWrite(t, w, make([]byte, PageSize))
		if _, err := w.Write(ctx, make([]byte, 10)); err != unix.EAGAIN {
			t.Errorf("write into the shrunk, full pipe: %v, want EAGAIN", err)
		}
		// A privileged grow beyond the limit may be undone by anyone.
		if _, err := impl(r).SetPipeSize(4*MaxSize, true); err != nil {
			t.Fatal(err)
		}
		if n, err := impl(r).SetPipeSize(2*MaxSize, false); n != 2*MaxSize || err != nil {
			t.Errorf("unprivileged shrink of a pipe above the limit = %d, %v; want %d, nil", n, err, 2*MaxSize)
		}
	})
}

func TestPacketMode(t *testing.T) {
	r, w := newPipe(t, unix.O_DIRECT)
	mustWrite(t, w, []byte("abc"))
	mustWrite(t, w, []byte("defgh"))
	mustWrite(t, w, pattern(PipeBuf+100, 1))
	if got := mustRead(t, r, 100); string(got) != "abc" {
		t.Errorf("first packet = %q, want %q", got, "abc")
	}
	if got := mustRead(t, r, 2); string(got) != "de" {
		t.Errorf("short read of the second packet = %q, want %q", got, "de")
	}
	// The rest of "defgh" is gone; a write larger than PIPE_BUF is split
	// into PIPE_BUF-sized packets.
	if got := mustRead(t, r, 1<<16); !bytes.Equal(got, pattern(PipeBuf, 1)) {
		t.Errorf("third packet is %d bytes, want the first %d of the big write", len(got), PipeBuf)
	}
	if got := mustRead(t, r, 1<<16); !bytes.Equal(got, pattern(PipeBuf+100, 1)[PipeBuf:]) {
		t.Errorf("fourth packet is %d bytes, want the last 100 of the big write", len(got))
	}
	if _, err := r.Read(ctx, make([]byte, 1)); err != unix.EAGAIN {
		t.Errorf("read after the packets: %v, want EAGAIN", err)
	}
	// Each packet takes a slot, however small.
	for i := 0; i < DefaultSize/PageSize; i++ {
		mustWrite(t, w, []byte{byte(i)})
	}
	if _, err := w.Write(ctx, []byte("x")); err != unix.EAGAIN {
		t.Errorf("packet write with every slot used: %v, want EAGAIN", err)
	}
	// Leaving packet mode: stream writes don't join packets.
	w.SetStatusFlags(w.Flags() &^ unix.O_DIRECT)
	if got := mustRead(t, r, 100); len(got) != 1 || got[0] != 0 {
		t.Errorf("read of a 1-byte packet = %v, want [0]", got)
	}
	mustWrite(t, w, []byte("st"))
	mustWrite(t, w, []byte("ream"))
	for i := 1; i < DefaultSize/PageSize; i++ {
		if got := mustRead(t, r, 100); len(got) != 1 || got[0] != byte(i) {
			t.Fatalf("packet %d = %v, want [%d]", i, got, i)
		}
	}
	if got := mustRead(t, r, 100); string(got) != "stream" {
		t.Errorf("stream after packets = %q, want %q", got, "stream")
	}
}

func TestStat(t *testing.T) {
	r, w := newPipe(t, 0)
	rs, err := r.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := w.Stat(ctx)
	if rs.Mode != vfs.S_IFIFO|0o600 {
		t.Errorf("mode = %#o, want %#o", rs.Mode, vfs.S_IFIFO|0o600)
	}
	if rs.Ino == 0 || rs.Ino != ws.Ino || rs.Ino != impl(r).Pipe().Ino() {
		t.Errorf("inode numbers: read end %d, write end %d, pipe %d; want equal and non-zero", rs.Ino, ws.Ino, impl(r).Pipe().Ino())
	}
	if rs.UID != 1000 || rs.GID != 1001 || rs.Nlink != 1 || rs.Blksize != PageSize {
		t.Errorf("uid %d gid %d nlink %d blksize %d; want 1000 1001 1 %d", rs.UID, rs.GID, rs.Nlink, rs.Blksize, PageSize)
	}
	r2, _ := newPipe(t, 0)
	if s2, _ := r2.Stat(ctx); s2.Ino == rs.Ino {
		t.Errorf("two pipes share inode %d", rs.Ino)
	}
	if name, want := r.Dentry().Name(), fmt.Sprintf("pipe:[%d]", rs.Ino); name != want {
		t.Errorf("dentry name = %q, want %q", name, want)
	}
	if mode := r.Dentry().Mode(); mode != vfs.S_IFIFO|0o600 {
		t.Errorf("dentry mode = %#o", mode)
	}
	before := rs.Mtime
	time.Sleep(2 * time.Millisecond)
	mustWrite(t, w, []byte("x"))
	if s, _ := w.Stat(ctx); s.Mtime == before || s.Ctime != s.Mtime {
		t.Errorf("a write didn't update mtime and ctime: %v -> %v, ctime %v", before, s.Mtime, s.Ctime)
	}
	if st, err := r.VirtualDentry().Mount.FS.Statfs(ctx); err != nil || st.Type != pipefsMagic {
		t.Errorf("statfs type = %#x, %v; want PIPEFS_MAGIC", st.Type, err)
	}
}

func TestReopen(t *testing.T) {
	r, w := NewFiles(0, 0, 0)
	defer r.DecRef()
	// Open of /proc/self/fd/N: a new description of the same pipe.
	w2, err := r.Dentry().Open(ctx, r.VirtualDentry(), unix.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	w.DecRef()
	mustWrite(t, w2, []byte("via reopen"))
	if got := mustRead(t, r, 100); string(got) != "via reopen" {
		t.Errorf("read = %q", got)
	}
	if n, err := r.Read(ctx, make([]byte, 1)); err != unix.EAGAIN {
		t.Errorf("read with the reopened writer open = %d, %v; want EAGAIN", n, err)
	}
	w2.DecRef()
	if n, err := r.Read(ctx, make([]byte, 1)); n != 0 || err != nil {
		t.Errorf("read after every writer closed = %d, %v; want EOF", n, err)
	}
}
