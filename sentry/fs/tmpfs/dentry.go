package tmpfs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/segment"
	"palisade.dev/sentry/vfs"
)

// STATX_BTIME is the statx mask bit of the birth time.
const STATX_BTIME = 0x800

// inode is a file: its attributes and contents, shared by its hard links.
type inode struct {
	fs  *Filesystem
	ino uint64
	// mode is the file type and permission bits. The type never changes;
	// the permission bits change under mu, and are read without it.
	mode atomic.Uint32

	// mu protects the fields below.
	mu    sync.Mutex
	uid   uint32
	gid   uint32
	nlink uint32
	// refs counts open descriptions; mappings counts the mm areas that
	// map a regular file.
	refs, mappings int
	// released is set once the inode's resources are freed.
	released bool
	// linkable marks an O_TMPFILE file that linkat may give a name.
	linkable bool
	// seals are a regular file's F_SEAL_* bits (seals.go);
	// writableMappings counts its shared mappings that may write.
	seals            uint32
	writableMappings int

	atime, mtime, ctime, btime vfs.Timespec
	xattrs                     map[string]string

	// size is a regular file's size, a symlink's target length or a
	// directory's bogus size.
	size uint64
	// pages maps a regular file's page-aligned offsets to memory-file
	// offsets; each page holds one memory-file reference for the file.
	pages segment.Set[uint64, pageOps]
	// allocated is the bytes pages covers.
	allocated uint64
	// trimFrom, if not noTrim, is where pages kept past the end of file
	// by a truncation while mapped start; they go with the last mapping.
	trimFrom uint64

	// target is a symlink's target.
	target string
	// rdev is a device node's number.
	rdevMajor, rdevMinor uint32
	// fifo is a named pipe's state.
	fifo *fifo
	// endpoint is what a bound socket node leads to.
	endpoint any
}

const noTrim = ^uint64(0)

func (fs *Filesystem) newInode(mode, uid, gid uint32) *inode {
	now := fs.now()
	i := &inode{fs: fs, ino: fs.nextIno.Add(1), uid: uid, gid: gid, nlink: 1,
		atime: now, mtime: now, ctime: now, btime: now, trimFrom: noTrim}
	i.mode.Store(mode)
	switch mode & vfs.S_IFMT {
	case vfs.S_IFDIR:
		i.size = 2 * bogoDirentSize
	case vfs.S_IFIFO:
		i.fifo = new(fifo)
	case vfs.S_IFREG:
		// Only memfds created with MFD_ALLOW_SEALING take seals.
		i.seals = F_SEAL_SEAL
	}
	return i
}

func (i *inode) fileType() uint32 { return i.mode.Load() & vfs.S_IFMT }

// touchLocked sets the modification and change times to now.
//
// Preconditions: i.mu is held.
func (i *inode) touchLocked() {
	now := i.fs.now()
	i.mtime, i.ctime = now, now
}

// touchCtimeLocked sets the change time to now.
//
// Preconditions: i.mu is held.
func (i *inode) touchCtimeLocked() { i.ctime = i.fs.now() }

// before reports whether a is earlier than b, or equal.
func notAfter(a, b vfs.Timespec) bool {
	return a.Sec < b.Sec || (a.Sec == b.Sec && a.Nsec <= b.Nsec)
}

// accessedLocked updates the access time as Linux's default relatime
// does: when it is older than the last modification or change, or more
// than a day old.
//
// Preconditions: i.mu is held.
func (i *inode) accessedLocked() {
	now := i.fs.now()
	if notAfter(i.atime, i.mtime) || notAfter(i.atime, i.ctime) || now.Sec-i.atime.Sec >= int64(24*time.Hour/time.Second) {
		i.atime = now
	}
}

// killPrivsLocked clears the set-user-ID bit, and the set-group-ID bit of
// a group-executable file, as a write or truncation by someone without
// CAP_FSETID does.
//
// Preconditions: i.mu is held.
func (i *inode) killPrivsLocked(c *auth.Credentials) {
	m := i.mode.Load()
	if m&(unix.S_ISUID|unix.S_ISGID) == 0 || mayKeepPrivs(c) {
		return
	}
	n := m &^ unix.S_ISUID
	if m&0o010 != 0 {
		n &^= unix.S_ISGID
	}
	if n != m {
		i.mode.Store(n)
		i.touchCtimeLocked()
	}
}

// releaseIfUnusedLocked frees the inode's resources once it has no name,
// no open description and no mapping.
//
// Preconditions: i.mu is held.
func (i *inode) releaseIfUnusedLocked() {
	if i.nlink != 0 || i.refs != 0 || i.mappings != 0 || i.released {
		return
	}
	i.released = true
	i.freePagesLocked(0, noTrim)
	i.xattrs = nil
	i.endpoint = nil
	i.fs.inodes.Add(^uint64(0))
}

// decRef drops an open description's reference.
func (i *inode) decRef() {
	i.mu.Lock()
	i.refs--
	i.releaseIfUnusedLocked()
	i.mu.Unlock()
}

// link is a Dentry's place in the tree.
type link struct {
	name   string
	parent *Dentry
}

// Dentry is a name in a tmpfs directory (or the root). It implements
// vfs.Dentry, and vfs.DirWriter for directories, vfs.Setter, vfs.Xattrs
// and vfs.Deleted.
type Dentry struct {
	fs    *Filesystem
	inode *inode
	// link is the name and parent; it changes only with fs.renameMu held
	// and is read without locks.
	link atomic.Pointer[link]
	// deleted is set when the name is removed.
	deleted atomic.Bool
	// dir is a directory's entries (nil for other files).
	dir *dirData
}

var (
	_ vfs.Dentry    = (*Dentry)(nil)
	_ vfs.DirWriter = (*Dentry)(nil)
	_ vfs.Setter    = (*Dentry)(nil)
	_ vfs.Xattrs    = (*Dentry)(nil)
	_ vfs.Deleted   = (*Dentry)(nil)
)

func (fs *Filesystem) newDentry(i *inode, name string, parent *Dentry) *Dentry {
	d := &Dentry{fs: fs, inode: i}
	d.link.Store(&link{name: name, parent: parent})
	if i.fileType() == vfs.S_IFDIR {
		d.dir = &dirData{entries: make(map[string]*dirent), nextCookie: firstCookie}
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
func (d *Dentry) Mode() uint32 { return d.inode.mode.Load() }

// Ino returns the inode number.
func (d *Dentry) Ino() uint64 { return d.inode.ino }

// IsDeleted implements vfs.Deleted.
func (d *Dentry) IsDeleted() bool { return d.deleted.Load() }

// Stat implements vfs.Dentry.Stat.
func (d *Dentry) Stat(context.Context) (vfs.Statx, error) {
	i := d.inode
	i.mu.Lock()
	defer i.mu.Unlock()
	st := vfs.Statx{
		Mask:      vfs.STATX_BASIC_STATS | STATX_BTIME,
		Blksize:   linux.PageSize,
		Nlink:     i.nlink,
		UID:       i.uid,
		GID:       i.gid,
		Mode:      i.mode.Load(),
		Ino:       i.ino,
		Size:      i.size,
		Atime:     i.atime,
		Btime:     i.btime,
		Ctime:     i.ctime,
		Mtime:     i.mtime,
		RdevMajor: i.rdevMajor,
		RdevMinor: i.rdevMinor,
		DevMinor:  d.fs.dev,
	}
	if i.fileType() == vfs.S_IFREG {
		st.Blocks = i.allocatedLocked() / 512
	}
	return st, nil
}

// Readlink implements vfs.Dentry.Readlink.
func (d *Dentry) Readlink(context.Context) (string, error) {
	i := d.inode
	if i.fileType() != vfs.S_IFLNK {
		return "", unix.EINVAL
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.accessedLocked()
	return i.target, nil
}

// Open implements vfs.Dentry.Open. The system call has resolved the path
// and checked permissions; O_TRUNC truncates a regular file, a FIFO waits
// for its other end as fifo(7) says, and a device node is opened by the
// filesystem's DeviceOpener.
func (d *Dentry) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	i := d.inode
	switch i.fileType() {
	case vfs.S_IFDIR:
		if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&(unix.O_TRUNC|unix.O_CREAT) != 0 {
			return nil, unix.EISDIR
		}
		i.mu.Lock()
		i.refs++
		i.mu.Unlock()
		return vfs.NewFileDescription(&dirFile{d: d}, vd, flags), nil
	case vfs.S_IFREG:
		return d.openRegular(ctx, vd, flags)
	case vfs.S_IFLNK:
		return nil, unix.ELOOP
	case vfs.S_IFIFO:
		return d.openFIFO(ctx, vd, flags)
	case vfs.S_IFCHR, vfs.S_IFBLK:
		if d.fs.opts.Devices == nil {
			return nil, unix.ENXIO
		}
		impl, err := d.fs.opts.Devices(ctx, i.fileType(), i.rdevMajor, i.rdevMinor, flags)
		if err != nil {
			return nil, err
		}
		return vfs.NewFileDescription(impl, vd, flags), nil
	default:
		// Sockets are connected to, not opened.
		return nil, unix.ENXIO
	}
}

// SetStat implements vfs.Setter. The system call has checked that the
// caller may make the change; SetStat applies it. The change time is
// always updated; a size change also updates the modification time unless
// the caller sets it.
func (d *Dentry) SetStat(ctx context.Context, o vfs.SetStatOptions) error {
	i := d.inode
	if o.Mask&vfs.STATX_SIZE != 0 {
		switch i.fileType() {
		case vfs.S_IFREG:
		case vfs.S_IFDIR:
			return unix.EISDIR
		default:
			return unix.EINVAL
		}
		if o.Stat.Size > maxFileSize {
			return unix.EFBIG
		}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	now := i.fs.now()
	if o.Mask&vfs.STATX_MODE != 0 && i.seals&F_SEAL_EXEC != 0 && (i.mode.Load()^o.Stat.Mode)&0o111 != 0 {
		return unix.EPERM
	}
	if o.Mask&vfs.STATX_SIZE != 0 {
		if err := i.sealsAllowSizeLocked(o.Stat.Size); err != nil {
			return err
		}
		i.setSizeLocked(o.Stat.Size)
		i.mtime = now
		i.killPrivsLocked(o.Creds)
	}
	if o.Mask&vfs.STATX_MODE != 0 {
		m := i.mode.Load()
		i.mode.Store(m&vfs.S_IFMT | o.Stat.Mode&0o7777)
	}
	if o.Mask&vfs.STATX_UID != 0 {
		i.uid = o.Stat.UID
	}
	if o.Mask&vfs.STATX_GID != 0 {
		i.gid = o.Stat.GID
	}
	setTime := func(dst *vfs.Timespec, ts vfs.Timespec) {
		switch ts.Nsec {
		case vfs.UTIME_OMIT:
		case vfs.UTIME_NOW:
			*dst = now
		default:
			*dst = ts
		}
	}
	if o.Mask&vfs.STATX_ATIME != 0 {
		setTime(&i.atime, o.Stat.Atime)
	}
	if o.Mask&vfs.STATX_MTIME != 0 {
		setTime(&i.mtime, o.Stat.Mtime)
	}
	if o.Mask&vfs.STATX_CTIME != 0 {
		setTime(&i.ctime, o.Stat.Ctime)
	} else {
		i.ctime = now
	}
	return nil
}
