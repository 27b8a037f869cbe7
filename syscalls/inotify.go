package syscalls

import (
	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/inotify"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

func init() {
	full(unix.SYS_INOTIFY_INIT, InotifyInit)
	full(unix.SYS_INOTIFY_INIT1, InotifyInit1, Hex)
	partial(unix.SYS_INOTIFY_ADD_WATCH, InotifyAddWatch, "IN_DELETE_SELF comes at the last unlink, not the last close; IN_UNMOUNT is never sent", FD, Path, Hex)
	full(unix.SYS_INOTIFY_RM_WATCH, InotifyRmWatch, FD, Int)
}

// InotifyInit implements inotify_init(2).
func InotifyInit(t *kernel.Task, a args) (uintptr, error) { return inotifyInit(t, 0) }

// InotifyInit1 implements inotify_init1(2).
func InotifyInit1(t *kernel.Task, a args) (uintptr, error) { return inotifyInit(t, a[0].Uint()) }

func inotifyInit(t *kernel.Task, flags uint32) (uintptr, error) {
	if flags&^(inotify.IN_NONBLOCK|inotify.IN_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	f := inotify.New(flags)
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, flags&inotify.IN_CLOEXEC != 0, nofile(t))
	return uintptr(fd), err
}

// inotifyOf returns the instance fd refers to.
func inotifyOf(t *kernel.Task, fd int32) (*inotify.Inotify, *vfs.FileDescription, error) {
	f, err := getFile(t, fd)
	if err != nil {
		return nil, nil, err
	}
	in, ok := f.Impl().(*inotify.Inotify)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return in, f, nil
}

// InotifyAddWatch implements inotify_add_watch(2).
func InotifyAddWatch(t *kernel.Task, a args) (uintptr, error) {
	mask := a[2].Uint()
	in, f, err := inotifyOf(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if mask&inotify.IN_ALL_EVENTS == 0 {
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, a[1].Pointer())
	if err != nil {
		return 0, err
	}
	vd, err := t.Resolve(unix.AT_FDCWD, path, mask&inotify.IN_DONT_FOLLOW == 0)
	if err != nil {
		return 0, err
	}
	if mask&inotify.IN_ONLYDIR != 0 && vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return 0, unix.ENOTDIR
	}
	st, err := vd.Dentry.Stat(t)
	if err != nil {
		return 0, err
	}
	if !mayAccessAs(t, st, 4) {
		return 0, unix.EACCES
	}
	wd, err := in.AddWatch(vd.Dentry, mask)
	return uintptr(wd), err
}

// InotifyRmWatch implements inotify_rm_watch(2).
func InotifyRmWatch(t *kernel.Task, a args) (uintptr, error) {
	in, f, err := inotifyOf(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, in.RemoveWatch(a[1].Int())
}
