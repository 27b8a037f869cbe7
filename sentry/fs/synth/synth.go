// Package synth builds small synthetic filesystems whose nodes are made by
// the sentry: /dev, /proc and /sys are made of its Dirs, Symlinks and
// Files. Directories may be static (a fixed set of children) and/or
// dynamic (children computed on each lookup, as /proc/[pid] is). A node's
// owner may be computed at each stat, and a node may refuse access (for
// /proc's ptrace rules) beyond what its mode says.
//
// Lock order: Dir.mu, then nothing (generators run without it).
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
	// fileSize is what stat reports as the size of regular files (0 in
	// /proc, a page in /sys, as Linux has it).
	fileSize uint64
}

// NewFS returns a filesystem with an empty root directory.
func NewFS(name string, magic uint64, rootMode uint32) *FS {
	fs := &FS{name: name, magic: magic, dev: vfs.NewAnonDev()}
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

// SetFileSize sets the size stat reports for regular files.
func (fs *FS) SetFileSize(n uint64) { fs.fileSize = n }

// Name implements vfs.Filesystem.Name.
func (fs *FS) Name() string { return fs.name }

// Root implements vfs.Filesystem.Root.
func (fs *FS) Root() vfs.Dentry { return fs.root }

// RootDir returns the root as a *Dir.
func (fs *FS) RootDir() *Dir { return fs.root }

// Dev returns the filesystem's device minor number (major 0).
func (fs *FS) Dev() uint32 { return fs.dev }

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
	made   vfs.Timespec
	// UID and GID own the node, unless Owner is set.
	UID uint32
	GID uint32
	// Owner, if set, computes the owner at each stat.
	Owner func(ctx context.Context) (uid, gid uint32)
	// Access, if set, is asked before the node is opened (and, for a
	// directory, before it is listed or searched); an error refuses.
	Access func(ctx context.Context) error
}

func (fs *FS) node(parent vfs.Dentry, name string, mode uint32) Node {
	now := time.Now()
	return Node{fs: fs, name: name, parent: parent, mode: mode, ino: fs.nextIno.Add(1),
		made: vfs.Timespec{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}}
}

// Name implements vfs.Dentry.Name.
func (n *Node) Name() string { return n.name }

// Parent implements vfs.Dentry.Parent.
func (n *Node) Parent() vfs.Dentry { return n.parent }

// Mode implements vfs.Dentry.Mode.
func (n *Node) Mode() uint32 { return n.mode }

// FS returns the node's filesystem.
func (n *Node) FS() *FS { return n.fs }

// Stat implements vfs.Dentry.Stat.
func (n *Node) Stat(ctx context.Context) (vfs.Statx, error) {
	nlink := uint32(1)
	if n.mode&vfs.S_IFMT == vfs.S_IFDIR {
		nlink = 2
	}
	uid, gid := n.UID, n.GID
	if n.Owner != nil {
		uid, gid = n.Owner(ctx)
	}
	st := vfs.Statx{
		Mask: vfs.STATX_BASIC_STATS, Blksize: 4096, Nlink: nlink, UID: uid, GID: gid,
		Mode: n.mode, Ino: n.ino, Atime: n.made, Mtime: n.made, Ctime: n.made,
		DevMinor: n.fs.dev,
	}
	if n.mode&vfs.S_IFMT == vfs.S_IFREG {
		st.Size = n.fs.fileSize
	}
	return st, nil
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

func (n *Node) access(ctx context.Context) error {
	if n.Access == nil {
		return nil
	}
	return n.Access(ctx)
}

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

// Child returns the static child called name, or nil.
func (d *Dir) Child(name string) vfs.Dentry {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.children[name]
}

// Lookup implements vfs.Dentry.Lookup.
func (d *Dir) Lookup(ctx context.Context, name string) (vfs.Dentry, error) {
	if err := d.access(ctx); err != nil {
		return nil, err
	}
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
	if err := d.access(ctx); err != nil {
		return nil, err
	}
	f := &dirFile{d: d}
	f.DirIter.List = d.list
	return vfs.NewFileDescription(f, vd, flags), nil
}

func (d *Dir) list(ctx context.Context) ([]vfs.Dirent, error) {
	if err := d.access(ctx); err != nil {
		return nil, err
	}
	out := vfs.SelfAndParent(ctx, d)
	d.mu.Lock()
	children := make([]vfs.Dentry, 0, len(d.order))
	for _, name := range d.order {
		children = append(children, d.children[name])
	}
	names := append([]string(nil), d.order...)
	d.mu.Unlock()
	for i, c := range children {
		st, _ := c.Stat(ctx)
		out = append(out, vfs.Dirent{Name: names[i], Ino: st.Ino, Type: vfs.DirentType(c.Mode())})
	}
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
func (s *Symlink) Readlink(ctx context.Context) (string, error) {
	if err := s.access(ctx); err != nil {
		return "", err
	}
	return s.target(ctx)
}

// Stat implements vfs.Dentry.Stat: the size is the target's length.
func (s *Symlink) Stat(ctx context.Context) (vfs.Statx, error) {
	st, _ := s.Node.Stat(ctx)
	if s.access(ctx) == nil {
		if t, err := s.target(ctx); err == nil {
			st.Size = uint64(len(t))
		}
	}
	return st, nil
}

// MagicLink is a symlink that leads to an object rather than to the path
// its text names (see vfs.MagicLink): /proc/[pid]/fd/N, cwd, root, exe.
type MagicLink struct {
	Symlink
	follow func(ctx context.Context) (vfs.VirtualDentry, error)
}

var _ vfs.MagicLink = (*MagicLink)(nil)

// NewMagicLink returns a magic link with permission bits perm, whose
// readlink text target computes and which leads where follow says.
func (fs *FS) NewMagicLink(parent vfs.Dentry, name string, perm uint32, target func(ctx context.Context) (string, error), follow func(ctx context.Context) (vfs.VirtualDentry, error)) *MagicLink {
	l := &MagicLink{Symlink: Symlink{Node: fs.node(parent, name, vfs.S_IFLNK|perm&0o777), target: target}, follow: follow}
	return l
}

// Follow implements vfs.MagicLink.Follow.
func (l *MagicLink) Follow(ctx context.Context) (vfs.VirtualDentry, error) {
	if err := l.access(ctx); err != nil {
		return vfs.VirtualDentry{}, err
	}
	return l.follow(ctx)
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
	if err := f.access(ctx); err != nil {
		return nil, err
	}
	impl, err := f.open(ctx, f, flags)
	if err != nil {
		return nil, err
	}
	return vfs.NewFileDescription(impl, vd, flags), nil
}

// DataFile is an open file whose contents were generated at open, and
// whose writes, if it takes any, go to a function each.
type DataFile struct {
	vfs.FileDefaults
	node  vfs.Dentry
	data  []byte
	off   int64
	write func(ctx context.Context, src []byte) (int, error)
}

// NewDataFile returns a regular read-only file whose contents gen makes
// at each open (writes fail with EINVAL).
func (fs *FS) NewDataFile(parent vfs.Dentry, name string, perm uint32, gen func(ctx context.Context) ([]byte, error)) *File {
	return fs.NewRWFile(parent, name, perm, gen, nil)
}

// NewRWFile returns a regular file whose contents gen makes at each open
// for reading, and each of whose writes calls write with the bytes
// written, which it may parse as a whole (as /proc's files do). With a
// nil write, writes fail with EINVAL (opening for writing is up to the
// mode, as in Linux); with a nil gen, opens for reading fail with EACCES.
func (fs *FS) NewRWFile(parent vfs.Dentry, name string, perm uint32, gen func(ctx context.Context) ([]byte, error), write func(ctx context.Context, src []byte) (int, error)) *File {
	return fs.NewFile(parent, name, vfs.S_IFREG|perm, func(ctx context.Context, f *File, flags uint32) (vfs.FileImpl, error) {
		acc := flags & unix.O_ACCMODE
		if acc != unix.O_WRONLY && gen == nil {
			return nil, unix.EACCES
		}
		df := &DataFile{node: f, write: write}
		if acc != unix.O_WRONLY {
			data, err := gen(ctx)
			if err != nil {
				return nil, err
			}
			df.data = data
		}
		return df, nil
	})
}

// PRead implements vfs.FileImpl.PRead.
func (f *DataFile) PRead(ctx context.Context, dst []byte, off int64) (int, error) {
	if off >= int64(len(f.data)) {
		return 0, nil
	}
	return copy(dst, f.data[off:]), nil
}

// Read implements vfs.FileImpl.Read.
func (f *DataFile) Read(ctx context.Context, dst []byte) (int, error) {
	n, err := f.PRead(ctx, dst, f.off)
	f.off += int64(n)
	return n, err
}

// Write implements vfs.FileImpl.Write.
func (f *DataFile) Write(ctx context.Context, src []byte) (int, error) {
	if f.write == nil {
		return 0, unix.EINVAL
	}
	n, err := f.write(ctx, src)
	if n > 0 {
		f.off += int64(n)
	}
	return n, err
}

// PWrite implements vfs.FileImpl.PWrite: the offset means nothing to a
// generated file.
func (f *DataFile) PWrite(ctx context.Context, src []byte, _ int64) (int, error) {
	if f.write == nil {
		return 0, unix.EINVAL
	}
	return f.write(ctx, src)
}

// Seek implements vfs.FileImpl.Seek.
func (f *DataFile) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	n, err := vfs.SeekRegular(f.off, int64(len(f.data)), off, whence)
	if err == nil {
		f.off = n
	}
	return n, err
}

// Stat implements vfs.Stater.
func (f *DataFile) Stat(ctx context.Context) (vfs.Statx, error) {
	return f.node.Stat(ctx)
}

// SortDirents sorts entries by name (for stable dynamic listings).
func SortDirents(d []vfs.Dirent) {
	sort.Slice(d, func(i, j int) bool { return d[i].Name < d[j].Name })
}
