package pipe

import (
	"context"
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// FIONREAD is the ioctl that reports the number of unread bytes.
const FIONREAD = 0x541B

// pipefsMagic is what fstatfs(2) reports for a pipe (PIPEFS_MAGIC).
const pipefsMagic = 0x50495045

// end is an open end of a pipe (read, write, or both): what an anonymous
// pipe's File and a named pipe's NamedFile share.
type end struct {
	vfs.FileDefaults
	p           *Pipe
	read, write bool
	// fd is the description this end is the implementation of; a write
	// end consults its O_DIRECT flag (packet mode), which fcntl(F_SETFL)
	// may change.
	fd *vfs.FileDescription
}

// newEnd returns an end of p for the access mode of flags, counted by p.
func newEnd(p *Pipe, flags uint32) end {
	e := end{p: p}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		e.read = true
	case unix.O_WRONLY:
		e.write = true
	default:
		e.read, e.write = true, true
	}
	p.open(e.read, e.write)
	return e
}

// File is one open end of an anonymous pipe (read, write, or both for a
// pipe reopened O_RDWR through /proc/[pid]/fd).
type File struct {
	end
}

// Check that File is what the syscall layer expects.
var (
	_ vfs.FileImpl    = (*File)(nil)
	_ vfs.Stater      = (*File)(nil)
	_ waiter.Waitable = (*File)(nil)
)

// NewFiles creates a pipe owned by uid/gid and returns its read and write
// ends, each with one reference. flags may hold O_NONBLOCK and O_DIRECT,
// which both descriptions get.
func NewFiles(uid, gid uint32, flags uint32) (r, w *vfs.FileDescription) {
	p := New(uid, gid)
	flags &= unix.O_NONBLOCK | unix.O_DIRECT
	return p.Open(unix.O_RDONLY | flags), p.Open(unix.O_WRONLY | flags)
}

// Open returns a new description of an end of p: the access mode of flags
// says which. Opening an anonymous pipe never waits for the other end.
func (p *Pipe) Open(flags uint32) *vfs.FileDescription {
	f := &File{end: newEnd(p, flags)}
	f.fd = vfs.NewFileDescription(f, vfs.VirtualDentry{Mount: mount(), Dentry: &dentry{p: p}}, flags)
	return f.fd
}

// Pipe returns the pipe f is an end of.
func (f *end) Pipe() *Pipe { return f.p }

// Fasync implements vfs.Fasyncer: with O_ASYNC, data arriving signals a
// read end's owner and room freed a write end's.
func (f *end) Fasync() {}

// Release implements vfs.FileImpl.Release.
func (f *File) Release() { f.p.release(f.read, f.write) }

// Read implements vfs.FileImpl.Read.
func (f *end) Read(_ context.Context, dst []byte) (int, error) {
	if !f.read {
		return 0, unix.EBADF
	}
	return f.p.read(dst)
}

// Write implements vfs.FileImpl.Write.
func (f *end) Write(_ context.Context, src []byte) (int, error) {
	if !f.write {
		return 0, unix.EBADF
	}
	packet := f.fd != nil && f.fd.Flags()&unix.O_DIRECT != 0
	return f.p.write(src, packet)
}

// Readiness implements waiter.Waitable.Readiness. Errors and hang-ups are
// reported whatever mask asks for, as poll(2) reports them.
func (f *end) Readiness(mask waiter.EventMask) waiter.EventMask {
	return f.p.readiness(f.read, f.write) & (mask | waiter.EventErr | waiter.EventHUp)
}

// EventRegister implements waiter.Waitable.EventRegister.
func (f *end) EventRegister(e *waiter.Entry) { f.p.queue.EventRegister(e) }

// EventUnregister implements waiter.Waitable.EventUnregister.
func (f *end) EventUnregister(e *waiter.Entry) { f.p.queue.EventUnregister(e) }

// Stat implements vfs.Stater.
func (f *File) Stat(context.Context) (vfs.Statx, error) { return f.p.stat(), nil }

// Ioctl implements vfs.FileImpl.Ioctl: FIONREAD writes the number of
// unread bytes as an int.
func (f *end) Ioctl(_ context.Context, mem vfs.UserMemory, cmd uint32, arg uintptr) (uintptr, error) {
	if cmd != FIONREAD {
		return 0, unix.ENOTTY
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(f.p.Unread()))
	if _, err := mem.CopyOut(arg, b[:]); err != nil {
		return 0, err
	}
	return 0, nil
}

// PipeSize returns the pipe's capacity (F_GETPIPE_SZ).
func (f *end) PipeSize() int64 { return f.p.Size() }

// SetPipeSize changes the pipe's capacity (F_SETPIPE_SZ); see
// Pipe.SetSize.
func (f *end) SetPipeSize(size uint64, privileged bool) (int64, error) {
	return f.p.SetSize(size, privileged)
}

// dentry is a pipe's name: it has no parent, so /proc/[pid]/fd shows it as
// "pipe:[ino]".
type dentry struct{ p *Pipe }

func (d *dentry) Name() string       { return d.p.Name() }
func (d *dentry) Parent() vfs.Dentry { return nil }
func (d *dentry) Mode() uint32       { return vfs.S_IFIFO | 0o600 }
func (d *dentry) Lookup(context.Context, string) (vfs.Dentry, error) {
	return nil, unix.ENOTDIR
}
func (d *dentry) Stat(context.Context) (vfs.Statx, error)  { return d.p.stat(), nil }
func (d *dentry) Readlink(context.Context) (string, error) { return "", unix.EINVAL }

// Open reopens the pipe (open of /proc/[pid]/fd/N), which for an
// anonymous pipe succeeds at once whichever ends are open.
func (d *dentry) Open(_ context.Context, _ vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	return d.p.Open(flags), nil
}

// fs is pipefs, the filesystem every pipe's dentry is on. It is not
// mounted in any namespace.
type fs struct{ root rootDentry }

func (*fs) Name() string       { return "pipefs" }
func (f *fs) Root() vfs.Dentry { return &f.root }
func (*fs) Statfs(context.Context) (vfs.Statfs, error) {
	return vfs.Statfs{Type: pipefsMagic, Bsize: PageSize, Namelen: vfs.NameMax, Frsize: PageSize}, nil
}

// rootDentry is pipefs's root, which holds no names.
type rootDentry struct{}

func (rootDentry) Name() string       { return "" }
func (rootDentry) Parent() vfs.Dentry { return nil }
func (rootDentry) Mode() uint32       { return vfs.S_IFDIR | 0o700 }
func (rootDentry) Lookup(context.Context, string) (vfs.Dentry, error) {
	return nil, unix.ENOENT
}
func (rootDentry) Stat(context.Context) (vfs.Statx, error) {
	return vfs.Statx{Mask: vfs.STATX_BASIC_STATS, Mode: vfs.S_IFDIR | 0o700, Nlink: 2, Ino: 1, DevMinor: dev()}, nil
}
func (rootDentry) Readlink(context.Context) (string, error) { return "", unix.EINVAL }
func (rootDentry) Open(context.Context, vfs.VirtualDentry, uint32) (*vfs.FileDescription, error) {
	return nil, unix.ENXIO
}

var (
	mountOnce sync.Once
	pipeMount *vfs.Mount
)

func mount() *vfs.Mount {
	mountOnce.Do(func() {
		f := &fs{}
		pipeMount = &vfs.Mount{FS: f, Root: f.Root(), Source: "pipefs"}
	})
	return pipeMount
}
