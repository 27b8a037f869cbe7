package epoll

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
)

// NewAnonFile returns a description of impl on the anonymous inode, with
// one reference: a file as Linux's anon_inode_getfile makes it, of no file
// type, mode 0600, owned by root, on anon_inodefs, with no name anywhere,
// so that /proc/[pid]/fd shows "anon_inode:" followed by name ("[eventpoll]",
// "[eventfd]"). Every such file shares the one inode, as in Linux.
//
// Epoll needed it first; it belongs in a package of its own (anon_inodefs)
// once signalfd, timerfd and inotify need it too.
func NewAnonFile(impl vfs.FileImpl, name string, flags uint32) *vfs.FileDescription {
	return vfs.NewFileDescription(impl, vfs.VirtualDentry{Mount: mount(), Dentry: &dentry{name: "anon_inode:" + name}}, flags)
}

// anonInodeFSMagic is what fstatfs(2) reports (ANON_INODE_FS_MAGIC).
const anonInodeFSMagic = 0x09041934

// anonIno is the inode number of the anonymous inode.
const anonIno = 1

func anonStat() vfs.Statx {
	return vfs.Statx{Mask: vfs.STATX_BASIC_STATS, Mode: 0o600, Nlink: 1, Ino: anonIno, Blksize: 4096, DevMinor: anonDev()}
}

// dentry is an anonymous file's name, or with no name anon_inodefs's root.
type dentry struct{ name string }

func (d *dentry) Name() string     { return d.name }
func (*dentry) Parent() vfs.Dentry { return nil }
func (*dentry) Mode() uint32       { return 0o600 }
func (*dentry) Lookup(context.Context, string) (vfs.Dentry, error) {
	return nil, unix.ENOTDIR
}
func (*dentry) Stat(context.Context) (vfs.Statx, error)  { return anonStat(), nil }
func (*dentry) Readlink(context.Context) (string, error) { return "", unix.EINVAL }

// Open refuses to reopen an anonymous file (open of /proc/[pid]/fd/N), as
// Linux does.
func (*dentry) Open(context.Context, vfs.VirtualDentry, uint32) (*vfs.FileDescription, error) {
	return nil, unix.ENXIO
}

// anonFS is the filesystem the dentries are on; it is mounted nowhere.
type anonFS struct{ root dentry }

func (*anonFS) Name() string        { return "anon_inodefs" }
func (fs *anonFS) Root() vfs.Dentry { return &fs.root }
func (*anonFS) Statfs(context.Context) (vfs.Statfs, error) {
	return vfs.Statfs{Type: anonInodeFSMagic, Bsize: 4096, Namelen: vfs.NameMax, Frsize: 4096}, nil
}

var (
	anonOnce  sync.Once
	anonMount *vfs.Mount
	anonMinor uint32
)

func mount() *vfs.Mount {
	anonOnce.Do(func() {
		anonMinor = vfs.NewAnonDev()
		fs := &anonFS{}
		anonMount = &vfs.Mount{FS: fs, Root: fs.Root(), Source: "anon_inodefs"}
	})
	return anonMount
}

func anonDev() uint32 {
	mount()
	return anonMinor
}
