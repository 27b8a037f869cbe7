package tmpfs

import (
	"context"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/vfs"
)

// setxattr(2) flags.
const (
	XATTR_CREATE  = 1
	XATTR_REPLACE = 2
)

// Extended attribute namespaces tmpfs keeps.
const (
	xattrUser    = "user."
	xattrTrusted = "trusted."
)

// checkXattr validates an attribute name for an inode of type typ. The
// errors are those of a read (get) or a change (set, remove): user.*
// attributes belong to regular files and directories only, and trusted.*
// ones to CAP_SYS_ADMIN (c nil is the sentry, which has it).
func checkXattr(name string, typ uint32, c *auth.Credentials, change bool) error {
	if name == "" || len(name) > xattrNameMax {
		return unix.ERANGE
	}
	denied := unix.ENODATA
	if change {
		denied = unix.EPERM
	}
	switch {
	case strings.HasPrefix(name, xattrUser):
		if name == xattrUser {
			return unix.EINVAL
		}
		if typ != vfs.S_IFREG && typ != vfs.S_IFDIR {
			return denied
		}
	case strings.HasPrefix(name, xattrTrusted):
		if name == xattrTrusted {
			return unix.EINVAL
		}
		if c != nil && !c.HasCapability(auth.CAP_SYS_ADMIN) {
			return denied
		}
	default:
		return unix.EOPNOTSUPP
	}
	return nil
}

// GetXattr implements vfs.Xattrs.GetXattr. size 0 asks for the value
// whatever its length; otherwise a longer value is ERANGE.
func (d *Dentry) GetXattr(ctx context.Context, name string, size uint64) (string, error) {
	i := d.inode
	if err := checkXattr(name, i.fileType(), credsFrom(ctx), false); err != nil {
		return "", err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	v, ok := i.xattrs[name]
	switch {
	case !ok:
		return "", unix.ENODATA
	case size != 0 && uint64(len(v)) > size:
		return "", unix.ERANGE
	}
	return v, nil
}

// SetXattr implements vfs.Xattrs.SetXattr, with XATTR_CREATE (EEXIST if
// the attribute exists) and XATTR_REPLACE (ENODATA if it doesn't).
func (d *Dentry) SetXattr(ctx context.Context, name, value string, flags uint32) error {
	if flags&^(XATTR_CREATE|XATTR_REPLACE) != 0 {
		return unix.EINVAL
	}
	i := d.inode
	if err := checkXattr(name, i.fileType(), credsFrom(ctx), true); err != nil {
		return err
	}
	if len(value) > xattrSizeMax {
		return unix.E2BIG
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	_, ok := i.xattrs[name]
	switch {
	case ok && flags&XATTR_CREATE != 0:
		return unix.EEXIST
	case !ok && flags&XATTR_REPLACE != 0:
		return unix.ENODATA
	}
	if i.xattrs == nil {
		i.xattrs = make(map[string]string)
	}
	i.xattrs[name] = value
	i.touchCtimeLocked()
	return nil
}

// ListXattr implements vfs.Xattrs.ListXattr: the names, sorted, without
// trusted.* ones for callers without CAP_SYS_ADMIN. With size not 0, a
// list longer than size bytes (each name with its NUL) is ERANGE.
func (d *Dentry) ListXattr(ctx context.Context, size uint64) ([]string, error) {
	c := credsFrom(ctx)
	trusted := c == nil || c.HasCapability(auth.CAP_SYS_ADMIN)
	i := d.inode
	i.mu.Lock()
	defer i.mu.Unlock()
	var names []string
	var total uint64
	for n := range i.xattrs {
		if !trusted && strings.HasPrefix(n, xattrTrusted) {
			continue
		}
		names = append(names, n)
		total += uint64(len(n)) + 1
	}
	if size != 0 && total > size {
		return nil, unix.ERANGE
	}
	sort.Strings(names)
	return names, nil
}

// RemoveXattr implements vfs.Xattrs.RemoveXattr.
func (d *Dentry) RemoveXattr(ctx context.Context, name string) error {
	i := d.inode
	if err := checkXattr(name, i.fileType(), credsFrom(ctx), true); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if _, ok := i.xattrs[name]; !ok {
		return unix.ENODATA
	}
	delete(i.xattrs, name)
	i.touchCtimeLocked()
	return nil
}
