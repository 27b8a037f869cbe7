package overlay

import (
	"context"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/vfs"
)

// lowerFile is a lower regular file opened read-only through the overlay.
// Everything but fstat is the lower file's own (reads, seeks and mappings
// go straight to it); fstat shows the overlay's device and inode number.
type lowerFile struct {
	vfs.FileImpl
	inner *vfs.FileDescription
	d     *Dentry
}

var _ vfs.Stater = (*lowerFile)(nil)

// Release implements vfs.FileImpl.Release.
func (f *lowerFile) Release() { f.inner.DecRef() }

// Stat implements vfs.Stater. It describes the lower file this
// description reads, even after the file was copied up.
func (f *lowerFile) Stat(ctx context.Context) (vfs.Statx, error) { return f.d.statLower(ctx) }

// Sync implements fsync(2): a read-only file has nothing to write back.
func (f *lowerFile) Sync(context.Context) error { return nil }

// dirFile is an open overlay directory. Its listing is a snapshot of the
// merged directory, taken by the first getdents and again whenever the
// offset goes back to 0, so that offsets stay meaningful however the
// directory changes meanwhile.
type dirFile struct {
	vfs.FileDefaults
	vfs.DirIter
	d *Dentry
}

func (f *dirFile) list(ctx context.Context) ([]vfs.Dirent, error) {
	ents, err := f.d.merged(ctx)
	if err != nil {
		return nil, err
	}
	return append(vfs.SelfAndParent(ctx, f.d), ents...), nil
}

func (f *dirFile) Read(context.Context, []byte) (int, error)         { return 0, unix.EISDIR }
func (f *dirFile) PRead(context.Context, []byte, int64) (int, error) { return 0, unix.EISDIR }

// Seek implements vfs.FileImpl.Seek.
func (f *dirFile) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	return f.DirIter.Seek(ctx, off, whence)
}

// IterDirents implements vfs.FileImpl.IterDirents.
func (f *dirFile) IterDirents(ctx context.Context, cb func(vfs.Dirent) bool) error {
	return f.DirIter.IterDirents(ctx, cb)
}

// Sync implements fsync(2): there is nothing to write back.
func (f *dirFile) Sync(context.Context) error { return nil }

// readDir returns the entries of the directory dir, without "." and "..".
func readDir(ctx context.Context, dir vfs.Dentry) ([]vfs.Dirent, error) {
	fd, err := dir.Open(ctx, vfs.VirtualDentry{}, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer fd.DecRef()
	var out []vfs.Dirent
	err = fd.IterDirents(ctx, func(e vfs.Dirent) bool {
		if e.Name != "." && e.Name != ".." {
			out = append(out, e)
		}
		return true
	})
	return out, err
}

// merged returns the entries of directory d, without "." and "..": the
// upper entries, then the lower ones the upper layer neither has nor
// whites out, with the overlay's inode numbers.
func (d *Dentry) merged(ctx context.Context) ([]vfs.Dirent, error) {
	if d.deleted.Load() {
		return nil, nil
	}
	var lower []vfs.Dirent
	if ld := d.lowerDir(); ld != nil {
		var err error
		if lower, err = readDir(ctx, ld); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lowerDir() == nil {
		lower = nil
	}
	u := d.upper.Load()
	if u == nil {
		return lower, nil
	}
	upper, err := readDir(sentryCtx, u)
	if err != nil {
		return nil, err
	}
	out := make([]vfs.Dirent, 0, len(upper)+len(lower))
	var seen map[string]struct{}
	if len(lower) > 0 {
		seen = make(map[string]struct{}, len(upper))
	}
	for _, e := range upper {
		if seen != nil {
			seen[e.Name] = struct{}{}
		}
		if e.Type == vfs.DirentType(vfs.S_IFCHR) {
			if c, err := u.Lookup(sentryCtx, e.Name); err == nil && isWhiteout(c.(*tmpfs.Dentry)) {
				continue
			}
		}
		e.Ino = d.fs.upperIno(e.Ino)
		out = append(out, e)
	}
	for _, e := range lower {
		if _, ok := seen[e.Name]; !ok {
			out = append(out, e)
		}
	}
	return out, nil
}
