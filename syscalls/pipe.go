package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/pipe"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

func init() {
	full(unix.SYS_PIPE, Pipe, Ptr)
	partial(unix.SYS_PIPE2, Pipe2, "O_NOTIFICATION_PIPE (watch queues) is ENOPKG, as on a kernel built without them", Ptr, Hex)
}

// oNotificationPipe is pipe2's O_NOTIFICATION_PIPE (the value of O_EXCL).
const oNotificationPipe = unix.O_EXCL

// Pipe implements Linux syscall pipe(2).
func Pipe(t *kernel.Task, a args) (uintptr, error) {
	return 0, pipe2(t, a[0].Pointer(), 0)
}

// Pipe2 implements Linux syscall pipe2(2).
func Pipe2(t *kernel.Task, a args) (uintptr, error) {
	return 0, pipe2(t, a[0].Pointer(), a[1].Uint())
}

func pipe2(t *kernel.Task, addr uintptr, flags uint32) error {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT|oNotificationPipe) != 0 {
		return unix.EINVAL
	}
	if flags&oNotificationPipe != 0 {
		return unix.ENOPKG
	}
	c := t.Credentials()
	r, w := pipe.NewFiles(c.FSUID, c.FSGID, flags)
	defer r.DecRef()
	defer w.DecRef()
	cloexec := flags&unix.O_CLOEXEC != 0
	fdt := t.FDTable()
	rfd, err := fdt.NewFD(0, r, cloexec, nofile(t))
	if err != nil {
		return err
	}
	wfd, err := fdt.NewFD(0, w, cloexec, nofile(t))
	if err != nil {
		closeFD(t, rfd)
		return err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(rfd))
	binary.LittleEndian.PutUint32(b[4:], uint32(wfd))
	if _, err := t.CopyOut(addr, b[:]); err != nil {
		closeFD(t, rfd)
		closeFD(t, wfd)
		return err
	}
	return nil
}

// closeFD undoes the installation of a descriptor.
func closeFD(t *kernel.Task, fd int) {
	if f := t.FDTable().Remove(fd); f != nil {
		f.DecRef()
	}
}

// pipeSizer is a file whose capacity fcntl(F_GETPIPE_SZ, F_SETPIPE_SZ)
// reads and sets: a pipe end.
type pipeSizer interface {
	PipeSize() int64
	SetPipeSize(size uint64, privileged bool) (int64, error)
}

// pipeFcntl implements fcntl's F_GETPIPE_SZ and F_SETPIPE_SZ; files that
// aren't pipes are EBADF, as in Linux.
func pipeFcntl(t *kernel.Task, f *vfs.FileDescription, cmd int32, arg uint64) (uintptr, error) {
	p, ok := f.Impl().(pipeSizer)
	if !ok {
		return 0, unix.EBADF
	}
	if cmd == unix.F_GETPIPE_SZ {
		return uintptr(p.PipeSize()), nil
	}
	n, err := p.SetPipeSize(arg, t.Credentials().HasCapability(unix.CAP_SYS_RESOURCE))
	return uintptr(n), err
}
