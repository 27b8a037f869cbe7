package server

import (
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
	"palisade.dev/gofer/protocol"
)

// The operations that change the tree. Each is relative to a node the
// server holds and names at most one component in it; none follows a
// symlink: creation uses O_CREAT|O_EXCL (which never follows), mkdirat,
// mknodat, symlinkat, linkat, unlinkat and renameat2 (which never follow a
// final symlink), and attribute changes act on the node's own O_PATH
// descriptor with AT_EMPTY_PATH, or on a descriptor re-opened with
// O_NOFOLLOW and checked to be the node's inode.

// dispatchWrite executes the requests of a writable tree.
func (s *server) dispatchWrite(req protocol.Message) (protocol.Message, int, error) {
	switch req.(type) {
	case *protocol.Tgetxattr, *protocol.Tlistxattr:
		// Reading attributes changes nothing.
	default:
		if newWriteRequestType(req) && !s.writable {
			return nil, -1, unix.EROFS
		}
	}
	switch req := req.(type) {
	case *protocol.Tcreate:
		fid, attr, fd, err := s.create(req)
		return &protocol.Rcreate{FID: fid, Attr: attr}, fd, err
	case *protocol.Tmkdir:
		fid, attr, err := s.mkdir(req)
		return protocol.NewRnode(req.Type(), fid, attr), -1, err
	case *protocol.Tmknod:
		fid, attr, err := s.mknod(req)
		return protocol.NewRnode(req.Type(), fid, attr), -1, err
	case *protocol.Tsymlink:
		fid, attr, err := s.symlink(req)
		return protocol.NewRnode(req.Type(), fid, attr), -1, err
	case *protocol.Tlink:
		fid, attr, err := s.link(req)
		return protocol.NewRnode(req.Type(), fid, attr), -1, err
	case *protocol.Tunlink:
		return protocol.NewRempty(req.Type()), -1, s.unlink(req)
	case *protocol.Trename:
		return protocol.NewRempty(req.Type()), -1, s.rename(req)
	case *protocol.Tsetattr:
		attr, err := s.setattr(req)
		return &protocol.Rsetattr{Attr: attr}, -1, err
	case *protocol.Tfsync:
		return protocol.NewRempty(req.Type()), -1, s.fsync(req.FID)
	case *protocol.Tgetxattr:
		v, err := s.getxattr(req)
		return &protocol.Rgetxattr{Value: v}, -1, err
	case *protocol.Tsetxattr:
		return protocol.NewRempty(req.Type()), -1, s.setxattr(req)
	case *protocol.Tlistxattr:
		names, err := s.listxattr(req)
		return &protocol.Rlistxattr{Names: names}, -1, err
	case *protocol.Tremovexattr:
		return protocol.NewRempty(req.Type()), -1, s.removexattr(req)
	}
	return nil, -1, unix.ENOSYS
}

// newWriteRequestType reports whether req is one of the requests of
// dispatchWrite.
func newWriteRequestType(req protocol.Message) bool {
	switch req.(type) {
	case *protocol.Tcreate, *protocol.Tmkdir, *protocol.Tmknod, *protocol.Tsymlink,
		*protocol.Tlink, *protocol.Tunlink, *protocol.Trename, *protocol.Tsetattr,
		*protocol.Tfsync, *protocol.Tsetxattr, *protocol.Tremovexattr:
		return true
	}
	return false
}

// lookupDir returns the directory node of fid and checks name is a single
// component that may be made or removed in it.
func (s *server) lookupDir(fid protocol.FID, name string) (*node, error) {
	if !validName(name) {
		return nil, unix.EINVAL
	}
	if len(name) > protocol.MaxNameLen {
		return nil, unix.ENAMETOOLONG
	}
	dir, err := s.lookup(fid)
	if err != nil {
		return nil, err
	}
	if dir.typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	return dir, nil
}

// pathNode opens name in dir as an O_PATH node descriptor, without
// following a symlink, and checks it is of type typ (when typ is not 0)
// and, if want is not nil, the same inode as want.
func pathNode(dir *node, name string, typ uint32, want *unix.Stat_t) (int, *unix.Stat_t, error) {
	fd, err := openat(dir.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return -1, nil, err
	}
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	if (typ != 0 && st.Mode&unix.S_IFMT != typ) || (want != nil && (st.Dev != want.Dev || st.Ino != want.Ino)) {
		// Replaced by something else between making and opening it.
		unix.Close(fd)
		return -1, nil, unix.ESTALE
	}
	return fd, &st, nil
}

// own gives the node fd (an O_PATH descriptor) the owner uid:gid and, if
// the host changed them (umask, or a setgid bit dropped by chown), the
// permission bits perm; st is updated. Symlinks keep the host's mode.
func own(fd int, uid, gid, perm uint32, st *unix.Stat_t) error {
	if st.Uid != uid || st.Gid != gid {
		if err := unix.Fchownat(fd, "", int(uid), int(gid), unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if err := fstat(fd, st); err != nil {
			return err
		}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK && st.Mode&0o7777 != perm {
		if err := chmodNode(fd, perm); err != nil {
			return err
		}
		return fstat(fd, st)
	}
	return nil
}

// undoMake removes name from dir after making it failed half way.
func undoMake(dir *node, name string, flags int) {
	unix.Unlinkat(dir.fd, name, flags)
}

// create makes and opens a regular file.
func (s *server) create(req *protocol.Tcreate) (protocol.FID, protocol.Attr, int, error) {
	dir, err := s.lookupDir(req.Dir, req.Name)
	if err != nil {
		return 0, protocol.Attr{}, -1, err
	}
	acc := int(req.Flags) & unix.O_ACCMODE
	if req.Flags&^unix.O_ACCMODE != 0 || acc == unix.O_ACCMODE || req.Mode&^0o7777 != 0 {
		return 0, protocol.Attr{}, -1, unix.EINVAL
	}
	// O_EXCL with O_CREAT never follows a symlink, dangling or not.
	fd, err := openat2(dir.fd, req.Name, acc|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, req.Mode)
	if err != nil {
		return 0, protocol.Attr{}, -1, err
	}
	var made unix.Stat_t
	pfd := -1
	err = unix.Fstat(fd, &made)
	if err == nil {
		var st *unix.Stat_t
		if pfd, st, err = pathNode(dir, req.Name, unix.S_IFREG, &made); err == nil {
			made = *st
			err = own(pfd, req.UID, req.GID, req.Mode, &made)
		}
	}
	if err != nil {
		if pfd >= 0 {
			unix.Close(pfd)
		}
		unix.Close(fd)
		undoMake(dir, req.Name, 0)
		return 0, protocol.Attr{}, -1, err
	}
	n := s.addChild(dir, req.Name, pfd, &made)
	return s.newFID(n), attrOf(&made), fd, nil
}

// made finishes making the node name in dir of type typ: it opens it,
// gives it its owner and returns a FID for it. On failure it removes it.
func (s *server) made(dir *node, name string, typ, uid, gid, perm uint32) (protocol.FID, protocol.Attr, error) {
	fd, st, err := pathNode(dir, name, typ, nil)
	if err == nil {
		if err = own(fd, uid, gid, perm, st); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		flags := 0
		if typ == unix.S_IFDIR {
			flags = unix.AT_REMOVEDIR
		}
		undoMake(dir, name, flags)
		return 0, protocol.Attr{}, err
	}
	n := s.addChild(dir, name, fd, st)
	return s.newFID(n), attrOf(st), nil
}

// mkdir makes a directory.
func (s *server) mkdir(req *protocol.Tmkdir) (protocol.FID, protocol.Attr, error) {
	dir, err := s.lookupDir(req.Dir, req.Name)
	if err != nil {
		return 0, protocol.Attr{}, err
	}
	if req.Mode&^0o7777 != 0 {
		return 0, protocol.Attr{}, unix.EINVAL
	}
	if err := unix.Mkdirat(dir.fd, req.Name, req.Mode); err != nil {
		return 0, protocol.Attr{}, err
	}
	return s.made(dir, req.Name, unix.S_IFDIR, req.UID, req.GID, req.Mode&0o7777)
}

// mknod makes a FIFO, socket or device node.
func (s *server) mknod(req *protocol.Tmknod) (protocol.FID, protocol.Attr, error) {
	dir, err := s.lookupDir(req.Dir, req.Name)
	if err != nil {
		return 0, protocol.Attr{}, err
	}
	typ := req.Mode & unix.S_IFMT
	switch typ {
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR, unix.S_IFBLK:
	default:
		// Regular files come from Tcreate, directories from Tmkdir.
		return 0, protocol.Attr{}, unix.EINVAL
	}
	if req.Mode&^(unix.S_IFMT|0o7777) != 0 {
		return 0, protocol.Attr{}, unix.EINVAL
	}
	rdev := 0
	if typ == unix.S_IFCHR || typ == unix.S_IFBLK {
		rdev = int(req.Rdev)
	}
	if err := unix.Mknodat(dir.fd, req.Name, req.Mode, rdev); err != nil {
		return 0, protocol.Attr{}, err
	}
	return s.made(dir, req.Name, typ, req.UID, req.GID, req.Mode&0o7777)
}

// symlink makes a symbolic link. Its target is only stored.
func (s *server) symlink(req *protocol.Tsymlink) (protocol.FID, protocol.Attr, error) {
	dir, err := s.lookupDir(req.Dir, req.Name)
	if err != nil {
		return 0, protocol.Attr{}, err
	}
	switch {
	case req.Target == "":
		return 0, protocol.Attr{}, unix.ENOENT
	case len(req.Target) >= unix.PathMax:
		return 0, protocol.Attr{}, unix.ENAMETOOLONG
	case strings.IndexByte(req.Target, 0) >= 0:
		return 0, protocol.Attr{}, unix.EINVAL
	}
	if err := unix.Symlinkat(req.Target, dir.fd, req.Name); err != nil {
		return 0, protocol.Attr{}, err
	}
	return s.made(dir, req.Name, unix.S_IFLNK, req.UID, req.GID, 0o777)
}

// link makes a hard link to a node.
func (s *server) link(req *protocol.Tlink) (protocol.FID, protocol.Attr, error) {
	dir, err := s.lookupDir(req.Dir, req.Name)
	if err != nil {
		return 0, protocol.Attr{}, err
	}
	target, err := s.lookup(req.Target)
	if err != nil {
		return 0, protocol.Attr{}, err
	}
	if target.typ == unix.S_IFDIR {
		return 0, protocol.Attr{}, unix.EPERM
	}
	// Linking the node's own descriptor names exactly its inode; it needs
	// CAP_DAC_READ_SEARCH. Without it, link the name the node has, which
	// linkat never follows, and check the inode.
	err = unix.Linkat(target.fd, "", dir.fd, req.Name, unix.AT_EMPTY_PATH)
	if err == unix.EPERM || err == unix.ENOENT && target.parent != nil {
		if target.parent == nil || target.parent.children[target.name] != target {
			return 0, protocol.Attr{}, unix.ENOENT
		}
		err = unix.Linkat(target.parent.fd, target.name, dir.fd, req.Name, 0)
	}
	if err != nil {
		return 0, protocol.Attr{}, err
	}
	want := unix.Stat_t{Dev: target.dev, Ino: target.ino}
	fd, st, err := pathNode(dir, req.Name, target.typ, &want)
	if err != nil {
		if err == unix.ESTALE {
			// The name linked was no longer the node's.
			undoMake(dir, req.Name, 0)
		}
		return 0, protocol.Attr{}, err
	}
	n := s.addChild(dir, req.Name, fd, st)
	return s.newFID(n), attrOf(st), nil
}

// unlink removes an entry.
func (s *server) unlink(req *protocol.Tunlink) error {
	dir, err := s.lookupDir(req.Dir, req.Name)
	if err != nil {
		return err
	}
	if req.Flags&^unix.AT_REMOVEDIR != 0 {
		return unix.EINVAL
	}
	if err := unix.Unlinkat(dir.fd, req.Name, int(req.Flags)); err != nil {
		return err
	}
	detachChild(dir, req.Name)
	return nil
}

// rename moves an entry. RENAME_WHITEOUT leaves a whiteout (a 0:0
// character device, which no one can open) at the old name.
func (s *server) rename(req *protocol.Trename) error {
	const noReplace, exchange, whiteout = unix.RENAME_NOREPLACE, unix.RENAME_EXCHANGE, unix.RENAME_WHITEOUT
	if req.Flags&^(noReplace|exchange|whiteout) != 0 || req.Flags&exchange != 0 && req.Flags&(noReplace|whiteout) != 0 {
		return unix.EINVAL
	}
	oldDir, err := s.lookupDir(req.OldDir, req.OldName)
	if err != nil {
		return err
	}
	newDir, err := s.lookupDir(req.NewDir, req.NewName)
	if err != nil {
		return err
	}
	if err := unix.Renameat2(oldDir.fd, req.OldName, newDir.fd, req.NewName, uint(req.Flags)); err != nil {
		return err
	}
	moved, victim := oldDir.children[req.OldName], newDir.children[req.NewName]
	if oldDir == newDir && req.OldName == req.NewName {
		return nil
	}
	if moved != nil && victim != nil && moved.dev == victim.dev && moved.ino == victim.ino && req.Flags&exchange == 0 {
		// Two links of one inode: rename(2) does nothing.
		return nil
	}
	detachChild(oldDir, req.OldName)
	detachChild(newDir, req.NewName)
	// Take references so that moving one node can't free the other's
	// parent under it.
	for _, n := range []*node{moved, victim} {
		if n != nil {
			n.refs++
			defer s.decRef(n)
		}
	}
	if moved != nil {
		s.moveNode(moved, newDir, req.NewName)
	}
	if victim != nil && req.Flags&exchange != 0 {
		s.moveNode(victim, oldDir, req.OldName)
	}
	return nil
}

// setattr changes attributes, in the order Linux's chown, chmod, truncate
// and utimes would leave them: the owner first, so that the mode asked
// for is not changed again by a chown dropping set-ID bits.
func (s *server) setattr(req *protocol.Tsetattr) (protocol.Attr, error) {
	n, err := s.lookup(req.FID)
	if err != nil {
		return protocol.Attr{}, err
	}
	if req.Mask&(protocol.SetattrUID|protocol.SetattrGID) != 0 {
		uid, gid := -1, -1
		if req.Mask&protocol.SetattrUID != 0 {
			uid = int(req.UID)
		}
		if req.Mask&protocol.SetattrGID != 0 {
			gid = int(req.GID)
		}
		if err := unix.Fchownat(n.fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return protocol.Attr{}, err
		}
	}
	if req.Mask&protocol.SetattrMode != 0 {
		if req.Mode&^0o7777 != 0 {
			return protocol.Attr{}, unix.EINVAL
		}
		if err := s.chmod(n, req.Mode); err != nil {
			return protocol.Attr{}, err
		}
	}
	if req.Mask&protocol.SetattrSize != 0 {
		switch n.typ {
		case unix.S_IFREG:
		case unix.S_IFDIR:
			return protocol.Attr{}, unix.EISDIR
		default:
			return protocol.Attr{}, unix.EINVAL
		}
		if req.Size > 1<<63-1 {
			return protocol.Attr{}, unix.EINVAL
		}
		if err := s.truncate(n, int64(req.Size)); err != nil {
			return protocol.Attr{}, err
		}
	}
	if req.Mask&(protocol.SetattrAtime|protocol.SetattrMtime) != 0 {
		ts := []unix.Timespec{{Nsec: protocol.UtimeOmit}, {Nsec: protocol.UtimeOmit}}
		for i, bit := range []uint32{protocol.SetattrAtime, protocol.SetattrMtime} {
			t := req.Atime
			if i == 1 {
				t = req.Mtime
			}
			if req.Mask&bit == 0 {
				continue
			}
			if t.Nsec != protocol.UtimeNow && t.Nsec != protocol.UtimeOmit && (t.Nsec < 0 || t.Nsec >= 1e9) {
				return protocol.Attr{}, unix.EINVAL
			}
			ts[i] = unix.Timespec{Sec: t.Sec, Nsec: t.Nsec}
		}
		if err := unix.UtimesNanoAt(n.fd, "", ts, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return protocol.Attr{}, err
		}
	}
	var st unix.Stat_t
	if err := fstat(n.fd, &st); err != nil {
		return protocol.Attr{}, err
	}
	return attrOf(&st), nil
}

// chmod changes the permission bits of n. Linux has no mode for symlinks.
func (s *server) chmod(n *node, perm uint32) error {
	if n.typ == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	err := chmodNode(n.fd, perm)
	if err != unix.ENOSYS {
		return err
	}
	// Without fchmodat2, only a descriptor opened on the node itself can
	// be changed without following a path; opening a device or socket
	// is not done.
	switch n.typ {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFIFO:
	default:
		return unix.EOPNOTSUPP
	}
	fd, err := s.reopen(n, unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmod(fd, perm)
}

// chmodNode changes the permission bits of the node of the O_PATH
// descriptor fd with fchmodat2(AT_EMPTY_PATH), which acts on the
// descriptor's inode and follows nothing; ENOSYS on kernels before 6.6.
func chmodNode(fd int, perm uint32) error {
	empty := [1]byte{}
	_, _, errno := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), uintptr(perm), unix.AT_EMPTY_PATH, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// truncate changes the size of the regular file n through a descriptor
// re-opened for writing and checked to be n's.
func (s *server) truncate(n *node, size int64) error {
	if n.typ != unix.S_IFREG {
		return unix.EINVAL
	}
	fd, err := s.reopen(n, unix.O_WRONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return ftruncate(fd, size)
}

// fsync flushes a regular file or directory.
func (s *server) fsync(fid protocol.FID) error {
	n, err := s.lookup(fid)
	if err != nil {
		return err
	}
	switch n.typ {
	case unix.S_IFREG, unix.S_IFDIR:
	default:
		return unix.EINVAL
	}
	fd, err := s.reopen(n, unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fsync(fd)
}

// ftruncate is ftruncate(2) retried on EINTR.
func ftruncate(fd int, size int64) error {
	for {
		err := unix.Ftruncate(fd, size)
		if err != unix.EINTR {
			return err
		}
	}
}

// openat2 is openat(2) with a mode, retried on EINTR.
func openat2(dirfd int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}
