package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
	. "palisade.dev/sentry/strace"
)

func init() {
	full(unix.SYS_SETUID, Setuid, Int)
	full(unix.SYS_SETGID, Setgid, Int)
	full(unix.SYS_SETREUID, Setreuid, Int, Int)
	full(unix.SYS_SETREGID, Setregid, Int, Int)
	full(unix.SYS_SETRESUID, Setresuid, Int, Int, Int)
	full(unix.SYS_SETRESGID, Setresgid, Int, Int, Int)
	full(unix.SYS_SETFSUID, Setfsuid, Int)
	full(unix.SYS_SETFSGID, Setfsgid, Int)
	full(unix.SYS_SETGROUPS, Setgroups, Int, Ptr)
	full(unix.SYS_CAPGET, Capget, Ptr, Ptr)
	full(unix.SYS_CAPSET, Capset, Ptr, Ptr)
}

func setCreds(t *kernel.Task, c *auth.Credentials, err error) (uintptr, error) {
	if err != nil {
		return 0, err
	}
	t.SetCredentials(c)
	return 0, nil
}

// Setuid implements setuid(2).
func Setuid(t *kernel.Task, a args) (uintptr, error) {
	if int32(a[0].Uint()) < 0 {
		return 0, unix.EINVAL
	}
	c, err := t.Credentials().SetUID(a[0].Uint(), t.KeepCaps())
	return setCreds(t, c, err)
}

// Setgid implements setgid(2).
func Setgid(t *kernel.Task, a args) (uintptr, error) {
	if int32(a[0].Uint()) < 0 {
		return 0, unix.EINVAL
	}
	c, err := t.Credentials().SetGID(a[0].Uint())
	return setCreds(t, c, err)
}

// Setreuid implements setreuid(2).
func Setreuid(t *kernel.Task, a args) (uintptr, error) {
	c, err := t.Credentials().SetReUID(a[0].Uint(), a[1].Uint(), t.KeepCaps())
	return setCreds(t, c, err)
}

// Setregid implements setregid(2).
func Setregid(t *kernel.Task, a args) (uintptr, error) {
	c, err := t.Credentials().SetReGID(a[0].Uint(), a[1].Uint())
	return setCreds(t, c, err)
}

// Setresuid implements setresuid(2).
func Setresuid(t *kernel.Task, a args) (uintptr, error) {
	c, err := t.Credentials().SetResUID(a[0].Uint(), a[1].Uint(), a[2].Uint(), t.KeepCaps())
	return setCreds(t, c, err)
}

// Setresgid implements setresgid(2).
func Setresgid(t *kernel.Task, a args) (uintptr, error) {
	c, err := t.Credentials().SetResGID(a[0].Uint(), a[1].Uint(), a[2].Uint())
	return setCreds(t, c, err)
}

// fsCaps are the capabilities that follow the filesystem UID
// (capabilities(7)): CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID,
// LINUX_IMMUTABLE, MKNOD and MAC_OVERRIDE.
const fsCaps = 1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<9 | 1<<27 | 1<<32

// Setfsuid implements setfsuid(2): it always returns the old FS UID. The
// filesystem capabilities leave the effective set when the FS UID leaves
// 0, and come back (from the permitted set) when it returns to 0.
func Setfsuid(t *kernel.Task, a args) (uintptr, error) {
	c := t.Credentials()
	old := c.FSUID
	id := a[0].Uint()
	if id != ^uint32(0) && (c.HasCapability(auth.CAP_SETUID) || id == c.RealUID || id == c.EffectiveUID || id == c.SavedUID || id == c.FSUID) {
		n := c.Copy()
		n.FSUID = id
		switch {
		case old == 0 && id != 0:
			n.EffectiveCaps &^= fsCaps
		case old != 0 && id == 0:
			n.EffectiveCaps |= n.PermittedCaps & fsCaps
		}
		t.SetCredentials(n)
	}
	return uintptr(old), nil
}

// Setfsgid implements setfsgid(2).
func Setfsgid(t *kernel.Task, a args) (uintptr, error) {
	c := t.Credentials()
	old := c.FSGID
	id := a[0].Uint()
	if id != ^uint32(0) && (c.HasCapability(auth.CAP_SETGID) || id == c.RealGID || id == c.EffectiveGID || id == c.SavedGID || id == c.FSGID) {
		n := c.Copy()
		n.FSGID = id
		t.SetCredentials(n)
	}
	return uintptr(old), nil
}

// Setgroups implements setgroups(2).
func Setgroups(t *kernel.Task, a args) (uintptr, error) {
	n := a[0].Int()
	if n < 0 || n > 65536 {
		return 0, unix.EINVAL
	}
	c := t.Credentials()
	if !c.HasCapability(auth.CAP_SETGID) {
		return 0, unix.EPERM
	}
	b := make([]byte, 4*n)
	if _, err := t.CopyIn(a[1].Pointer(), b); err != nil {
		return 0, err
	}
	nc := c.Copy()
	nc.Groups = make([]uint32, n)
	for i := range nc.Groups {
		nc.Groups[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	t.SetCredentials(nc)
	return 0, nil
}

// Capability header versions.
const (
	capV1 = 0x19980330
	capV2 = 0x20071026
	capV3 = 0x20080522
)

// capHeader reads a capget/capset header, writing back the preferred
// version when it is unknown (EINVAL), as Linux does.
func capHeader(t *kernel.Task, addr uintptr) (version uint32, pid int32, words int, err error) {
	var b [8]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, 0, 0, err
	}
	version = binary.LittleEndian.Uint32(b[0:])
	pid = int32(binary.LittleEndian.Uint32(b[4:]))
	switch version {
	case capV1:
		return version, pid, 1, nil
	case capV2, capV3:
		return version, pid, 2, nil
	}
	binary.LittleEndian.PutUint32(b[0:], capV3)
	t.CopyOut(addr, b[:4])
	return 0, 0, 0, unix.EINVAL
}

// Capget implements capget(2).
func Capget(t *kernel.Task, a args) (uintptr, error) {
	_, pid, words, err := capHeader(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	target := t
	if pid != 0 && pid != t.ThreadID() {
		if target = t.Kernel().TaskByTID(pid); target == nil {
			return 0, unix.ESRCH
		}
	}
	if a[1].Pointer() == 0 {
		return 0, nil
	}
	c := target.Credentials()
	b := make([]byte, 12*words)
	for i := 0; i < words; i++ {
		shift := uint(32 * i)
		binary.LittleEndian.PutUint32(b[12*i:], uint32(c.EffectiveCaps>>shift))
		binary.LittleEndian.PutUint32(b[12*i+4:], uint32(c.PermittedCaps>>shift))
		binary.LittleEndian.PutUint32(b[12*i+8:], uint32(c.InheritableCaps>>shift))
	}
	_, err = t.CopyOut(a[1].Pointer(), b)
	return 0, err
}

// Capset implements capset(2): only the caller's own sets; effective and
// permitted may only shrink within permitted, inheritable may only gain
// what is in the bounding set and permitted (without CAP_SETPCAP).
func Capset(t *kernel.Task, a args) (uintptr, error) {
	_, pid, words, err := capHeader(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	if pid != 0 && pid != t.ThreadID() {
		return 0, unix.EPERM
	}
	b := make([]byte, 12*words)
	if _, err := t.CopyIn(a[1].Pointer(), b); err != nil {
		return 0, err
	}
	var eff, perm, inh uint64
	for i := 0; i < words; i++ {
		shift := uint(32 * i)
		eff |= uint64(binary.LittleEndian.Uint32(b[12*i:])) << shift
		perm |= uint64(binary.LittleEndian.Uint32(b[12*i+4:])) << shift
		inh |= uint64(binary.LittleEndian.Uint32(b[12*i+8:])) << shift
	}
	c := t.Credentials()
	if perm&^c.PermittedCaps != 0 || eff&^perm != 0 {
		return 0, unix.EPERM
	}
	if inh&^(c.InheritableCaps|c.PermittedCaps) != 0 && !c.HasCapability(auth.CAP_SETPCAP) {
		return 0, unix.EPERM
	}
	if inh&^(c.InheritableCaps|c.BoundingCaps) != 0 {
		return 0, unix.EPERM
	}
	n := c.Copy()
	n.EffectiveCaps, n.PermittedCaps, n.InheritableCaps = eff, perm, inh
	n.AmbientCaps &= perm & inh
	t.SetCredentials(n)
	return 0, nil
}
