// Package host wraps host file descriptors the sandbox was given (the
// container's stdio) as sentry files. The sentry reads and writes them
// itself on the application's behalf; of the terminal ioctls only a fixed
// set is served, by the sentry querying or setting its own host FD.
package host

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fdnotifier"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// File is a host FD as a sentry file. Reads and writes of files that
// aren't regular never block on the host: they return EAGAIN unless the
// host FD is ready, and the system call waits on the file's queue, which
// fdnotifier fills, so a waiting task can be interrupted.
type File struct {
	vfs.FileDefaults
	hostFD   int
	seekable bool
	isTTY    bool
	queue    waiter.Queue
	// polled is true when fdnotifier watches the FD; false for files that
	// are always ready.
	polled bool
}

// NewFile wraps hostFD, taking ownership of it.
func NewFile(hostFD int) (*File, uint32, error) {
	var st unix.Stat_t
	if err := unix.Fstat(hostFD, &st); err != nil {
		return nil, 0, err
	}
	fl, err := unix.FcntlInt(uintptr(hostFD), unix.F_GETFL, 0)
	if err != nil {
		return nil, 0, err
	}
	f := &File{hostFD: hostFD, seekable: st.Mode&unix.S_IFMT == unix.S_IFREG}
	if _, err := unix.IoctlGetTermios(hostFD, unix.TCGETS); err == nil {
		f.isTTY = true
	}
	if !f.seekable {
		f.polled = fdnotifier.AddFD(int32(hostFD), &f.queue) == nil
	}
	return f, uint32(fl), nil
}

// hostDentry names a host file in /proc/[pid]/fd.
type hostDentry struct {
	name string
	mode uint32
}

func (d *hostDentry) Name() string       { return d.name }
func (d *hostDentry) Parent() vfs.Dentry { return nil }
func (d *hostDentry) Mode() uint32       { return d.mode }
func (d *hostDentry) Lookup(context.Context, string) (vfs.Dentry, error) {
	return nil, unix.ENOTDIR
}
func (d *hostDentry) Stat(context.Context) (vfs.Statx, error)  { return vfs.Statx{Mode: d.mode}, nil }
func (d *hostDentry) Readlink(context.Context) (string, error) { return "", unix.EINVAL }
func (d *hostDentry) Open(context.Context, vfs.VirtualDentry, uint32) (*vfs.FileDescription, error) {
	return nil, unix.ENXIO
}

var (
	hostMountOnce sync.Once
	hostMount     *vfs.Mount
)

type hostFS struct{ root hostDentry }

func (fs *hostFS) Name() string                               { return "host" }
func (fs *hostFS) Root() vfs.Dentry                           { return &fs.root }
func (fs *hostFS) Statfs(context.Context) (vfs.Statfs, error) { return vfs.Statfs{}, nil }

// NewFileDescription returns a file description for hostFD.
func NewFileDescription(hostFD int) (*vfs.FileDescription, error) {
	f, flags, err := NewFile(hostFD)
	if err != nil {
		return nil, err
	}
	hostMountOnce.Do(func() {
		hostMount = &vfs.Mount{FS: &hostFS{root: hostDentry{name: "host", mode: vfs.S_IFDIR}}}
	})
	var st unix.Stat_t
	unix.Fstat(hostFD, &st)
	name := fmt.Sprintf("host:[%d]", st.Ino)
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFIFO:
		name = fmt.Sprintf("pipe:[%d]", st.Ino)
	case st.Mode&unix.S_IFMT == unix.S_IFSOCK:
		name = fmt.Sprintf("socket:[%d]", st.Ino)
	case f.isTTY:
		name = "/dev/console"
	}
	vd := vfs.VirtualDentry{Mount: hostMount, Dentry: &hostDentry{name: name, mode: st.Mode}}
	return vfs.NewFileDescription(f, vd, flags&^unix.O_NONBLOCK), nil
}

// Release implements vfs.FileImpl.Release.
func (f *File) Release() {
	if f.polled {
		fdnotifier.RemoveFD(int32(f.hostFD))
	}
	unix.Close(f.hostFD)
}

// Readiness implements waiter.Waitable.Readiness.
func (f *File) Readiness(mask waiter.EventMask) waiter.EventMask {
	if !f.polled {
		return mask
	}
	return fdnotifier.Readiness(int32(f.hostFD), mask)
}

// EventRegister implements waiter.Waitable.EventRegister.
func (f *File) EventRegister(e *waiter.Entry) { f.queue.EventRegister(e) }

// EventUnregister implements waiter.Waitable.EventUnregister.
func (f *File) EventUnregister(e *waiter.Entry) { f.queue.EventUnregister(e) }

// pipeBuf is the most a write may transfer after POLLOUT without risking
// blocking (PIPE_BUF).
const pipeBuf = 4096

func retryEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// Read implements vfs.FileImpl.Read.
func (f *File) Read(ctx context.Context, dst []byte) (int, error) {
	if f.polled && f.Readiness(waiter.ReadableEvents) == 0 {
		return 0, unix.EAGAIN
	}
	n, err := retryEINTR(func() (int, error) { return unix.Read(f.hostFD, dst) })
	if n < 0 {
		n = 0
	}
	return n, err
}

// Write implements vfs.FileImpl.Write. For a pipe or terminal it writes
// while the host says there is room, PIPE_BUF bytes at a time, and returns
// what it wrote (EAGAIN if nothing), so it never blocks on the host.
func (f *File) Write(ctx context.Context, src []byte) (int, error) {
	total := 0
	for total < len(src) {
		chunk := src[total:]
		if f.polled {
			if f.Readiness(waiter.WritableEvents) == 0 {
				if total > 0 {
					return total, nil
				}
				return 0, unix.EAGAIN
			}
			if len(chunk) > pipeBuf {
				chunk = chunk[:pipeBuf]
			}
		}
		n, err := retryEINTR(func() (int, error) { return unix.Write(f.hostFD, chunk) })
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		total += n
	}
	return total, nil
}

// PRead implements vfs.FileImpl.PRead.
func (f *File) PRead(ctx context.Context, dst []byte, off int64) (int, error) {
	if !f.seekable {
		return 0, unix.ESPIPE
	}
	return retryEINTR(func() (int, error) { return unix.Pread(f.hostFD, dst, off) })
}

// PWrite implements vfs.FileImpl.PWrite.
func (f *File) PWrite(ctx context.Context, src []byte, off int64) (int, error) {
	if !f.seekable {
		return 0, unix.ESPIPE
	}
	return retryEINTR(func() (int, error) { return unix.Pwrite(f.hostFD, src, off) })
}

// Seek implements vfs.FileImpl.Seek.
func (f *File) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	if !f.seekable {
		return 0, unix.ESPIPE
	}
	return unix.Seek(f.hostFD, off, whence)
}

// Stat implements vfs.FileImpl.Stat.
func (f *File) Stat(ctx context.Context) (vfs.Statx, error) {
	var st unix.Stat_t
	if err := unix.Fstat(f.hostFD, &st); err != nil {
		return vfs.Statx{}, err
	}
	return vfs.Statx{
		Mask: vfs.STATX_BASIC_STATS, Blksize: uint32(st.Blksize), Nlink: uint32(st.Nlink),
		UID: st.Uid, GID: st.Gid, Mode: st.Mode, Ino: st.Ino, Size: uint64(st.Size),
		Blocks:    uint64(st.Blocks),
		Atime:     vfs.Timespec{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec},
		Mtime:     vfs.Timespec{Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec},
		Ctime:     vfs.Timespec{Sec: st.Ctim.Sec, Nsec: st.Ctim.Nsec},
		RdevMajor: unix.Major(st.Rdev), RdevMinor: unix.Minor(st.Rdev),
		DevMinor: 1,
	}, nil
}

// Terminal ioctls the sentry serves for host TTYs.
const (
	TCGETS     = 0x5401
	TCSETS     = 0x5402
	TCSETSW    = 0x5403
	TCSETSF    = 0x5404
	TIOCGWINSZ = 0x5413
	TIOCSWINSZ = 0x5414

	termiosSize = 36 // struct termios (the kernel's, without speeds)
	winsizeSize = 8
)

// Ioctl implements vfs.FileImpl.Ioctl.
func (f *File) Ioctl(ctx context.Context, mem vfs.UserMemory, cmd uint32, arg uintptr) (uintptr, error) {
	if !f.isTTY {
		return 0, unix.ENOTTY
	}
	var size int
	var get bool
	switch cmd {
	case TCGETS:
		size, get = termiosSize, true
	case TCSETS, TCSETSW, TCSETSF:
		size = termiosSize
	case TIOCGWINSZ:
		size, get = winsizeSize, true
	case TIOCSWINSZ:
		size = winsizeSize
	default:
		return 0, unix.ENOTTY
	}
	buf := make([]byte, 64)
	if !get {
		if _, err := mem.CopyIn(arg, buf[:size]); err != nil {
			return 0, err
		}
	}
	if err := hostIoctl(f.hostFD, cmd, buf); err != nil {
		return 0, err
	}
	if get {
		if _, err := mem.CopyOut(arg, buf[:size]); err != nil {
			return 0, err
		}
	}
	return 0, nil
}
