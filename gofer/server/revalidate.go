package server

import (
	"golang.org/x/sys/unix"
	"palisade.dev/gofer/protocol"
)

// revalidate answers Trevalidate: whether name in the directory dirFID
// still refers to the host file (dev, ino). If it does, it returns no FID
// and the file's attributes; if another file took the name, a new FID for
// that one, as walk does. It costs one fstatat when nothing changed.
//
// An empty name asks about the node of dirFID itself: the root of a tree
// served by ServeEntry, if it is not a directory, first follows its name
// (followEntry); any other node only has its attributes read.
func (s *server) revalidate(dirFID protocol.FID, name string, dev, ino uint64) (protocol.FID, protocol.Attr, error) {
	if name == "" {
		n, err := s.lookup(dirFID)
		if err != nil {
			return 0, protocol.Attr{}, err
		}
		if n == s.root && n.parent != nil && n.typ != unix.S_IFDIR {
			followEntry(n)
		}
		var st unix.Stat_t
		if err := fstat(n.fd, &st); err != nil {
			return 0, protocol.Attr{}, err
		}
		return 0, attrOf(&st), nil
	}
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
	var st unix.Stat_t
	if err := unix.Fstatat(dir.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, protocol.Attr{}, err
	}
	if uint64(st.Dev) == dev && st.Ino == ino {
		return 0, attrOf(&st), nil
	}
	return s.walk(dirFID, name)
}

// followEntry makes n, the root of a tree served by ServeEntry and not a
// directory, the file its name in its directory refers to now, if that is
// another file of n's type: a file the host replaced (an editor's or a
// tool's rename over it) is served in place of the old one, and every FID
// of the root refers to the new file from then on. If the name is gone or
// refers to something of another type, n stays the file it was.
//
// A directory root never follows: the nodes below it are re-opened
// through it, and must stay in the directory they were walked from.
func followEntry(n *node) {
	var st unix.Stat_t
	if unix.Fstatat(n.parent.fd, n.name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil ||
		(uint64(st.Dev) == n.dev && st.Ino == n.ino) || st.Mode&unix.S_IFMT != n.typ {
		return
	}
	fd, err := openat(n.parent.fd, n.name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return
	}
	if err := fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != n.typ {
		unix.Close(fd)
		return
	}
	unix.Close(n.fd)
	n.fd, n.dev, n.ino = fd, uint64(st.Dev), st.Ino
}
