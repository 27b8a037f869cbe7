package syscalls

import (
	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

// No filesystem supports extended attributes yet: the calls check their
// arguments and target, then fail as Linux does for such a filesystem
// (EOPNOTSUPP), or with EROFS for changes on a read-only mount.
func init() {
	const note = "no filesystem supports extended attributes yet (EOPNOTSUPP)"
	for _, nr := range []uintptr{unix.SYS_GETXATTR, unix.SYS_LGETXATTR, unix.SYS_SETXATTR, unix.SYS_LSETXATTR, unix.SYS_REMOVEXATTR, unix.SYS_LREMOVEXATTR} {
		follow := nr == unix.SYS_GETXATTR || nr == unix.SYS_SETXATTR || nr == unix.SYS_REMOVEXATTR
		set := nr == unix.SYS_SETXATTR || nr == unix.SYS_LSETXATTR || nr == unix.SYS_REMOVEXATTR || nr == unix.SYS_LREMOVEXATTR
		partial(nr, xattrPath(follow, true, set), note, Path, Path, Ptr, Int)
	}
	for _, nr := range []uintptr{unix.SYS_LISTXATTR, unix.SYS_LLISTXATTR} {
		partial(nr, xattrPath(nr == unix.SYS_LISTXATTR, false, false), note, Path, Ptr, Int)
	}
	for _, nr := range []uintptr{unix.SYS_FGETXATTR, unix.SYS_FSETXATTR, unix.SYS_FREMOVEXATTR} {
		partial(nr, xattrFD(true, nr != unix.SYS_FGETXATTR), note, FD, Path, Ptr, Int)
	}
	partial(unix.SYS_FLISTXATTR, xattrFD(false, false), note, FD, Ptr, Int)
}

// checkXattrName validates an attribute name as Linux does.
func checkXattrName(t *kernel.Task, addr uintptr) error {
	name, err := t.CopyInString(addr, 255)
	if err == unix.ENAMETOOLONG || (err == nil && name == "") {
		return unix.ERANGE
	}
	return err
}

func xattrPath(follow, named, set bool) kernel.SyscallFn {
	return func(t *kernel.Task, a args) (uintptr, error) {
		path, err := copyInPath(t, a[0].Pointer())
		if err != nil {
			return 0, err
		}
		vd, err := t.Resolve(unix.AT_FDCWD, path, follow)
		if err != nil {
			return 0, err
		}
		return xattrAt(t, a, vd, named, set)
	}
}

func xattrFD(named, set bool) kernel.SyscallFn {
	return func(t *kernel.Task, a args) (uintptr, error) {
		f, err := getFile(t, a[0].Int())
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		return xattrAt(t, a, f.VirtualDentry(), named, set)
	}
}

func xattrAt(t *kernel.Task, a args, vd vfs.VirtualDentry, named, set bool) (uintptr, error) {
	if named {
		if err := checkXattrName(t, a[1].Pointer()); err != nil {
			return 0, err
		}
	}
	if set && vd.Mount != nil && vd.Mount.ReadOnly {
		return 0, unix.EROFS
	}
	return 0, unix.EOPNOTSUPP
}
