package gofer

import (
	"context"

	"golang.org/x/sys/unix"

	"palisade.dev/gofer/protocol"
	"palisade.dev/sentry/vfs"
)

// capFSETID is CAP_FSETID.
const capFSETID = 4

// writableDir returns the FID of the directory d, for a change to its
// entries: EROFS if the tree is read-only, ENOENT if d was removed.
func (d *dentry) writableDir() (protocol.FID, error) {
	if !d.fs.writable {
		return 0, unix.EROFS
	}
	if d.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return 0, unix.ENOTDIR
	}
	fid := d.getFID()
	if fid == 0 || d.deleted.Load() {
		return 0, unix.ENOENT
	}
	return fid, nil
}

// owner returns the owner and mode of a new node of type typ in the
// directory d: the caller's filesystem IDs, except that a set-group-ID
// directory gives its group to what is made in it, and its set-group-ID
// bit to new directories (Linux's inode_init_owner).
func (d *dentry) owner(o vfs.CreateOptions, typ uint32) (uid, gid, mode uint32) {
	mode = o.Mode &^ vfs.S_IFMT
	if o.Creds != nil {
		uid, gid = o.Creds.FSUID, o.Creds.FSGID
	}
	d.inode().mu.Lock()
	dirMode, dirGID := d.inode().attr.Mode, d.inode().attr.GID
	d.inode().mu.Unlock()
	if dirMode&unix.S_ISGID != 0 {
		gid = dirGID
		if typ == vfs.S_IFDIR {
			mode |= unix.S_ISGID
		}
	}
	if typ != vfs.S_IFDIR && mode&unix.S_ISGID != 0 && o.Creds != nil &&
		!o.Creds.InGroup(gid) && o.Creds.FSGID != gid && !o.Creds.HasCapability(capFSETID) {
		mode &^= unix.S_ISGID
	}
	return uid, gid, mode
}

// addChild records the node just made as name in d and returns its
// dentry. A dentry cached for name before is of a file that is gone.
func (d *dentry) addChild(fid protocol.FID, attr protocol.Attr, name string) *dentry {
	c := d.fs.newDentry(fid, attr, name, d)
	d.mu.Lock()
	old := d.children[name]
	if d.children == nil {
		d.children = make(map[string]*dentry)
	}
	d.children[name] = c
	d.mu.Unlock()
	if old != nil {
		old.markDeleted()
	}
	d.inode().mu.Lock()
	if attr.Mode&vfs.S_IFMT == vfs.S_IFDIR {
		d.inode().attr.Nlink++
	}
	d.inode().touchLocked(true)
	d.inode().mu.Unlock()
	return c
}

// Create implements vfs.DirWriter.Create. The gofer opens the new file for
// reading and writing; the descriptor waits for the open that follows.
func (d *dentry) Create(ctx context.Context, name string, o vfs.CreateOptions) (vfs.Dentry, error) {
	fid, err := d.writableDir()
	if err != nil {
		return nil, err
	}
	uid, gid, mode := d.owner(o, vfs.S_IFREG)
	cfid, attr, fd, err := d.fs.client.Create(fid, name, unix.O_RDWR, mode, uid, gid)
	if err != nil {
		return nil, err
	}
	c := d.addChild(cfid, attr, name)
	c.mu.Lock()
	c.pendingFD = fd
	c.mu.Unlock()
	return c, nil
}

// Mkdir implements vfs.DirWriter.Mkdir.
func (d *dentry) Mkdir(ctx context.Context, name string, o vfs.CreateOptions) error {
	fid, err := d.writableDir()
	if err != nil {
		return err
	}
	uid, gid, mode := d.owner(o, vfs.S_IFDIR)
	cfid, attr, err := d.fs.client.Mkdir(fid, name, mode, uid, gid)
	if err != nil {
		return err
	}
	d.addChild(cfid, attr, name)
	return nil
}

// Mknod implements vfs.DirWriter.Mknod.
func (d *dentry) Mknod(ctx context.Context, name string, o vfs.CreateOptions) error {
	fid, err := d.writableDir()
	if err != nil {
		return err
	}
	typ := o.Mode & vfs.S_IFMT
	switch typ {
	case vfs.S_IFIFO, vfs.S_IFSOCK, vfs.S_IFCHR, vfs.S_IFBLK:
	default:
		return unix.EINVAL
	}
	uid, gid, mode := d.owner(o, typ)
	cfid, attr, err := d.fs.client.Mknod(fid, name, typ|mode, o.Dev, uid, gid)
	if err != nil {
		return err
	}
	d.addChild(cfid, attr, name)
	return nil
}

// Symlink implements vfs.DirWriter.Symlink.
func (d *dentry) Symlink(ctx context.Context, name, target string, o vfs.CreateOptions) error {
	fid, err := d.writableDir()
	if err != nil {
		return err
	}
	uid, gid, _ := d.owner(o, vfs.S_IFLNK)
	cfid, attr, err := d.fs.client.Symlink(fid, name, target, uid, gid)
	if err != nil {
		return err
	}
	c := d.addChild(cfid, attr, name)
	c.inode().mu.Lock()
	c.inode().target = &target
	c.inode().mu.Unlock()
	return nil
}

// Link implements vfs.DirWriter.Link.
func (d *dentry) Link(ctx context.Context, name string, target vfs.Dentry) error {
	fid, err := d.writableDir()
	if err != nil {
		return err
	}
	t, ok := target.(*dentry)
	if !ok || t.fs != d.fs {
		return unix.EXDEV
	}
	tfid := t.getFID()
	if tfid == 0 {
		return unix.ENOENT
	}
	cfid, attr, err := d.fs.client.Link(fid, name, tfid)
	if err != nil {
		return err
	}
	// The new dentry shares t's inode, whose link count and change time
	// it brings up to date.
	d.addChild(cfid, attr, name)
	return nil
}

// Unlink implements vfs.DirWriter.Unlink.
func (d *dentry) Unlink(ctx context.Context, name string) error {
	return d.remove(name, 0)
}

// Rmdir implements vfs.DirWriter.Rmdir.
func (d *dentry) Rmdir(ctx context.Context, name string) error {
	return d.remove(name, unix.AT_REMOVEDIR)
}

func (d *dentry) remove(name string, flags uint32) error {
	fid, err := d.writableDir()
	if err != nil {
		return err
	}
	if err := d.fs.client.Unlink(fid, name, flags); err != nil {
		return err
	}
	d.mu.Lock()
	c := d.children[name]
	delete(d.children, name)
	d.mu.Unlock()
	d.inode().mu.Lock()
	if flags&unix.AT_REMOVEDIR != 0 && d.inode().attr.Nlink > 0 {
		d.inode().attr.Nlink--
	}
	d.inode().touchLocked(true)
	d.inode().mu.Unlock()
	if c != nil {
		c.unlinked()
		c.markDeleted()
	}
	return nil
}

// unlinked records that a name of d's inode went. With its last name, an
// idle host descriptor of the file goes too, so that the host frees it.
func (d *dentry) unlinked() {
	in := d.inode()
	in.mu.Lock()
	switch {
	case in.attr.Mode&vfs.S_IFMT == vfs.S_IFDIR:
		in.attr.Nlink = 0
	case in.attr.Nlink > 0:
		in.attr.Nlink--
	}
	in.touchLocked(false)
	in.mu.Unlock()
	in.settle()
}

// markDeleted records that d's name no longer leads to it. Its FID goes
// back now, or when the last file open through it is closed.
func (d *dentry) markDeleted() {
	d.deleted.Store(true)
	d.mu.Lock()
	children := d.children
	d.children = nil
	release := d.opens == 0
	d.mu.Unlock()
	// Entries cached below a removed directory are gone with it.
	for _, c := range children {
		c.markDeleted()
	}
	if release {
		d.release()
	}
}

// release gives back the FID of a deleted dentry, and the descriptor
// Create left for it.
func (d *dentry) release() {
	d.mu.Lock()
	fd := d.pendingFD
	d.pendingFD = -1
	d.mu.Unlock()
	if fd >= 0 {
		unix.Close(fd)
	}
	if fid := protocol.FID(d.fid.Swap(0)); fid != 0 {
		d.fs.client.Clunk(fid)
		d.inode().decRef()
	}
}

// Rename implements vfs.DirWriter.Rename.
func (d *dentry) Rename(ctx context.Context, oldName string, newDir vfs.Dentry, newName string, flags uint32) error {
	nd, ok := newDir.(*dentry)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	ofid, err := d.writableDir()
	if err != nil {
		return err
	}
	nfid, err := nd.writableDir()
	if err != nil {
		return err
	}
	fs := d.fs
	fs.renameMu.Lock()
	defer fs.renameMu.Unlock()
	if err := fs.client.Rename(ofid, oldName, nfid, newName, flags); err != nil {
		return err
	}
	if d == nd && oldName == newName {
		return nil
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0
	d.mu.Lock()
	if nd != d {
		nd.mu.Lock()
	}
	moved, victim := d.children[oldName], nd.children[newName]
	var gone []*dentry
	switch {
	case moved != nil && victim != nil && moved.inode() == victim.inode() && !exchange:
		// Two links of one inode: rename(2) does nothing.
	case !exchange && (moved == nil) != (victim == nil) && mayBeLinked(moved, victim):
		// The uncached name may have been another link of the cached
		// one's inode, which the host would have left alone: forget
		// both names and let lookups ask again.
		delete(d.children, oldName)
		delete(nd.children, newName)
	default:
		delete(d.children, oldName)
		delete(nd.children, newName)
		if moved != nil {
			moved.parent, moved.name = nd, newName
			nd.setChildLocked(newName, moved)
		}
		if victim != nil {
			if exchange {
				victim.parent, victim.name = d, oldName
				d.setChildLocked(oldName, victim)
			} else {
				gone = append(gone, victim)
			}
		}
	}
	if nd != d {
		nd.mu.Unlock()
	}
	d.mu.Unlock()

	// A directory moved to another parent takes its ".." with it (both
	// ways for an exchange); one replaced takes its parent's link away.
	isDir := func(c *dentry) bool { return c != nil && c.Mode()&vfs.S_IFMT == vfs.S_IFDIR }
	var shift int // links going from d to nd
	if nd != d {
		if isDir(moved) {
			shift++
		}
		if exchange && isDir(victim) {
			shift--
		}
	}
	addLinks := func(n uint64, delta int) uint64 {
		if delta < 0 && n < uint64(-delta) {
			return 0
		}
		return uint64(int64(n) + int64(delta))
	}
	d.inode().mu.Lock()
	d.inode().touchLocked(true)
	d.inode().attr.Nlink = addLinks(d.inode().attr.Nlink, -shift)
	d.inode().mu.Unlock()
	nd.inode().mu.Lock()
	nd.inode().touchLocked(true)
	nd.inode().attr.Nlink = addLinks(nd.inode().attr.Nlink, shift)
	if len(gone) > 0 && isDir(victim) {
		nd.inode().attr.Nlink = addLinks(nd.inode().attr.Nlink, -1)
	}
	nd.inode().mu.Unlock()
	for _, c := range []*dentry{moved, victim} {
		if c != nil {
			c.inode().mu.Lock()
			c.inode().touchLocked(false)
			c.inode().mu.Unlock()
		}
	}
	for _, c := range gone {
		c.unlinked()
		c.markDeleted()
	}
	return nil
}

// setChildLocked records c as the child name of d.
//
// Preconditions: d.mu is held.
func (d *dentry) setChildLocked(name string, c *dentry) {
	if d.children == nil {
		d.children = make(map[string]*dentry)
	}
	d.children[name] = c
}

// mayBeLinked reports whether the one of a and b that is not nil is a
// non-directory with other links.
func mayBeLinked(a, b *dentry) bool {
	c := a
	if c == nil {
		c = b
	}
	return c.Mode()&vfs.S_IFMT != vfs.S_IFDIR && c.nlink() > 1
}

// nlink returns the link count of d's inode.
func (d *dentry) nlink() uint64 {
	d.inode().mu.Lock()
	defer d.inode().mu.Unlock()
	return d.inode().attr.Nlink
}
