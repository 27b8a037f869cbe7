package syscalls

import (
	"context"
	"encoding/binary"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

func init() {
	full(unix.SYS_MKDIR, Mkdir, Path, Oct)
	full(unix.SYS_MKDIRAT, Mkdirat, FD, Path, Oct)
	full(unix.SYS_MKNOD, Mknod, Path, Oct, Hex)
	full(unix.SYS_MKNODAT, Mknodat, FD, Path, Oct, Hex)
	full(unix.SYS_SYMLINK, Symlink, Path, Path)
	full(unix.SYS_SYMLINKAT, Symlinkat, Path, FD, Path)
	full(unix.SYS_LINK, Link, Path, Path)
	full(unix.SYS_LINKAT, Linkat, FD, Path, FD, Path, Hex)
	full(unix.SYS_UNLINK, Unlink, Path)
	full(unix.SYS_UNLINKAT, Unlinkat, FD, Path, Hex)
	full(unix.SYS_RMDIR, Rmdir, Path)
	full(unix.SYS_RENAME, Rename, Path, Path)
	full(unix.SYS_RENAMEAT, Renameat, FD, Path, FD, Path)
	full(unix.SYS_RENAMEAT2, Renameat2, FD, Path, FD, Path, Hex)
	full(unix.SYS_CHMOD, Chmod, Path, Oct)
	full(unix.SYS_FCHMOD, Fchmod, FD, Oct)
	full(unix.SYS_FCHMODAT, Fchmodat, FD, Path, Oct)
	full(unix.SYS_CHOWN, Chown, Path, Int, Int)
	full(unix.SYS_LCHOWN, Lchown, Path, Int, Int)
	full(unix.SYS_FCHOWN, Fchown, FD, Int, Int)
	full(unix.SYS_FCHOWNAT, Fchownat, FD, Path, Int, Int, Hex)
	full(unix.SYS_UTIMENSAT, Utimensat, FD, Path, Ptr, Hex)
	full(unix.SYS_UTIMES, Utimes, Path, Ptr)
	full(unix.SYS_UTIME, Utime, Path, Ptr)
	full(unix.SYS_FUTIMESAT, Futimesat, FD, Path, Ptr)
	full(unix.SYS_TRUNCATE, Truncate, Path, Int)
	full(unix.SYS_FTRUNCATE, Ftruncate, FD, Int)
	partial(unix.SYS_FALLOCATE, Fallocate, "modes the filesystem supports (tmpfs: allocate, keep size, punch hole)", FD, Hex, Int, Int)
	full(unix.SYS_FSYNC, Fsync, FD)
	full(unix.SYS_FDATASYNC, Fsync, FD)
	full(unix.SYS_SYNC, Sync)
	full(unix.SYS_SYNCFS, Syncfs, FD)
	full(unix.SYS_SYNC_FILE_RANGE, SyncFileRange, FD, Int, Int, Hex)
}

// resolveParent splits path into the directory that holds its last
// component (resolved) and that component's name ("" for "/").
func resolveParent(t *kernel.Task, dirfd int32, path string) (vfs.VirtualDentry, string, error) {
	if path == "" {
		return vfs.VirtualDentry{}, "", unix.ENOENT
	}
	trimmed := strings.TrimRight(path, "/")
	if trimmed == "" {
		root, err := t.Resolve(dirfd, "/", true)
		return root, "", err
	}
	dir, name := ".", trimmed
	if i := strings.LastIndexByte(trimmed, '/'); i >= 0 {
		dir, name = trimmed[:i+1], trimmed[i+1:]
	}
	if len(name) > vfs.NameMax {
		return vfs.VirtualDentry{}, "", unix.ENAMETOOLONG
	}
	parent, err := t.Resolve(dirfd, dir, true)
	if err != nil {
		return vfs.VirtualDentry{}, "", err
	}
	if parent.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return vfs.VirtualDentry{}, "", unix.ENOTDIR
	}
	// The last name is looked up in parent too: that takes search
	// permission, whatever the call then does with it.
	if err := vfs.MaySearch(t, parent.Dentry); err != nil {
		return vfs.VirtualDentry{}, "", err
	}
	return parent, name, nil
}

// creds returns the task's credentials.
func creds(t *kernel.Task) *auth.Credentials { return t.Credentials() }

// mayAccessAs checks permission bits for want (r=4 w=2 x=1) with the
// filesystem IDs, as file operations do.
func mayAccessAs(t *kernel.Task, st vfs.Statx, want uint32) bool {
	c := creds(t)
	return mayAccess(st, c.FSUID, c.FSGID, c.InGroup(st.GID), c.HasCapability(auth.CAP_DAC_OVERRIDE), c.HasCapability(auth.CAP_DAC_READ_SEARCH), want)
}

// writableDir returns the directory's writer after the checks every
// change to a directory needs: a writable mount, write and search
// permission.
func writableDir(t *kernel.Task, dir vfs.VirtualDentry) (vfs.DirWriter, error) {
	st, err := dir.Dentry.Stat(t)
	if err != nil {
		return nil, err
	}
	if !mayAccessAs(t, st, 3) {
		return nil, unix.EACCES
	}
	dw, ok := dir.Dentry.(vfs.DirWriter)
	if !ok || dir.Mount.ReadOnly {
		return nil, unix.EROFS
	}
	return dw, nil
}

// stickyAllows applies the sticky-directory rule to removing or replacing
// victim in dir.
func stickyAllows(t *kernel.Task, dir vfs.Dentry, victim vfs.Dentry) bool {
	dst, err := dir.Stat(t)
	if err != nil || dst.Mode&unix.S_ISVTX == 0 {
		return true
	}
	c := creds(t)
	vst, err := victim.Stat(t)
	if err != nil {
		return true
	}
	return c.FSUID == vst.UID || c.FSUID == dst.UID || c.HasCapability(auth.CAP_FOWNER)
}

// createOpts returns the options for a new node with mode (umask applied
// here).
func createOpts(t *kernel.Task, mode uint32, dev uint64) vfs.CreateOptions {
	perm := mode &^ vfs.S_IFMT & 0o7777 &^ t.FSContext().Umask()
	return vfs.CreateOptions{Mode: mode&vfs.S_IFMT | perm, Dev: dev, Creds: creds(t)}
}

// createNamed resolves path for creating a node and returns the directory
// writer and the name; "." and ".." and "/" exist already.
func createNamed(t *kernel.Task, dirfd int32, pathAddr uintptr) (vfs.DirWriter, string, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return nil, "", err
	}
	parent, name, err := resolveParent(t, dirfd, path)
	if err != nil {
		return nil, "", err
	}
	if name == "" || name == "." || name == ".." {
		return nil, "", unix.EEXIST
	}
	if _, err := parent.Dentry.Lookup(t, name); err == nil {
		return nil, "", unix.EEXIST
	}
	dw, err := writableDir(t, parent)
	return dw, name, err
}

// notified reports mask on d if err is nil, and returns err.
func notified(d vfs.Dentry, mask uint32, err error) error {
	if err == nil {
		vfs.NotifyFile(d, mask)
	}
	return err
}

// Mkdir implements mkdir(2).
func Mkdir(t *kernel.Task, a args) (uintptr, error) {
	return mkdirat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Uint())
}

// Mkdirat implements mkdirat(2).
func Mkdirat(t *kernel.Task, a args) (uintptr, error) {
	return mkdirat(t, a[0].Int(), a[1].Pointer(), a[2].Uint())
}

func mkdirat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32) (uintptr, error) {
	dw, name, err := createNamed(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	if err := dw.Mkdir(t, name, createOpts(t, vfs.S_IFDIR|mode&0o7777, 0)); err != nil {
		return 0, err
	}
	vfs.NotifyChild(dw.(vfs.Dentry), vfs.InCreate|vfs.InIsDir, name, nil)
	return 0, nil
}

// Mknod implements mknod(2).
func Mknod(t *kernel.Task, a args) (uintptr, error) {
	return mknodat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Uint(), a[2].Uint64())
}

// Mknodat implements mknodat(2).
func Mknodat(t *kernel.Task, a args) (uintptr, error) {
	return mknodat(t, a[0].Int(), a[1].Pointer(), a[2].Uint(), a[3].Uint64())
}

func mknodat(t *kernel.Task, dirfd int32, pathAddr uintptr, mode uint32, dev uint64) (uintptr, error) {
	// The kernel's argument is an unsigned int: the device number's
	// 32-bit encoding (12-bit major, 20-bit minor).
	dev = uint64(uint32(dev))
	switch mode & vfs.S_IFMT {
	case 0, vfs.S_IFREG, vfs.S_IFIFO, vfs.S_IFSOCK, vfs.S_IFCHR, vfs.S_IFBLK:
	case vfs.S_IFDIR:
		return 0, unix.EPERM
	default:
		return 0, unix.EINVAL
	}
	dw, name, err := createNamed(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	// Devices need CAP_MKNOD, once the name and the directory's
	// permission are found good; a 0:0 character device (a whiteout)
	// does not.
	typ := mode & vfs.S_IFMT
	whiteout := typ == vfs.S_IFCHR && dev == 0
	if (typ == vfs.S_IFCHR || typ == vfs.S_IFBLK) && !whiteout && !creds(t).HasCapability(27) { // CAP_MKNOD
		return 0, unix.EPERM
	}
	if mode&vfs.S_IFMT == 0 || mode&vfs.S_IFMT == vfs.S_IFREG {
		_, err = dw.Create(t, name, createOpts(t, vfs.S_IFREG|mode&0o7777, 0))
		if err == nil {
			vfs.NotifyChild(dw.(vfs.Dentry), vfs.InCreate, name, nil)
		}
		return 0, err
	}
	if err := dw.Mknod(t, name, createOpts(t, mode, uint64(uint32(dev))|(dev>>32)<<32)); err != nil {
		return 0, err
	}
	vfs.NotifyChild(dw.(vfs.Dentry), vfs.InCreate, name, nil)
	return 0, nil
}

// Symlink implements symlink(2).
func Symlink(t *kernel.Task, a args) (uintptr, error) {
	return symlinkat(t, a[0].Pointer(), unix.AT_FDCWD, a[1].Pointer())
}

// Symlinkat implements symlinkat(2).
func Symlinkat(t *kernel.Task, a args) (uintptr, error) {
	return symlinkat(t, a[0].Pointer(), a[1].Int(), a[2].Pointer())
}

func symlinkat(t *kernel.Task, targetAddr uintptr, dirfd int32, pathAddr uintptr) (uintptr, error) {
	target, err := copyInPath(t, targetAddr)
	if err != nil {
		return 0, err
	}
	if target == "" {
		return 0, unix.ENOENT
	}
	dw, name, err := createNamed(t, dirfd, pathAddr)
	if err != nil {
		return 0, err
	}
	if err := dw.Symlink(t, name, target, createOpts(t, vfs.S_IFLNK|0o777, 0)); err != nil {
		return 0, err
	}
	vfs.NotifyChild(dw.(vfs.Dentry), vfs.InCreate, name, nil)
	return 0, nil
}

// Link implements link(2).
func Link(t *kernel.Task, a args) (uintptr, error) {
	return linkat(t, unix.AT_FDCWD, a[0].Pointer(), unix.AT_FDCWD, a[1].Pointer(), 0)
}

// Linkat implements linkat(2).
func Linkat(t *kernel.Task, a args) (uintptr, error) {
	return linkat(t, a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer(), a[4].Int())
}

func linkat(t *kernel.Task, olddirfd int32, oldAddr uintptr, newdirfd int32, newAddr uintptr, flags int32) (uintptr, error) {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	oldPath, err := copyInPath(t, oldAddr)
	if err != nil {
		return 0, err
	}
	var target vfs.VirtualDentry
	if oldPath == "" {
		// Naming a file by descriptor needs CAP_DAC_READ_SEARCH.
		if flags&unix.AT_EMPTY_PATH == 0 || !t.Credentials().HasCapability(auth.CAP_DAC_READ_SEARCH) {
			return 0, unix.ENOENT
		}
		f, err := getFile(t, olddirfd)
		if err != nil {
			return 0, err
		}
		target = f.VirtualDentry()
		f.DecRef()
	} else if target, err = t.Resolve(olddirfd, oldPath, flags&unix.AT_SYMLINK_FOLLOW != 0); err != nil {
		return 0, err
	}
	if target.Dentry.Mode()&vfs.S_IFMT == vfs.S_IFDIR {
		return 0, unix.EPERM
	}
	newPath, err := copyInPath(t, newAddr)
	if err != nil {
		return 0, err
	}
	parent, name, err := resolveParent(t, newdirfd, newPath)
	if err != nil {
		return 0, err
	}
	if name == "" || name == "." || name == ".." {
		return 0, unix.EEXIST
	}
	if _, err := parent.Dentry.Lookup(t, name); err == nil {
		return 0, unix.EEXIST
	}
	if parent.Mount != target.Mount {
		return 0, unix.EXDEV
	}
	dw, err := writableDir(t, parent)
	if err != nil {
		return 0, err
	}
	if err := dw.Link(t, name, target.Dentry); err != nil {
		return 0, err
	}
	vfs.NotifyFile(target.Dentry, vfs.InAttrib)
	vfs.NotifyChild(dw.(vfs.Dentry), vfs.InCreate, name, nil)
	return 0, nil
}

// removeNamed resolves path for removal and checks the parent and the
// sticky rule.
func removeNamed(t *kernel.Task, dirfd int32, pathAddr uintptr, dir bool) (vfs.DirWriter, string, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return nil, "", err
	}
	parent, name, err := resolveParent(t, dirfd, path)
	if err != nil {
		return nil, "", err
	}
	switch {
	case name == "" && dir:
		return nil, "", unix.EBUSY
	case name == "." && dir:
		return nil, "", unix.EINVAL
	case name == ".." && dir:
		return nil, "", unix.ENOTEMPTY
	case name == "" || name == "." || name == "..":
		return nil, "", unix.EISDIR
	}
	if !dir && strings.HasSuffix(path, "/") {
		// unlink("file/"): a trailing slash names a directory.
		if vd, err := t.Resolve(dirfd, path, false); err != nil {
			return nil, "", err
		} else if vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
			return nil, "", unix.ENOTDIR
		}
		return nil, "", unix.EISDIR
	}
	victim, err := parent.Dentry.Lookup(t, name)
	if err != nil {
		return nil, "", err
	}
	dw, err := writableDir(t, parent)
	if err != nil {
		return nil, "", err
	}
	if !stickyAllows(t, parent.Dentry, victim) {
		return nil, "", unix.EPERM
	}
	if t.Kernel().MountNS.IsMountpoint(vfs.VirtualDentry{Mount: parent.Mount, Dentry: victim}) {
		return nil, "", unix.EBUSY
	}
	return dw, name, nil
}

// Unlink implements unlink(2).
func Unlink(t *kernel.Task, a args) (uintptr, error) {
	return unlinkat(t, unix.AT_FDCWD, a[0].Pointer(), 0)
}

// Rmdir implements rmdir(2).
func Rmdir(t *kernel.Task, a args) (uintptr, error) {
	return unlinkat(t, unix.AT_FDCWD, a[0].Pointer(), unix.AT_REMOVEDIR)
}

// Unlinkat implements unlinkat(2).
func Unlinkat(t *kernel.Task, a args) (uintptr, error) {
	return unlinkat(t, a[0].Int(), a[1].Pointer(), a[2].Int())
}

func unlinkat(t *kernel.Task, dirfd int32, pathAddr uintptr, flags int32) (uintptr, error) {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return 0, unix.EINVAL
	}
	dir := flags&unix.AT_REMOVEDIR != 0
	dw, name, err := removeNamed(t, dirfd, pathAddr, dir)
	if err != nil {
		return 0, err
	}
	parent := dw.(vfs.Dentry)
	victim, _ := parent.Lookup(t, name)
	if dir {
		err = dw.Rmdir(t, name)
	} else {
		err = dw.Unlink(t, name)
	}
	if err != nil {
		return 0, err
	}
	notifyRemoved(t, parent, name, victim)
	return 0, nil
}

// notifyRemoved reports that name was removed from dir, in Linux's
// order: IN_ATTRIB to a file's own watches (its link count changed),
// IN_DELETE_SELF once the last link went (Linux waits for the last close
// for that; here it comes at the unlink), then IN_DELETE to the
// directory's watches.
func notifyRemoved(t *kernel.Task, dir vfs.Dentry, name string, victim vfs.Dentry) {
	if victim == nil {
		return
	}
	isDir := victim.Mode()&vfs.S_IFMT == vfs.S_IFDIR
	if !isDir {
		vfs.NotifySelf(victim, vfs.InAttrib)
	}
	if st, err := victim.Stat(t); isDir || (err == nil && st.Nlink == 0) {
		vfs.NotifyDeleted(victim)
	}
	vfs.NotifyChild(dir, vfs.InDelete, name, victim)
}

// Rename implements rename(2).
func Rename(t *kernel.Task, a args) (uintptr, error) {
	return renameat2(t, unix.AT_FDCWD, a[0].Pointer(), unix.AT_FDCWD, a[1].Pointer(), 0)
}

// Renameat implements renameat(2).
func Renameat(t *kernel.Task, a args) (uintptr, error) {
	return renameat2(t, a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer(), 0)
}

// Renameat2 implements renameat2(2).
func Renameat2(t *kernel.Task, a args) (uintptr, error) {
	return renameat2(t, a[0].Int(), a[1].Pointer(), a[2].Int(), a[3].Pointer(), a[4].Uint())
}

func renameat2(t *kernel.Task, olddirfd int32, oldAddr uintptr, newdirfd int32, newAddr uintptr, flags uint32) (uintptr, error) {
	// RENAME_WHITEOUT needs no CAP_MKNOD (since Linux 5.8 anyone may make
	// a whiteout); filesystems without whiteouts answer EINVAL.
	const noReplace, exchange, whiteout = 1, 2, 4
	if flags&^(noReplace|exchange|whiteout) != 0 || flags&exchange != 0 && flags&(noReplace|whiteout) != 0 {
		return 0, unix.EINVAL
	}
	oldPath, err := copyInPath(t, oldAddr)
	if err != nil {
		return 0, err
	}
	newPath, err := copyInPath(t, newAddr)
	if err != nil {
		return 0, err
	}
	oldParent, oldName, err := resolveParent(t, olddirfd, oldPath)
	if err != nil {
		return 0, err
	}
	newParent, newName, err := resolveParent(t, newdirfd, newPath)
	if err != nil {
		return 0, err
	}
	for _, n := range []string{oldName, newName} {
		if n == "" || n == "." || n == ".." {
			return 0, unix.EBUSY
		}
	}
	victim, err := oldParent.Dentry.Lookup(t, oldName)
	if err != nil {
		return 0, err
	}
	if oldParent.Mount != newParent.Mount {
		return 0, unix.EXDEV
	}
	odw, err := writableDir(t, oldParent)
	if err != nil {
		return 0, err
	}
	if _, err := writableDir(t, newParent); err != nil {
		return 0, err
	}
	if !stickyAllows(t, oldParent.Dentry, victim) {
		return 0, unix.EPERM
	}
	ns := t.Kernel().MountNS
	if ns.IsMountpoint(vfs.VirtualDentry{Mount: oldParent.Mount, Dentry: victim}) {
		return 0, unix.EBUSY
	}
	if existing, err := newParent.Dentry.Lookup(t, newName); err == nil {
		if !stickyAllows(t, newParent.Dentry, existing) {
			return 0, unix.EPERM
		}
		if ns.IsMountpoint(vfs.VirtualDentry{Mount: newParent.Mount, Dentry: existing}) {
			return 0, unix.EBUSY
		}
	}
	// Trailing slashes require directories.
	if (strings.HasSuffix(oldPath, "/") || strings.HasSuffix(newPath, "/")) && victim.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return 0, unix.ENOTDIR
	}
	replaced, _ := newParent.Dentry.Lookup(t, newName)
	if err := odw.Rename(t, oldName, newParent.Dentry, newName, flags); err != nil {
		return 0, err
	}
	vfs.NotifyRename(oldParent.Dentry, oldName, newParent.Dentry, newName, victim)
	if flags&exchange != 0 && replaced != nil {
		vfs.NotifyRename(newParent.Dentry, newName, oldParent.Dentry, oldName, replaced)
	} else if replaced != nil && replaced != victim {
		if st, err := replaced.Stat(t); err == nil && (st.Nlink == 0 || replaced.Mode()&vfs.S_IFMT == vfs.S_IFDIR) {
			vfs.NotifyDeleted(replaced)
		}
	}
	return 0, nil
}

// setStatAt resolves dirfd+path (or the file dirfd with an empty path and
// AT_EMPTY_PATH) and returns its dentry and mount.
func setStatTarget(t *kernel.Task, dirfd int32, pathAddr uintptr, follow, emptyOK bool) (vfs.VirtualDentry, error) {
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	if path == "" {
		if !emptyOK {
			return vfs.VirtualDentry{}, unix.ENOENT
		}
		if dirfd == unix.AT_FDCWD {
			return t.FSContext().Cwd(), nil
		}
		f, err := getFile(t, dirfd)
		if err != nil {
			return vfs.VirtualDentry{}, err
		}
		defer f.DecRef()
		return f.VirtualDentry(), nil
	}
	return t.Resolve(dirfd, path, follow)
}

func setter(vd vfs.VirtualDentry) (vfs.Setter, error) {
	s, ok := vd.Dentry.(vfs.Setter)
	if !ok || vd.Mount.ReadOnly {
		return nil, unix.EROFS
	}
	return s, nil
}

func chmodVD(t *kernel.Task, vd vfs.VirtualDentry, mode uint32) error {
	st, err := vd.Dentry.Stat(t)
	if err != nil {
		return err
	}
	c := creds(t)
	if c.FSUID != st.UID && !c.HasCapability(auth.CAP_FOWNER) {
		return unix.EPERM
	}
	s, err := setter(vd)
	if err != nil {
		return err
	}
	mode &= 0o7777
	// Without the file's group or CAP_FSETID, setgid is dropped.
	if mode&unix.S_ISGID != 0 && !c.InGroup(st.GID) && !c.HasCapability(4) {
		mode &^= unix.S_ISGID
	}
	return notified(vd.Dentry, vfs.InAttrib, s.SetStat(t, vfs.SetStatOptions{Mask: vfs.STATX_MODE, Stat: vfs.Statx{Mode: st.Mode&vfs.S_IFMT | mode}, Creds: c}))
}

// Chmod implements chmod(2).
func Chmod(t *kernel.Task, a args) (uintptr, error) {
	vd, err := setStatTarget(t, unix.AT_FDCWD, a[0].Pointer(), true, false)
	if err != nil {
		return 0, err
	}
	return 0, chmodVD(t, vd, a[1].Uint())
}

// Fchmod implements fchmod(2).
func Fchmod(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.IsPath() {
		return 0, unix.EBADF
	}
	return 0, chmodVD(t, f.VirtualDentry(), a[1].Uint())
}

// Fchmodat implements fchmodat(2) (the syscall has no flags argument).
func Fchmodat(t *kernel.Task, a args) (uintptr, error) {
	vd, err := setStatTarget(t, a[0].Int(), a[1].Pointer(), true, false)
	if err != nil {
		return 0, err
	}
	return 0, chmodVD(t, vd, a[2].Uint())
}

func chownVD(t *kernel.Task, vd vfs.VirtualDentry, uid, gid uint32) error {
	st, err := vd.Dentry.Stat(t)
	if err != nil {
		return err
	}
	c := creds(t)
	const unchanged = ^uint32(0)
	o := vfs.SetStatOptions{Creds: c, Stat: vfs.Statx{UID: uid, GID: gid}}
	if uid != unchanged && uid != st.UID {
		if !c.HasCapability(auth.CAP_CHOWN) {
			return unix.EPERM
		}
		o.Mask |= vfs.STATX_UID
	}
	if gid != unchanged && gid != st.GID {
		if !c.HasCapability(auth.CAP_CHOWN) && (c.FSUID != st.UID || !c.InGroup(gid)) {
			return unix.EPERM
		}
		o.Mask |= vfs.STATX_GID
	}
	if o.Mask == 0 {
		if uid != unchanged || gid != unchanged {
			if c.FSUID != st.UID && !c.HasCapability(auth.CAP_CHOWN) {
				return unix.EPERM
			}
		}
		// A no-op chown still needs a writable filesystem.
		_, err := setter(vd)
		return err
	}
	s, err := setter(vd)
	if err != nil {
		return err
	}
	// Changing the owner of a non-directory clears setuid, and setgid when
	// group-executable (unless CAP_FSETID... not applied to chown).
	if st.Mode&vfs.S_IFMT != vfs.S_IFDIR && st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		m := st.Mode &^ unix.S_ISUID
		if st.Mode&0o010 != 0 {
			m &^= unix.S_ISGID
		}
		o.Mask |= vfs.STATX_MODE
		o.Stat.Mode = m
	}
	return notified(vd.Dentry, vfs.InAttrib, s.SetStat(t, o))
}

// Chown implements chown(2).
func Chown(t *kernel.Task, a args) (uintptr, error) {
	vd, err := setStatTarget(t, unix.AT_FDCWD, a[0].Pointer(), true, false)
	if err != nil {
		return 0, err
	}
	return 0, chownVD(t, vd, a[1].Uint(), a[2].Uint())
}

// Lchown implements lchown(2).
func Lchown(t *kernel.Task, a args) (uintptr, error) {
	vd, err := setStatTarget(t, unix.AT_FDCWD, a[0].Pointer(), false, false)
	if err != nil {
		return 0, err
	}
	return 0, chownVD(t, vd, a[1].Uint(), a[2].Uint())
}

// Fchown implements fchown(2).
func Fchown(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.IsPath() {
		return 0, unix.EBADF
	}
	return 0, chownVD(t, f.VirtualDentry(), a[1].Uint(), a[2].Uint())
}

// Fchownat implements fchownat(2).
func Fchownat(t *kernel.Task, a args) (uintptr, error) {
	flags := a[4].Int()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	vd, err := setStatTarget(t, a[0].Int(), a[1].Pointer(), flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	return 0, chownVD(t, vd, a[2].Uint(), a[3].Uint())
}

// setTimes applies new access and modification times; nil means now for
// both (with the permission rule that allows that to any writer).
func setTimes(t *kernel.Task, vd vfs.VirtualDentry, times *[2]vfs.Timespec) error {
	if times != nil && times[0].Nsec == vfs.UTIME_OMIT && times[1].Nsec == vfs.UTIME_OMIT {
		// Nothing to change: no permission is checked.
		return nil
	}
	st, err := vd.Dentry.Stat(t)
	if err != nil {
		return err
	}
	c := creds(t)
	owner := c.FSUID == st.UID || c.HasCapability(auth.CAP_FOWNER)
	now := times == nil || (times[0].Nsec == vfs.UTIME_NOW && times[1].Nsec == vfs.UTIME_NOW)
	if !owner {
		if !now {
			return unix.EPERM
		}
		if !mayAccessAs(t, st, 2) {
			return unix.EACCES
		}
	}
	s, err := setter(vd)
	if err != nil {
		return err
	}
	o := vfs.SetStatOptions{Creds: c}
	if times == nil {
		times = &[2]vfs.Timespec{{Nsec: vfs.UTIME_NOW}, {Nsec: vfs.UTIME_NOW}}
	}
	ts := *times
	for i := range ts {
		if ts[i].Nsec == vfs.UTIME_NOW {
			n := time.Now()
			ts[i] = vfs.Timespec{Sec: n.Unix(), Nsec: int64(n.Nanosecond())}
		}
	}
	if times[0].Nsec != vfs.UTIME_OMIT {
		o.Mask |= vfs.STATX_ATIME
		o.Stat.Atime = ts[0]
	}
	if times[1].Nsec != vfs.UTIME_OMIT {
		o.Mask |= vfs.STATX_MTIME
		o.Stat.Mtime = ts[1]
	}
	if o.Mask == 0 {
		return nil
	}
	return notified(vd.Dentry, vfs.InAttrib, s.SetStat(t, o))
}

// Utimensat implements utimensat(2).
func Utimensat(t *kernel.Task, a args) (uintptr, error) {
	flags := a[3].Int()
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	var times *[2]vfs.Timespec
	if p := a[2].Pointer(); p != 0 {
		var b [32]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		var ts [2]vfs.Timespec
		for i := range ts {
			ts[i] = vfs.Timespec{Sec: int64(binary.LittleEndian.Uint64(b[16*i:])), Nsec: int64(binary.LittleEndian.Uint64(b[16*i+8:]))}
			if ts[i].Nsec != vfs.UTIME_NOW && ts[i].Nsec != vfs.UTIME_OMIT && (ts[i].Nsec < 0 || ts[i].Nsec >= 1e9) {
				return 0, unix.EINVAL
			}
		}
		times = &ts
	}
	var vd vfs.VirtualDentry
	var err error
	if a[1].Pointer() == 0 && a[0].Int() != unix.AT_FDCWD {
		// A NULL path is Linux's way to name the file dirfd is open on
		// (what futimens does); it takes no flags. With AT_FDCWD, it is
		// a bad path (EFAULT).
		if flags != 0 {
			return 0, unix.EINVAL
		}
		vd, err = timesFileTarget(t, a[0].Int())
	} else {
		vd, err = setStatTarget(t, a[0].Int(), a[1].Pointer(), flags&unix.AT_SYMLINK_NOFOLLOW == 0, flags&unix.AT_EMPTY_PATH != 0)
	}
	if err != nil {
		return 0, err
	}
	return 0, setTimes(t, vd, times)
}

// copyInTimevals reads utimes' struct timeval[2].
func copyInTimevals(t *kernel.Task, p uintptr) (*[2]vfs.Timespec, error) {
	if p == 0 {
		return nil, nil
	}
	var ts [2]vfs.Timespec
	for i := range ts {
		d, err := copyInTimeval(t, p+uintptr(16*i))
		if err != nil {
			return nil, err
		}
		ts[i] = vfs.Timespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}
	}
	return &ts, nil
}

// Utimes implements utimes(2).
func Utimes(t *kernel.Task, a args) (uintptr, error) {
	return futimesat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Pointer())
}

// Futimesat implements futimesat(2).
func Futimesat(t *kernel.Task, a args) (uintptr, error) {
	return futimesat(t, a[0].Int(), a[1].Pointer(), a[2].Pointer())
}

func futimesat(t *kernel.Task, dirfd int32, pathAddr, timesAddr uintptr) (uintptr, error) {
	times, err := copyInTimevals(t, timesAddr)
	if err != nil {
		return 0, err
	}
	var vd vfs.VirtualDentry
	if pathAddr == 0 && dirfd != unix.AT_FDCWD {
		vd, err = timesFileTarget(t, dirfd)
	} else {
		vd, err = setStatTarget(t, dirfd, pathAddr, true, false)
	}
	if err != nil {
		return 0, err
	}
	return 0, setTimes(t, vd, times)
}

// timesFileTarget returns the file of descriptor fd, for utimensat(2)
// and futimesat(2) with a NULL path: a descriptor that does I/O (an
// O_PATH one is EBADF, as for futimens).
func timesFileTarget(t *kernel.Task, fd int32) (vfs.VirtualDentry, error) {
	f, err := getFile(t, fd)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	defer f.DecRef()
	if f.IsPath() {
		return vfs.VirtualDentry{}, unix.EBADF
	}
	return f.VirtualDentry(), nil
}

// Utime implements utime(2): struct utimbuf {actime, modtime} in seconds.
func Utime(t *kernel.Task, a args) (uintptr, error) {
	var times *[2]vfs.Timespec
	if p := a[1].Pointer(); p != 0 {
		var b [16]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		times = &[2]vfs.Timespec{{Sec: int64(binary.LittleEndian.Uint64(b[0:]))}, {Sec: int64(binary.LittleEndian.Uint64(b[8:]))}}
	}
	vd, err := setStatTarget(t, unix.AT_FDCWD, a[0].Pointer(), true, false)
	if err != nil {
		return 0, err
	}
	return 0, setTimes(t, vd, times)
}

func truncateVD(t *kernel.Task, vd vfs.VirtualDentry, length int64) error {
	if length < 0 {
		return unix.EINVAL
	}
	switch vd.Dentry.Mode() & vfs.S_IFMT {
	case vfs.S_IFDIR:
		return unix.EISDIR
	case vfs.S_IFREG:
	default:
		return unix.EINVAL
	}
	if uint64(length) > t.ThreadGroup().Limits().Get(kernel.RLIMIT_FSIZE).Cur {
		t.SendSignalSelf(kernel.SIGXFSZ)
		return unix.EFBIG
	}
	s, err := setter(vd)
	if err != nil {
		return err
	}
	return notified(vd.Dentry, vfs.InModify, s.SetStat(t, vfs.SetStatOptions{Mask: vfs.STATX_SIZE, Stat: vfs.Statx{Size: uint64(length)}, Creds: creds(t)}))
}

// Truncate implements truncate(2).
func Truncate(t *kernel.Task, a args) (uintptr, error) {
	vd, err := setStatTarget(t, unix.AT_FDCWD, a[0].Pointer(), true, false)
	if err != nil {
		return 0, err
	}
	if vd.Dentry.Mode()&vfs.S_IFMT == vfs.S_IFREG {
		st, err := vd.Dentry.Stat(t)
		if err != nil {
			return 0, err
		}
		if !mayAccessAs(t, st, 2) {
			return 0, unix.EACCES
		}
	}
	return 0, truncateVD(t, vd, a[1].Int64())
}

// Ftruncate implements ftruncate(2).
func Ftruncate(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.IsPath() {
		return 0, unix.EBADF
	}
	if !f.Writable() || f.Dentry().Mode()&vfs.S_IFMT != vfs.S_IFREG {
		return 0, unix.EINVAL
	}
	return 0, truncateVD(t, f.VirtualDentry(), a[1].Int64())
}

// allocator is implemented by files that support fallocate(2).
type allocator interface {
	Allocate(ctx context.Context, mode uint32, off, length int64) error
}

// syncer is implemented by files that have something to flush.
type syncer interface {
	Sync(ctx context.Context) error
}

// Fallocate implements fallocate(2).
func Fallocate(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	mode, off, length := a[1].Uint(), a[2].Int64(), a[3].Int64()
	if off < 0 || length <= 0 {
		return 0, unix.EINVAL
	}
	if !f.Writable() {
		return 0, unix.EBADF
	}
	switch f.Dentry().Mode() & vfs.S_IFMT {
	case vfs.S_IFREG:
	case vfs.S_IFDIR:
		return 0, unix.EISDIR
	case vfs.S_IFIFO:
		return 0, unix.ESPIPE
	default:
		return 0, unix.ENODEV
	}
	al, ok := f.Impl().(allocator)
	if !ok {
		return 0, unix.EOPNOTSUPP
	}
	return 0, notified(f.Dentry(), vfs.InModify, al.Allocate(t, mode, off, length))
}

// Fsync implements fsync(2) and fdatasync(2).
func Fsync(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.IsPath() {
		return 0, unix.EBADF
	}
	switch f.Dentry().Mode() & vfs.S_IFMT {
	case vfs.S_IFIFO, vfs.S_IFSOCK:
		return 0, unix.EINVAL
	}
	if s, ok := f.Impl().(syncer); ok {
		return 0, s.Sync(t)
	}
	return 0, nil
}

// Syncfs implements syncfs(2).
func Syncfs(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if m := f.VirtualDentry().Mount; m != nil {
		syncFS(t, m.FS)
	}
	return 0, nil
}

// fsSyncer is a filesystem that holds changes in memory for somewhere
// else (the gofer's host files).
type fsSyncer interface {
	Sync(ctx context.Context) error
}

func syncFS(t *kernel.Task, fs vfs.Filesystem) {
	if s, ok := fs.(fsSyncer); ok {
		s.Sync(t)
	}
}

// Sync implements sync(2): every filesystem writes back.
func Sync(t *kernel.Task, a args) (uintptr, error) {
	for _, m := range t.Kernel().MountNS.Mounts() {
		syncFS(t, m.FS)
	}
	return 0, nil
}

// SyncFileRange implements sync_file_range(2).
func SyncFileRange(t *kernel.Task, a args) (uintptr, error) {
	if a[3].Uint()&^7 != 0 || a[1].Int64() < 0 || a[2].Int64() < 0 {
		return 0, unix.EINVAL
	}
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.Dentry().Mode()&vfs.S_IFMT != vfs.S_IFREG && f.Dentry().Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return 0, unix.ESPIPE
	}
	return 0, nil
}
