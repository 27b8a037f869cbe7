package overlay

import (
	"context"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/vfs"
)

// whiteoutOpts makes a whiteout: a character device 0/0.
var whiteoutOpts = vfs.CreateOptions{Mode: vfs.S_IFCHR}

// checkNewName validates the name of a new entry.
func checkNewName(name string) error {
	switch {
	case len(name) > vfs.NameMax:
		return unix.ENAMETOOLONG
	case name == "" || name == "." || name == "..":
		return unix.EEXIST
	}
	return nil
}

// beginChangeLocked starts a change to directory d: it copies d up.
//
// Preconditions: fs.writeMu is held.
func (d *Dentry) beginChangeLocked(ctx context.Context) error {
	if !d.isDir() {
		return unix.ENOTDIR
	}
	if d.deleted.Load() {
		return unix.ENOENT
	}
	return d.copyUpLocked(ctx, noLimit)
}

// create adds the entry name to directory d: mk makes it in d's upper
// directory, over the whiteout there if any. A directory made over a
// whiteout is opaque.
func (d *Dentry) create(ctx context.Context, name string, mk func(pu *tmpfs.Dentry) error) (*Dentry, error) {
	d.fs.writeMu.Lock()
	defer d.fs.writeMu.Unlock()
	return d.createLocked(ctx, name, mk)
}

// createLocked is create.
//
// Preconditions: fs.writeMu is held.
func (d *Dentry) createLocked(ctx context.Context, name string, mk func(pu *tmpfs.Dentry) error) (*Dentry, error) {
	if err := checkNewName(name); err != nil {
		return nil, err
	}
	if err := d.beginChangeLocked(ctx); err != nil {
		return nil, err
	}
	switch _, err := d.lookup(ctx, name); err {
	case nil:
		return nil, unix.EEXIST
	case unix.ENOENT:
	default:
		return nil, err
	}
	pu := d.upper.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	_, whiteout, err := d.lookupUpperLocked(name)
	if err != nil {
		return nil, err
	}
	if whiteout {
		if err := pu.Unlink(sentryCtx, name); err != nil {
			return nil, err
		}
	}
	undo := func() {
		if whiteout {
			pu.Mknod(sentryCtx, name, whiteoutOpts)
		}
	}
	if err := mk(pu); err != nil {
		undo()
		return nil, err
	}
	c, err := pu.Lookup(sentryCtx, name)
	if err != nil {
		return nil, err
	}
	u := c.(*tmpfs.Dentry)
	if whiteout && u.Mode()&vfs.S_IFMT == vfs.S_IFDIR {
		if err := u.SetXattr(sentryCtx, opaqueXattr, "y", 0); err != nil {
			pu.Rmdir(sentryCtx, name)
			undo()
			return nil, err
		}
	}
	nc := d.fs.newDentry(d, name, u, nil, d.fs.upperIno(u.Ino()))
	d.addChildLocked(name, nc)
	return nc, nil
}

// Create implements vfs.DirWriter.Create.
func (d *Dentry) Create(ctx context.Context, name string, o vfs.CreateOptions) (vfs.Dentry, error) {
	c, err := d.create(ctx, name, func(pu *tmpfs.Dentry) error {
		_, err := pu.Create(ctx, name, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Mkdir implements vfs.DirWriter.Mkdir.
func (d *Dentry) Mkdir(ctx context.Context, name string, o vfs.CreateOptions) error {
	_, err := d.create(ctx, name, func(pu *tmpfs.Dentry) error { return pu.Mkdir(ctx, name, o) })
	return err
}

// Mknod implements vfs.DirWriter.Mknod. A character device 0/0 would be
// a whiteout: making one is EPERM, as in Linux's overlayfs.
func (d *Dentry) Mknod(ctx context.Context, name string, o vfs.CreateOptions) error {
	if o.Mode&vfs.S_IFMT == vfs.S_IFCHR && o.Dev == 0 {
		return unix.EPERM
	}
	_, err := d.create(ctx, name, func(pu *tmpfs.Dentry) error { return pu.Mknod(ctx, name, o) })
	return err
}

// Symlink implements vfs.DirWriter.Symlink.
func (d *Dentry) Symlink(ctx context.Context, name, target string, o vfs.CreateOptions) error {
	switch {
	case target == "":
		return unix.ENOENT
	case len(target) >= vfs.PathMax:
		return unix.ENAMETOOLONG
	}
	_, err := d.create(ctx, name, func(pu *tmpfs.Dentry) error { return pu.Symlink(ctx, name, target, o) })
	return err
}

// Link implements vfs.DirWriter.Link: the target is copied up and linked
// in the upper layer.
func (d *Dentry) Link(ctx context.Context, name string, target vfs.Dentry) error {
	t, ok := target.(*Dentry)
	if !ok || t.fs != d.fs {
		return unix.EXDEV
	}
	if t.isDir() {
		return unix.EPERM
	}
	d.fs.writeMu.Lock()
	defer d.fs.writeMu.Unlock()
	if err := checkNewName(name); err != nil {
		return err
	}
	if err := t.copyUpLocked(ctx, noLimit); err != nil {
		return err
	}
	_, err := d.createLocked(ctx, name, func(pu *tmpfs.Dentry) error {
		return pu.Link(ctx, name, t.upper.Load())
	})
	return err
}

// Unlink implements vfs.DirWriter.Unlink.
func (d *Dentry) Unlink(ctx context.Context, name string) error {
	switch {
	case len(name) > vfs.NameMax:
		return unix.ENAMETOOLONG
	case name == "." || name == "..":
		return unix.EISDIR
	}
	return d.remove(ctx, name, false)
}

// Rmdir implements vfs.DirWriter.Rmdir: the merged directory must be
// empty; the whiteouts in its upper directory go with it.
func (d *Dentry) Rmdir(ctx context.Context, name string) error {
	switch {
	case len(name) > vfs.NameMax:
		return unix.ENAMETOOLONG
	case name == ".":
		return unix.EINVAL
	case name == "..":
		return unix.ENOTEMPTY
	}
	return d.remove(ctx, name, true)
}

// remove removes the entry name, a directory if dir is set, leaving a
// whiteout if the lower layer has name.
func (d *Dentry) remove(ctx context.Context, name string, dir bool) error {
	d.fs.writeMu.Lock()
	defer d.fs.writeMu.Unlock()
	if err := d.beginChangeLocked(ctx); err != nil {
		return err
	}
	c, err := d.lookup(ctx, name)
	if err != nil {
		return err
	}
	isDir := c.isDir()
	switch {
	case dir && !isDir:
		return unix.ENOTDIR
	case !dir && isDir:
		return unix.EISDIR
	}
	if isDir {
		if ents, err := c.merged(ctx); err != nil {
			return err
		} else if len(ents) != 0 {
			return unix.ENOTEMPTY
		}
	}
	whiteout, err := d.lowerHas(ctx, name)
	if err != nil {
		return err
	}
	pu := d.upper.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	if cu := c.upper.Load(); cu != nil {
		if isDir {
			c.mu.Lock()
			err := removeWhiteouts(cu)
			if err == nil {
				err = pu.Rmdir(ctx, name)
			}
			c.mu.Unlock()
			if err != nil {
				return err
			}
		} else if err := pu.Unlink(ctx, name); err != nil {
			return err
		}
	}
	if whiteout {
		if err := pu.Mknod(sentryCtx, name, whiteoutOpts); err != nil {
			return err
		}
	}
	delete(d.children, name)
	c.deleted.Store(true)
	return nil
}

// removeWhiteouts removes the whiteouts in the upper directory u, which
// holds nothing else.
//
// Preconditions: the overlay directory's mu is held.
func removeWhiteouts(u *tmpfs.Dentry) error {
	ents, err := readDir(sentryCtx, u)
	if err != nil {
		return err
	}
	for _, e := range ents {
		c, err := u.Lookup(sentryCtx, e.Name)
		if err != nil {
			return err
		}
		if !isWhiteout(c.(*tmpfs.Dentry)) {
			return unix.ENOTEMPTY
		}
		if err := u.Unlink(sentryCtx, e.Name); err != nil {
			return err
		}
	}
	return nil
}

// Rename implements vfs.DirWriter.Rename, with renameat2(2)'s flags and
// errors. The entries are copied up (a directory with everything in it),
// renamed in the upper layer, and a whiteout is left at the old name if
// the lower layer has it. A directory that moves becomes opaque: its
// upper directory is all of it.
func (d *Dentry) Rename(ctx context.Context, oldName string, newDir vfs.Dentry, newName string, flags uint32) (err error) {
	if flags&^(tmpfs.RENAME_NOREPLACE|tmpfs.RENAME_EXCHANGE|tmpfs.RENAME_WHITEOUT) != 0 ||
		flags&(tmpfs.RENAME_NOREPLACE|tmpfs.RENAME_EXCHANGE) == tmpfs.RENAME_NOREPLACE|tmpfs.RENAME_EXCHANGE ||
		flags&tmpfs.RENAME_WHITEOUT != 0 {
		return unix.EINVAL
	}
	nd, ok := newDir.(*Dentry)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	if !d.isDir() || !nd.isDir() {
		return unix.ENOTDIR
	}
	for _, n := range []string{oldName, newName} {
		switch {
		case len(n) > vfs.NameMax:
			return unix.ENAMETOOLONG
		case n == "" || n == "." || n == "..":
			return unix.EBUSY
		}
	}
	fs := d.fs
	fs.writeMu.Lock()
	defer fs.writeMu.Unlock()
	if d.deleted.Load() || nd.deleted.Load() {
		return unix.ENOENT
	}
	src, err := d.lookup(ctx, oldName)
	if err != nil {
		return err
	}
	dst, err := nd.lookup(ctx, newName)
	switch err {
	case nil:
	case unix.ENOENT:
		dst = nil
	default:
		return err
	}
	exchange := flags&tmpfs.RENAME_EXCHANGE != 0
	srcDir := src.isDir()
	dstDir := dst != nil && dst.isDir()
	switch {
	case dst != nil && flags&tmpfs.RENAME_NOREPLACE != 0:
		return unix.EEXIST
	case dst == nil && exchange:
		return unix.ENOENT
	case srcDir && src.isAncestorOf(nd):
		// Into its own subtree.
		return unix.EINVAL
	case dstDir && dst.isAncestorOf(d):
		// Over a directory that holds the source.
		if exchange {
			return unix.EINVAL
		}
		return unix.ENOTEMPTY
	case dst == src:
		return nil
	case dst != nil && !srcDir && !dstDir && src.ino == dst.ino:
		// Two links to one file: nothing to do.
		return nil
	}
	if dst != nil && !exchange {
		switch {
		case srcDir && !dstDir:
			return unix.ENOTDIR
		case !srcDir && dstDir:
			return unix.EISDIR
		case dstDir:
			if ents, err := dst.merged(ctx); err != nil {
				return err
			} else if len(ents) != 0 {
				return unix.ENOTEMPTY
			}
		}
	}

	if err := d.copyUpLocked(ctx, noLimit); err != nil {
		return err
	}
	if err := nd.copyUpLocked(ctx, noLimit); err != nil {
		return err
	}
	if err := src.copyUpTree(ctx); err != nil {
		return err
	}
	if exchange {
		if err := dst.copyUpTree(ctx); err != nil {
			return err
		}
	}
	whiteout := false
	if !exchange {
		if whiteout, err = d.lowerHas(ctx, oldName); err != nil {
			return err
		}
	}

	pu, npu := d.upper.Load(), nd.upper.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	if nd != d {
		nd.mu.Lock()
		defer nd.mu.Unlock()
	}
	if !exchange {
		if dst == nil {
			// A whiteout may hold the new name.
			if _, wh, err := nd.lookupUpperLocked(newName); err != nil {
				return err
			} else if wh {
				if err := npu.Unlink(sentryCtx, newName); err != nil {
					return err
				}
				defer func() {
					if err != nil {
						npu.Mknod(sentryCtx, newName, whiteoutOpts)
					}
				}()
			}
		} else if du := dst.upper.Load(); dstDir && du != nil {
			dst.mu.Lock()
			err = removeWhiteouts(du)
			dst.mu.Unlock()
			if err != nil {
				return err
			}
		}
	}
	if err = pu.Rename(ctx, oldName, npu, newName, flags&tmpfs.RENAME_EXCHANGE); err != nil {
		return err
	}
	for _, m := range []*Dentry{src, dst} {
		if m == nil || !m.isDir() || (m == dst && !exchange) {
			continue
		}
		// The directory's lower one stays where it was: hide it.
		if err := m.upper.Load().SetXattr(sentryCtx, opaqueXattr, "y", 0); err != nil {
			return err
		}
		m.opaque.Store(true)
	}
	if whiteout {
		if err := pu.Mknod(sentryCtx, oldName, whiteoutOpts); err != nil {
			return err
		}
	}
	delete(d.children, oldName)
	if exchange {
		d.addChildLocked(oldName, dst)
		dst.link.Store(&link{name: oldName, parent: d})
	} else if dst != nil {
		dst.deleted.Store(true)
	}
	nd.addChildLocked(newName, src)
	src.link.Store(&link{name: newName, parent: nd})
	return nil
}

// MknodSocket makes a socket node called name that leads to ep, for
// bind(2) of a unix socket, as tmpfs's does (EEXIST if the name is
// taken). SocketEndpoint returns ep.
func (d *Dentry) MknodSocket(ctx context.Context, name string, o vfs.CreateOptions, ep any) (vfs.Dentry, error) {
	c, err := d.create(ctx, name, func(pu *tmpfs.Dentry) error {
		_, err := pu.MknodSocket(ctx, name, o, ep)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// SocketEndpoint returns what MknodSocket attached to a socket node: nil
// for one made by mknod(2) or found in the lower layer.
func (d *Dentry) SocketEndpoint() any {
	if u := d.upper.Load(); u != nil {
		return u.SocketEndpoint()
	}
	return nil
}

// Tmpfile makes an unnamed regular file in directory d and opens it, as
// open(2) with O_TMPFILE does; mnt is the mount d was reached through.
// The file lives in the upper layer; unless flags include O_EXCL,
// linkat(2) may give it a name.
func (d *Dentry) Tmpfile(ctx context.Context, mnt *vfs.Mount, flags uint32, o vfs.CreateOptions) (*vfs.FileDescription, error) {
	d.fs.writeMu.Lock()
	err := d.beginChangeLocked(ctx)
	d.fs.writeMu.Unlock()
	if err != nil {
		return nil, err
	}
	tf, err := d.upper.Load().Tmpfile(ctx, mnt, flags, o)
	if err != nil {
		return nil, err
	}
	// The description must name an overlay dentry (for fstat and
	// linkat): open the upper file again through one.
	defer tf.DecRef()
	u := tf.Dentry().(*tmpfs.Dentry)
	c := d.fs.newDentry(d, u.Name(), u, nil, d.fs.upperIno(u.Ino()))
	c.deleted.Store(true)
	return u.Open(ctx, vfs.VirtualDentry{Mount: mnt, Dentry: c}, flags&^(unix.O_TRUNC|unix.O_CREAT|unix.O_EXCL))
}
