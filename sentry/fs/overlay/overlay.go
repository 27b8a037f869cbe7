// Package overlay is a union filesystem in the manner of Linux's
// overlayfs (Documentation/filesystems/overlayfs.rst): a read-only lower
// filesystem (any vfs.Filesystem; the container's root is the gofer's)
// under a memory-backed upper tmpfs that takes every change, so that the
// container's root is writable and the host's files are never written.
//
// Each overlay Dentry stands for one name and refers to the node of that
// name in the upper layer, the lower layer, or both:
//
//   - Lookup merges the layers. An upper entry wins. A whiteout in the upper
//     layer (a character device 0/0, as Linux makes them) hides the lower
//     name; an upper directory with the xattr trusted.overlay.opaque="y"
//     hides all of the lower directory. A non-directory in the upper layer
//     hides the lower node entirely; directories present in both layers
//     are merged.
//   - Copy-up: the first change to a node that exists only in the lower
//     layer (open for writing or O_TRUNC, chmod, chown, utimes, truncate,
//     setxattr, removexattr, link, rename) first copies it to the upper
//     layer: its parents first, as directories with the lower ones' mode,
//     owner and times, then the node itself with its data (regular files),
//     target (symlinks) or type and device number (device nodes, FIFOs,
//     sockets), mode, owner, times and extended attributes. The dentry
//     stays the same overlay dentry; from then on its opens and stats go to
//     the upper node. A description opened read-only before the copy-up
//     keeps reading the lower file's data, as Linux's overlayfs did before
//     4.19. Lower hard links stay linked: copying up a second name of a
//     lower file that was already copied up links to the upper copy
//     (Linux's "index" feature).
//   - Directory changes happen in the upper layer after the parent has
//     been copied up. Removing a name that the lower layer has leaves a
//     whiteout; a directory created over a whiteout is opaque. rmdir sees
//     the merged directory: it must be empty across both layers, and its
//     upper whiteouts are removed before it is. Renaming a directory that
//     has lower contents copies its whole subtree up (the upper layer is
//     memory; Linux would use redirect_dir instead), renames it in the
//     upper layer, makes it opaque and leaves a whiteout at the old name.
//   - getdents lists the upper entries, then the lower entries that the
//     upper layer neither has nor whites out. The merged listing is taken
//     when a directory is first read and when it is rewound (lseek to 0),
//     so offsets stay stable while the directory changes, as with Linux's
//     cached overlay directories.
//   - Stat reports the overlay's own st_dev. Inode numbers are the lower
//     node's for every node that has one (and stay the same across
//     copy-up: the overlay remembers which lower inode each upper copy
//     came from); nodes that exist only in the upper layer get the upper
//     inode number with bit 63 set, so that they never collide with lower
//     ones. A merged directory reports one link, as Linux's overlayfs does,
//     which tells find(1) not to count subdirectories. statfs reports the
//     upper tmpfs's numbers with OVERLAYFS_SUPER_MAGIC.
//   - Extended attributes trusted.overlay.* are the overlay's own: they are
//     not listed, reading them is EOPNOTSUPP and changing them EPERM.
//
// Unix sockets bound in the overlay and O_TMPFILE files live in the upper
// layer, as tmpfs makes them (MknodSocket, Tmpfile).
//
// Dentries are cached for the life of the mount (as every Palisade
// filesystem caches them): the same name always leads to the same dentry,
// which mounts rely on. Lookups the lower layer answered ENOENT are cached
// too (up to maxNegative names a directory), since the lower layer must
// not change while it is mounted, as with Linux's overlayfs.
//
// Costs: a copy-up copies the whole file (in chunks, leaving holes where
// the lower file has blocks of zeros; a truncation copies only what it
// keeps), and renaming a directory with lower contents copies its whole
// subtree. Both hold writeMu, which delays other changes to the overlay
// (not lookups, stats or reads) for as long.
//
// Lock order:
//
//	Filesystem.writeMu (every change: directory operations, copy-up,
//	setstat, xattrs)
//	  Dentry.mu of a directory (its children and its upper entries).
//	  Only holders of writeMu take two: a parent before its child,
//	  otherwise in any order (there is one writer at a time).
//	    negMu, tmpfs's locks, the lower filesystem's locks
//
// Lookup, Stat, Open for reading and getdents take no writeMu: they take
// one directory's mu at a time, and the lower layer's I/O (a gofer round
// trip) happens without it.
package overlay

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/vfs"
)

// OVERLAYFS_SUPER_MAGIC is what statfs(2) reports as the type.
const OVERLAYFS_SUPER_MAGIC = 0x794c7630

// Extended attributes the overlay keeps on upper nodes.
const (
	// privateXattrPrefix begins every attribute of the overlay's own.
	privateXattrPrefix = "trusted.overlay."
	// opaqueXattr marks an upper directory that hides the lower one.
	opaqueXattr = "trusted.overlay.opaque"
)

// upperOnlyIno is set in the inode numbers of nodes that exist only in
// the upper layer.
const upperOnlyIno = 1 << 63

// sentryCtx is the context of the overlay's own operations on its layers:
// it carries no task credentials, so tmpfs lets it set trusted.*
// attributes and keeps set-user-ID bits when it writes.
var sentryCtx = context.Background()

// Filesystem is an overlay instance.
type Filesystem struct {
	lower vfs.Filesystem
	upper *tmpfs.Filesystem
	dev   uint32
	root  *Dentry

	// writeMu serialises every change to the overlay.
	writeMu sync.Mutex

	// originMu protects origin.
	originMu sync.Mutex
	// origin maps the inode numbers of upper nodes copied up from the
	// lower layer to the lower inode numbers, which they keep showing.
	origin map[uint64]uint64

	// index maps lower inode numbers of copied-up files that have other
	// lower links to their upper copies, so that those links, copied up
	// in their turn, are linked to the same upper file. Protected by
	// writeMu.
	index map[uint64]indexEntry
}

// indexEntry is an upper copy of a lower file with several links.
type indexEntry struct {
	// lower is the lower file's attributes at copy-up: a later name must
	// match them (the lower layer may span several host filesystems,
	// whose inode numbers can coincide).
	lower vfs.Statx
	upper *tmpfs.Dentry
}

var _ vfs.Filesystem = (*Filesystem)(nil)

// New returns an overlay of upper (which should be empty) over lower.
// The upper root takes the lower root's mode, owner and times. The
// overlay never changes lower.
func New(lower vfs.Filesystem, upper *tmpfs.Filesystem) (*Filesystem, error) {
	fs := &Filesystem{
		lower:  lower,
		upper:  upper,
		dev:    vfs.NewAnonDev(),
		origin: make(map[uint64]uint64),
		index:  make(map[uint64]indexEntry),
	}
	lr := lower.Root()
	st, err := lr.Stat(sentryCtx)
	if err != nil {
		return nil, err
	}
	if st.Mode&vfs.S_IFMT != vfs.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	ur := upper.RootDentry()
	if err := ur.SetStat(sentryCtx, vfs.SetStatOptions{
		Mask: vfs.STATX_MODE | vfs.STATX_UID | vfs.STATX_GID | vfs.STATX_ATIME | vfs.STATX_MTIME,
		Stat: st,
	}); err != nil {
		return nil, err
	}
	fs.setOrigin(ur.Ino(), st.Ino)
	fs.root = fs.newDentry(nil, "", ur, lr, st.Ino)
	return fs, nil
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "overlay" }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Dentry { return fs.root }

// RootDentry returns the root as a *Dentry.
func (fs *Filesystem) RootDentry() *Dentry { return fs.root }

// Statfs implements vfs.Filesystem.Statfs: the upper layer's capacity,
// which is where anything written goes.
func (fs *Filesystem) Statfs(ctx context.Context) (vfs.Statfs, error) {
	s, err := fs.upper.Statfs(ctx)
	if err != nil {
		return vfs.Statfs{}, err
	}
	s.Type = OVERLAYFS_SUPER_MAGIC
	return s, nil
}

// setOrigin records that the upper inode upperIno shows as lowerIno.
func (fs *Filesystem) setOrigin(upperIno, lowerIno uint64) {
	fs.originMu.Lock()
	fs.origin[upperIno] = lowerIno
	fs.originMu.Unlock()
}

// upperIno returns the overlay inode number of the upper inode ino.
func (fs *Filesystem) upperIno(ino uint64) uint64 {
	fs.originMu.Lock()
	o, ok := fs.origin[ino]
	fs.originMu.Unlock()
	if ok {
		return o
	}
	return ino | upperOnlyIno
}

// isWhiteout reports whether the upper node u is a whiteout.
func isWhiteout(u *tmpfs.Dentry) bool {
	if u.Mode()&vfs.S_IFMT != vfs.S_IFCHR {
		return false
	}
	st, err := u.Stat(sentryCtx)
	return err == nil && st.RdevMajor == 0 && st.RdevMinor == 0
}

// isOpaque reports whether the upper directory u hides the lower one.
func isOpaque(u *tmpfs.Dentry) bool {
	v, err := u.GetXattr(sentryCtx, opaqueXattr, 0)
	return err == nil && v == "y"
}

// isPrivateXattr reports whether name is one of the overlay's own
// attributes.
func isPrivateXattr(name string) bool {
	return len(name) >= len(privateXattrPrefix) && name[:len(privateXattrPrefix)] == privateXattrPrefix
}
