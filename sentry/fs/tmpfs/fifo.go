package tmpfs

import (
	"context"

	"palisade.dev/sentry/fs/pipe"
	"palisade.dev/sentry/vfs"
)

// fifo is a named pipe's state: one pipe shared by every open of the
// node, with the counts that open(2) waits on (see pipe.NamedPipe).
type fifo struct {
	pipe.NamedPipe
}

// openFIFO opens a named pipe as fifo(7) says: for reading, it waits for
// a writer (unless O_NONBLOCK); for writing, for a reader (O_NONBLOCK:
// ENXIO if there is none); O_RDWR never waits. The open file holds a
// reference on the inode. Its fstat is the node's: that of vd's dentry (d,
// or the overlay dentry whose upper node d is).
func (d *Dentry) openFIFO(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	i := d.inode
	if vd.Dentry == nil {
		vd.Dentry = d
	}
	i.mu.Lock()
	i.refs++
	i.mu.Unlock()
	return i.fifo.Open(ctx, vd, flags, i.decRef)
}
