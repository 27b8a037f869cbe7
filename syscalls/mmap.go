package syscalls

import (
	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/mm"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

func init() {
	partial(unix.SYS_MMAP, Mmap, "MAP_32BIT placement is not honoured; shared file mappings are read-only", Ptr, Hex, Hex, Hex, FD, Hex)
	full(unix.SYS_MUNMAP, Munmap, Ptr, Hex)
	full(unix.SYS_MPROTECT, Mprotect, Ptr, Hex, Hex)
	full(unix.SYS_BRK, Brk, Ptr)
	partial(unix.SYS_MREMAP, Mremap, "MREMAP_DONTUNMAP is not supported", Ptr, Hex, Hex, Hex, Ptr)
	partial(unix.SYS_MADVISE, Madvise, "only MADV_DONTNEED/FREE/REMOVE act; other advice is accepted and ignored", Ptr, Hex, Int)
	full(unix.SYS_MSYNC, Msync, Ptr, Hex, Hex)
	full(unix.SYS_MINCORE, Mincore, Ptr, Hex, Ptr)
}

const knownMapFlags = linux.MAP_TYPE | linux.MAP_FIXED | linux.MAP_ANONYMOUS | linux.MAP_32BIT |
	linux.MAP_GROWSDOWN | linux.MAP_DENYWRITE | linux.MAP_EXECUTABLE | linux.MAP_LOCKED |
	linux.MAP_NORESERVE | linux.MAP_POPULATE | linux.MAP_NONBLOCK | linux.MAP_STACK |
	linux.MAP_HUGETLB | linux.MAP_SYNC | linux.MAP_FIXED_NOREPLACE

// Mmap implements mmap(2).
func Mmap(t *kernel.Task, a args) (uintptr, error) {
	addr := a[0].Pointer()
	length := a[1].Uint64()
	prot := int(a[2].Int())
	flags := int(a[3].Int())
	fdNum := int(a[4].Int())
	off := a[5].Uint64()

	if length == 0 || off&linux.PageMask != 0 {
		return 0, unix.EINVAL
	}
	var private bool
	switch flags & linux.MAP_TYPE {
	case linux.MAP_PRIVATE:
		private = true
	case linux.MAP_SHARED:
	case linux.MAP_SHARED_VALIDATE:
		if flags&^knownMapFlags != 0 {
			return 0, unix.EOPNOTSUPP
		}
	default:
		return 0, unix.EINVAL
	}
	fixed := flags&(linux.MAP_FIXED|linux.MAP_FIXED_NOREPLACE) != 0
	if fixed && addr&linux.PageMask != 0 {
		return 0, unix.EINVAL
	}
	if flags&linux.MAP_HUGETLB != 0 {
		return 0, unix.EINVAL
	}
	perms := platform.ProtToAccessType(prot)
	opts := mm.MMapOpts{
		Length: length, Addr: addr, Fixed: fixed, NoReplace: flags&linux.MAP_FIXED_NOREPLACE != 0,
		Perms: perms, MaxPerms: platform.AnyAccess, Private: private,
		GrowsDown: flags&linux.MAP_GROWSDOWN != 0, Populate: flags&linux.MAP_POPULATE != 0,
	}
	if flags&linux.MAP_ANONYMOUS == 0 {
		f, _ := t.FDTable().Get(fdNum)
		if f == nil {
			return 0, unix.EBADF
		}
		defer f.DecRef()
		if f.IsPath() {
			return 0, unix.EBADF
		}
		if f.Dentry().Mode()&vfs.S_IFMT == vfs.S_IFDIR {
			return 0, unix.ENODEV
		}
		if !f.Readable() {
			return 0, unix.EACCES
		}
		if m := f.VirtualDentry().Mount; m != nil && m.Flags()&vfs.MountNoExec != 0 {
			// Nothing on a noexec mount runs: not even by mapping it.
			opts.MaxPerms.Execute = false
			if perms.Execute {
				return 0, unix.EPERM
			}
		}
		if !private {
			if !f.Writable() {
				opts.MaxPerms.Write = false
				if perms.Write {
					return 0, unix.EACCES
				}
			} else if f.Flags()&unix.O_APPEND != 0 && perms.Write {
				return 0, unix.EACCES
			}
		}
		opts.Offset = off
		if err := f.ConfigureMMap(t, &opts); err != nil {
			return 0, err
		}
	} else if !private {
		// Shared anonymous memory is an object of its own, so that it
		// stays shared across fork.
		l, ok := linux.PageRoundUp(length)
		if !ok {
			return 0, unix.ENOMEM
		}
		opts.Mappable = mm.NewSharedAnon(t.Kernel().MemoryFile, l)
	}
	return t.MemoryManager().MMap(opts)
}

// Munmap implements munmap(2).
func Munmap(t *kernel.Task, a args) (uintptr, error) {
	return 0, t.MemoryManager().MUnmap(a[0].Pointer(), a[1].Uint64())
}

// Mprotect implements mprotect(2).
func Mprotect(t *kernel.Task, a args) (uintptr, error) {
	return 0, t.MemoryManager().MProtect(a[0].Pointer(), a[1].Uint64(), int(a[2].Int()))
}

// Brk implements brk(2).
func Brk(t *kernel.Task, a args) (uintptr, error) {
	return t.MemoryManager().Brk(a[0].Pointer()), nil
}

// Mremap implements mremap(2).
func Mremap(t *kernel.Task, a args) (uintptr, error) {
	return t.MemoryManager().MRemap(a[0].Pointer(), a[1].Uint64(), a[2].Uint64(), int(a[3].Int()), a[4].Pointer())
}

// Madvise implements madvise(2).
func Madvise(t *kernel.Task, a args) (uintptr, error) {
	return 0, t.MemoryManager().Madvise(a[0].Pointer(), a[1].Uint64(), int(a[2].Int()))
}

// Msync implements msync(2).
func Msync(t *kernel.Task, a args) (uintptr, error) {
	return 0, t.MemoryManager().Msync(a[0].Pointer(), a[1].Uint64(), int(a[2].Int()))
}

// Mincore implements mincore(2).
func Mincore(t *kernel.Task, a args) (uintptr, error) {
	vec, err := t.MemoryManager().Mincore(a[0].Pointer(), a[1].Uint64())
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(a[2].Pointer(), vec)
	return 0, err
}
