// Package gofer is the sentry's client filesystem for a tree served by a
// gofer process (package gofer/server) over gofer/protocol. The tree is
// read-only for now.
//
// Dentries are cached for the life of the mount with the attributes read
// when they were walked. Regular files are opened through the gofer, which
// donates a host FD per open file; reads go straight to that FD. Files that
// are mapped share a page cache in the memory file. Directories are listed
// through the protocol; the sentry never holds a host directory FD.
//
// Lock order: dentry.mu, then mm.PageCache.mu.
package gofer

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/gofer/protocol"
	"palisade.dev/platform"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// Filesystem is a mounted gofer tree.
type Filesystem struct {
	client *protocol.Client
	mf     *memfile.MemoryFile
	dev    uint32
	root   *dentry
}

var _ vfs.Filesystem = (*Filesystem)(nil)

// New attaches to the gofer behind client.
func New(client *protocol.Client, mf *memfile.MemoryFile) (*Filesystem, error) {
	fid, attr, err := client.Attach()
	if err != nil {
		return nil, err
	}
	fs := &Filesystem{client: client, mf: mf, dev: vfs.NewAnonDev()}
	fs.root = fs.newDentry(fid, attr, "", nil)
	return fs, nil
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "9p" }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Dentry { return fs.root }

// Statfs implements vfs.Filesystem.Statfs.
func (fs *Filesystem) Statfs(ctx context.Context) (vfs.Statfs, error) {
	s, err := fs.client.Statfs(fs.root.fid)
	if err != nil {
		return vfs.Statfs{}, err
	}
	return vfs.Statfs{
		Type:  0x01021997, // V9FS_MAGIC, as gVisor's gofer mounts report
		Bsize: s.Bsize, Blocks: s.Blocks, Bfree: s.Bfree, Bavail: s.Bavail,
		Files: s.Files, Ffree: s.Ffree, Namelen: uint64(s.Namelen), Frsize: s.Frsize,
		Flags: 1, // ST_RDONLY
	}, nil
}

type dentry struct {
	fs     *Filesystem
	fid    protocol.FID
	name   string
	parent *dentry
	attr   protocol.Attr

	mu       sync.Mutex
	children map[string]*dentry
	target   *string
	cache    *mm.PageCache
	cacheFD  int
}

func (fs *Filesystem) newDentry(fid protocol.FID, attr protocol.Attr, name string, parent *dentry) *dentry {
	return &dentry{fs: fs, fid: fid, attr: attr, name: name, parent: parent, cacheFD: -1}
}

func (d *dentry) Name() string { return d.name }

func (d *dentry) Parent() vfs.Dentry {
	if d.parent == nil {
		return nil
	}
	return d.parent
}

func (d *dentry) Mode() uint32 { return d.attr.Mode }

func (d *dentry) Lookup(ctx context.Context, name string) (vfs.Dentry, error) {
	d.mu.Lock()
	if c, ok := d.children[name]; ok {
		d.mu.Unlock()
		return c, nil
	}
	d.mu.Unlock()
	fid, attr, err := d.fs.client.Walk(d.fid, name)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.children[name]; ok {
		// Lost a race with another lookup.
		d.fs.client.Clunk(fid)
		return c, nil
	}
	c := d.fs.newDentry(fid, attr, name, d)
	if d.children == nil {
		d.children = make(map[string]*dentry)
	}
	d.children[name] = c
	return c, nil
}

func (d *dentry) Stat(ctx context.Context) (vfs.Statx, error) {
	a := &d.attr
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
		DevMinor:  d.fs.dev,
	}, nil
}

func (d *dentry) Readlink(ctx context.Context) (string, error) {
	if d.attr.Mode&vfs.S_IFMT != vfs.S_IFLNK {
		return "", unix.EINVAL
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.target != nil {
		return *d.target, nil
	}
	t, err := d.fs.client.Readlink(d.fid)
	if err != nil {
		return "", err
	}
	d.target = &t
	return t, nil
}

// Open implements vfs.Dentry.Open. The checks come in Linux's order
// (may_open, then the read-only filesystem): a symlink is ELOOP whatever
// the flags, a directory opened for writing (or with O_TRUNC or O_CREAT)
// is EISDIR, a regular file opened for writing (or with O_TRUNC) is EROFS.
// O_CREAT alone doesn't fail on a file that exists.
func (d *dentry) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	write := flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0
	switch d.attr.Mode & vfs.S_IFMT {
	case vfs.S_IFDIR:
		if write || flags&unix.O_CREAT != 0 {
			return nil, unix.EISDIR
		}
		f := &dirFile{d: d}
		f.DirIter.List = f.list
		return vfs.NewFileDescription(f, vd, flags), nil
	case vfs.S_IFREG:
		if write {
			return nil, unix.EROFS
		}
		hostFD, err := d.fs.client.Open(d.fid, unix.O_RDONLY)
		if err != nil {
			return nil, err
		}
		return vfs.NewFileDescription(&regularFile{d: d, hostFD: hostFD}, vd, flags), nil
	case vfs.S_IFLNK:
		return nil, unix.ELOOP
	default:
		// Host FIFOs, sockets and device nodes don't reach the sandbox.
		return nil, unix.ENXIO
	}
}

// dirFile is an open directory.
type dirFile struct {
	vfs.FileDefaults
	vfs.DirIter
	d *dentry
}

func (f *dirFile) list(ctx context.Context) ([]vfs.Dirent, error) {
	ents, err := f.d.fs.client.ReadDir(f.d.fid)
	if err != nil {
		return nil, err
	}
	out := vfs.SelfAndParent(ctx, f.d)
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

// regularFile is an open regular file backed by a donated host FD.
type regularFile struct {
	vfs.FileDefaults
	d      *dentry
	hostFD int
	off    int64
}

func (f *regularFile) Release() { unix.Close(f.hostFD) }

func (f *regularFile) PRead(ctx context.Context, dst []byte, off int64) (int, error) {
	total := 0
	for total < len(dst) {
		n, err := unix.Pread(f.hostFD, dst[total:], off+int64(total))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if n == 0 {
			break
		}
		total += n
	}
	return total, nil
}

func (f *regularFile) Read(ctx context.Context, dst []byte) (int, error) {
	n, err := f.PRead(ctx, dst, f.off)
	f.off += int64(n)
	return n, err
}

func (f *regularFile) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	n, err := vfs.SeekRegular(f.off, f.d.attr.Size, off, whence)
	if err == nil {
		f.off = n
	}
	return n, err
}

func (f *regularFile) Stat(ctx context.Context) (vfs.Statx, error) { return f.d.Stat(ctx) }

// ConfigureMMap implements vfs.FileImpl.ConfigureMMap. On success the
// caller holds a mapping reference on the page cache, which MMap takes
// over.
func (f *regularFile) ConfigureMMap(ctx context.Context, opts *mm.MMapOpts) error {
	if !opts.Private && opts.Perms.Write {
		// The tree is read-only: shared mappings can never be written.
		return unix.EACCES
	}
	c, err := f.d.mappedCache(f.hostFD)
	if err != nil {
		return err
	}
	if !opts.Private {
		opts.MaxPerms.Write = false
	}
	opts.MaxPerms = opts.MaxPerms.Intersect(platform.AnyAccess)
	// The caller now holds a mapping reference, which MMap takes over.
	opts.Mappable = c
	return nil
}

// mappedCache returns the dentry's page cache with a mapping reference
// (mm.MappingRefs) for the caller, creating the cache with its own
// duplicate of hostFD. The cache lives while something maps it: when the
// last mapping goes, its pages are freed and its descriptor closed.
func (d *dentry) mappedCache(hostFD int) (*mm.PageCache, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache == nil {
		fd, err := unix.FcntlInt(uintptr(hostFD), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		d.cacheFD = fd
		d.cache = mm.NewPageCache(d.fs.mf, cacheSource{d: d, fd: fd})
		d.cache.SetOnUnmapped(d.releaseCache)
	}
	// Taken under d.mu, so releaseCache can't free the cache in between.
	d.cache.IncMappings()
	return d.cache, nil
}

// releaseCache frees c if it is still the dentry's cache and nothing maps
// it any more.
func (d *dentry) releaseCache(c *mm.PageCache) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache != c || c.Mappings() != 0 {
		return
	}
	c.Release()
	unix.Close(d.cacheFD)
	d.cache, d.cacheFD = nil, -1
}

type cacheSource struct {
	d  *dentry
	fd int
}

func (s cacheSource) ReadAt(dst []byte, off int64) (int, error) {
	total := 0
	for total < len(dst) {
		n, err := unix.Pread(s.fd, dst[total:], off+int64(total))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
		total += n
	}
	return total, nil
}

func (s cacheSource) Size() uint64 { return uint64(s.d.attr.Size) }
