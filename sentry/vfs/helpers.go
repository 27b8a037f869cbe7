package vfs

import (
	"context"

	"golang.org/x/sys/unix"
)

// DirIter implements IterDirents and Seek for a directory over snapshots
// of its listing. The offset is an index into the listing; the listing is
// taken afresh whenever the offset goes back to zero (rewinddir).
//
// Preconditions: its methods are called with FileDescription.mu held (the
// FileDescription methods do).
type DirIter struct {
	// List returns the directory's entries, "." and ".." first.
	List func(ctx context.Context) ([]Dirent, error)
	off  int64
	snap []Dirent
}

// IterDirents implements FileImpl.IterDirents.
func (d *DirIter) IterDirents(ctx context.Context, cb func(Dirent) bool) error {
	if d.snap == nil || d.off == 0 {
		s, err := d.List(ctx)
		if err != nil {
			return err
		}
		d.snap = s
	}
	for d.off < int64(len(d.snap)) {
		e := d.snap[d.off]
		e.NextOff = d.off + 1
		if !cb(e) {
			return nil
		}
		d.off++
	}
	return nil
}

// Seek implements FileImpl.Seek for directories.
func (d *DirIter) Seek(_ context.Context, off int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off += d.off
	default:
		return 0, unix.EINVAL
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	d.off = off
	return off, nil
}

// SeekRegular computes lseek(2)'s result for a file of the given size
// whose offset is cur. SEEK_DATA and SEEK_HOLE treat the file as one
// extent of data.
func SeekRegular(cur, size, off int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off += cur
	case unix.SEEK_END:
		off += size
	case unix.SEEK_DATA:
		if off < 0 || off >= size {
			return 0, unix.ENXIO
		}
	case unix.SEEK_HOLE:
		if off < 0 || off >= size {
			return 0, unix.ENXIO
		}
		off = size
	default:
		return 0, unix.EINVAL
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	return off, nil
}

// SelfAndParent returns the "." and ".." entries of a directory.
func SelfAndParent(ctx context.Context, d Dentry) []Dirent {
	self, _ := d.Stat(ctx)
	pino := self.Ino
	if p := d.Parent(); p != nil {
		if ps, err := p.Stat(ctx); err == nil {
			pino = ps.Ino
		}
	}
	return []Dirent{
		{Name: ".", Ino: self.Ino, Type: DirentType(S_IFDIR)},
		{Name: "..", Ino: pino, Type: DirentType(S_IFDIR)},
	}
}

// Anon devices: each filesystem instance gets its own minor of major 0.
var anonMinor = make(chan uint32, 1)

func init() { anonMinor <- 16 }

// NewAnonDev returns a fresh device minor number for a filesystem.
func NewAnonDev() uint32 {
	m := <-anonMinor
	anonMinor <- m + 1
	return m
}
