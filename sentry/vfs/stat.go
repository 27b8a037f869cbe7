package vfs

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Timespec is a time in seconds and nanoseconds.
type Timespec struct {
	Sec  int64
	Nsec int64
}

// Statx is a file's attributes, in the form of struct statx.
type Statx struct {
	Mask      uint32
	Blksize   uint32
	Nlink     uint32
	UID, GID  uint32
	Mode      uint32
	Ino       uint64
	Size      uint64
	Blocks    uint64
	Atime     Timespec
	Btime     Timespec
	Ctime     Timespec
	Mtime     Timespec
	RdevMajor uint32
	RdevMinor uint32
	DevMajor  uint32
	DevMinor  uint32
}

// STATX_BASIC_STATS is the mask of the fields struct stat has.
const STATX_BASIC_STATS = 0x7ff

// Makedev encodes a device number as Linux's new_encode_dev does for
// struct stat.
func Makedev(major, minor uint32) uint64 { return unix.Mkdev(major, minor) }

// MarshalStat encodes s as an x86-64 struct stat (144 bytes).
func (s *Statx) MarshalStat() []byte {
	b := make([]byte, 144)
	le := binary.LittleEndian
	le.PutUint64(b[0:], Makedev(s.DevMajor, s.DevMinor))
	le.PutUint64(b[8:], s.Ino)
	le.PutUint64(b[16:], uint64(s.Nlink))
	le.PutUint32(b[24:], s.Mode)
	le.PutUint32(b[28:], s.UID)
	le.PutUint32(b[32:], s.GID)
	le.PutUint64(b[40:], Makedev(s.RdevMajor, s.RdevMinor))
	le.PutUint64(b[48:], s.Size)
	le.PutUint64(b[56:], uint64(s.Blksize))
	le.PutUint64(b[64:], s.Blocks)
	le.PutUint64(b[72:], uint64(s.Atime.Sec))
	le.PutUint64(b[80:], uint64(s.Atime.Nsec))
	le.PutUint64(b[88:], uint64(s.Mtime.Sec))
	le.PutUint64(b[96:], uint64(s.Mtime.Nsec))
	le.PutUint64(b[104:], uint64(s.Ctime.Sec))
	le.PutUint64(b[112:], uint64(s.Ctime.Nsec))
	return b
}

// MarshalStatx encodes s as struct statx (256 bytes), reporting the fields
// in mask.
func (s *Statx) MarshalStatx() []byte {
	b := make([]byte, 256)
	le := binary.LittleEndian
	le.PutUint32(b[0:], s.Mask)
	le.PutUint32(b[4:], s.Blksize)
	// stx_attributes (8 bytes at 8) is zero.
	le.PutUint32(b[16:], s.Nlink)
	le.PutUint32(b[20:], s.UID)
	le.PutUint32(b[24:], s.GID)
	le.PutUint16(b[28:], uint16(s.Mode))
	le.PutUint64(b[32:], s.Ino)
	le.PutUint64(b[40:], s.Size)
	le.PutUint64(b[48:], s.Blocks)
	// stx_attributes_mask (8 bytes at 56) is zero.
	put := func(o int, t Timespec) {
		le.PutUint64(b[o:], uint64(t.Sec))
		le.PutUint32(b[o+8:], uint32(t.Nsec))
	}
	put(64, s.Atime)
	put(80, s.Btime)
	put(96, s.Ctime)
	put(112, s.Mtime)
	le.PutUint32(b[128:], s.RdevMajor)
	le.PutUint32(b[132:], s.RdevMinor)
	le.PutUint32(b[136:], s.DevMajor)
	le.PutUint32(b[140:], s.DevMinor)
	return b
}

// Statfs is a filesystem's statistics, in the form of struct statfs.
type Statfs struct {
	Type    uint64
	Bsize   int64
	Blocks  uint64
	Bfree   uint64
	Bavail  uint64
	Files   uint64
	Ffree   uint64
	Namelen uint64
	Frsize  int64
	Flags   uint64
}

// Marshal encodes s as x86-64 struct statfs (120 bytes).
func (s *Statfs) Marshal() []byte {
	b := make([]byte, 120)
	le := binary.LittleEndian
	le.PutUint64(b[0:], s.Type)
	le.PutUint64(b[8:], uint64(s.Bsize))
	le.PutUint64(b[16:], s.Blocks)
	le.PutUint64(b[24:], s.Bfree)
	le.PutUint64(b[32:], s.Bavail)
	le.PutUint64(b[40:], s.Files)
	le.PutUint64(b[48:], s.Ffree)
	// f_fsid (8 bytes at 56) is zero.
	le.PutUint64(b[64:], s.Namelen)
	le.PutUint64(b[72:], uint64(s.Frsize))
	le.PutUint64(b[80:], s.Flags)
	return b
}

// File type bits.
const (
	S_IFMT   = 0o170000
	S_IFSOCK = 0o140000
	S_IFLNK  = 0o120000
	S_IFREG  = 0o100000
	S_IFBLK  = 0o060000
	S_IFDIR  = 0o040000
	S_IFCHR  = 0o020000
	S_IFIFO  = 0o010000
)

// DirentType returns the d_type of a file mode.
func DirentType(mode uint32) uint8 {
	return uint8((mode & S_IFMT) >> 12)
}
