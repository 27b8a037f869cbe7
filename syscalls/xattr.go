package syscalls

import (
	"strings"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

// The extended attribute calls check their arguments, the target and the
// caller's permission as Linux's VFS does, then ask the filesystem (those
// without attributes answer EOPNOTSUPP; changes on a read-only mount are
// EROFS).
func init() {
	const note = "user.* and trusted.* on tmpfs, user.* on host files written through the gofer; others answer EOPNOTSUPP"
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
		if f.IsPath() {
			// The f*xattr calls take descriptors that do I/O only.
			return 0, unix.EBADF
		}
		return xattrAt(t, a, f.VirtualDentry(), named, set)
	}
}

func xattrAt(t *kernel.Task, a args, vd vfs.VirtualDentry, named, set bool) (uintptr, error) {
	var name string
	if named {
		if err := checkXattrName(t, a[1].Pointer()); err != nil {
			return 0, err
		}
		name, _ = t.CopyInString(a[1].Pointer(), 255)
	}
	if set && vd.Mount != nil && vd.Mount.ReadOnly {
		return 0, unix.EROFS
	}
	x, ok := vd.Dentry.(vfs.Xattrs)
	if !ok {
		return 0, unix.EOPNOTSUPP
	}
	nr := t.Arch().SyscallNo()
	switch nr {
	case unix.SYS_GETXATTR, unix.SYS_LGETXATTR, unix.SYS_FGETXATTR:
		size := a[3].Uint64()
		if err := xattrPermission(t, vd, name, false); err != nil {
			return 0, err
		}
		v, err := x.GetXattr(t, name, size)
		if err != nil {
			return 0, err
		}
		if size == 0 {
			return uintptr(len(v)), nil
		}
		if uint64(len(v)) > size {
			return 0, unix.ERANGE
		}
		_, err = t.CopyOut(a[2].Pointer(), []byte(v))
		return uintptr(len(v)), err
	case unix.SYS_SETXATTR, unix.SYS_LSETXATTR, unix.SYS_FSETXATTR:
		size := a[3].Uint64()
		if size > 65536 {
			return 0, unix.E2BIG
		}
		flags := a[4].Uint()
		if flags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
			return 0, unix.EINVAL
		}
		v := make([]byte, size)
		if _, err := t.CopyIn(a[2].Pointer(), v); err != nil {
			return 0, err
		}
		if err := xattrPermission(t, vd, name, true); err != nil {
			return 0, err
		}
		return 0, notified(vd.Dentry, vfs.InAttrib, x.SetXattr(t, name, string(v), flags))
	case unix.SYS_REMOVEXATTR, unix.SYS_LREMOVEXATTR, unix.SYS_FREMOVEXATTR:
		if err := xattrPermission(t, vd, name, true); err != nil {
			return 0, err
		}
		return 0, notified(vd.Dentry, vfs.InAttrib, x.RemoveXattr(t, name))
	default: // list
		size := a[2].Uint64()
		names, err := x.ListXattr(t, size)
		if err != nil {
			return 0, err
		}
		var b []byte
		for _, n := range names {
			b = append(append(b, n...), 0)
		}
		if size == 0 {
			return uintptr(len(b)), nil
		}
		if uint64(len(b)) > size {
			return 0, unix.ERANGE
		}
		_, err = t.CopyOut(a[1].Pointer(), b)
		return uintptr(len(b)), err
	}
}

// xattrPermission applies Linux's rules for reading (change false) or
// changing attribute name of the file at vd, before any filesystem sees
// the call (xattr(7)): trusted.* needs CAP_SYS_ADMIN (and nothing else);
// user.* belongs to regular files and directories, and on a sticky
// directory only its owner (or CAP_FOWNER) changes it; then the file's
// read or write permission decides. Refusals by namespace are EPERM for a
// change and ENODATA for a read, as if there were no such attribute.
func xattrPermission(t *kernel.Task, vd vfs.VirtualDentry, name string, change bool) error {
	st, err := vd.Dentry.Stat(t)
	if err != nil {
		return err
	}
	c := creds(t)
	denied := unix.ENODATA
	if change {
		denied = unix.EPERM
	}
	switch {
	case strings.HasPrefix(name, "security.") || strings.HasPrefix(name, "system."):
		// Left to the filesystem (none keeps them: EOPNOTSUPP).
		return nil
	case strings.HasPrefix(name, "trusted."):
		if !c.HasCapability(auth.CAP_SYS_ADMIN) {
			return denied
		}
		return nil
	case strings.HasPrefix(name, "user."):
		typ := st.Mode & vfs.S_IFMT
		if typ != vfs.S_IFREG && typ != vfs.S_IFDIR {
			return denied
		}
		if change && typ == vfs.S_IFDIR && st.Mode&unix.S_ISVTX != 0 &&
			c.FSUID != st.UID && !c.HasCapability(auth.CAP_FOWNER) {
			return unix.EPERM
		}
	}
	want := uint32(4)
	if change {
		want = 2
	}
	if !mayAccessAs(t, st, want) {
		return unix.EACCES
	}
	return nil
}
