package proc

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/synth"
	"palisade.dev/sentry/vfs"
)

// The sandbox has one namespace of each kind. /proc/[pid]/ns shows them
// as Linux does: magic links whose text is "type:[inode]", leading to
// files of nsfs with those inode numbers, so that tools comparing
// namespaces by stat(2) see every task in the same ones.

// nsTypes are the entries of /proc/[pid]/ns, and the namespace each
// names.
var nsTypes = []struct{ name, kind string }{
	{"cgroup", "cgroup"},
	{"ipc", "ipc"},
	{"mnt", "mnt"},
	{"net", "net"},
	{"pid", "pid"},
	{"pid_for_children", "pid"},
	{"time", "time"},
	{"time_for_children", "time"},
	{"user", "user"},
	{"uts", "uts"},
}

// newNSInos chooses the sandbox's namespace inode numbers: consecutive
// numbers from a random base in the range Linux allocates them from
// (above 0xf0000000).
func newNSInos() map[string]uint64 {
	var b [2]byte
	rand.Read(b[:])
	base := uint64(0xf0000000) + 0x1000 + uint64(binary.LittleEndian.Uint16(b[:]))*16
	m := make(map[string]uint64)
	for i, k := range []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"} {
		m[k] = base + uint64(i)
	}
	return m
}

// addNS fills a /proc/[pid]/ns directory.
func (x *target) addNS(d *synth.Dir) {
	p := x.p
	for _, e := range nsTypes {
		kind := e.kind
		file := p.ns.files[kind]
		l := p.fs.NewMagicLink(d, e.name, 0o777, func(ctx context.Context) (string, error) { return file.name, nil },
			func(context.Context) (vfs.VirtualDentry, error) {
				return vfs.VirtualDentry{Mount: p.ns.mount, Dentry: file}, nil
			})
		l.Owner, l.Access = x.owner, x.mayRead
		d.Add(e.name, l)
	}
}

// nsfsMagic is NSFS_MAGIC.
const nsfsMagic = 0x6e736673

// nsFS is the filesystem of namespace files; it is mounted nowhere.
type nsFS struct {
	mount *vfs.Mount
	dev   uint32
	root  nsDentry
	files map[string]*nsDentry
}

// newNSFS returns nsfs with a file for each namespace of inos (kind to
// inode number).
func newNSFS(inos map[string]uint64) *nsFS {
	fs := &nsFS{dev: vfs.NewAnonDev(), files: make(map[string]*nsDentry)}
	fs.root = nsDentry{fs: fs}
	fs.mount = &vfs.Mount{FS: fs, Root: &fs.root, Source: "nsfs"}
	for kind, ino := range inos {
		fs.files[kind] = &nsDentry{fs: fs, name: fmt.Sprintf("%s:[%d]", kind, ino), ino: ino}
	}
	return fs
}

func (*nsFS) Name() string        { return "nsfs" }
func (fs *nsFS) Root() vfs.Dentry { return &fs.root }
func (*nsFS) Statfs(context.Context) (vfs.Statfs, error) {
	return vfs.Statfs{Type: nsfsMagic, Bsize: 4096, Namelen: vfs.NameMax, Frsize: 4096}, nil
}

// nsDentry is a namespace's file (or nsfs's root, with no name).
type nsDentry struct {
	fs   *nsFS
	name string
	ino  uint64
}

func (d *nsDentry) Name() string     { return d.name }
func (*nsDentry) Parent() vfs.Dentry { return nil }
func (*nsDentry) Mode() uint32       { return vfs.S_IFREG | 0o444 }
func (*nsDentry) Lookup(context.Context, string) (vfs.Dentry, error) {
	return nil, unix.ENOTDIR
}
func (d *nsDentry) Stat(context.Context) (vfs.Statx, error) {
	return vfs.Statx{Mask: vfs.STATX_BASIC_STATS, Mode: vfs.S_IFREG | 0o444, Nlink: 1, Ino: d.ino, Blksize: 4096, DevMinor: d.fs.dev}, nil
}
func (*nsDentry) Readlink(context.Context) (string, error) { return "", unix.EINVAL }

// Open opens the namespace file; it can be held (setns(2) is not
// supported) but not read, as in Linux.
func (d *nsDentry) Open(_ context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EACCES
	}
	return vfs.NewFileDescription(nsFile{}, vd, flags), nil
}

type nsFile struct{ vfs.FileDefaults }
