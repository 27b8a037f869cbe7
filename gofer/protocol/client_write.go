package protocol

import "golang.org/x/sys/unix"

// The operations of a writable tree. Names are single path components,
// which the server checks (EINVAL otherwise); a server serving its tree
// read-only answers EROFS.

// Create makes the regular file name in dir, owned by uid:gid with the
// permission bits mode, and opens it with the access mode of flags. It
// returns a FID for the new file, its attributes and the opened host file
// descriptor, with O_CLOEXEC set, that the caller owns. EEXIST if name is
// taken (by anything, a dangling symlink too).
func (c *Client) Create(dir FID, name string, flags int, mode, uid, gid uint32) (FID, Attr, int, error) {
	if len(name) > MaxNameLen {
		return 0, Attr{}, -1, unix.ENAMETOOLONG
	}
	if flags < 0 || flags&^unix.O_ACCMODE != 0 {
		return 0, Attr{}, -1, unix.EINVAL
	}
	var r Rcreate
	fd, err := c.roundTrip("create", &Tcreate{Dir: dir, Name: name, Flags: uint32(flags), Mode: mode, UID: uid, GID: gid}, &r, true)
	if err != nil {
		return 0, Attr{}, -1, err
	}
	return r.FID, r.Attr, fd, nil
}

// node does a request that makes a node and answers with a FID for it.
func (c *Client) node(op, name string, req Message) (FID, Attr, error) {
	if len(name) > MaxNameLen {
		return 0, Attr{}, unix.ENAMETOOLONG
	}
	r := &Rnode{typ: req.Type() + 1}
	if err := c.call(op, req, r); err != nil {
		return 0, Attr{}, err
	}
	return r.FID, r.Attr, nil
}

// Mkdir makes the directory name in dir and returns a FID for it.
func (c *Client) Mkdir(dir FID, name string, mode, uid, gid uint32) (FID, Attr, error) {
	return c.node("mkdir", name, &Tmkdir{Dir: dir, Name: name, Mode: mode, UID: uid, GID: gid})
}

// Mknod makes the FIFO, socket or device node name in dir (mode holds the
// type bits) and returns a FID for it.
func (c *Client) Mknod(dir FID, name string, mode uint32, rdev uint64, uid, gid uint32) (FID, Attr, error) {
	return c.node("mknod", name, &Tmknod{Dir: dir, Name: name, Mode: mode, Rdev: rdev, UID: uid, GID: gid})
}

// Symlink makes name in dir a symbolic link to target and returns a FID
// for it.
func (c *Client) Symlink(dir FID, name, target string, uid, gid uint32) (FID, Attr, error) {
	return c.node("symlink", name, &Tsymlink{Dir: dir, Name: name, Target: target, UID: uid, GID: gid})
}

// Link makes name in dir a hard link to target and returns a FID for it.
func (c *Client) Link(dir FID, name string, target FID) (FID, Attr, error) {
	return c.node("link", name, &Tlink{Dir: dir, Name: name, Target: target})
}

// Unlink removes the entry name of dir; flags is 0 or AT_REMOVEDIR.
func (c *Client) Unlink(dir FID, name string, flags uint32) error {
	if len(name) > MaxNameLen {
		return unix.ENAMETOOLONG
	}
	return c.call("unlink", &Tunlink{Dir: dir, Name: name, Flags: flags}, NewRempty(MsgTunlink))
}

// Rename moves oldName of oldDir to newName of newDir with renameat2(2)'s
// flags.
func (c *Client) Rename(oldDir FID, oldName string, newDir FID, newName string, flags uint32) error {
	if len(oldName) > MaxNameLen || len(newName) > MaxNameLen {
		return unix.ENAMETOOLONG
	}
	return c.call("rename", &Trename{OldDir: oldDir, OldName: oldName, NewDir: newDir, NewName: newName, Flags: flags}, NewRempty(MsgTrename))
}

// Setattr changes the attributes of f that req.Mask names (req.FID is set
// to f) and returns its attributes afterwards.
func (c *Client) Setattr(f FID, req Tsetattr) (Attr, error) {
	req.FID = f
	var r Rsetattr
	if err := c.call("setattr", &req, &r); err != nil {
		return Attr{}, err
	}
	return r.Attr, nil
}

// Fsync flushes the regular file or directory f to stable storage.
func (c *Client) Fsync(f FID) error {
	return c.call("fsync", &Tfsync{FID: f}, NewRempty(MsgTfsync))
}

// GetXattr returns the value of the extended attribute name of f; ERANGE
// if it is longer than size, unless size is 0.
func (c *Client) GetXattr(f FID, name string, size uint32) (string, error) {
	var r Rgetxattr
	if err := c.call("getxattr", &Tgetxattr{FID: f, Name: name, Size: size}, &r); err != nil {
		return "", err
	}
	return r.Value, nil
}

// SetXattr sets the extended attribute name of f.
func (c *Client) SetXattr(f FID, name, value string, flags uint32) error {
	return c.call("setxattr", &Tsetxattr{FID: f, Name: name, Value: value, Flags: flags}, NewRempty(MsgTsetxattr))
}

// ListXattr returns the names of the extended attributes of f; ERANGE if
// the list is longer than size, unless size is 0.
func (c *Client) ListXattr(f FID, size uint32) ([]string, error) {
	var r Rlistxattr
	if err := c.call("listxattr", &Tlistxattr{FID: f, Size: size}, &r); err != nil {
		return nil, err
	}
	return r.Names, nil
}

// RemoveXattr removes the extended attribute name of f.
func (c *Client) RemoveXattr(f FID, name string) error {
	return c.call("removexattr", &Tremovexattr{FID: f, Name: name}, NewRempty(MsgTremovexattr))
}
