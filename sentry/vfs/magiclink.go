package vfs

import (
	"context"

	"golang.org/x/sys/unix"
)

// MagicLink is a symlink that leads straight to an object instead of
// through the text of its target: /proc/[pid]/fd/N, cwd, root and exe, as
// Linux calls them. Path resolution that follows one continues from the
// VirtualDentry Follow returns, so it reaches an open file even when the
// file was unlinked or never had a name (a pipe, say); readlink(2) still
// gives the text (Readlink), which need not resolve to anything.
type MagicLink interface {
	Dentry
	// Follow returns where the link leads, or an error (ENOENT when the
	// object is gone, EACCES when the caller may not follow it).
	Follow(ctx context.Context) (VirtualDentry, error)
}

// followMagic returns where d leads if it is a magic link.
func followMagic(ctx context.Context, d Dentry) (VirtualDentry, bool, error) {
	ml, ok := d.(MagicLink)
	if !ok {
		return VirtualDentry{}, false, nil
	}
	vd, err := ml.Follow(ctx)
	if err == nil && !vd.Ok() {
		return VirtualDentry{}, true, unix.ENOENT
	}
	return vd, true, err
}
