package gofer

import (
	"context"
	"math"

	"golang.org/x/sys/unix"

	"palisade.dev/gofer/protocol"
	"palisade.dev/sentry/vfs"
)

// SetStat implements vfs.Setter.SetStat. The change is made by the gofer on
// the node itself; a size change of a file the sentry holds a writable host
// descriptor of (one open for writing in the sandbox, or cached) is made on
// that descriptor, with no round trip, and works on a file already
// unlinked too.
func (d *dentry) SetStat(ctx context.Context, o vfs.SetStatOptions) error {
	if !d.fs.writable {
		return unix.EROFS
	}
	var req protocol.Tsetattr
	if o.Mask&vfs.STATX_MODE != 0 {
		req.Mask |= protocol.SetattrMode
		req.Mode = o.Stat.Mode & 0o7777
	}
	if o.Mask&vfs.STATX_UID != 0 {
		req.Mask |= protocol.SetattrUID
		req.UID = o.Stat.UID
	}
	if o.Mask&vfs.STATX_GID != 0 {
		req.Mask |= protocol.SetattrGID
		req.GID = o.Stat.GID
	}
	if o.Mask&vfs.STATX_ATIME != 0 {
		req.Mask |= protocol.SetattrAtime
		req.Atime = protocol.Timespec{Sec: o.Stat.Atime.Sec, Nsec: o.Stat.Atime.Nsec}
	}
	if o.Mask&vfs.STATX_MTIME != 0 {
		req.Mask |= protocol.SetattrMtime
		req.Mtime = protocol.Timespec{Sec: o.Stat.Mtime.Sec, Nsec: o.Stat.Mtime.Nsec}
	}
	in := d.inode()
	in.mu.Lock()
	defer in.mu.Unlock()
	resized := false
	if o.Mask&vfs.STATX_SIZE != 0 {
		switch in.attr.Mode & vfs.S_IFMT {
		case vfs.S_IFREG:
		case vfs.S_IFDIR:
			return unix.EISDIR
		default:
			return unix.EINVAL
		}
		if o.Stat.Size > math.MaxInt64 {
			return unix.EFBIG
		}
		if w := in.writableFDOpenLocked(); w >= 0 {
			if err := ftruncate(w, int64(o.Stat.Size)); err != nil {
				return err
			}
			in.resizeLocked(o.Stat.Size)
			in.stale = true
			resized = true
		} else {
			req.Mask |= protocol.SetattrSize
			req.Size = o.Stat.Size
		}
	}
	if req.Mask == 0 {
		return nil
	}
	fid := d.getFID()
	if fid == 0 {
		return unix.ENOENT
	}
	attr, err := d.fs.client.Setattr(fid, req)
	if err != nil {
		if resized {
			// The size did change.
			return nil
		}
		return err
	}
	if req.Mask&protocol.SetattrSize != 0 {
		in.resizeLocked(req.Size)
	}
	in.setAttrLocked(attr)
	return nil
}

// GetXattr implements vfs.Xattrs.GetXattr. The gofer serves user.*
// attributes only.
func (d *dentry) GetXattr(ctx context.Context, name string, size uint64) (string, error) {
	fid := d.getFID()
	if fid == 0 {
		return "", unix.ENOENT
	}
	return d.fs.client.GetXattr(fid, name, 0)
}

// SetXattr implements vfs.Xattrs.SetXattr.
func (d *dentry) SetXattr(ctx context.Context, name, value string, flags uint32) error {
	if !d.fs.writable {
		return unix.EROFS
	}
	fid := d.getFID()
	if fid == 0 {
		return unix.ENOENT
	}
	if err := d.fs.client.SetXattr(fid, name, value, flags); err != nil {
		return err
	}
	d.inode().mu.Lock()
	d.inode().touchLocked(false)
	d.inode().mu.Unlock()
	return nil
}

// ListXattr implements vfs.Xattrs.ListXattr.
func (d *dentry) ListXattr(ctx context.Context, size uint64) ([]string, error) {
	fid := d.getFID()
	if fid == 0 {
		return nil, unix.ENOENT
	}
	return d.fs.client.ListXattr(fid, 0)
}

// RemoveXattr implements vfs.Xattrs.RemoveXattr.
func (d *dentry) RemoveXattr(ctx context.Context, name string) error {
	if !d.fs.writable {
		return unix.EROFS
	}
	fid := d.getFID()
	if fid == 0 {
		return unix.ENOENT
	}
	if err := d.fs.client.RemoveXattr(fid, name); err != nil {
		return err
	}
	d.inode().mu.Lock()
	d.inode().touchLocked(false)
	d.inode().mu.Unlock()
	return nil
}

// ftruncate is ftruncate(2) on a host descriptor, retried on EINTR.
func ftruncate(fd int, size int64) error {
	for {
		err := unix.Ftruncate(fd, size)
		if err != unix.EINTR {
			return err
		}
	}
}
