package vfs

import (
	"context"

	"palisade.dev/sentry/kernel/auth"
)

// Filesystems that can change implement these interfaces on their
// dentries. Path resolution, permission checks common to all filesystems
// (write and search permission on the parent, sticky directories) and the
// read-only mount check happen in the system calls; a filesystem checks
// only what is its own (names, non-empty directories, cross-directory
// rules, its size limits).
//
// Every method takes the caller's credentials for the new files' owner
// (FSUID/FSGID, with the setgid-directory rule applied by the filesystem).

// CreateOptions describe a new node.
type CreateOptions struct {
	// Mode is the file type and permission bits (umask already applied).
	Mode uint32
	// Dev is the device number of a character or block device node.
	Dev uint64
	// Creds own the new node.
	Creds *auth.Credentials
}

// DirWriter is a directory whose entries can change.
type DirWriter interface {
	// Create makes a regular file called name and returns its dentry;
	// EEXIST if the name is taken.
	Create(ctx context.Context, name string, o CreateOptions) (Dentry, error)
	// Mkdir makes a directory.
	Mkdir(ctx context.Context, name string, o CreateOptions) error
	// Mknod makes a FIFO, socket or device node (o.Mode says which).
	Mknod(ctx context.Context, name string, o CreateOptions) error
	// Symlink makes a symbolic link to target.
	Symlink(ctx context.Context, name, target string, o CreateOptions) error
	// Link makes name another hard link to target (not a directory;
	// EXDEV across filesystems).
	Link(ctx context.Context, name string, target Dentry) error
	// Unlink removes a non-directory entry (EISDIR for a directory).
	Unlink(ctx context.Context, name string) error
	// Rmdir removes an empty directory (ENOTEMPTY, ENOTDIR).
	Rmdir(ctx context.Context, name string) error
	// Rename moves the entry oldName to newDir/newName, which must be on
	// the same filesystem (EXDEV otherwise), with renameat2's flags
	// (RENAME_NOREPLACE, RENAME_EXCHANGE; RENAME_WHITEOUT is EINVAL).
	Rename(ctx context.Context, oldName string, newDir Dentry, newName string, flags uint32) error
}

// SetStatOptions say which attributes SetStat changes (a mask of
// STATX_MODE, STATX_UID, STATX_GID, STATX_SIZE, STATX_ATIME, STATX_MTIME).
type SetStatOptions struct {
	Mask  uint32
	Stat  Statx
	Creds *auth.Credentials
}

// statx mask bits used by SetStatOptions.
const (
	STATX_MODE  = 0x2
	STATX_UID   = 0x8
	STATX_GID   = 0x10
	STATX_ATIME = 0x20
	STATX_MTIME = 0x40
	STATX_CTIME = 0x80
	STATX_SIZE  = 0x200
)

// Special Timespec.Nsec values of utimensat(2).
const (
	UTIME_NOW  = (1 << 30) - 1
	UTIME_OMIT = (1 << 30) - 2
)

// Setter is a dentry whose attributes can change (chmod, chown, utimes,
// truncate). The system call has checked the caller may make the change.
type Setter interface {
	SetStat(ctx context.Context, o SetStatOptions) error
}

// Xattrs is a dentry with extended attributes.
type Xattrs interface {
	GetXattr(ctx context.Context, name string, size uint64) (string, error)
	SetXattr(ctx context.Context, name, value string, flags uint32) error
	ListXattr(ctx context.Context, size uint64) ([]string, error)
	RemoveXattr(ctx context.Context, name string) error
}

// Deleted is implemented by dentries that know whether they were unlinked
// (so /proc shows " (deleted)" and paths stop resolving through them).
type Deleted interface {
	IsDeleted() bool
}
