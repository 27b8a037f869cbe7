package vfs

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// OpenHow is openat2(2)'s struct open_how.
type OpenHow struct {
	Flags   uint64
	Mode    uint64
	Resolve uint64
}

// Sizes of struct open_how: the first version, and the largest page an
// application may pass (its tail past the known fields must be zero).
const (
	OpenHowSizeVer0 = 24
	OpenHowSizeMax  = 4096
)

// oLargefile is the kernel's O_LARGEFILE on x86-64 (golang.org/x/sys
// calls it 0, as glibc does).
const oLargefile = 0o100000

// validOpenFlags are the flags openat2 accepts; openat(2) ignores the
// others but openat2 refuses them.
const validOpenFlags = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY |
	unix.O_TRUNC | unix.O_APPEND | unix.O_NONBLOCK | unix.O_SYNC | unix.O_DSYNC |
	unix.O_ASYNC | unix.O_DIRECT | oLargefile | unix.O_DIRECTORY | unix.O_NOFOLLOW |
	unix.O_NOATIME | unix.O_CLOEXEC | unix.O_PATH | unix.O_TMPFILE

// oPathFlags are the only flags O_PATH may be combined with in openat2.
const oPathFlags = unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_PATH | unix.O_CLOEXEC

// ResolveCached is openat2's RESOLVE_CACHED (newer than golang.org/x/sys's
// list): succeed only from the lookup cache, or fail with EAGAIN.
const ResolveCached = 0x20

// validResolveFlags are the RESOLVE_* flags this kernel knows.
const validResolveFlags = unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS |
	unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH | unix.RESOLVE_IN_ROOT |
	ResolveCached

// oTmpfileBit is O_TMPFILE without the O_DIRECTORY it is defined with.
const oTmpfileBit = unix.O_TMPFILE &^ unix.O_DIRECTORY

// ParseOpenHow decodes a struct open_how of len(b) bytes as openat2(2)
// was given it: sizes outside [OpenHowSizeVer0, OpenHowSizeMax] and
// non-zero bytes past the fields this kernel knows (an extension it does
// not support) are refused, with EINVAL for a size too small and E2BIG
// otherwise. The caller checks the size before copying b in (see
// CheckOpenHowSize).
func ParseOpenHow(b []byte) (OpenHow, error) {
	if err := CheckOpenHowSize(uint64(len(b))); err != nil {
		return OpenHow{}, err
	}
	for _, c := range b[OpenHowSizeVer0:] {
		if c != 0 {
			return OpenHow{}, unix.E2BIG
		}
	}
	le := binary.LittleEndian
	return OpenHow{Flags: le.Uint64(b[0:]), Mode: le.Uint64(b[8:]), Resolve: le.Uint64(b[16:])}, nil
}

// CheckOpenHowSize checks openat2's size argument: EINVAL below the
// first version of struct open_how, E2BIG above a page.
func CheckOpenHowSize(size uint64) error {
	switch {
	case size < OpenHowSizeVer0:
		return unix.EINVAL
	case size > OpenHowSizeMax:
		return unix.E2BIG
	}
	return nil
}

// Validate checks h as openat2(2) does before it looks at the path:
// EINVAL for unknown flags or resolve bits (openat2, unlike openat,
// ignores none), for RESOLVE_BENEATH with RESOLVE_IN_ROOT, for a mode
// with bits beyond 07777 or a mode when nothing is created, for
// O_DIRECTORY with O_CREAT, for O_TMPFILE read-only, and for
// O_PATH with flags other than O_DIRECTORY, O_NOFOLLOW and O_CLOEXEC.
// RESOLVE_CACHED with O_CREAT, O_TRUNC or O_TMPFILE is EAGAIN, as in
// Linux: such an open can never be done from the lookup cache alone.
func (h OpenHow) Validate() error {
	flags := h.Flags
	if flags&^validOpenFlags != 0 || h.Resolve&^validResolveFlags != 0 {
		return unix.EINVAL
	}
	if h.Resolve&unix.RESOLVE_BENEATH != 0 && h.Resolve&unix.RESOLVE_IN_ROOT != 0 {
		return unix.EINVAL
	}
	if flags&(unix.O_CREAT|oTmpfileBit) != 0 {
		if h.Mode&^0o7777 != 0 {
			return unix.EINVAL
		}
	} else if h.Mode != 0 {
		return unix.EINVAL
	}
	if flags&(unix.O_DIRECTORY|unix.O_CREAT) == unix.O_DIRECTORY|unix.O_CREAT {
		return unix.EINVAL
	}
	if flags&oTmpfileBit != 0 {
		if flags&unix.O_DIRECTORY == 0 || flags&unix.O_ACCMODE == unix.O_RDONLY {
			return unix.EINVAL
		}
	}
	if flags&unix.O_PATH != 0 && flags&^oPathFlags != 0 {
		return unix.EINVAL
	}
	if h.Resolve&ResolveCached != 0 && flags&(unix.O_CREAT|unix.O_TRUNC|oTmpfileBit) != 0 {
		return unix.EAGAIN
	}
	return nil
}
