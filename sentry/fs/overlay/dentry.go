package overlay

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/vfs"
)

// maxNegative bounds the lower names a directory remembers as missing.
const maxNegative = 4096

// link is a Dentry's place in the tree.
type link struct {
	name   string
	parent *Dentry
}

// Dentry is a name in the overlay. It implements vfs.Dentry, and
// vfs.DirWriter for directories, vfs.Setter, vfs.Xattrs and vfs.Deleted.
type Dentry struct {
	fs *Filesystem
	// ino is the inode number stat reports; it never changes.
	ino uint64
	// link is the name and parent; it changes only with fs.writeMu held
	// and is read without locks.
	link atomic.Pointer[link]
	// upper is the upper node, once there is one; it is set once (by
	// creation or copy-up, with fs.writeMu held) and never changes.
	upper atomic.Pointer[tmpfs.Dentry]
	// lower is the lower node, or nil; it never changes.
	lower vfs.Dentry
	// opaque is set on a directory whose lower directory no longer
	// counts (it was renamed).
	opaque atomic.Bool
	// deleted is set when the name is removed.
	deleted atomic.Bool

	// mu protects children, and a directory's upper entries: changes to
	// them happen with mu held, so that a lookup sees them all or none.
	mu       sync.Mutex
	children map[string]*Dentry

	// negMu protects negative, the names the lower directory lacks.
	negMu    sync.Mutex
	negative map[string]struct{}
}

var (
	_ vfs.Dentry    = (*Dentry)(nil)
	_ vfs.DirWriter = (*Dentry)(nil)
	_ vfs.Setter    = (*Dentry)(nil)
	_ vfs.Xattrs    = (*Dentry)(nil)
	_ vfs.Deleted   = (*Dentry)(nil)
)

func (fs *Filesystem) newDentry(parent *Dentry, name string, upper *tmpfs.Dentry, lower vfs.Dentry, ino uint64) *Dentry {
	d := &Dentry{fs: fs, lower: lower, ino: ino}
	d.link.Store(&link{name: name, parent: parent})
	if upper != nil {
		d.upper.Store(upper)
	}
	return d
}

// Name implements vfs.Dentry.Name.
func (d *Dentry) Name() string { return d.link.Load().name }

// Parent implements vfs.Dentry.Parent.
func (d *Dentry) Parent() vfs.Dentry {
	if p := d.link.Load().parent; p != nil {
		return p
	}
	return nil
}

func (d *Dentry) parent() *Dentry { return d.link.Load().parent }

// Mode implements vfs.Dentry.Mode.
func (d *Dentry) Mode() uint32 {
	if u := d.upper.Load(); u != nil {
		return u.Mode()
	}
	return d.lower.Mode()
}

// Ino returns the inode number.
func (d *Dentry) Ino() uint64 { return d.ino }

// Upper returns the upper node, or nil while there is none.
func (d *Dentry) Upper() *tmpfs.Dentry { return d.upper.Load() }

// IsDeleted implements vfs.Deleted.
func (d *Dentry) IsDeleted() bool { return d.deleted.Load() }

func (d *Dentry) isDir() bool { return d.Mode()&vfs.S_IFMT == vfs.S_IFDIR }

// lowerDir returns the lower directory merged into directory d, or nil.
func (d *Dentry) lowerDir() vfs.Dentry {
	if d.opaque.Load() || d.lower == nil || d.lower.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return nil
	}
	return d.lower
}

// isAncestorOf reports whether a is x or one of x's ancestors.
//
// Preconditions: fs.writeMu is held.
func (a *Dentry) isAncestorOf(x *Dentry) bool {
	for ; x != nil; x = x.parent() {
		if x == a {
			return true
		}
	}
	return false
}

// Stat implements vfs.Dentry.Stat: the top node's attributes, with the
// overlay's device and inode number.
func (d *Dentry) Stat(ctx context.Context) (vfs.Statx, error) {
	var st vfs.Statx
	var err error
	u := d.upper.Load()
	if u != nil {
		st, err = u.Stat(ctx)
	} else {
		st, err = d.lower.Stat(ctx)
	}
	if err != nil {
		return vfs.Statx{}, err
	}
	st.Ino = d.ino
	st.DevMajor, st.DevMinor = 0, d.fs.dev
	switch {
	case d.deleted.Load() && (u == nil || st.Mode&vfs.S_IFMT == vfs.S_IFDIR):
		// A removed lower node (still open, or a removed directory
		// still someone's working directory) has no links left.
		st.Nlink = 0
	case u != nil && st.Mode&vfs.S_IFMT == vfs.S_IFDIR && d.lowerDir() != nil:
		// A merged directory: counting its subdirectories across the
		// layers isn't worth it, and 1 tells find(1) not to try.
		st.Nlink = 1
	}
	return st, nil
}

// statLower returns the lower node's attributes as the overlay shows them.
func (d *Dentry) statLower(ctx context.Context) (vfs.Statx, error) {
	st, err := d.lower.Stat(ctx)
	if err != nil {
		return vfs.Statx{}, err
	}
	st.Ino = d.ino
	st.DevMajor, st.DevMinor = 0, d.fs.dev
	if d.deleted.Load() {
		st.Nlink = 0
	}
	return st, nil
}

// Readlink implements vfs.Dentry.Readlink.
func (d *Dentry) Readlink(ctx context.Context) (string, error) {
	if u := d.upper.Load(); u != nil {
		return u.Readlink(ctx)
	}
	return d.lower.Readlink(ctx)
}

// Lookup implements vfs.Dentry.Lookup.
func (d *Dentry) Lookup(ctx context.Context, name string) (vfs.Dentry, error) {
	c, err := d.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// lookup returns the child called name: cached, or found by merging the
// layers.
func (d *Dentry) lookup(ctx context.Context, name string) (*Dentry, error) {
	if !d.isDir() {
		return nil, unix.ENOTDIR
	}
	if len(name) > vfs.NameMax {
		return nil, unix.ENAMETOOLONG
	}
	if d.deleted.Load() {
		// A removed directory is empty, whatever its lower directory
		// holds.
		return nil, unix.ENOENT
	}
	var lc vfs.Dentry
	lowerDone := false
	for {
		d.mu.Lock()
		if c, ok := d.children[name]; ok {
			d.mu.Unlock()
			return c, nil
		}
		uc, whiteout, err := d.lookupUpperLocked(name)
		if err != nil || whiteout {
			d.mu.Unlock()
			if err == nil {
				err = unix.ENOENT
			}
			return nil, err
		}
		ld := d.lowerDir()
		needLower := ld != nil && (uc == nil || (uc.Mode()&vfs.S_IFMT == vfs.S_IFDIR && !isOpaque(uc)))
		if needLower && !lowerDone {
			// The lower layer never changes: ask it without the lock,
			// then look at the upper layer again.
			d.mu.Unlock()
			c, err := d.lookupLower(ctx, ld, name)
			switch err {
			case nil:
				lc = c
			case unix.ENOENT:
				lc = nil
			default:
				return nil, err
			}
			lowerDone = true
			continue
		}
		if !needLower {
			lc = nil
		}
		c, err := d.addMergedLocked(ctx, name, uc, lc)
		d.mu.Unlock()
		return c, err
	}
}

// addMergedLocked makes and caches the child called name whose upper node
// is uc and lower node lc (either may be nil).
//
// Preconditions: d.mu is held.
func (d *Dentry) addMergedLocked(ctx context.Context, name string, uc *tmpfs.Dentry, lc vfs.Dentry) (*Dentry, error) {
	var ino uint64
	switch {
	case uc == nil && lc == nil:
		return nil, unix.ENOENT
	case uc == nil:
		st, err := lc.Stat(ctx)
		if err != nil {
			return nil, err
		}
		ino = st.Ino
	default:
		if lc != nil && lc.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
			// An upper directory over a lower file (which a whiteout
			// hid when the directory was made) doesn't merge.
			lc = nil
		}
		// A copy-up keeps its lower inode number; otherwise the
		// upper node's is marked as such.
		ino = d.fs.upperIno(uc.Ino())
	}
	c := d.fs.newDentry(d, name, uc, lc, ino)
	d.addChildLocked(name, c)
	return c, nil
}

// lookupUpperLocked looks name up in d's upper directory: the node (nil
// if none) and whether it is a whiteout.
//
// Preconditions: d.mu is held.
func (d *Dentry) lookupUpperLocked(name string) (*tmpfs.Dentry, bool, error) {
	u := d.upper.Load()
	if u == nil {
		return nil, false, nil
	}
	c, err := u.Lookup(sentryCtx, name)
	switch {
	case err == unix.ENOENT:
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	uc := c.(*tmpfs.Dentry)
	if isWhiteout(uc) {
		return nil, true, nil
	}
	return uc, false, nil
}

// lookupLower looks name up in the lower directory ld of d, remembering
// names it lacks.
func (d *Dentry) lookupLower(ctx context.Context, ld vfs.Dentry, name string) (vfs.Dentry, error) {
	d.negMu.Lock()
	_, missing := d.negative[name]
	d.negMu.Unlock()
	if missing {
		return nil, unix.ENOENT
	}
	c, err := ld.Lookup(ctx, name)
	if err == unix.ENOENT {
		d.negMu.Lock()
		if d.negative == nil {
			d.negative = make(map[string]struct{})
		}
		if len(d.negative) < maxNegative {
			d.negative[name] = struct{}{}
		}
		d.negMu.Unlock()
	}
	return c, err
}

// lowerHas reports whether the lower directory merged into d has name
// (so that removing name from the overlay must leave a whiteout).
func (d *Dentry) lowerHas(ctx context.Context, name string) (bool, error) {
	ld := d.lowerDir()
	if ld == nil {
		return false, nil
	}
	_, err := d.lookupLower(ctx, ld, name)
	switch err {
	case nil:
		return true, nil
	case unix.ENOENT:
		return false, nil
	}
	return false, err
}

// addChildLocked caches c as the child called name.
//
// Preconditions: d.mu is held.
func (d *Dentry) addChildLocked(name string, c *Dentry) {
	if d.children == nil {
		d.children = make(map[string]*Dentry)
	}
	d.children[name] = c
}

// Open implements vfs.Dentry.Open. A regular file opened for writing (or
// with O_TRUNC) is copied up first; one opened read-only while it exists
// only in the lower layer is the lower layer's open file, whose mappings
// are the lower file's. Directories list the merged layers.
func (d *Dentry) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	switch d.Mode() & vfs.S_IFMT {
	case vfs.S_IFDIR:
		if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&(unix.O_TRUNC|unix.O_CREAT) != 0 {
			return nil, unix.EISDIR
		}
		f := &dirFile{d: d}
		f.DirIter.List = f.list
		return vfs.NewFileDescription(f, vd, flags), nil
	case vfs.S_IFLNK:
		return nil, unix.ELOOP
	case vfs.S_IFREG:
		if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
			if err := d.copyUp(ctx); err != nil {
				return nil, err
			}
		}
	}
	if u := d.upper.Load(); u != nil {
		return u.Open(ctx, vd, flags)
	}
	lf, err := d.lower.Open(ctx, vd, flags)
	if err != nil {
		return nil, err
	}
	if _, ok := lf.Impl().(vfs.Stater); !ok {
		// Its fstat is the dentry's, which is ours.
		return lf, nil
	}
	return vfs.NewFileDescription(&lowerFile{FileImpl: lf.Impl(), inner: lf, d: d}, vd, lf.Flags()), nil
}

// SetStat implements vfs.Setter, after a copy-up. A truncation copies up
// only the data it keeps.
func (d *Dentry) SetStat(ctx context.Context, o vfs.SetStatOptions) error {
	limit := noLimit
	if o.Mask&vfs.STATX_SIZE != 0 {
		switch d.Mode() & vfs.S_IFMT {
		case vfs.S_IFREG:
		case vfs.S_IFDIR:
			return unix.EISDIR
		default:
			return unix.EINVAL
		}
		limit = o.Stat.Size
	}
	d.fs.writeMu.Lock()
	err := d.copyUpLocked(ctx, limit)
	d.fs.writeMu.Unlock()
	if err != nil {
		return err
	}
	return d.upper.Load().SetStat(ctx, o)
}

// GetXattr implements vfs.Xattrs.GetXattr.
func (d *Dentry) GetXattr(ctx context.Context, name string, size uint64) (string, error) {
	if isPrivateXattr(name) {
		return "", unix.EOPNOTSUPP
	}
	if u := d.upper.Load(); u != nil {
		return u.GetXattr(ctx, name, size)
	}
	if x, ok := d.lower.(vfs.Xattrs); ok {
		return x.GetXattr(ctx, name, size)
	}
	return "", unix.ENODATA
}

// ListXattr implements vfs.Xattrs.ListXattr, without the overlay's own
// attributes.
func (d *Dentry) ListXattr(ctx context.Context, size uint64) ([]string, error) {
	var names []string
	var err error
	if u := d.upper.Load(); u != nil {
		names, err = u.ListXattr(ctx, 0)
	} else if x, ok := d.lower.(vfs.Xattrs); ok {
		names, err = x.ListXattr(ctx, 0)
	}
	if err != nil {
		return nil, err
	}
	out := names[:0]
	var total uint64
	for _, n := range names {
		if isPrivateXattr(n) {
			continue
		}
		out = append(out, n)
		total += uint64(len(n)) + 1
	}
	if size != 0 && total > size {
		return nil, unix.ERANGE
	}
	return out, nil
}

// SetXattr implements vfs.Xattrs.SetXattr, after a copy-up.
func (d *Dentry) SetXattr(ctx context.Context, name, value string, flags uint32) error {
	if isPrivateXattr(name) {
		return unix.EPERM
	}
	if flags&^(tmpfs.XATTR_CREATE|tmpfs.XATTR_REPLACE) != 0 {
		return unix.EINVAL
	}
	if err := d.copyUp(ctx); err != nil {
		return err
	}
	return d.upper.Load().SetXattr(ctx, name, value, flags)
}

// RemoveXattr implements vfs.Xattrs.RemoveXattr, after a copy-up.
func (d *Dentry) RemoveXattr(ctx context.Context, name string) error {
	if isPrivateXattr(name) {
		return unix.EPERM
	}
	if err := d.copyUp(ctx); err != nil {
		return err
	}
	return d.upper.Load().RemoveXattr(ctx, name)
}
