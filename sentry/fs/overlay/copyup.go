package overlay

import (
	"context"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/vfs"
)

// noLimit copies all of a file's data.
const noLimit = ^uint64(0)

// copyChunk is the size of the pieces data are copied in.
const copyChunk = 256 << 10

// copyUp gives d an upper node, copying it (and its parents) up from the
// lower layer if it has none yet.
func (d *Dentry) copyUp(ctx context.Context) error {
	if d.upper.Load() != nil {
		return nil
	}
	d.fs.writeMu.Lock()
	defer d.fs.writeMu.Unlock()
	return d.copyUpLocked(ctx, noLimit)
}

// copyUpLocked gives d an upper node: a copy of its lower node with its
// first limit bytes of data, made after its parent's. The copy is made
// under its final name, invisible until d.upper is set: until then the
// parent's lookups find d in their cache and d's stats and opens go to
// the lower node. A dentry already removed can't be copied up (ENOENT).
//
// Preconditions: fs.writeMu is held.
func (d *Dentry) copyUpLocked(ctx context.Context, limit uint64) error {
	if d.upper.Load() != nil {
		return nil
	}
	if d.deleted.Load() {
		return unix.ENOENT
	}
	p := d.parent()
	if err := p.copyUpLocked(ctx, noLimit); err != nil {
		return err
	}
	st, err := d.lower.Stat(ctx)
	if err != nil {
		return err
	}
	pu := p.upper.Load()
	// A copy-up is no change to the parent: keep its times, as Linux
	// does.
	pst, err := pu.Stat(sentryCtx)
	if err != nil {
		return err
	}
	var target string
	if st.Mode&vfs.S_IFMT == vfs.S_IFLNK {
		if target, err = d.lower.Readlink(ctx); err != nil {
			return err
		}
	}
	name := d.Name()
	p.mu.Lock()
	u, linked, err := d.makeUpperLocked(pu, name, st, target)
	if err == nil {
		d.fs.setOrigin(u.Ino(), d.ino)
	}
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if !linked {
		if err := d.copyContents(ctx, u, st, limit); err != nil {
			p.mu.Lock()
			if u.Mode()&vfs.S_IFMT == vfs.S_IFDIR {
				pu.Rmdir(sentryCtx, name)
			} else {
				pu.Unlink(sentryCtx, name)
			}
			p.mu.Unlock()
			return err
		}
		if st.Mode&vfs.S_IFMT == vfs.S_IFREG && st.Nlink > 1 {
			d.fs.index[st.Ino] = indexEntry{lower: st, upper: u}
		}
	}
	pu.SetStat(sentryCtx, vfs.SetStatOptions{
		Mask: vfs.STATX_ATIME | vfs.STATX_MTIME,
		Stat: vfs.Statx{Atime: pst.Atime, Mtime: pst.Mtime},
	})
	d.upper.Store(u)
	return nil
}

// sameLowerFile reports whether a and b are attributes of one lower file.
func sameLowerFile(a, b vfs.Statx) bool {
	return a.Ino == b.Ino && a.Mode == b.Mode && a.Size == b.Size && a.Mtime == b.Mtime && a.Ctime == b.Ctime
}

// makeUpperLocked makes the upper node called name in pu for a lower
// node with attributes st (and target, if it is a symlink). A regular
// file whose upper copy another of its lower links already has is linked
// to it (linked is then true, and the node is complete).
//
// Preconditions: fs.writeMu and the parent's mu are held.
func (d *Dentry) makeUpperLocked(pu *tmpfs.Dentry, name string, st vfs.Statx, target string) (*tmpfs.Dentry, bool, error) {
	// Owned by root until copyContents sets the lower owner.
	o := vfs.CreateOptions{Mode: st.Mode&vfs.S_IFMT | st.Mode&0o7777}
	var err error
	switch st.Mode & vfs.S_IFMT {
	case vfs.S_IFREG:
		if e, ok := d.fs.index[st.Ino]; ok && st.Nlink > 1 && sameLowerFile(e.lower, st) {
			if pu.Link(sentryCtx, name, e.upper) == nil {
				u, err := pu.Lookup(sentryCtx, name)
				if err != nil {
					return nil, false, err
				}
				return u.(*tmpfs.Dentry), true, nil
			}
			// The upper copy is gone: copy again.
		}
		_, err = pu.Create(sentryCtx, name, o)
	case vfs.S_IFDIR:
		err = pu.Mkdir(sentryCtx, name, o)
	case vfs.S_IFLNK:
		err = pu.Symlink(sentryCtx, name, target, o)
	default:
		o.Dev = vfs.Makedev(st.RdevMajor, st.RdevMinor)
		err = pu.Mknod(sentryCtx, name, o)
	}
	if err != nil {
		return nil, false, err
	}
	u, err := pu.Lookup(sentryCtx, name)
	if err != nil {
		return nil, false, err
	}
	return u.(*tmpfs.Dentry), false, nil
}

// copyContents copies to the new upper node u the data (at most limit
// bytes), extended attributes, mode, owner and times of d's lower node,
// whose attributes are st.
func (d *Dentry) copyContents(ctx context.Context, u *tmpfs.Dentry, st vfs.Statx, limit uint64) error {
	set := vfs.SetStatOptions{
		Mask: vfs.STATX_MODE | vfs.STATX_UID | vfs.STATX_GID | vfs.STATX_ATIME | vfs.STATX_MTIME,
		Stat: st,
	}
	if st.Mode&vfs.S_IFMT == vfs.S_IFREG {
		size, err := d.copyData(ctx, u, min(st.Size, limit))
		if err != nil {
			return err
		}
		set.Mask |= vfs.STATX_SIZE
		set.Stat.Size = size
	}
	if err := d.copyXattrs(ctx, u); err != nil {
		return err
	}
	return u.SetStat(sentryCtx, set)
}

// copyData copies the first n bytes of d's lower file to the upper file
// u and returns how many the file had. Blocks of zeros are left as holes.
func (d *Dentry) copyData(ctx context.Context, u *tmpfs.Dentry, n uint64) (uint64, error) {
	if n == 0 {
		return 0, nil
	}
	lf, err := d.lower.Open(ctx, vfs.VirtualDentry{}, unix.O_RDONLY)
	if err != nil {
		return 0, err
	}
	defer lf.DecRef()
	uf, err := u.Open(sentryCtx, vfs.VirtualDentry{}, unix.O_WRONLY)
	if err != nil {
		return 0, err
	}
	defer uf.DecRef()
	buf := make([]byte, min(n, copyChunk))
	var off uint64
	for off < n {
		b := buf[:min(uint64(len(buf)), n-off)]
		r, err := lf.PRead(ctx, b, int64(off))
		if err != nil {
			return 0, err
		}
		if r == 0 {
			// The lower file shrank.
			break
		}
		if !allZero(b[:r]) {
			for w := 0; w < r; {
				k, err := uf.PWrite(sentryCtx, b[w:r], int64(off)+int64(w))
				if err != nil {
					return 0, err
				}
				w += k
			}
		}
		off += uint64(r)
	}
	return off, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// copyXattrs copies the lower node's extended attributes to u. Those the
// upper layer has no namespace for (security.*, system.*) are dropped.
func (d *Dentry) copyXattrs(ctx context.Context, u *tmpfs.Dentry) error {
	x, ok := d.lower.(vfs.Xattrs)
	if !ok {
		return nil
	}
	names, err := x.ListXattr(sentryCtx, 0)
	if err != nil {
		if err == unix.EOPNOTSUPP {
			return nil
		}
		return err
	}
	for _, n := range names {
		if isPrivateXattr(n) {
			continue
		}
		v, err := x.GetXattr(sentryCtx, n, 0)
		if err == unix.ENODATA {
			continue
		}
		if err != nil {
			return err
		}
		if err := u.SetXattr(sentryCtx, n, v, 0); err != nil && err != unix.EOPNOTSUPP {
			return err
		}
	}
	return nil
}

// copyUpTree copies up d and, if it is a directory with lower contents,
// everything in it, so that the upper directory alone holds the merged
// directory.
//
// Preconditions: fs.writeMu is held.
func (d *Dentry) copyUpTree(ctx context.Context) error {
	if err := d.copyUpLocked(ctx, noLimit); err != nil {
		return err
	}
	if d.Mode()&vfs.S_IFMT != vfs.S_IFDIR || d.lowerDir() == nil {
		// Everything below a directory without a lower one was made in
		// the upper layer, or copied up whole to get there.
		return nil
	}
	ents, err := d.merged(ctx)
	if err != nil {
		return err
	}
	for _, e := range ents {
		c, err := d.lookup(ctx, e.Name)
		if err == unix.ENOENT {
			continue
		}
		if err != nil {
			return err
		}
		if err := c.copyUpTree(ctx); err != nil {
			return err
		}
	}
	return nil
}
