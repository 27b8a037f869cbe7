// Package tmpfs is a memory-backed filesystem, as tmpfs(5) describes
// Linux's: the sentry mounts it at /tmp and /dev/shm, and it is the upper
// layer of a container's root overlay.
//
// Everything lives in the sentry. A regular file's data are pages of the
// memory file (sentry/memfile), held in a sparse map from file offsets to
// memory-file offsets: reads and writes copy to and from those pages, and
// mappings of the file (the file is its own mm.Mappable) map the very same
// pages, so that read(2), write(2) and MAP_SHARED mappings always agree.
// Pages that were never written are holes and take no memory. A file keeps
// its pages while it has a name, an open description or a mapping; the
// last of those to go frees them.
//
// mm has no way yet to make an address space drop pages it has mapped, so
// truncating or punching a hole in a file that is mapped zeroes the pages
// concerned instead of freeing them: every mapping then sees the zeros, as
// it would in Linux. Pages beyond the end of file kept that way are freed
// when the last mapping goes. (Linux would also deliver SIGBUS for a later
// access beyond the new end of file through a page already mapped.)
//
// Each node is a Dentry (a name in a directory) over an inode (the file).
// Hard links are several Dentries over one inode; a directory has exactly
// one Dentry. Directories keep their entries in a map by name and in a list
// ordered by a per-directory cookie that only grows, so an open
// directory's position is a cookie and getdents never repeats or skips an
// entry that stays in place while others come and go.
//
// Lock order:
//
//	Filesystem.renameMu (taken by Rename only)
//	  dirData.mu of directories: a parent before its child. Rename
//	  locks its two parent directories ancestor first (otherwise by
//	  inode number), then the directory it replaces, if any, once it
//	  has checked that that one is no ancestor of either parent
//	    inode.mu (a leaf: no other inode.mu or dirData.mu is taken
//	    while it is held)
//	      memfile.MemoryFile.mu
//	fifo.mu (a named pipe's open state), then the pipe's own lock or
//	inode.mu
//
// Translate, IncMappings and DecMappings are called by mm with
// mm.MemoryManager.mu held, which therefore comes before inode.mu. tmpfs
// never calls into mm with a lock held.
package tmpfs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/vfs"
)

// TMPFS_MAGIC is what statfs(2) reports as the filesystem type.
const TMPFS_MAGIC = 0x01021994

// Limits of the filesystem.
const (
	// maxFileSize is s_maxbytes: MAX_LFS_FILESIZE.
	maxFileSize = 1<<63 - 1
	// xattrNameMax and xattrSizeMax are XATTR_NAME_MAX and
	// XATTR_SIZE_MAX.
	xattrNameMax = 255
	xattrSizeMax = 65536
	// bogoDirentSize is what each entry adds to a directory's size, as
	// Linux's tmpfs counts (BOGO_DIRENT_SIZE).
	bogoDirentSize = 20
	// unlimitedBytes is the capacity statfs reports for a filesystem
	// without a size limit: the size of the memory file, which bounds
	// every allocation.
	unlimitedBytes = 1 << 40
	// unlimitedInodes is the number of inodes statfs reports without an
	// inode limit.
	unlimitedInodes = 1 << 30
)

// CAP_FSETID lets a writer keep the set-user-ID and set-group-ID bits.
const capFSETID = 4

// DeviceOpener opens the device node with file type typ (vfs.S_IFCHR or
// vfs.S_IFBLK) and number major:minor, as open(2) with flags asks. The
// description is made by tmpfs around the returned FileImpl, with the
// node's path and attributes. An unknown device is ENXIO (or ENODEV).
type DeviceOpener func(ctx context.Context, typ, major, minor, flags uint32) (vfs.FileImpl, error)

// Options configure a new filesystem, as tmpfs's mount options do.
type Options struct {
	// Size limits the data the filesystem holds, in bytes (rounded up to
	// whole pages); 0 is unlimited. Beyond it, writes and allocations
	// fail with ENOSPC.
	Size uint64
	// NrInodes limits the number of inodes; 0 is unlimited. Beyond it,
	// creating a node fails with ENOSPC.
	NrInodes uint64
	// Mode is the root directory's permission bits. If it is 0 and
	// ModeSet is false, the root's mode is tmpfs's default, 01777.
	Mode    uint32
	ModeSet bool
	// UID and GID own the root directory.
	UID, GID uint32
	// Devices opens character and block device nodes. Without it, opening
	// one fails with ENXIO.
	Devices DeviceOpener
}

// Filesystem is a tmpfs instance.
type Filesystem struct {
	mf      *memfile.MemoryFile
	opts    Options
	dev     uint32
	root    *Dentry
	nextIno atomic.Uint64

	// maxPages and maxInodes are the limits (0: none).
	maxPages, maxInodes uint64
	// usedPages counts the data pages of every file; inodes the inodes
	// alive.
	usedPages atomic.Uint64
	inodes    atomic.Uint64

	// renameMu serialises renames, so that the tree's shape (parent
	// pointers) only changes under it.
	renameMu sync.Mutex

	// clock returns the current time (replaced in tests).
	clock func() time.Time
}

var _ vfs.Filesystem = (*Filesystem)(nil)

// New returns an empty filesystem whose files' data live in mf.
func New(mf *memfile.MemoryFile, opts Options) *Filesystem {
	fs := &Filesystem{mf: mf, opts: opts, dev: vfs.NewAnonDev(), clock: time.Now}
	if opts.Size != 0 {
		pages, ok := linux.PageRoundUp(opts.Size)
		if !ok {
			pages = 1 << 63
		}
		fs.maxPages = pages / linux.PageSize
	}
	fs.maxInodes = opts.NrInodes
	mode := opts.Mode & 0o7777
	if mode == 0 && !opts.ModeSet {
		mode = 0o1777
	}
	root := fs.newInode(vfs.S_IFDIR|mode, opts.UID, opts.GID)
	root.nlink = 2
	fs.inodes.Add(1)
	fs.root = fs.newDentry(root, "", nil)
	return fs
}

// Name implements vfs.Filesystem.Name.
func (fs *Filesystem) Name() string { return "tmpfs" }

// Root implements vfs.Filesystem.Root.
func (fs *Filesystem) Root() vfs.Dentry { return fs.root }

// RootDentry returns the root as a *Dentry.
func (fs *Filesystem) RootDentry() *Dentry { return fs.root }

// Statfs implements vfs.Filesystem.Statfs. Without limits, the capacity
// reported is that of the memory file and a notional inode count, so that
// programs that check for free space before writing find plenty.
func (fs *Filesystem) Statfs(context.Context) (vfs.Statfs, error) {
	blocks := fs.maxPages
	if blocks == 0 {
		blocks = unlimitedBytes / linux.PageSize
	}
	used := fs.usedPages.Load()
	free := uint64(0)
	if used < blocks {
		free = blocks - used
	}
	files := fs.maxInodes
	if files == 0 {
		files = unlimitedInodes
	}
	inodes := fs.inodes.Load()
	ffree := uint64(0)
	if inodes < files {
		ffree = files - inodes
	}
	return vfs.Statfs{
		Type:    TMPFS_MAGIC,
		Bsize:   linux.PageSize,
		Blocks:  blocks,
		Bfree:   free,
		Bavail:  free,
		Files:   files,
		Ffree:   ffree,
		Namelen: vfs.NameMax,
		Frsize:  linux.PageSize,
	}, nil
}

// UsedBytes returns the memory the files' data occupy.
func (fs *Filesystem) UsedBytes() uint64 { return fs.usedPages.Load() * linux.PageSize }

// reservePages accounts for up to n new pages against the size limit and
// returns how many it accounted: n, or with partial set as many as fit.
func (fs *Filesystem) reservePages(n uint64, partial bool) uint64 {
	if fs.maxPages == 0 {
		fs.usedPages.Add(n)
		return n
	}
	for {
		used := fs.usedPages.Load()
		avail := uint64(0)
		if used < fs.maxPages {
			avail = fs.maxPages - used
		}
		got := n
		if got > avail {
			if !partial {
				return 0
			}
			got = avail
		}
		if got == 0 {
			return 0
		}
		if fs.usedPages.CompareAndSwap(used, used+got) {
			return got
		}
	}
}

// unreservePages returns n pages to the pool.
func (fs *Filesystem) unreservePages(n uint64) { fs.usedPages.Add(-n) }

// reserveInode accounts for a new inode (ENOSPC beyond the limit).
func (fs *Filesystem) reserveInode() error {
	for {
		n := fs.inodes.Load()
		if fs.maxInodes != 0 && n >= fs.maxInodes {
			return unix.ENOSPC
		}
		if fs.inodes.CompareAndSwap(n, n+1) {
			return nil
		}
	}
}

func (fs *Filesystem) now() vfs.Timespec {
	t := fs.clock()
	return vfs.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// credsFrom returns the credentials of the task behind ctx, or nil
// outside a task. (*kernel.Task implements context.Context and this.)
func credsFrom(ctx context.Context) *auth.Credentials {
	if c, ok := ctx.(interface{ Credentials() *auth.Credentials }); ok {
		return c.Credentials()
	}
	return nil
}

// mayKeepPrivs reports whether c may write a file without losing its
// set-user-ID and set-group-ID bits (nil credentials are the sentry's own).
func mayKeepPrivs(c *auth.Credentials) bool {
	return c == nil || c.HasCapability(capFSETID)
}

// checkName validates a new entry's name.
func checkName(name string) error {
	switch {
	case len(name) > vfs.NameMax:
		return unix.ENAMETOOLONG
	case name == "" || name == "." || name == "..":
		return unix.EEXIST
	}
	return nil
}
