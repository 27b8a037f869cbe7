package syscalls

import (
	"strings"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/fs/dev"
	"palisade.dev/sentry/fs/proc"
	"palisade.dev/sentry/fs/tmpfs"
	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

func init() {
	partial(unix.SYS_MOUNT, Mount, "tmpfs, proc, bind mounts and remount; MS_MOVE is EINVAL; propagation flags are accepted and have no effect", Path, Path, Path, Hex, Ptr)
	partial(unix.SYS_UMOUNT2, Umount2, "open files don't make a mount busy", Path, Hex)
}

// mount(2) flags.
const (
	msRdonly     = 0x1
	msNosuid     = 0x2
	msNodev      = 0x4
	msNoexec     = 0x8
	msRemount    = 0x20
	msBind       = 0x1000
	msMove       = 0x2000
	msRec        = 0x4000
	msSilent     = 0x8000
	msUnbindable = 1 << 17
	msPrivate    = 1 << 18
	msSlave      = 1 << 19
	msShared     = 1 << 20
	msPropagate  = msUnbindable | msPrivate | msSlave | msShared
)

// umount2(2) flags.
const (
	mntForce       = 1
	mntDetach      = 2
	mntExpire      = 4
	umountNofollow = 8
)

// Mount implements mount(2).
func Mount(t *kernel.Task, a args) (uintptr, error) {
	sourceAddr, targetAddr, typeAddr, flags, dataAddr := a[0].Pointer(), a[1].Pointer(), a[2].Pointer(), a[3].Uint64(), a[4].Pointer()
	if !t.Credentials().HasCapability(auth.CAP_SYS_ADMIN) {
		return 0, unix.EPERM
	}
	targetPath, err := copyInPath(t, targetAddr)
	if err != nil {
		return 0, err
	}
	target, err := t.Resolve(unix.AT_FDCWD, targetPath, true)
	if err != nil {
		return 0, err
	}
	ns := t.Kernel().MountNS
	ro := flags&msRdonly != 0
	switch {
	case flags&msRemount != 0:
		if !target.IsMountRoot() {
			return 0, unix.EINVAL
		}
		ns.SetReadOnly(target.Mount, ro)
		target.Mount.SetFlags(mountFlags(flags))
		return 0, nil
	case flags&msBind != 0:
		srcPath, err := copyInPath(t, sourceAddr)
		if err != nil {
			return 0, err
		}
		src, err := t.Resolve(unix.AT_FDCWD, srcPath, true)
		if err != nil {
			return 0, err
		}
		if (src.Dentry.Mode()&vfs.S_IFMT == vfs.S_IFDIR) != (target.Dentry.Mode()&vfs.S_IFMT == vfs.S_IFDIR) {
			return 0, unix.ENOTDIR
		}
		// The new mount keeps the source mount's flags, read-only
		// included; changing them takes a remount.
		ns.BindMount(target, src, src.Mount.ReadOnly)
		return 0, nil
	case flags&msMove != 0:
		return 0, unix.EINVAL
	case flags&msPropagate != 0:
		// Propagation types need peer groups, which one namespace
		// without peers doesn't have: nothing to change.
		return 0, nil
	}
	fstype, err := t.CopyInString(typeAddr, 256)
	if err != nil {
		return 0, err
	}
	source := "none"
	if sourceAddr != 0 {
		if source, err = t.CopyInString(sourceAddr, vfs.PathMax); err != nil {
			return 0, err
		}
	}
	var data string
	if dataAddr != 0 {
		if data, err = t.CopyInString(dataAddr, 4095); err != nil {
			return 0, err
		}
	}
	if target.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return 0, unix.ENOTDIR
	}
	var fs vfs.Filesystem
	switch fstype {
	case "tmpfs":
		var opts []string
		if data != "" {
			opts = strings.Split(data, ",")
		}
		o, _, err := tmpfs.ParseOptions(opts)
		if err != nil {
			return 0, unix.EINVAL
		}
		o.Devices = dev.Opener(t.Kernel().MemoryFile)
		fs = tmpfs.New(t.Kernel().MemoryFile, o)
	case "proc":
		fs = proc.New(t.Kernel())
	default:
		return 0, unix.ENODEV
	}
	m := ns.Mount(target, fs, source, ro)
	m.SetFlags(mountFlags(flags))
	return 0, nil
}

// mountFlags returns the per-mount flags that mount(2)'s flags ask for.
func mountFlags(flags uint64) uint32 {
	var f uint32
	if flags&msNosuid != 0 {
		f |= vfs.MountNoSuid
	}
	if flags&msNodev != 0 {
		f |= vfs.MountNoDev
	}
	if flags&msNoexec != 0 {
		f |= vfs.MountNoExec
	}
	return f
}

// Umount2 implements umount2(2).
func Umount2(t *kernel.Task, a args) (uintptr, error) {
	flags := a[1].Uint()
	if flags&^(mntForce|mntDetach|mntExpire|umountNofollow) != 0 || (flags&mntExpire != 0 && flags&(mntForce|mntDetach) != 0) {
		return 0, unix.EINVAL
	}
	if !t.Credentials().HasCapability(auth.CAP_SYS_ADMIN) {
		return 0, unix.EPERM
	}
	path, err := copyInPath(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	vd, err := t.Resolve(unix.AT_FDCWD, path, flags&umountNofollow == 0)
	if err != nil {
		return 0, err
	}
	if !vd.IsMountRoot() {
		return 0, unix.EINVAL
	}
	if flags&mntExpire != 0 {
		// Linux marks the mount the first time and answers EAGAIN.
		return 0, unix.EAGAIN
	}
	ns := t.Kernel().MountNS
	if ns.IsRoot(vd.Mount) {
		return 0, unix.EINVAL
	}
	if flags&mntDetach == 0 {
		// The caller's own root or working directory keeps it busy.
		fsc := t.FSContext()
		for _, x := range []vfs.VirtualDentry{fsc.Cwd(), fsc.Root()} {
			if x.Mount == vd.Mount {
				return 0, unix.EBUSY
			}
		}
	}
	return 0, ns.Unmount(vd.Mount, flags&mntDetach != 0)
}
