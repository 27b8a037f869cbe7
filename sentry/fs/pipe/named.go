package pipe

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// NamedPipe is the state of a named pipe (a FIFO node, fifo(7)): the one
// Pipe that every open of the node shares, made by the first open, and the
// counts of open ends that open(2) waits on. A filesystem keeps one per
// FIFO inode; the zero value is ready to use.
//
// Lock order: NamedPipe.mu, then Pipe.mu.
type NamedPipe struct {
	mu sync.Mutex
	p  *Pipe
	// readers and writers count the open ends.
	readers, writers int
	// rOpens and wOpens count the opens for reading and for writing ever
	// made: an open that waits for the other end waits for its count to
	// move, so that an end that opens and closes at once still wakes it.
	rOpens, wOpens uint64
	// wake, if not nil, is closed when a count changes.
	wake chan struct{}
}

// Readers returns the number of ends open for reading.
func (np *NamedPipe) Readers() int {
	np.mu.Lock()
	defer np.mu.Unlock()
	return np.readers
}

// Writers returns the number of ends open for writing.
func (np *NamedPipe) Writers() int {
	np.mu.Lock()
	defer np.mu.Unlock()
	return np.writers
}

// broadcastLocked wakes the opens waiting on np.
//
// Preconditions: np.mu is held.
func (np *NamedPipe) broadcastLocked() {
	if np.wake != nil {
		close(np.wake)
		np.wake = nil
	}
}

// waitChanLocked returns a channel closed by the next broadcast.
//
// Preconditions: np.mu is held.
func (np *NamedPipe) waitChanLocked() <-chan struct{} {
	if np.wake == nil {
		np.wake = make(chan struct{})
	}
	return np.wake
}

// Open opens an end of np as fifo(7) says: for reading, it waits for a
// writer (unless O_NONBLOCK); for writing, for a reader (with O_NONBLOCK,
// ENXIO if there is none); O_RDWR never waits. A wait that a signal
// interrupts fails with ERESTARTSYS (the task's Block says so; another
// context's cancellation is EINTR).
//
// vd is the path the FIFO was opened by, which becomes the description's:
// a NamedFile has no attributes of its own, so fstat(2) describes vd's
// dentry, the node. release, if not nil, is called exactly once: when the
// description is released, or before Open returns an error. The
// filesystem drops there what it took to keep the node while it is open.
func (np *NamedPipe) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32, release func()) (*vfs.FileDescription, error) {
	f := &NamedFile{np: np, release: release}
	var read, write bool
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		read = true
	case unix.O_WRONLY:
		write = true
	default:
		read, write = true, true
	}
	nonblock := flags&unix.O_NONBLOCK != 0

	np.mu.Lock()
	if write && !read && nonblock && np.readers == 0 {
		np.mu.Unlock()
		if release != nil {
			release()
		}
		return nil, unix.ENXIO
	}
	if np.p == nil {
		np.p = New(0, 0)
	}
	// The pipe counts this end at once, so that the other side, once
	// woken, finds it there.
	f.end = newEnd(np.p, flags)
	if read {
		np.readers++
		np.rOpens++
	}
	if write {
		np.writers++
		np.wOpens++
	}
	np.broadcastLocked()
	rOpens, wOpens := np.rOpens, np.wOpens
	fd := vfs.NewFileDescription(f, vd, flags&^unix.O_TRUNC)
	f.fd = fd
	for !nonblock && read != write {
		if (read && (np.writers > 0 || np.wOpens != wOpens)) || (write && (np.readers > 0 || np.rOpens != rOpens)) {
			break
		}
		ch := np.waitChanLocked()
		np.mu.Unlock()
		err := block(ctx, ch)
		np.mu.Lock()
		if err != nil {
			np.mu.Unlock()
			fd.DecRef()
			return nil, err
		}
	}
	np.mu.Unlock()
	return fd, nil
}

// NamedFile is an open end of a named pipe. Unlike an anonymous pipe's
// File, it has no Stat: its attributes are its dentry's, the FIFO node's.
type NamedFile struct {
	end
	np      *NamedPipe
	release func()
}

// A NamedFile reads and writes and can be waited for as a pipe end can,
// and fstat(2) of it is its dentry's.
var (
	_ vfs.FileImpl    = (*NamedFile)(nil)
	_ waiter.Waitable = (*NamedFile)(nil)
)

// Release implements vfs.FileImpl.Release.
func (f *NamedFile) Release() {
	f.p.release(f.read, f.write)
	np := f.np
	np.mu.Lock()
	if f.read {
		np.readers--
	}
	if f.write {
		np.writers--
	}
	np.broadcastLocked()
	np.mu.Unlock()
	if f.release != nil {
		f.release()
	}
}

// blocker is what a task offers to wait interruptibly (*kernel.Task).
type blocker interface {
	Block(ch <-chan struct{}, deadline time.Time) error
}

// block waits for ch. A task's wait that a signal interrupts is
// ERESTARTSYS; another context's cancellation is EINTR.
func block(ctx context.Context, ch <-chan struct{}) error {
	if b, ok := ctx.(blocker); ok {
		if err := b.Block(ch, time.Time{}); err != nil {
			return linux.ERESTARTSYS
		}
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return unix.EINTR
	}
}
