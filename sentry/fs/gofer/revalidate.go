package gofer

import (
	"golang.org/x/sys/unix"

	"palisade.dev/gofer/protocol"
	"palisade.dev/sentry/vfs"
)

// Revalidation: a tree shared with the host.
//
// A bind mount shows a host directory that the host may change while the
// sandbox runs: an editor or a tool rewrites a file by renaming a new one
// over it, a file or directory is removed, a host write changes a file's
// size and times. A Filesystem made with Options.Revalidate therefore
// trusts none of what it caches about names and attributes:
//
//   - Every path walk through a cached dentry checks it with the gofer,
//     in one round trip (Trevalidate: the name is looked up again from the
//     parent's FID, and its device and inode numbers and type compared).
//     If the name still leads to the same host file, the cached
//     attributes are refreshed with what the gofer found. If the name is
//     gone, the lookup is ENOENT and the dentry is dropped (it is marked
//     deleted, as if the sandbox had removed it). If another file took the
//     name, a new dentry and inode take the old one's place; the old one is
//     marked deleted, and files open through it go on reading and writing
//     the old host file, as on Linux. A name not cached is walked as on
//     any tree (misses are never cached).
//   - stat(2) reads the attributes from the host each time: with fstat of
//     a host descriptor of the inode if there is one (no round trip), or
//     through the gofer. fstat(2) of an open regular file reads them from
//     the file's own descriptor, so a file opened before the host replaced
//     it still reports the old file.
//   - Host descriptors shared by an inode's open files (fdcache.go) are of
//     that inode's host file: a new open after a replacement reaches the
//     new inode through the new dentry and never gets a descriptor of the
//     old file. The descriptors an inode got are checked to be of its file
//     (openHost). Idle descriptors of a file the host removed are closed
//     when its dentry is dropped, so the host can free the file.
//   - Directory listings come from the host whatever the mode: each open
//     and rewinddir(3) lists the directory again.
//
// The root of a tree that is a single file (a bind mount of a file) is the
// mount's root, which a path walk never looks up, and which vfs does not
// let change. So stat(2) and open(2) of such a root ask the gofer to
// follow the root's name (Trevalidate with an empty name, see
// gofer/server.followEntry): if the host replaced the file, the gofer's
// root becomes the new file, and the root dentry gets a new inode for it
// (inp). Files opened before keep the old inode and host file.
//
// The root of a directory tree is never replaced: like a Linux bind mount,
// it stays the directory it was when mounted, wherever the host moves it.
// Mounts made on a dentry that is dropped go with it (unreachable), as
// Linux detaches the mounts of an invalidated mount point.

// isFileRoot reports whether d is the root of a tree that is not a
// directory (a single file).
func (d *dentry) isFileRoot() bool {
	return d == d.fs.root && d.Mode()&vfs.S_IFMT != vfs.S_IFDIR
}

// revalidateChild checks that c, cached as the child name of d, is still
// the host file that name leads to, and returns the dentry for name.
func (d *dentry) revalidateChild(name string, c *dentry) (vfs.Dentry, error) {
	fid := d.getFID()
	if fid == 0 || d.deleted.Load() {
		return nil, unix.ENOENT
	}
	old := c.inode()
	client := d.fs.client
	cfid, attr, err := client.Revalidate(fid, name, old.key.dev, old.key.ino)
	if err == unix.ENOSYS {
		// A gofer that predates Trevalidate: walk again.
		cfid, attr, err = client.Walk(fid, name)
	}
	if err == nil && !sameFile(old, attr) && cfid == 0 {
		// Only a new FID may stand for another file.
		cfid, attr, err = client.Walk(fid, name)
	}
	switch {
	case err == unix.ENOENT:
		d.dropChild(name, c)
		return nil, unix.ENOENT
	case err != nil:
		return nil, err
	}
	if sameFile(old, attr) {
		if cfid != 0 {
			client.Clunk(cfid)
		}
		old.mu.Lock()
		old.setAttrLocked(attr)
		old.mu.Unlock()
		return c, nil
	}
	d.mu.Lock()
	if cur := d.children[name]; cur != c {
		// Changed meanwhile, by the sandbox or another lookup.
		d.mu.Unlock()
		client.Clunk(cfid)
		if cur != nil {
			return cur, nil
		}
		return d.walk(name)
	}
	nc := d.fs.newDentry(cfid, attr, name, d)
	d.children[name] = nc
	d.mu.Unlock()
	c.hostGone()
	return nc, nil
}

// sameFile reports whether attr describes in's host file.
func sameFile(in *inode, attr protocol.Attr) bool {
	return inoKey{attr.Dev, attr.Ino} == in.key && attr.Mode&vfs.S_IFMT == in.mode.Load()&vfs.S_IFMT
}

// dropChild forgets c, the child name of d, whose host file is gone.
func (d *dentry) dropChild(name string, c *dentry) {
	d.mu.Lock()
	if d.children[name] != c {
		d.mu.Unlock()
		return
	}
	delete(d.children, name)
	d.mu.Unlock()
	c.hostGone()
}

// hostGone records that d's name no longer leads to d's host file, which
// the host removed or replaced: d is deleted, and the idle host
// descriptors of its inode go if the host file has no name left.
func (d *dentry) hostGone() {
	in := d.inode()
	d.markDeleted()
	in.dropIfUnlinked()
}

// revalidateRoot checks the root of a tree that is a single file: the
// gofer follows the root's name to the file the host replaced it with, if
// it did, and the root gets that file's inode. The attributes are
// refreshed either way.
func (d *dentry) revalidateRoot() error {
	fid := d.getFID()
	if fid == 0 {
		return unix.ENOENT
	}
	old := d.inode()
	_, attr, err := d.fs.client.Revalidate(fid, "", old.key.dev, old.key.ino)
	if err == unix.ENOSYS {
		attr, err = d.fs.client.Stat(fid)
	}
	if err != nil {
		return err
	}
	if sameFile(old, attr) {
		old.mu.Lock()
		old.setAttrLocked(attr)
		old.mu.Unlock()
		return nil
	}
	// The new inode takes over the reference the root's FID held.
	nin := d.fs.getInode(attr)
	if !d.inp.CompareAndSwap(old, nin) {
		// Another revalidation replaced it first.
		nin.decRef()
		return nil
	}
	old.dropIfUnlinked()
	old.decRef()
	return nil
}

// dropIfUnlinked lets go of in's host descriptors if the host file has no
// name left (the host removed it, or renamed another file over it), so
// that the host can free it: idle ones now, ones in use when the last file
// using them is closed (settleLocked, which goes by the link count). A file
// the host still names elsewhere (a hard link) keeps them for the next
// open through that name.
func (in *inode) dropIfUnlinked() {
	in.fdMu.Lock()
	defer in.fdMu.Unlock()
	fd := in.readFD
	if fd < 0 {
		fd = in.writeFD
	}
	if fd < 0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Nlink > 0 {
		return
	}
	in.mu.Lock()
	in.attr.Nlink = 0
	in.mu.Unlock()
	if in.users > 0 {
		return
	}
	in.fs.cache.remove(in)
	in.dropFDsLocked()
}
