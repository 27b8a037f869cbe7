package server

import (
	"bytes"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
	"palisade.dev/gofer/protocol"
)

// Extended attributes. Only the user.* namespace is served: the gofer runs
// with privileges the sandbox must not borrow, and trusted.* and security.*
// attributes (file capabilities among them) would give the host files
// powers outside the sandbox. Others are EOPNOTSUPP, and listed by no one.
//
// The attributes are read and changed with the *xattrat calls (Linux 6.13)
// on the node's name in its parent's descriptor with AT_SYMLINK_NOFOLLOW,
// after checking that the name still holds the node (those calls refuse
// O_PATH descriptors, so the node's own can't be used); without them, only
// regular files and directories, through a descriptor re-opened on the
// node and checked.

const (
	userPrefix = "user."
	// xattrMax is the largest value Linux allows (XATTR_SIZE_MAX), and
	// the largest name list (XATTR_LIST_MAX).
	xattrMax = 64 << 10
)

// userXattr checks that name is a user.* attribute name.
func userXattr(name string) error {
	switch {
	case name == "" || len(name) > 255:
		return unix.ERANGE
	case strings.IndexByte(name, 0) >= 0:
		return unix.EINVAL
	case !strings.HasPrefix(name, userPrefix):
		return unix.EOPNOTSUPP
	case len(name) == len(userPrefix):
		// A namespace without a name, as Linux answers it.
		return unix.EINVAL
	}
	return nil
}

// xattrArgs is struct xattr_args of the *xattrat calls.
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

// xattrFD returns a descriptor to use with the f*xattr calls on n, and a
// function that closes it, when the *xattrat calls are missing.
func (s *server) xattrFD(n *node) (int, func(), error) {
	switch n.typ {
	case unix.S_IFREG, unix.S_IFDIR:
	default:
		return -1, nil, unix.EOPNOTSUPP
	}
	fd, err := s.reopen(n, unix.O_RDONLY)
	if err != nil {
		return -1, nil, err
	}
	return fd, func() { unix.Close(fd) }, nil
}

// xattrAt returns the directory descriptor and name (as a C string) by
// which the *xattrat calls reach n without following it: its name in its
// parent, or "." of itself for the root. ESTALE if the name no longer
// holds n.
func xattrAt(n *node) (int, *byte, error) {
	if n.parent == nil {
		p, _ := unix.BytePtrFromString(".")
		return n.fd, p, nil
	}
	if n.parent.children[n.name] != n {
		return -1, nil, unix.ESTALE
	}
	var st unix.Stat_t
	if err := unix.Fstatat(n.parent.fd, n.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, nil, err
	}
	if uint64(st.Dev) != n.dev || st.Ino != n.ino {
		return -1, nil, unix.ESTALE
	}
	p, err := unix.BytePtrFromString(n.name)
	return n.parent.fd, p, err
}

// getxattrNode returns the value of name of n.
func (s *server) getxattrNode(n *node, name string) ([]byte, error) {
	buf := make([]byte, xattrMax)
	cname, err := unix.BytePtrFromString(name)
	if err != nil {
		return nil, unix.EINVAL
	}
	dirfd, path, err := xattrAt(n)
	if err != nil {
		return nil, err
	}
	args := xattrArgs{value: uint64(uintptr(unsafe.Pointer(&buf[0]))), size: uint32(len(buf))}
	r, _, errno := unix.Syscall6(unix.SYS_GETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)),
		unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(cname)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	if errno == unix.ENOSYS {
		fd, done, err := s.xattrFD(n)
		if err != nil {
			return nil, err
		}
		defer done()
		sz, err := unix.Fgetxattr(fd, name, buf)
		if err != nil {
			return nil, err
		}
		return buf[:sz], nil
	}
	if errno != 0 {
		return nil, errno
	}
	return buf[:r], nil
}

func (s *server) getxattr(req *protocol.Tgetxattr) (string, error) {
	n, err := s.lookup(req.FID)
	if err != nil {
		return "", err
	}
	if err := userXattr(req.Name); err != nil {
		return "", err
	}
	v, err := s.getxattrNode(n, req.Name)
	if err != nil {
		return "", err
	}
	if req.Size != 0 && uint64(len(v)) > uint64(req.Size) {
		return "", unix.ERANGE
	}
	return string(v), nil
}

func (s *server) setxattr(req *protocol.Tsetxattr) error {
	n, err := s.lookup(req.FID)
	if err != nil {
		return err
	}
	if err := userXattr(req.Name); err != nil {
		return err
	}
	if len(req.Value) > xattrMax {
		return unix.E2BIG
	}
	if req.Flags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return unix.EINVAL
	}
	cname, _ := unix.BytePtrFromString(req.Name)
	val := []byte(req.Value)
	var p uintptr
	if len(val) > 0 {
		p = uintptr(unsafe.Pointer(&val[0]))
	}
	dirfd, path, err := xattrAt(n)
	if err != nil {
		return err
	}
	args := xattrArgs{value: uint64(p), size: uint32(len(val)), flags: req.Flags}
	_, _, errno := unix.Syscall6(unix.SYS_SETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)),
		unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(cname)), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
	if errno == unix.ENOSYS {
		fd, done, err := s.xattrFD(n)
		if err != nil {
			return err
		}
		defer done()
		return unix.Fsetxattr(fd, req.Name, val, int(req.Flags))
	}
	if errno != 0 {
		return errno
	}
	return nil
}

func (s *server) listxattr(req *protocol.Tlistxattr) ([]string, error) {
	n, err := s.lookup(req.FID)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, xattrMax)
	dirfd, path, err := xattrAt(n)
	if err != nil {
		return nil, err
	}
	r, _, errno := unix.Syscall6(unix.SYS_LISTXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)),
		unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0)
	var sz int
	switch {
	case errno == unix.ENOSYS:
		if n.typ != unix.S_IFREG && n.typ != unix.S_IFDIR {
			// Nothing the fallback can read.
			return []string{}, nil
		}
		fd, done, err := s.xattrFD(n)
		if err != nil {
			return nil, err
		}
		defer done()
		if sz, err = unix.Flistxattr(fd, buf); err != nil {
			return nil, err
		}
	case errno != 0:
		return nil, errno
	default:
		sz = int(r)
	}
	names := []string{}
	total := 0
	for _, b := range bytes.Split(buf[:sz], []byte{0}) {
		if name := string(b); strings.HasPrefix(name, userPrefix) {
			names = append(names, name)
			total += len(name) + 1
		}
	}
	if req.Size != 0 && uint64(total) > uint64(req.Size) {
		return nil, unix.ERANGE
	}
	return names, nil
}

func (s *server) removexattr(req *protocol.Tremovexattr) error {
	n, err := s.lookup(req.FID)
	if err != nil {
		return err
	}
	if err := userXattr(req.Name); err != nil {
		return err
	}
	cname, _ := unix.BytePtrFromString(req.Name)
	dirfd, path, err := xattrAt(n)
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall6(unix.SYS_REMOVEXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)),
		unix.AT_SYMLINK_NOFOLLOW, uintptr(unsafe.Pointer(cname)), 0, 0)
	if errno == unix.ENOSYS {
		fd, done, err := s.xattrFD(n)
		if err != nil {
			return err
		}
		defer done()
		return unix.Fremovexattr(fd, req.Name)
	}
	if errno != 0 {
		return errno
	}
	return nil
}
