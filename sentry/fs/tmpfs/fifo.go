package tmpfs

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/fs/pipe"
	"palisade.dev/sentry/vfs"
)

// fifo is a named pipe: one pipe shared by every open of the node, with
// the counts that open(2) waits on.
type fifo struct {
	mu sync.Mutex
	// p is created by the first open.
	p                *pipe.Pipe
	readers, writers int
	// rOpens and wOpens count opens for reading and writing ever made: an
	// open that waits for the other end waits for its count to move.
	rOpens, wOpens uint64
	// wake is closed (and replaced) whenever a count changes.
	wake chan struct{}
}

// broadcastLocked wakes the opens waiting on f.
//
// Preconditions: f.mu is held.
func (f *fifo) broadcastLocked() {
	close(f.wake)
	f.wake = make(chan struct{})
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

// openFIFO opens a named pipe as fifo(7) says: for reading, it waits for
// a writer (unless O_NONBLOCK); for writing, for a reader (O_NONBLOCK:
// ENXIO if there is none); O_RDWR never waits.
func (d *Dentry) openFIFO(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	i := d.inode
	f := i.fifo
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

	f.mu.Lock()
	if write && !read && nonblock && f.readers == 0 {
		f.mu.Unlock()
		return nil, unix.ENXIO
	}
	if f.p == nil {
		i.mu.Lock()
		f.p = pipe.New(i.uid, i.gid)
		i.mu.Unlock()
	}
	// The pipe counts this end at once, so that the other side, once
	// woken, finds it there.
	inner := f.p.Open(flags &^ unix.O_TRUNC)
	ff := &fifoFile{File: inner.Impl().(*pipe.File), d: d, node: vd.Dentry, read: read, write: write}
	if ff.node == nil {
		ff.node = d
	}
	if read {
		f.readers++
		f.rOpens++
	}
	if write {
		f.writers++
		f.wOpens++
	}
	f.broadcastLocked()
	rOpens, wOpens := f.rOpens, f.wOpens
	i.mu.Lock()
	i.refs++
	i.mu.Unlock()
	fd := vfs.NewFileDescription(ff, vd, flags)
	for !nonblock && read != write {
		if (read && (f.writers > 0 || f.wOpens != wOpens)) || (write && (f.readers > 0 || f.rOpens != rOpens)) {
			break
		}
		ch := f.wake
		f.mu.Unlock()
		err := block(ctx, ch)
		f.mu.Lock()
		if err != nil {
			f.mu.Unlock()
			fd.DecRef()
			return nil, err
		}
	}
	f.mu.Unlock()
	return fd, nil
}

// fifoFile is an open named pipe: a pipe end whose attributes are the
// node's.
type fifoFile struct {
	*pipe.File
	d *Dentry
	// node is the dentry the FIFO was opened by: d, or the overlay
	// dentry whose upper node d is.
	node        vfs.Dentry
	read, write bool
}

var _ vfs.Stater = (*fifoFile)(nil)

// Release implements vfs.FileImpl.Release.
func (ff *fifoFile) Release() {
	ff.File.Release()
	f := ff.d.inode.fifo
	f.mu.Lock()
	if ff.read {
		f.readers--
	}
	if ff.write {
		f.writers--
	}
	f.broadcastLocked()
	f.mu.Unlock()
	ff.d.inode.decRef()
}

// Stat implements vfs.Stater: a FIFO is its node.
func (ff *fifoFile) Stat(ctx context.Context) (vfs.Statx, error) { return ff.node.Stat(ctx) }
