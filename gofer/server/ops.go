package server

import (
	"bytes"
	"encoding/binary"
	"strings"

	"golang.org/x/sys/unix"
	"palisade.dev/gofer/protocol"
)

// Open flags. The values are the host's, as the protocol carries them.
const (
	// openKnown are the flags Open accepts at all; others get EINVAL.
	openKnown = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_TMPFILE |
		unix.O_TRUNC | unix.O_APPEND | unix.O_NONBLOCK | unix.O_DIRECTORY |
		unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NOCTTY | unix.O_LARGEFILE |
		unix.O_SYNC | unix.O_DSYNC | unix.O_NOATIME
	// openCreate are the flags that would create a file: EROFS.
	openCreate = unix.O_CREAT | (unix.O_TMPFILE &^ unix.O_DIRECTORY)
	// openPass are the requested flags passed on to the host's open.
	openPass = unix.O_APPEND | unix.O_NONBLOCK | unix.O_DIRECTORY |
		unix.O_LARGEFILE | unix.O_SYNC | unix.O_DSYNC | unix.O_NOATIME
)

// attach returns a new FID for the root.
func (s *server) attach() (protocol.FID, protocol.Attr, error) {
	var st unix.Stat_t
	if err := fstat(s.root.fd, &st); err != nil {
		return 0, protocol.Attr{}, err
	}
	s.root.refs++
	return s.newFID(s.root), attrOf(&st), nil
}

// validName reports whether name is a single path component that names an
// entry of a directory other than itself or its parent.
func validName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// walk returns a new FID for the entry name of the directory dirFID, without
// following a final symlink.
func (s *server) walk(dirFID protocol.FID, name string) (protocol.FID, protocol.Attr, error) {
	if !validName(name) {
		return 0, protocol.Attr{}, unix.EINVAL
	}
	dir, err := s.lookup(dirFID)
	if err != nil {
		return 0, protocol.Attr{}, err
	}
	if dir.typ != unix.S_IFDIR {
		return 0, protocol.Attr{}, unix.ENOTDIR
	}
	fd, err := openat(dir.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return 0, protocol.Attr{}, err
	}
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
		unix.Close(fd)
		return 0, protocol.Attr{}, err
	}
	// FIDs of one entry share its node, so that a rename or unlink keeps
	// all of them right.
	if c := dir.children[name]; c != nil && c.dev == uint64(st.Dev) && c.ino == st.Ino {
		unix.Close(fd)
		c.refs++
		return s.newFID(c), attrOf(&st), nil
	}
	return s.newFID(s.addChild(dir, name, fd, &st)), attrOf(&st), nil
}

// addChild returns a new node for the O_PATH descriptor fd, whose stat is
// st, found or made as name in dir, with one reference for the caller.
func (s *server) addChild(dir *node, name string, fd int, st *unix.Stat_t) *node {
	n := newNode(fd, dir, name, st)
	dir.refs++
	indexChild(dir, name, n)
	return n
}

// stat returns the attributes of fid, not following a symlink.
func (s *server) stat(fid protocol.FID) (protocol.Attr, error) {
	n, err := s.lookup(fid)
	if err != nil {
		return protocol.Attr{}, err
	}
	var st unix.Stat_t
	if err := fstat(n.fd, &st); err != nil {
		return protocol.Attr{}, err
	}
	return attrOf(&st), nil
}

// open opens fid with the open(2) flags flags and returns the new descriptor.
// Only regular files and directories are opened, and regular files for
// writing (or with O_TRUNC) only when the tree is served read-write.
func (s *server) open(fid protocol.FID, flags int) (int, error) {
	n, err := s.lookup(fid)
	if err != nil {
		return -1, err
	}
	acc := flags & unix.O_ACCMODE
	switch {
	case flags&^openKnown != 0 || acc == unix.O_ACCMODE:
		return -1, unix.EINVAL
	case flags&openCreate != 0 && !s.writable:
		return -1, unix.EROFS
	case flags&unix.O_TMPFILE == unix.O_TMPFILE:
		return -1, unix.EOPNOTSUPP
	case flags&(unix.O_CREAT|unix.O_EXCL) == unix.O_CREAT|unix.O_EXCL:
		// The node exists; Tcreate makes new ones.
		return -1, unix.EEXIST
	}
	trunc := false
	switch n.typ {
	case unix.S_IFREG:
		if flags&unix.O_DIRECTORY != 0 {
			return -1, unix.ENOTDIR
		}
		trunc = flags&unix.O_TRUNC != 0
		if (acc != unix.O_RDONLY || trunc) && !s.writable {
			return -1, unix.EROFS
		}
	case unix.S_IFDIR:
		// As open(2): a directory cannot be opened for writing, and
		// O_TRUNC does not apply to it.
		if acc != unix.O_RDONLY {
			return -1, unix.EISDIR
		}
	case unix.S_IFLNK:
		return -1, unix.ELOOP
	default:
		// Device nodes, FIFOs and sockets of the host stay on the host.
		return -1, unix.EACCES
	}
	if trunc && acc == unix.O_RDONLY {
		// Linux truncates on O_RDONLY|O_TRUNC too; the descriptor that
		// does it must be writable, and the one donated is not.
		if err := s.truncate(n, 0); err != nil {
			return -1, err
		}
		trunc = false
	}
	fd, err := s.reopen(n, acc|flags&openPass)
	if err != nil {
		return -1, err
	}
	if trunc {
		// Truncated only now that the inode is known to be n's.
		if err := ftruncate(fd, 0); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	if flags&unix.O_NONBLOCK == 0 {
		// reopen always opens non-blocking; restore what was asked for.
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err == nil {
			_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
		}
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// reopen opens n with the access mode and extra flags of flags, relative to
// its parent's descriptor (or as "." of itself for the root), and checks
// that the inode opened is still n's: ESTALE if the name now refers to
// something else.
//
// It always adds O_NOFOLLOW, O_NONBLOCK and O_NOCTTY, so that a node
// replaced by a symlink is not followed and one replaced by a FIFO or a
// terminal neither blocks the server nor becomes its controlling terminal
// before the check. It never passes O_TRUNC or O_CREAT: a node replaced by
// another must not be truncated or made.
func (s *server) reopen(n *node, flags int) (int, error) {
	flags &^= unix.O_TRUNC | unix.O_CREAT | unix.O_EXCL
	flags |= unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if n.typ == unix.S_IFDIR {
		flags |= unix.O_DIRECTORY
	}
	dirfd, name := n.fd, "."
	if n.parent != nil {
		if n.parent.children[n.name] != n {
			// Its name was taken away (unlinked, or replaced).
			return -1, unix.ESTALE
		}
		dirfd, name = n.parent.fd, n.name
	}
	fd, err := openat(dirfd, name, flags)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if uint64(st.Dev) != n.dev || st.Ino != n.ino {
		unix.Close(fd)
		return -1, unix.ESTALE
	}
	return fd, nil
}

// readdir returns the entries of the directory dirFID from the host
// directory offset off on, as many as fit in one response.
func (s *server) readdir(dirFID protocol.FID, off uint64) (*protocol.Rreaddir, error) {
	n, err := s.lookup(dirFID)
	if err != nil {
		return nil, err
	}
	if n.typ != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	// A fresh descriptor per request keeps no directory position in the
	// server; the offset says where to continue.
	fd, err := s.reopen(n, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if off != 0 {
		if _, err := unix.Seek(fd, int64(off), unix.SEEK_SET); err != nil {
			return nil, err
		}
	}
	resp := &protocol.Rreaddir{Next: off}
	space := protocol.ReaddirSpace
	for {
		nb, err := getdents(fd, s.dents)
		if err != nil {
			return nil, err
		}
		if nb == 0 {
			resp.EOF = true
			return resp, nil
		}
		// Each record is a struct linux_dirent64: d_ino u64, d_off s64,
		// d_reclen u16, d_type u8, then d_name, NUL-terminated and padded.
		for b := s.dents[:nb]; len(b) > 0; {
			const nameOff = 19
			if len(b) < nameOff {
				return nil, unix.EIO
			}
			reclen := int(binary.NativeEndian.Uint16(b[16:]))
			if reclen < nameOff || reclen > len(b) {
				return nil, unix.EIO
			}
			name := b[nameOff:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if !isDots(name) {
				sz := protocol.DirentSize(string(name))
				if sz > space {
					// Full: the next request starts at this entry.
					return resp, nil
				}
				space -= sz
				resp.Entries = append(resp.Entries, protocol.Dirent{
					Name: string(name),
					Ino:  binary.NativeEndian.Uint64(b[0:]),
					Type: b[18],
				})
			}
			resp.Next = binary.NativeEndian.Uint64(b[8:])
			b = b[reclen:]
		}
	}
}

// isDots reports whether name is "." or "..".
func isDots(name []byte) bool {
	return len(name) > 0 && len(name) <= 2 && name[0] == '.' && (len(name) == 1 || name[1] == '.')
}

// readlink returns the target of the symlink fid, or EINVAL if fid is not a
// symlink.
func (s *server) readlink(fid protocol.FID) (string, error) {
	n, err := s.lookup(fid)
	if err != nil {
		return "", err
	}
	if n.typ != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	// Targets are at most PATH_MAX-1 bytes on Linux; grow in case a
	// filesystem allows more, within what a response can carry.
	for size := unix.PathMax; size <= protocol.MaxMessageSize/2; size *= 2 {
		buf := make([]byte, size)
		nb, err := unix.Readlinkat(n.fd, "", buf)
		if err != nil {
			return "", err
		}
		if nb < len(buf) {
			return string(buf[:nb]), nil
		}
	}
	return "", unix.ENAMETOOLONG
}

// statfs returns statistics of the filesystem holding fid.
func (s *server) statfs(fid protocol.FID) (protocol.Statfs, error) {
	n, err := s.lookup(fid)
	if err != nil {
		return protocol.Statfs{}, err
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(n.fd, &st); err != nil {
		return protocol.Statfs{}, err
	}
	return protocol.Statfs{
		Type:    int64(st.Type),
		Bsize:   int64(st.Bsize),
		Blocks:  st.Blocks,
		Bfree:   st.Bfree,
		Bavail:  st.Bavail,
		Files:   st.Files,
		Ffree:   st.Ffree,
		Namelen: int64(st.Namelen),
		Frsize:  int64(st.Frsize),
	}, nil
}

// clunk releases fid.
func (s *server) clunk(fid protocol.FID) error {
	n, err := s.lookup(fid)
	if err != nil {
		return err
	}
	delete(s.fids, fid)
	s.decRef(n)
	return nil
}

// attrOf converts a host stat to protocol attributes.
func attrOf(st *unix.Stat_t) protocol.Attr {
	return protocol.Attr{
		Mode:    st.Mode,
		UID:     st.Uid,
		GID:     st.Gid,
		Nlink:   uint64(st.Nlink),
		Size:    st.Size,
		Blocks:  int64(st.Blocks),
		Blksize: int64(st.Blksize),
		Ino:     st.Ino,
		Dev:     uint64(st.Dev),
		Rdev:    uint64(st.Rdev),
		Atime:   protocol.Timespec{Sec: int64(st.Atim.Sec), Nsec: int64(st.Atim.Nsec)},
		Mtime:   protocol.Timespec{Sec: int64(st.Mtim.Sec), Nsec: int64(st.Mtim.Nsec)},
		Ctime:   protocol.Timespec{Sec: int64(st.Ctim.Sec), Nsec: int64(st.Ctim.Nsec)},
	}
}

// fstat stats the node fd refers to, itself even if it is a symlink.
func fstat(fd int, st *unix.Stat_t) error {
	return unix.Fstatat(fd, "", st, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

// openat is openat(2) retried on EINTR, which opening a file on a network
// or FUSE filesystem may return.
func openat(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// getdents is getdents64(2) retried on EINTR.
func getdents(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Getdents(fd, buf)
		if err != unix.EINTR {
			return n, err
		}
	}
}
