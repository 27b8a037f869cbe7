package gofer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/vfs"
)

// TestFIFO opens a FIFO made on the host: it is a sentry pipe with the open
// semantics of fifo(7).
func TestFIFO(t *testing.T) {
	dir := makeTree(t)
	fs := serve(t, dir)
	p := lookup(t, fs.Root(), "fifo")
	vd := vfs.VirtualDentry{Dentry: p}
	if st := statOf(t, p); st.Mode != vfs.S_IFIFO|0o644 {
		t.Errorf("mode %#o, want S_IFIFO|0644", st.Mode)
	}
	// No reader: a non-blocking writer gets ENXIO, a non-blocking reader
	// opens at once.
	if _, err := p.Open(ctx, vd, unix.O_WRONLY|unix.O_NONBLOCK); err != unix.ENXIO {
		t.Errorf("non-blocking write open without readers: %v, want ENXIO", err)
	}
	r := open(t, p, unix.O_RDONLY|unix.O_NONBLOCK)
	w := open(t, p, unix.O_WRONLY|unix.O_NONBLOCK)
	if n, err := w.Write(ctx, []byte("through the fifo")); n != 16 || err != nil {
		t.Errorf("write: %d, %v", n, err)
	}
	buf := make([]byte, 100)
	if n, _ := r.Read(ctx, buf); string(buf[:n]) != "through the fifo" {
		t.Errorf("read %q", buf[:n])
	}
	// fstat is the node's, on the filesystem, not a pipe's.
	st, err := r.Stat(ctx)
	want := statOf(t, p)
	if err != nil || st.Ino != want.Ino || st.Mode != vfs.S_IFIFO|0o644 || st.DevMinor != fs.dev {
		t.Errorf("fstat: %+v, %v; want the node's %+v", st, err, want)
	}
	if n, err := r.Read(ctx, buf); n != 0 || err != unix.EAGAIN {
		t.Errorf("read of an empty FIFO with a writer: %d, %v, want EAGAIN", n, err)
	}
	w.DecRef()
	if n, err := r.Read(ctx, buf); n != 0 || err != nil {
		t.Errorf("read after the writer left: %d, %v, want end of file", n, err)
	}
	r.DecRef()

	// A blocking reader waits for a writer, who may come by another name
	// of the FIFO.
	if err := os.Link(filepath.Join(dir, "fifo"), filepath.Join(dir, "fifo2")); err != nil {
		t.Fatal(err)
	}
	p2 := lookup(t, fs.Root(), "fifo2")
	opened := make(chan *vfs.FileDescription)
	go func() {
		r, err := p.Open(ctx, vd, unix.O_RDONLY)
		if err != nil {
			t.Errorf("blocking read open: %v", err)
		}
		opened <- r
	}()
	select {
	case <-opened:
		t.Fatal("read open didn't wait for a writer")
	case <-time.After(50 * time.Millisecond):
	}
	w = open(t, p2, unix.O_WRONLY)
	r = <-opened
	w.Write(ctx, []byte("x"))
	if n, _ := r.Read(ctx, buf); n != 1 || buf[0] != 'x' {
		t.Errorf("read %q through the other name", buf[:n])
	}
	// A writer whose reader went gets EPIPE.
	r.DecRef()
	if _, err := w.Write(ctx, []byte("y")); err != unix.EPIPE {
		t.Errorf("write without readers: %v, want EPIPE", err)
	}
	w.DecRef()

	// A blocking writer waits for a reader.
	go func() {
		w, err := p.Open(ctx, vd, unix.O_WRONLY)
		if err != nil {
			t.Errorf("blocking write open: %v", err)
		}
		opened <- w
	}()
	select {
	case <-opened:
		t.Fatal("write open didn't wait for a reader")
	case <-time.After(50 * time.Millisecond):
	}
	r = open(t, p, unix.O_RDONLY|unix.O_NONBLOCK)
	w = <-opened
	w.DecRef()
	r.DecRef()

	// O_RDWR never waits; a cancelled wait fails and leaves nothing open.
	rw := open(t, p, unix.O_RDWR)
	rw.DecRef()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p.Open(cctx, vd, unix.O_WRONLY); err != unix.EINTR {
		t.Errorf("cancelled write open: %v, want EINTR", err)
	}
	if _, err := p.Open(taskCtx{ctx}, vd, unix.O_RDONLY); err != linux.ERESTARTSYS {
		t.Errorf("interrupted read open: %v, want ERESTARTSYS", err)
	}
	in := p.(*dentry).inode()
	if in.fifo.Readers() != 0 || in.fifo.Writers() != 0 {
		t.Errorf("after all closed: %d readers, %d writers", in.fifo.Readers(), in.fifo.Writers())
	}
	fs.inodesMu.Lock()
	refs := in.refs
	fs.inodesMu.Unlock()
	if refs != 2 {
		t.Errorf("inode has %d references after all closed, want 2 (its dentries')", refs)
	}
}

// taskCtx blocks as a task does, and is interrupted at once.
type taskCtx struct{ context.Context }

func (taskCtx) Block(ch <-chan struct{}, _ time.Time) error { return context.Canceled }

// TestFIFOMadeInSandbox makes a FIFO on a writable tree and uses it.
func TestFIFOMadeInSandbox(t *testing.T) {
	dir := makeTree(t)
	fs := serveRW(t, dir)
	if err := dirWriter(t, fs.Root()).Mknod(ctx, "made", vfs.CreateOptions{Mode: vfs.S_IFIFO | 0o600}); err != nil {
		t.Fatal(err)
	}
	if st := hostStat(t, filepath.Join(dir, "made")); st.Mode != unix.S_IFIFO|0o600 {
		t.Errorf("host mode %#o", st.Mode)
	}
	p := lookup(t, fs.Root(), "made")
	rw := open(t, p, unix.O_RDWR)
	defer rw.DecRef()
	if n, err := rw.Write(ctx, []byte("hi")); n != 2 || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	buf := make([]byte, 4)
	if n, err := rw.Read(ctx, buf); n != 2 || err != nil || string(buf[:2]) != "hi" {
		t.Errorf("read: %q, %v", buf[:n], err)
	}
}
