// Package gofer is the sentry's client filesystem for a tree served by a
// gofer process (package gofer/server) over gofer/protocol. The gofer says
// when attached whether it serves the tree read-write (--overlay=none with
// a writable root); otherwise every change is EROFS.
//
// Dentries are cached for the life of the mount and each holds a FID.
// Dentries that name the same host inode (hard links) share an inode,
// which holds the attributes and, for a regular file, its host descriptors
// and page cache. How far the cache is trusted depends on who else changes
// the tree (Options):
//
//   - Exclusive (the default; the container's root): the sandbox is taken
//     to have the tree to itself. A cached dentry is used again without
//     asking the gofer whether its name still leads to the same file.
//     Attributes are those read when the node was walked, kept up to date
//     by the changes made through this filesystem; after a write to a
//     regular file they are re-read from the host (from a host FD when
//     there is one), and on a writable tree each open reads them again. So
//     a path walk and a stat of cached names need no round trip. Changes
//     that others make to the host tree while the sandbox runs may go
//     unseen: a file the host renamed, replaced or removed keeps the dentry
//     and contents the sandbox saw (a single-file tree whose file the host
//     replaced gives ESTALE on open), and a file's attributes may be stale
//     on a read-only tree (its data, read from the host file, never is).
//   - Shared (Options.Revalidate; bind mounts): every path walk through a
//     cached dentry checks it with the gofer in one round trip, and stat
//     reads attributes from the host, so the sandbox sees the host's
//     renames, replacements, removals and attribute changes
//     (revalidate.go).
//
// Either way, names the host added to a directory are found (misses are
// not cached) and listings are read from the host on each open and
// rewind.
//
// Regular files are opened through the gofer, which donates a host FD;
// reads and writes go straight to it with pread/pwrite (the sentry's own
// I/O on its own descriptor, not an application system call passed
// through). The open files of an inode share its host FDs, which stay
// open for a while after the last of them closes, so that opening a file
// again costs no round trip (fdcache.go). Directories are listed, and
// every change to the tree is made, through the protocol; the sentry never
// opens a host path. FIFOs are the sentry's own pipes (openFIFO).
//
// # Mappings
//
// mm maps only memory-file pages, so a mapped file's pages are copied into
// the memory file: the inode's page cache, shared by every mapping and by
// every open file of the inode. While the cache exists, reads of cached
// ranges come from it and writes go both to the host file and into it, so
// read(2), write(2) and MAP_SHARED mappings in the sandbox all see one
// file. Pages written through a shared writable mapping reach the host file
// on fsync(2), when a description of the file is closed, and when the last
// mapping goes (munmap, exit, exec); mm does not yet tell mappables about
// msync(2), which Sync below is ready for.
//
// Lock order: Filesystem.renameMu, then dentry.mu, then inode.fdMu, then
// inode.mu, then Filesystem.inodesMu and fdCache.mu (leaves);
// mm.MemoryManager.mu comes before inode.mu (Translate and DecMappings are
// called with it held). No code holds two dentry.mu but Rename, which
// holds renameMu for writing, nor two inode.fdMu. The round trip that gets
// a host FD is made with inode.fdMu held, not inode.mu.
package gofer

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/gofer/protocol"
	"palisade.dev/sentry/fs/pipe"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/segment"
	"palisade.dev/sentry/vfs"
)

// Filesystem is a mounted gofer tree.
type Filesystem struct {
	client *protocol.Client
	mf     *memfile.MemoryFile
	dev    uint32
	root   *dentry
	// writable is set if the gofer serves the tree read-write.
	writable bool
	// revalidate is Options.Revalidate.
	revalidate bool

	// renameMu is held for writing by Rename and for reading by whatever
	// reads a dentry's name or parent.
	renameMu sync.RWMutex

	// cache holds the host descriptors of inodes no file uses.
	cache *fdCache
	// hostOpens counts the host descriptors of regular files asked of
	// the gofer.
	hostOpens atomic.Uint64

	inodesMu sync.Mutex
	// inodes holds every inode something pins, by host device and inode
	// number. While it is pinned, the host inode cannot be freed and its
	// number cannot name another file.
	inodes map[inoKey]*inode
}

var _ vfs.Filesystem = (*Filesystem)(nil)

// Options say how a Filesystem uses what it caches.
type Options struct {
	// Revalidate makes the Filesystem share the tree with the host, which
	// may change it while the sandbox runs ("shared" file access, as a
	// bind mount wants): see revalidate.go. Without it, the sandbox is
	// taken to have the tree to itself ("exclusive", the root's default),
	// and cached names and attributes are used without asking.
	Revalidate bool
}

// New attaches to the gofer behind client, with the default Options
// (exclusive access).
func New(client *protocol.Client, mf *memfile.MemoryFile) (*Filesystem, error) {
	return NewWithOptions(client, mf, Options{})
}

// NewWithOptions attaches to the gofer behind client.
func NewWithOptions(client *protocol.Client, mf *memfile.MemoryFile, o Options) (*Filesystem, error) {
	fid, attr, err := client.Attach()
	if err != nil {
		return nil, err
	}
	fs := &Filesystem{client: client, mf: mf, dev: vfs.NewAnonDev(), writable: client.Writable(), revalidate: o.Revalidate, inodes: make(map[inoKey]*inode), cache: defaultFDCache}
	fs.root = fs.newDentry(fid, attr, "", nil)
	return fs, nil
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "9p" }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Dentry { return fs.root }

// Writable reports whether the gofer serves the tree read-write.
func (fs *Filesystem) Writable() bool { return fs.writable }

// Statfs implements vfs.Filesystem.Statfs.
func (fs *Filesystem) Statfs(ctx context.Context) (vfs.Statfs, error) {
	s, err := fs.client.Statfs(fs.root.getFID())
	if err != nil {
		return vfs.Statfs{}, err
	}
	st := vfs.Statfs{
		Type:  0x01021997, // V9FS_MAGIC, as gVisor's gofer mounts report
		Bsize: s.Bsize, Blocks: s.Blocks, Bfree: s.Bfree, Bavail: s.Bavail,
		Files: s.Files, Ffree: s.Ffree, Namelen: uint64(s.Namelen), Frsize: s.Frsize,
	}
	if !fs.writable {
		st.Flags = 1 // ST_RDONLY
	}
	return st, nil
}

// Sync writes every page that a shared writable mapping may have changed
// back to the host files. The sandbox should call it before it goes, for
// mappings of processes still alive then.
func (fs *Filesystem) Sync(ctx context.Context) error {
	fs.inodesMu.Lock()
	ins := make([]*inode, 0, len(fs.inodes))
	for _, in := range fs.inodes {
		ins = append(ins, in)
	}
	fs.inodesMu.Unlock()
	var first error
	for _, in := range ins {
		in.mu.Lock()
		err := in.writebackLocked(0, ^uint64(0))
		in.mu.Unlock()
		if first == nil {
			first = err
		}
	}
	return first
}

// inoKey identifies a host inode.
type inoKey struct{ dev, ino uint64 }

// inode is a host file as the sentry knows it, shared by its dentries.
type inode struct {
	fs  *Filesystem
	key inoKey
	// mode is attr.Mode, readable without mu. The type never changes.
	mode atomic.Uint32
	// refs counts what pins the host inode: dentries that hold a FID,
	// open regular files and the page cache's descriptor. Protected by
	// fs.inodesMu.
	refs int
	// cached is set while the page cache exists (cacheFD >= 0).
	cached atomic.Bool

	// fdMu serialises getting and giving back the host descriptors open
	// regular files share (see fdcache.go), and protects users and
	// idleSince; readFD and writeFD change with fdMu and mu held.
	fdMu sync.Mutex
	// users counts the open regular files that use readFD or writeFD.
	users int
	// idleSince is when the last user went.
	idleSince time.Time
	// lruElem is the inode's place in fs.cache while it is idle there,
	// or nil. Protected by the cache's mu.
	lruElem *list.Element

	// mu protects the fields below.
	mu sync.Mutex
	// attr are the attributes. Mode is kept in mode too.
	attr protocol.Attr
	// stale is set when the host changed attributes (times, blocks) that
	// attr doesn't show yet; Stat reads them again.
	stale bool
	// target caches a symlink's target.
	target *string
	// files are the open regular files of the inode.
	files map[*regularFile]struct{}
	// readFD is the host descriptor, read-only, that read-only opens
	// share, or -1. writeFD is the writable one that opens for writing
	// share, or -1; writeReadable if it reads too (and so serves
	// read-only opens as well).
	readFD, writeFD int
	writeReadable   bool
	// fifo is a named pipe's state, made by its first open.
	fifo *pipe.NamedPipe

	// The page cache of a mapped regular file: pages maps page-aligned
	// file offsets to memory-file offsets, each page holding one
	// memory-file reference for the cache. It exists while mappings > 0.
	pages    segment.Set[uint64, pageOps]
	mappings int
	// cacheFD is the cache's own host descriptor, writable if
	// cacheWritable, or -1.
	cacheFD       int
	cacheWritable bool
	// sharedWrite is set once a shared mapping that may write exists:
	// the cache may then hold changes the host file lacks.
	sharedWrite bool
}

// getInode returns the inode of the host file attr describes, with a
// reference for the caller, refreshing its attributes with attr.
func (fs *Filesystem) getInode(attr protocol.Attr) *inode {
	key := inoKey{attr.Dev, attr.Ino}
	fs.inodesMu.Lock()
	in, ok := fs.inodes[key]
	if !ok {
		in = &inode{fs: fs, key: key, attr: attr, cacheFD: -1, readFD: -1, writeFD: -1}
		in.mode.Store(attr.Mode)
		fs.inodes[key] = in
	}
	in.refs++
	fs.inodesMu.Unlock()
	if ok {
		in.mu.Lock()
		in.setAttrLocked(attr)
		in.mu.Unlock()
	}
	return in
}

// incRef takes a reference on in.
func (in *inode) incRef() {
	in.fs.inodesMu.Lock()
	in.refs++
	in.fs.inodesMu.Unlock()
}

// decRef drops a reference on in; with the last, the inode is forgotten.
func (in *inode) decRef() {
	fs := in.fs
	fs.inodesMu.Lock()
	defer fs.inodesMu.Unlock()
	in.refs--
	if in.refs < 0 {
		panic("gofer: inode reference count below zero")
	}
	if in.refs == 0 && fs.inodes[in.key] == in {
		delete(fs.inodes, in.key)
	}
}

// setAttrLocked replaces the attributes.
//
// Preconditions: in.mu is held.
func (in *inode) setAttrLocked(a protocol.Attr) {
	if in.mappings > 0 && a.Size != in.attr.Size {
		// While mapped, the cache is the file: a size changed behind the
		// sandbox's back would leave it reading stale pages.
		in.resizeLocked(uint64(a.Size))
	}
	in.attr = a
	in.mode.Store(a.Mode)
	in.stale = false
}

// refreshLocked reads the attributes again if they are stale, from a host
// descriptor of the inode if one is open, or through d's FID.
//
// Preconditions: in.mu is held.
func (in *inode) refreshLocked(d *dentry) {
	if !in.stale {
		return
	}
	fd := in.readFD
	if fd < 0 {
		fd = in.writeFD
	}
	if fd < 0 {
		fd = in.cacheFD
	}
	for f := range in.files {
		if fd >= 0 {
			break
		}
		fd = f.hostFD
	}
	if fd >= 0 {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil {
			in.setAttrLocked(attrOfStat(&st))
			return
		}
	}
	if fid := d.getFID(); fid != 0 {
		if a, err := in.fs.client.Stat(fid); err == nil {
			in.setAttrLocked(a)
		}
	}
}

// touchLocked records that the host set the change time, and the
// modification time if mtime, to now (a directory whose entries changed).
//
// Preconditions: in.mu is held.
func (in *inode) touchLocked(mtime bool) {
	now := nowSpec()
	in.attr.Ctime = now
	if mtime {
		in.attr.Mtime = now
	}
}

// attrOfStat converts a host stat to protocol attributes.
func attrOfStat(st *unix.Stat_t) protocol.Attr {
	return protocol.Attr{
		Mode: st.Mode, UID: st.Uid, GID: st.Gid, Nlink: uint64(st.Nlink),
		Size: st.Size, Blocks: st.Blocks, Blksize: int64(st.Blksize),
		Ino: st.Ino, Dev: uint64(st.Dev), Rdev: uint64(st.Rdev),
		Atime: protocol.Timespec{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec},
		Mtime: protocol.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
		Ctime: protocol.Timespec{Sec: st.Ctim.Sec, Nsec: st.Ctim.Nsec},
	}
}

// nowSpec returns the time now, as the host's clock has it.
func nowSpec() protocol.Timespec {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_REALTIME, &ts)
	return protocol.Timespec{Sec: ts.Sec, Nsec: ts.Nsec}
}

type dentry struct {
	fs *Filesystem
	// inp is the dentry's inode. It changes only for the root of a
	// revalidating tree that is a single file, when the host replaced the
	// file (revalidateRoot); read it with inode().
	inp atomic.Pointer[inode]
	// name and parent change only by Rename; read them under
	// fs.renameMu.
	name   string
	parent *dentry

	deleted atomic.Bool
	// fid is the dentry's FID, 0 once released: a deleted dentry gives
	// its FID back when no file is open through it.
	fid atomic.Uint64

	mu       sync.Mutex
	children map[string]*dentry
	// opens counts the regular files open through the dentry.
	opens int
	// pendingFD is the host descriptor Create got with the new file, kept
	// for the open that follows, or -1.
	pendingFD int
}

var (
	_ vfs.Dentry    = (*dentry)(nil)
	_ vfs.DirWriter = (*dentry)(nil)
	_ vfs.Setter    = (*dentry)(nil)
	_ vfs.Xattrs    = (*dentry)(nil)
	_ vfs.Deleted   = (*dentry)(nil)
)

// newDentry returns a dentry for fid, which it takes over.
func (fs *Filesystem) newDentry(fid protocol.FID, attr protocol.Attr, name string, parent *dentry) *dentry {
	d := &dentry{fs: fs, name: name, parent: parent, pendingFD: -1}
	d.inp.Store(fs.getInode(attr))
	d.fid.Store(uint64(fid))
	return d
}

// inode returns the dentry's inode.
func (d *dentry) inode() *inode { return d.inp.Load() }

// getFID returns the dentry's FID, or 0 if it was released.
func (d *dentry) getFID() protocol.FID { return protocol.FID(d.fid.Load()) }

// Name implements vfs.Dentry.Name.
func (d *dentry) Name() string {
	d.fs.renameMu.RLock()
	defer d.fs.renameMu.RUnlock()
	return d.name
}

// Parent implements vfs.Dentry.Parent.
func (d *dentry) Parent() vfs.Dentry {
	d.fs.renameMu.RLock()
	defer d.fs.renameMu.RUnlock()
	if d.parent == nil {
		return nil
	}
	return d.parent
}

// Mode implements vfs.Dentry.Mode.
func (d *dentry) Mode() uint32 { return d.inode().mode.Load() }

// IsDeleted implements vfs.Deleted.
func (d *dentry) IsDeleted() bool { return d.deleted.Load() }

// Lookup implements vfs.Dentry.Lookup. On a revalidating tree, a cached
// child is checked with the host first (revalidateChild).
func (d *dentry) Lookup(ctx context.Context, name string) (vfs.Dentry, error) {
	d.mu.Lock()
	if c, ok := d.children[name]; ok {
		d.mu.Unlock()
		if d.fs.revalidate {
			return d.revalidateChild(name, c)
		}
		return c, nil
	}
	d.mu.Unlock()
	return d.walk(name)
}

// walk looks name up with the gofer and caches its dentry.
func (d *dentry) walk(name string) (vfs.Dentry, error) {
	fid := d.getFID()
	if fid == 0 || d.deleted.Load() {
		return nil, unix.ENOENT
	}
	cfid, attr, err := d.fs.client.Walk(fid, name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	if c, ok := d.children[name]; ok {
		// Lost a race with another lookup.
		d.mu.Unlock()
		d.fs.client.Clunk(cfid)
		return c, nil
	}
	c := d.fs.newDentry(cfid, attr, name, d)
	if d.children == nil {
		d.children = make(map[string]*dentry)
	}
	d.children[name] = c
	d.mu.Unlock()
	return c, nil
}

// Stat implements vfs.Dentry.Stat. On a revalidating tree the attributes
// are read from the host each time (revalidate.go).
func (d *dentry) Stat(ctx context.Context) (vfs.Statx, error) {
	reread := d.fs.revalidate
	if reread && d.isFileRoot() {
		if err := d.revalidateRoot(); err != nil {
			return vfs.Statx{}, err
		}
		reread = false
	}
	in := d.inode()
	in.mu.Lock()
	if reread {
		in.stale = true
	}
	in.refreshLocked(d)
	a := in.attr
	in.mu.Unlock()
	return d.fs.statx(a), nil
}

// statx converts attributes of a node of fs to what stat(2) reports.
func (fs *Filesystem) statx(a protocol.Attr) vfs.Statx {
	return vfs.Statx{
		Mask:    vfs.STATX_BASIC_STATS,
		Blksize: uint32(a.Blksize),
		Nlink:   uint32(a.Nlink),
		UID:     a.UID,
		GID:     a.GID,
		Mode:    a.Mode,
		Ino:     a.Ino,
		Size:    uint64(a.Size),
		Blocks:  uint64(a.Blocks),
		Atime:   vfs.Timespec{Sec: a.Atime.Sec, Nsec: a.Atime.Nsec},
		Mtime:   vfs.Timespec{Sec: a.Mtime.Sec, Nsec: a.Mtime.Nsec},
		Ctime:   vfs.Timespec{Sec: a.Ctime.Sec, Nsec: a.Ctime.Nsec},
		// Device nodes keep their numbers; the filesystem is the sentry's.
		RdevMajor: unix.Major(a.Rdev),
		RdevMinor: unix.Minor(a.Rdev),
		DevMajor:  0,
		DevMinor:  fs.dev,
	}
}

// Readlink implements vfs.Dentry.Readlink.
func (d *dentry) Readlink(ctx context.Context) (string, error) {
	if d.Mode()&vfs.S_IFMT != vfs.S_IFLNK {
		return "", unix.EINVAL
	}
	in := d.inode()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.target != nil {
		return *in.target, nil
	}
	fid := d.getFID()
	if fid == 0 {
		return "", unix.ENOENT
	}
	t, err := d.fs.client.Readlink(fid)
	if err != nil {
		return "", err
	}
	in.target = &t
	return t, nil
}

// Open implements vfs.Dentry.Open. The checks come in Linux's order
// (may_open, then the read-only filesystem): a symlink is ELOOP whatever
// the flags, a directory opened for writing (or with O_TRUNC or O_CREAT)
// is EISDIR, a regular file opened for writing (or with O_TRUNC) on a
// read-only tree is EROFS. O_CREAT alone doesn't fail on a file that
// exists.
//
// On a revalidating tree, the root of a single file follows first the file
// the host may have replaced it with (revalidateRoot); other dentries were
// checked by the walk that found them.
func (d *dentry) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	if !d.fs.revalidate {
		return d.open(ctx, vd, flags)
	}
	if d.isFileRoot() {
		if err := d.revalidateRoot(); err != nil {
			return nil, err
		}
		return d.open(ctx, vd, flags)
	}
	f, err := d.open(ctx, vd, flags)
	for tries := 0; tries < maxReopens && (err == unix.ESTALE || err == unix.ENOENT && d.deleted.Load()); tries++ {
		// The host replaced or removed the file between the walk
		// that found d and this open, and the gofer can't open it
		// any more: open what the name leads to now, as if the walk
		// had come after.
		var nd *dentry
		if nd, err = d.relookup(ctx); err != nil {
			break
		}
		if vd.Dentry == vfs.Dentry(d) {
			vd.Dentry = nd
		}
		d = nd
		f, err = d.open(ctx, vd, flags)
	}
	return f, err
}

// maxReopens bounds how many times an open on a revalidating tree follows
// a name the host keeps replacing before it gives up with ESTALE (or
// ENOENT), as NFS does after its retry.
const maxReopens = 32

// relookup looks d's name up again in its parent.
func (d *dentry) relookup(ctx context.Context) (*dentry, error) {
	d.fs.renameMu.RLock()
	p, name := d.parent, d.name
	d.fs.renameMu.RUnlock()
	if p == nil {
		return nil, unix.ESTALE
	}
	c, err := p.Lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	return c.(*dentry), nil
}

// open is Open once the dentry is known to be the file to open.
func (d *dentry) open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	write := flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0
	switch d.Mode() & vfs.S_IFMT {
	case vfs.S_IFDIR:
		if write || flags&unix.O_CREAT != 0 {
			return nil, unix.EISDIR
		}
		f := &dirFile{d: d}
		f.DirIter.List = f.list
		return vfs.NewFileDescription(f, vd, flags), nil
	case vfs.S_IFREG:
		if write && !d.fs.writable {
			return nil, unix.EROFS
		}
		return d.openRegular(ctx, vd, flags)
	case vfs.S_IFLNK:
		return nil, unix.ELOOP
	case vfs.S_IFIFO:
		return d.openFIFO(ctx, vd, flags)
	default:
		// Host sockets and device nodes don't reach the sandbox.
		return nil, unix.ENXIO
	}
}

// openFIFO opens a named pipe as fifo(7) says (see pipe.NamedPipe.Open).
// The pipe is the sentry's own, one per inode: processes in the sandbox
// talk through it, whichever name of the FIFO each opened, and the host
// FIFO itself is never opened, so processes outside the sandbox don't
// take part. Writing is allowed on a read-only tree, as it is on a
// read-only filesystem. The open file holds a reference on the inode.
func (d *dentry) openFIFO(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	in := d.inode()
	in.mu.Lock()
	if in.fifo == nil {
		in.fifo = new(pipe.NamedPipe)
	}
	np := in.fifo
	in.mu.Unlock()
	if vd.Dentry == nil {
		vd.Dentry = d
	}
	in.incRef()
	return np.Open(ctx, vd, flags, in.decRef)
}

// dirFile is an open directory.
type dirFile struct {
	vfs.FileDefaults
	vfs.DirIter
	d *dentry
}

func (f *dirFile) list(ctx context.Context) ([]vfs.Dirent, error) {
	out := vfs.SelfAndParent(ctx, f.d)
	fid := f.d.getFID()
	if fid == 0 || f.d.deleted.Load() {
		// A removed directory is empty.
		return out, nil
	}
	ents, err := f.d.fs.client.ReadDir(fid)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		out = append(out, vfs.Dirent{Name: e.Name, Ino: e.Ino, Type: e.Type})
	}
	return out, nil
}

func (f *dirFile) Read(context.Context, []byte) (int, error) { return 0, unix.EISDIR }
func (f *dirFile) PRead(context.Context, []byte, int64) (int, error) {
	return 0, unix.EISDIR
}
func (f *dirFile) Stat(ctx context.Context) (vfs.Statx, error) { return f.d.Stat(ctx) }
func (f *dirFile) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	return f.DirIter.Seek(ctx, off, whence)
}
func (f *dirFile) IterDirents(ctx context.Context, cb func(vfs.Dirent) bool) error {
	return f.DirIter.IterDirents(ctx, cb)
}

// Sync implements fsync(2) of a directory: its entries reach the disk.
func (f *dirFile) Sync(ctx context.Context) error {
	if !f.d.fs.writable {
		return nil
	}
	fid := f.d.getFID()
	if fid == 0 {
		return nil
	}
	return f.d.fs.client.Fsync(fid)
}
