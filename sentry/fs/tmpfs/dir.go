package tmpfs

import (
	"context"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/vfs"
)

// renameat2(2) flags.
const (
	RENAME_NOREPLACE = 1
	RENAME_EXCHANGE  = 2
	RENAME_WHITEOUT  = 4
)

// firstCookie is the directory offset of the first entry after "." (0)
// and ".." (1).
const firstCookie = 2

// dirent is a directory entry. A removed entry stays in the list, with d
// nil, until the list is compacted.
type dirent struct {
	cookie uint64
	name   string
	d      *Dentry
}

// dirData is a directory's entries.
type dirData struct {
	mu sync.Mutex
	// entries maps names to live entries.
	entries map[string]*dirent
	// list holds entries in cookie order, removed ones included.
	list    []*dirent
	removed int
	// nextCookie is the cookie of the next entry added.
	nextCookie uint64
	// dead is set when the directory is removed: nothing may be created
	// in it any more.
	dead bool
}

// addLocked adds name, after every entry already there.
//
// Preconditions: dd.mu is held; name is not present.
func (dd *dirData) addLocked(name string, d *Dentry) {
	e := &dirent{cookie: dd.nextCookie, name: name, d: d}
	dd.nextCookie++
	dd.entries[name] = e
	dd.list = append(dd.list, e)
}

// removeLocked removes name.
//
// Preconditions: dd.mu is held; name is present.
func (dd *dirData) removeLocked(name string) {
	e := dd.entries[name]
	delete(dd.entries, name)
	e.d = nil
	dd.removed++
	if dd.removed > 32 && dd.removed*2 > len(dd.list) {
		live := dd.list[:0]
		for _, e := range dd.list {
			if e.d != nil {
				live = append(live, e)
			}
		}
		clear(dd.list[len(live):])
		dd.list = live
		dd.removed = 0
	}
}

// snapshot returns up to max live entries whose cookies are at least off.
func (dd *dirData) snapshot(off uint64, max int) []vfs.Dirent {
	dd.mu.Lock()
	defer dd.mu.Unlock()
	k := sort.Search(len(dd.list), func(k int) bool { return dd.list[k].cookie >= off })
	var out []vfs.Dirent
	for ; k < len(dd.list) && len(out) < max; k++ {
		e := dd.list[k]
		if e.d == nil {
			continue
		}
		out = append(out, vfs.Dirent{
			Name:    e.name,
			Ino:     e.d.inode.ino,
			Type:    vfs.DirentType(e.d.inode.fileType()),
			NextOff: int64(e.cookie + 1),
		})
	}
	return out
}

// Lookup implements vfs.Dentry.Lookup.
func (d *Dentry) Lookup(_ context.Context, name string) (vfs.Dentry, error) {
	if d.dir == nil {
		return nil, unix.ENOTDIR
	}
	if len(name) > vfs.NameMax {
		return nil, unix.ENAMETOOLONG
	}
	d.dir.mu.Lock()
	defer d.dir.mu.Unlock()
	if e, ok := d.dir.entries[name]; ok {
		return e.d, nil
	}
	return nil, unix.ENOENT
}

// inGroup reports whether c's filesystem group or supplementary groups
// include gid.
func inGroup(c *auth.Credentials, gid uint32) bool {
	if c.FSGID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// newChildInode makes the inode of a new entry of d: owned by the
// creator's filesystem IDs, except that a set-group-ID directory gives
// its group (and to directories its set-group-ID bit).
//
// Preconditions: d.dir.mu is held.
func (d *Dentry) newChildInode(o vfs.CreateOptions, mode uint32) *inode {
	var uid, gid uint32
	if o.Creds != nil {
		uid, gid = o.Creds.FSUID, o.Creds.FSGID
	}
	p := d.inode
	p.mu.Lock()
	pmode, pgid := p.mode.Load(), p.gid
	p.mu.Unlock()
	if pmode&unix.S_ISGID != 0 {
		gid = pgid
		if mode&vfs.S_IFMT == vfs.S_IFDIR {
			mode |= unix.S_ISGID
		} else if mode&(unix.S_ISGID|0o010) == unix.S_ISGID|0o010 && o.Creds != nil &&
			!inGroup(o.Creds, gid) && !o.Creds.HasCapability(capFSETID) {
			mode &^= unix.S_ISGID
		}
	}
	return d.fs.newInode(mode, uid, gid)
}

// create adds a new node called name with the file type and permissions
// of mode; init completes its inode before it becomes visible.
func (d *Dentry) create(o vfs.CreateOptions, name string, mode uint32, init func(*inode)) (*Dentry, error) {
	if d.dir == nil {
		return nil, unix.ENOTDIR
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	d.dir.mu.Lock()
	defer d.dir.mu.Unlock()
	if d.dir.dead {
		return nil, unix.ENOENT
	}
	if _, ok := d.dir.entries[name]; ok {
		return nil, unix.EEXIST
	}
	if err := d.fs.reserveInode(); err != nil {
		return nil, err
	}
	i := d.newChildInode(o, mode)
	if init != nil {
		init(i)
	}
	c := d.fs.newDentry(i, name, d)
	if c.dir != nil {
		i.nlink = 2
	}
	d.dir.addLocked(name, c)
	p := d.inode
	p.mu.Lock()
	p.size += bogoDirentSize
	if c.dir != nil {
		p.nlink++
	}
	p.touchLocked()
	p.mu.Unlock()
	return c, nil
}

// Create implements vfs.DirWriter.Create.
func (d *Dentry) Create(_ context.Context, name string, o vfs.CreateOptions) (vfs.Dentry, error) {
	c, err := d.create(o, name, vfs.S_IFREG|o.Mode&0o7777, nil)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Mkdir implements vfs.DirWriter.Mkdir. As mkdir(2) says, only the
// permission and sticky bits of the mode count (a set-group-ID bit comes
// from the parent).
func (d *Dentry) Mkdir(_ context.Context, name string, o vfs.CreateOptions) error {
	_, err := d.create(o, name, vfs.S_IFDIR|o.Mode&0o1777, nil)
	return err
}

// Mknod implements vfs.DirWriter.Mknod: FIFOs, sockets and device nodes,
// and regular files for a type of S_IFREG or 0.
func (d *Dentry) Mknod(ctx context.Context, name string, o vfs.CreateOptions) error {
	switch o.Mode & vfs.S_IFMT {
	case 0, vfs.S_IFREG:
		_, err := d.Create(ctx, name, o)
		return err
	case vfs.S_IFIFO, vfs.S_IFSOCK:
		_, err := d.create(o, name, o.Mode&(vfs.S_IFMT|0o7777), nil)
		return err
	case vfs.S_IFCHR, vfs.S_IFBLK:
		_, err := d.create(o, name, o.Mode&(vfs.S_IFMT|0o7777), func(i *inode) {
			i.rdevMajor, i.rdevMinor = unix.Major(o.Dev), unix.Minor(o.Dev)
		})
		return err
	case vfs.S_IFDIR:
		return unix.EPERM
	default:
		return unix.EINVAL
	}
}

// MknodSocket makes a socket node called name that leads to ep, for
// bind(2) of a unix socket (EEXIST if the name is taken, which bind
// reports as EADDRINUSE). SocketEndpoint returns ep.
func (d *Dentry) MknodSocket(_ context.Context, name string, o vfs.CreateOptions, ep any) (vfs.Dentry, error) {
	c, err := d.create(o, name, vfs.S_IFSOCK|o.Mode&0o7777, func(i *inode) { i.endpoint = ep })
	if err != nil {
		return nil, err
	}
	return c, nil
}

// SocketEndpoint returns what MknodSocket attached to a socket node: nil
// for a node made by mknod(2), which connect(2) reports as
// ECONNREFUSED.
func (d *Dentry) SocketEndpoint() any {
	i := d.inode
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.endpoint
}

// Symlink implements vfs.DirWriter.Symlink.
func (d *Dentry) Symlink(_ context.Context, name, target string, o vfs.CreateOptions) error {
	switch {
	case target == "":
		return unix.ENOENT
	case len(target) >= vfs.PathMax:
		return unix.ENAMETOOLONG
	}
	_, err := d.create(o, name, vfs.S_IFLNK|0o777, func(i *inode) {
		i.target = target
		i.size = uint64(len(target))
	})
	return err
}

// Link implements vfs.DirWriter.Link.
func (d *Dentry) Link(_ context.Context, name string, target vfs.Dentry) error {
	t, ok := target.(*Dentry)
	if !ok || t.fs != d.fs {
		return unix.EXDEV
	}
	if d.dir == nil {
		return unix.ENOTDIR
	}
	if t.dir != nil {
		return unix.EPERM
	}
	if err := checkName(name); err != nil {
		return err
	}
	d.dir.mu.Lock()
	defer d.dir.mu.Unlock()
	if d.dir.dead {
		return unix.ENOENT
	}
	if _, ok := d.dir.entries[name]; ok {
		return unix.EEXIST
	}
	i := t.inode
	i.mu.Lock()
	if i.nlink == 0 && !i.linkable {
		i.mu.Unlock()
		return unix.ENOENT
	}
	i.nlink++
	i.linkable = false
	i.touchCtimeLocked()
	i.mu.Unlock()
	d.dir.addLocked(name, d.fs.newDentry(i, name, d))
	p := d.inode
	p.mu.Lock()
	p.size += bogoDirentSize
	p.touchLocked()
	p.mu.Unlock()
	return nil
}

// Unlink implements vfs.DirWriter.Unlink.
func (d *Dentry) Unlink(_ context.Context, name string) error {
	if d.dir == nil {
		return unix.ENOTDIR
	}
	switch {
	case len(name) > vfs.NameMax:
		return unix.ENAMETOOLONG
	case name == "." || name == "..":
		return unix.EISDIR
	}
	d.dir.mu.Lock()
	defer d.dir.mu.Unlock()
	e, ok := d.dir.entries[name]
	if !ok {
		return unix.ENOENT
	}
	c := e.d
	if c.dir != nil {
		return unix.EISDIR
	}
	d.removeChildLocked(name, c)
	return nil
}

// Rmdir implements vfs.DirWriter.Rmdir.
func (d *Dentry) Rmdir(_ context.Context, name string) error {
	if d.dir == nil {
		return unix.ENOTDIR
	}
	switch {
	case len(name) > vfs.NameMax:
		return unix.ENAMETOOLONG
	case name == ".":
		return unix.EINVAL
	case name == "..":
		return unix.ENOTEMPTY
	}
	d.dir.mu.Lock()
	defer d.dir.mu.Unlock()
	e, ok := d.dir.entries[name]
	if !ok {
		return unix.ENOENT
	}
	c := e.d
	if c.dir == nil {
		return unix.ENOTDIR
	}
	if err := c.killDir(); err != nil {
		return err
	}
	d.removeChildLocked(name, c)
	return nil
}

// killDir marks the empty directory d removed (ENOTEMPTY if it isn't
// empty).
//
// Preconditions: d's parent's dir.mu is held.
func (d *Dentry) killDir() error {
	d.dir.mu.Lock()
	defer d.dir.mu.Unlock()
	if len(d.dir.entries) != 0 {
		return unix.ENOTEMPTY
	}
	d.dir.dead = true
	return nil
}

// removeChildLocked removes the entry name, which leads to c, and drops
// the link it was (all of a directory's).
//
// Preconditions: d.dir.mu is held; a directory c is dead.
func (d *Dentry) removeChildLocked(name string, c *Dentry) {
	d.dir.removeLocked(name)
	c.deleted.Store(true)
	ci := c.inode
	ci.mu.Lock()
	if c.dir != nil {
		ci.nlink = 0
	} else {
		ci.nlink--
	}
	ci.touchCtimeLocked()
	ci.releaseIfUnusedLocked()
	ci.mu.Unlock()
	p := d.inode
	p.mu.Lock()
	p.size -= bogoDirentSize
	if c.dir != nil {
		p.nlink--
	}
	p.touchLocked()
	p.mu.Unlock()
}

// isAncestorOf reports whether a is d or one of d's ancestors.
//
// Preconditions: fs.renameMu is held.
func (a *Dentry) isAncestorOf(d *Dentry) bool {
	for x := d; x != nil; x = x.parent() {
		if x == a {
			return true
		}
	}
	return false
}

// lockDirs locks the directories a and b (which may be the same) in the
// lock order and returns the function that unlocks them.
//
// Preconditions: fs.renameMu is held.
func lockDirs(a, b *Dentry) func() {
	if a == b {
		a.dir.mu.Lock()
		return a.dir.mu.Unlock
	}
	first, second := a, b
	switch {
	case a.isAncestorOf(b):
	case b.isAncestorOf(a):
		first, second = b, a
	case b.inode.ino < a.inode.ino:
		first, second = b, a
	}
	first.dir.mu.Lock()
	second.dir.mu.Lock()
	return func() {
		second.dir.mu.Unlock()
		first.dir.mu.Unlock()
	}
}

// Rename implements vfs.DirWriter.Rename, with renameat2(2)'s flags and
// errors. A target that exists is replaced in one step: no observer sees
// newName missing. RENAME_WHITEOUT leaves a whiteout (a character device
// 0:0 with no permissions, owned by the caller) at oldName in the same
// step.
func (d *Dentry) Rename(ctx context.Context, oldName string, newDir vfs.Dentry, newName string, flags uint32) error {
	if flags&^(RENAME_NOREPLACE|RENAME_EXCHANGE|RENAME_WHITEOUT) != 0 ||
		flags&RENAME_EXCHANGE != 0 && flags&(RENAME_NOREPLACE|RENAME_WHITEOUT) != 0 {
		return unix.EINVAL
	}
	whiteout := flags&RENAME_WHITEOUT != 0
	nd, ok := newDir.(*Dentry)
	if !ok || nd.fs != d.fs {
		return unix.EXDEV
	}
	if d.dir == nil || nd.dir == nil {
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
	fs.renameMu.Lock()
	defer fs.renameMu.Unlock()
	unlock := lockDirs(d, nd)
	defer unlock()
	if d.dir.dead || nd.dir.dead {
		return unix.ENOENT
	}
	oe, ok := d.dir.entries[oldName]
	if !ok {
		return unix.ENOENT
	}
	src := oe.d
	var dst *Dentry
	if ne, ok := nd.dir.entries[newName]; ok {
		dst = ne.d
	}
	exchange := flags&RENAME_EXCHANGE != 0
	switch {
	case dst != nil && flags&RENAME_NOREPLACE != 0:
		return unix.EEXIST
	case dst == nil && exchange:
		return unix.ENOENT
	case src.dir != nil && src.isAncestorOf(nd):
		// Into its own subtree.
		return unix.EINVAL
	case dst != nil && dst.dir != nil && dst.isAncestorOf(d):
		// Over a directory that holds the source.
		if exchange {
			return unix.EINVAL
		}
		return unix.ENOTEMPTY
	case dst != nil && src.inode == dst.inode:
		// The same entry, or two links to the same file: nothing to do.
		return nil
	}
	if exchange {
		d.exchangeLocked(oldName, src, nd, newName, dst)
		return nil
	}
	if dst != nil {
		switch {
		case src.dir != nil && dst.dir == nil:
			return unix.ENOTDIR
		case src.dir == nil && dst.dir != nil:
			return unix.EISDIR
		}
	}
	if whiteout {
		if err := fs.reserveInode(); err != nil {
			return err
		}
	}
	if dst != nil {
		if dst.dir != nil {
			if err := dst.killDir(); err != nil {
				if whiteout {
					fs.inodes.Add(^uint64(0))
				}
				return err
			}
		}
		nd.removeChildLocked(newName, dst)
	}
	d.dir.removeLocked(oldName)
	nd.dir.addLocked(newName, src)
	src.link.Store(&link{name: newName, parent: nd})
	if whiteout {
		wi := d.newChildInode(vfs.CreateOptions{Creds: credsFrom(ctx)}, vfs.S_IFCHR)
		d.dir.addLocked(oldName, fs.newDentry(wi, oldName, d))
	}

	si := src.inode
	si.mu.Lock()
	si.touchCtimeLocked()
	si.mu.Unlock()
	di, ndi := d.inode, nd.inode
	di.mu.Lock()
	if !whiteout {
		di.size -= bogoDirentSize
	}
	if src.dir != nil {
		di.nlink--
	}
	di.touchLocked()
	di.mu.Unlock()
	ndi.mu.Lock()
	ndi.size += bogoDirentSize
	if src.dir != nil {
		ndi.nlink++
	}
	ndi.touchLocked()
	ndi.mu.Unlock()
	return nil
}

// exchangeLocked swaps the entries d/oldName (src) and nd/newName (dst).
//
// Preconditions: fs.renameMu, d.dir.mu and nd.dir.mu are held.
func (d *Dentry) exchangeLocked(oldName string, src, nd *Dentry, newName string, dst *Dentry) {
	d.dir.entries[oldName].d = dst
	nd.dir.entries[newName].d = src
	src.link.Store(&link{name: newName, parent: nd})
	dst.link.Store(&link{name: oldName, parent: d})
	for _, c := range []*Dentry{src, dst} {
		c.inode.mu.Lock()
		c.inode.touchCtimeLocked()
		c.inode.mu.Unlock()
	}
	// A directory that changes parent moves its ".." link.
	var dn, ndn int
	if d != nd {
		if src.dir != nil {
			dn, ndn = dn-1, ndn+1
		}
		if dst.dir != nil {
			dn, ndn = dn+1, ndn-1
		}
	}
	di, ndi := d.inode, nd.inode
	di.mu.Lock()
	di.nlink = uint32(int(di.nlink) + dn)
	di.touchLocked()
	di.mu.Unlock()
	if nd != d {
		ndi.mu.Lock()
		ndi.nlink = uint32(int(ndi.nlink) + ndn)
		ndi.touchLocked()
		ndi.mu.Unlock()
	}
}

// dirFile is an open directory. Its offset is 0 for ".", 1 for "..", and
// otherwise the cookie of the next entry to return.
type dirFile struct {
	vfs.FileDefaults
	d   *Dentry
	off uint64
}

// Release implements vfs.FileImpl.Release.
func (f *dirFile) Release() { f.d.inode.decRef() }

func (f *dirFile) Read(context.Context, []byte) (int, error)         { return 0, unix.EISDIR }
func (f *dirFile) PRead(context.Context, []byte, int64) (int, error) { return 0, unix.EISDIR }

// IterDirents implements vfs.FileImpl.IterDirents. Entries are taken a
// batch at a time and handed to cb without locks held.
func (f *dirFile) IterDirents(_ context.Context, cb func(vfs.Dirent) bool) error {
	d := f.d
	defer func() {
		d.inode.mu.Lock()
		d.inode.accessedLocked()
		d.inode.mu.Unlock()
	}()
	if f.off == 0 {
		if !cb(vfs.Dirent{Name: ".", Ino: d.inode.ino, Type: vfs.DirentType(vfs.S_IFDIR), NextOff: 1}) {
			return nil
		}
		f.off = 1
	}
	if f.off == 1 {
		pino := d.inode.ino
		if p := d.parent(); p != nil {
			pino = p.inode.ino
		}
		if !cb(vfs.Dirent{Name: "..", Ino: pino, Type: vfs.DirentType(vfs.S_IFDIR), NextOff: firstCookie}) {
			return nil
		}
		f.off = firstCookie
	}
	for {
		batch := d.dir.snapshot(f.off, 128)
		if len(batch) == 0 {
			return nil
		}
		for _, e := range batch {
			if !cb(e) {
				return nil
			}
			f.off = uint64(e.NextOff)
		}
	}
}

// Seek implements vfs.FileImpl.Seek: SEEK_SET to an offset a listing
// returned (or 0) and SEEK_CUR, as Linux's tmpfs allows.
func (f *dirFile) Seek(_ context.Context, off int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off += int64(f.off)
	default:
		return 0, unix.EINVAL
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	f.off = uint64(off)
	return off, nil
}

// Sync implements fsync(2): there is nothing to write back.
func (f *dirFile) Sync(context.Context) error { return nil }
