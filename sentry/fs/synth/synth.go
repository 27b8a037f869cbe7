// Package synth builds small synthetic filesystems whose nodes are made by
// the sentry: /dev and /proc are made of its Dirs, Symlinks and Files.
// Directories may be static (a fixed set of children) and/or dynamic
// (children computed on each lookup, as /proc/[pid] is).
package synth

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
)

// FS is a synthetic filesystem.
type FS struct {
	name    string
	magic   uint64
	dev     uint32
	nextIno atomic.Uint64
	root    *Dir
	created vfs.Timespec
}

// NewFS returns a filesystem with an empty root directory.
func NewFS(name string, magic uint64, rootMode uint32) *FS {
	now := time.Now()
	fs := &FS{name: name, magic: magic, dev: vfs.NewAnonDev(), created: vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}}
	fs.nextIno.Store(1)
	fs.root = fs.NewDir(nil, "", rootMode, nil)
	return fs
}

// NewFSDynamic returns a filesystem whose root has computed children.
func NewFSDynamic(name string, magic uint64, rootMode uint32, dyn Dynamic) *FS {
	fs := NewFS(name, magic, rootMode)
	fs.root.dynamic = dyn
	return fs
}

// Name implements vfs.Filesystem.Name.
func (fs *FS) Name() string { return fs.name }

// Root implements vfs.Filesystem.Root.
func (fs *FS) Root() vfs.Dentry { return fs.root }

// RootDir returns the root as a *Dir.
func (fs *FS) RootDir() *Dir { return fs.root }

// Statfs implements vfs.Filesystem.Statfs.
func (fs *FS) Statfs(context.Context) (vfs.Statfs, error) {
	return vfs.Statfs{Type: fs.magic, Bsize: 4096, Namelen: vfs.NameMax, Frsize: 4096}, nil
}

// Node holds what every synthetic dentry has.
type Node struct {
	fs     *FS
	name   string
	parent vfs.Dentry
	mode   uint32
	ino    uint64
	UID    uint32
	GID    uint32
}

func (fs *FS) node(parent vfs.Dentry, name string, mode uint32) Node {
	return Node{fs: fs, name: name, parent: parent, mode: mode, ino: fs.nextIno.Add(1)}
}

// Name implements vfs.Dentry.Name.
func (n *Node) Name() string { return n.name }

// Parent implements vfs.Dentry.Parent.
func (n *Node) Parent() vfs.Dentry { return n.parent }

// Mode implements vfs.Dentry.Mode.
func (n *Node) Mode() uint32 { return n.mode }

// Stat implements vfs.Dentry.Stat.
func (n *Node) Stat(context.Context) (vfs.Statx, error) {
	nlink := uint32(1)
	if n.mode&vfs.S_IFMT == vfs.S_IFDIR {
		nlink = 2
	}
	return vfs.Statx{
		Mask: vfs.STATX_BASIC_STATS, Blksize: 4096, Nlink: nlink, UID: n.UID, GID: n.GID,
		Mode: n.mode, Ino: n.ino, Atime: n.fs.created, Mtime: n.fs.created, Ctime: n.fs.created,
		DevMinor: n.fs.dev,
	}, nil
}

// Lookup implements vfs.Dentry.Lookup for non-directories.
func (n *Node) Lookup(context.Context, string) (vfs.Dentry, error) { return nil, unix.ENOTDIR }

// Readlink implements vfs.Dentry.Readlink for non-symlinks.
func (n *Node) Readlink(context.Context) (string, error) { return "", unix.EINVAL }

// Open implements vfs.Dentry.Open for nodes that can't be opened.
func (n *Node) Open(context.Context, vfs.VirtualDentry, uint32) (*vfs.FileDescription, error) {
	return nil, unix.ENXIO
}

// Ino returns the node's inode number.
func (n *Node) Ino() uint64 { return n.ino }

// Dynamic supplies the computed children of a directory.
type Dynamic interface {
	Lookup(ctx context.Context, parent *Dir, name string) (vfs.Dentry, error)
	// List returns the names and types of the computed children.
	List(ctx context.Context, parent *Dir) ([]vfs.Dirent, error)
}

// Dir is a synthetic directory.
type Dir struct {
	Node
	dynamic Dynamic

	mu       sync.Mutex
	children map[string]vfs.Dentry
	order    []string
}

// NewDir returns a directory; dyn may be nil.
func (fs *FS) NewDir(parent vfs.Dentry, name string, mode uint32, dyn Dynamic) *Dir {
	return &Dir{Node: fs.node(parent, name, vfs.S_IFDIR|mode&^vfs.S_IFMT), dynamic: dyn, children: map[string]vfs.Dentry{}}
}

// FS returns the directory's filesystem.
func (d *Dir) FS() *FS { return d.fs }

// Add adds a static child.
func (d *Dir) Add(name string, child vfs.Dentry) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.children[name]; !ok {
		d.order = append(d.order, name)
	}
	d.children[name] = child
}

// Subdir adds and returns a static subdirectory.
func (d *Dir) Subdir(name string, mode uint32, dyn Dynamic) *Dir {
	c := d.fs.NewDir(d, name, mode, dyn)
	d.Add(name, c)
	return c
}

// Lookup implements vfs.Dentry.Lookup.
func (d *Dir) Lookup(ctx context.Context, name string) (vfs.Dentry, error) {
	d.mu.Lock()
	c, ok := d.children[name]
	d.mu.Unlock()
	if ok {
		return c, nil
	}
	if d.dynamic != nil {
		return d.dynamic.Lookup(ctx, d, name)
	}
	return nil, unix.ENOENT
}

// Open implements vfs.Dentry.Open.
func (d *Dir) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EISDIR
	}
	f := &dirFile{d: d}
	f.DirIter.List = d.list
	return vfs.NewFileDescription(f, vd, flags), nil
}

func (d *Dir) list(ctx context.Context) ([]vfs.Dirent, error) {
	out := vfs.SelfAndParent(ctx, d)
	d.mu.Lock()
	for _, name := range d.order {
		c := d.children[name]
		st, _ := c.Stat(ctx)
		out = append(out, vfs.Dirent{Name: name, Ino: st.Ino, Type: vfs.DirentType(c.Mode())})
	}
	d.mu.Unlock()
	if d.dynamic != nil {
		dyn, err := d.dynamic.List(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, dyn...)
	}
	return out, nil
}

type dirFile struct {
	vfs.FileDefaults
	vfs.DirIter
	d *Dir
}

func (f *dirFile) Read(context.Context, []byte) (int, error)         { return 0, unix.EISDIR }
func (f *dirFile) PRead(context.Context, []byte, int64) (int, error) { return 0, unix.EISDIR }
func (f *dirFile) Stat(ctx context.Context) (vfs.Statx, error)       { return f.d.Stat(ctx) }
func (f *dirFile) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	return f.DirIter.Seek(ctx, off, whence)
}
func (f *dirFile) IterDirents(ctx context.Context, cb func(vfs.Dirent) bool) error {
	return f.DirIter.IterDirents(ctx, cb)
}

// Symlink is a synthetic symlink whose target may be computed.
type Symlink struct {
	Node
	target func(ctx context.Context) (string, error)
}

// NewSymlink returns a symlink.
func (fs *FS) NewSymlink(parent vfs.Dentry, name string, target func(ctx context.Context) (string, error)) *Symlink {
	return &Symlink{Node: fs.node(parent, name, vfs.S_IFLNK|0o777), target: target}
}

// StaticTarget returns a target function for a fixed target.
func StaticTarget(t string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return t, nil }
}

// Readlink implements vfs.Dentry.Readlink.
func (s *Symlink) Readlink(ctx context.Context) (string, error) { return s.target(ctx) }

// Stat implements vfs.Dentry.Stat: the size is the target's length.
func (s *Symlink) Stat(ctx context.Context) (vfs.Statx, error) {
	st, _ := s.Node.Stat(ctx)
	if t, err := s.target(ctx); err == nil {
		st.Size = uint64(len(t))
	}
	return st, nil
}

// File is a synthetic non-directory whose open is supplied.
type File struct {
	Node
	open func(ctx context.Context, f *File, flags uint32) (vfs.FileImpl, error)
	rdev [2]uint32
}

// NewFile returns a file whose opens call open.
func (fs *FS) NewFile(parent vfs.Dentry, name string, mode uint32, open func(ctx context.Context, f *File, flags uint32) (vfs.FileImpl, error)) *File {
	return &File{Node: fs.node(parent, name, mode), open: open}
}

// NewCharDev returns a character device node.
func (fs *FS) NewCharDev(parent vfs.Dentry, name string, perm uint32, major, minor uint32, open func(ctx context.Context, f *File, flags uint32) (vfs.FileImpl, error)) *File {
	f := fs.NewFile(parent, name, vfs.S_IFCHR|perm, open)
	f.rdev = [2]uint32{major, minor}
	return f
}

// Stat implements vfs.Dentry.Stat.
func (f *File) Stat(ctx context.Context) (vfs.Statx, error) {
	st, _ := f.Node.Stat(ctx)
	st.RdevMajor, st.RdevMinor = f.rdev[0], f.rdev[1]
	return st, nil
}

// Open implements vfs.Dentry.Open.
func (f *File) Open(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	impl, err := f.open(ctx, f, flags)
	if err != nil {
		return nil, err
	}
	return vfs.NewFileDescription(impl, vd, flags), nil
}

// DataFile is an open file whose contents were generated at open.
type DataFile struct {
	vfs.FileDefaults
	node vfs.Dentry
	data []byte
	off  int64
}

// NewDataFile returns a regular read-only file whose contents gen makes
// at each open.
func (fs *FS) NewDataFile(parent vfs.Dentry, name string, perm uint32, gen func(ctx context.Context) ([]byte, error)) *File {
	return fs.NewFile(parent, name, vfs.S_IFREG|perm, func(ctx context.Context, f *File, flags uint32) (vfs.FileImpl, error) {
		if flags&unix.O_ACCMODE != unix.O_RDONLY {
			return nil, unix.EACCES
		}
		data, err := gen(ctx)
		if err != nil {
			return nil, err
		}
		return &DataFile{node: f, data: data}, nil
	})
}

func (f *DataFile) PRead(ctx context.Context, dst []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, nil
	}
	return copy(dst, f.data[off:]), nil
}

func (f *DataFile) Read(ctx context.Context, dst []byte) (int, error) {
	n, err := f.PRead(ctx, dst, f.off)
	f.off += int64(n)
	return n, err
}

func (f *DataFile) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	n, err := vfs.SeekRegular(f.off, int64(len(f.data)), off, whence)
	if err == nil {
		f.off = n
	}
	return n, err
}

func (f *DataFile) Stat(ctx context.Context) (vfs.Statx, error) {
	st, err := f.node.Stat(ctx)
	st.Size = uint64(len(f.data))
	return st, err
}

// SortDirents sorts entries by name (for stable dynamic listings).
func SortDirents(d []vfs.Dirent) {
	sort.Slice(d, func(i, j int) bool { return d[i].Name < d[j].Name })
}
