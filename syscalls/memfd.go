package syscalls

import (
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

func init() {
	partial(unix.SYS_MEMFD_CREATE, MemfdCreate, "MFD_HUGETLB is EINVAL (no hugetlbfs)", Path, Hex)
}

// memfd_create(2) flags.
const (
	mfdCloexec      = 0x1
	mfdAllowSealing = 0x2
	mfdHugetlb      = 0x4
	mfdNoexecSeal   = 0x8
	mfdExec         = 0x10
)

// memfdNameMax is the longest name memfd_create accepts (NAME_MAX less
// the "memfd:" prefix).
const memfdNameMax = 249

// memfdMounts holds each kernel's internal tmpfs for memfds.
var memfdMounts sync.Map // *kernel.Kernel → *vfs.Mount

func memfdMount(k *kernel.Kernel) *vfs.Mount {
	if m, ok := memfdMounts.Load(k); ok {
		return m.(*vfs.Mount)
	}
	fs := tmpfs.New(k.MemoryFile, tmpfs.Options{Mode: 0o1777})
	m, _ := memfdMounts.LoadOrStore(k, &vfs.Mount{FS: fs, Root: fs.Root(), Source: "memfd"})
	return m.(*vfs.Mount)
}

// MemfdCreate implements memfd_create(2).
func MemfdCreate(t *kernel.Task, a args) (uintptr, error) {
	flags := a[1].Uint()
	if flags&^(mfdCloexec|mfdAllowSealing|mfdHugetlb|mfdNoexecSeal|mfdExec) != 0 && flags&mfdHugetlb == 0 {
		return 0, unix.EINVAL
	}
	if flags&mfdHugetlb != 0 || flags&(mfdNoexecSeal|mfdExec) == mfdNoexecSeal|mfdExec {
		return 0, unix.EINVAL
	}
	name, err := t.CopyInString(a[0].Pointer(), memfdNameMax+1)
	if err != nil {
		if err == unix.ENAMETOOLONG {
			return 0, unix.EINVAL
		}
		return 0, err
	}
	if len(name) > memfdNameMax {
		return 0, unix.EINVAL
	}
	m := memfdMount(t.Kernel())
	fs := m.FS.(*tmpfs.Filesystem)
	f, err := fs.NewMemfd(t, m, name, t.Credentials(), flags&mfdAllowSealing != 0, flags&mfdNoexecSeal != 0)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	fd, err := t.FDTable().NewFD(0, f, flags&mfdCloexec != 0, nofile(t))
	return uintptr(fd), err
}

// sealer is a file that takes seals (tmpfs and memfd files).
type sealer interface {
	Seals() uint32
	AddSeals(seals uint32) error
}

// fcntl seal commands.
const (
	fAddSeals = 1033
	fGetSeals = 1034
)

// fcntlSeals implements F_ADD_SEALS and F_GET_SEALS.
func fcntlSeals(f *vfs.FileDescription, cmd int32, arg uint32) (uintptr, error) {
	s, ok := f.Impl().(sealer)
	if cmd == fGetSeals {
		if !ok {
			return 0, unix.EINVAL
		}
		return uintptr(s.Seals()), nil
	}
	// Linux's order: the access mode, the seal bits, then the file.
	switch {
	case !f.Writable():
		return 0, unix.EPERM
	case arg&^allSeals != 0, !ok:
		return 0, unix.EINVAL
	}
	return 0, s.AddSeals(arg)
}

// allSeals are the seals Linux knows (F_SEAL_SEAL to F_SEAL_EXEC).
const allSeals = 0x3f
