package syscalls

import (
	"crypto/rand"
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	"palisade.dev/sentry/kernel/auth"
	. "palisade.dev/sentry/strace"
)

func init() {
	full(unix.SYS_GETPID, func(t *kernel.Task, a args) (uintptr, error) { return uintptr(t.PID()), nil })
	full(unix.SYS_GETPPID, func(t *kernel.Task, a args) (uintptr, error) { return uintptr(t.PPID()), nil })
	full(unix.SYS_GETTID, func(t *kernel.Task, a args) (uintptr, error) { return uintptr(t.ThreadID()), nil })
	full(unix.SYS_GETUID, func(t *kernel.Task, a args) (uintptr, error) { return uintptr(t.Credentials().RealUID), nil })
	full(unix.SYS_GETEUID, func(t *kernel.Task, a args) (uintptr, error) { return uintptr(t.Credentials().EffectiveUID), nil })
	full(unix.SYS_GETGID, func(t *kernel.Task, a args) (uintptr, error) { return uintptr(t.Credentials().RealGID), nil })
	full(unix.SYS_GETEGID, func(t *kernel.Task, a args) (uintptr, error) { return uintptr(t.Credentials().EffectiveGID), nil })
	full(unix.SYS_GETRESUID, Getresuid, Ptr, Ptr, Ptr)
	full(unix.SYS_GETRESGID, Getresgid, Ptr, Ptr, Ptr)
	full(unix.SYS_GETGROUPS, Getgroups, Int, Ptr)
	full(unix.SYS_GETPGRP, func(t *kernel.Task, a args) (uintptr, error) { return uintptr(t.ThreadGroup().ProcessGroupID()), nil })
	full(unix.SYS_GETPGID, Getpgid, Int)
	full(unix.SYS_GETSID, Getsid, Int)
	full(unix.SYS_UNAME, Uname, Ptr)
	full(unix.SYS_SYSINFO, Sysinfo, Ptr)
	full(unix.SYS_GETRANDOM, Getrandom, OutBuf, Int, Hex)
	full(unix.SYS_SET_TID_ADDRESS, SetTidAddress, Ptr)
	full(unix.SYS_SET_ROBUST_LIST, SetRobustList, Ptr, Int)
	full(unix.SYS_GET_ROBUST_LIST, GetRobustList, Int, Ptr, Ptr)
	full(unix.SYS_GETRLIMIT, Getrlimit, Int, Ptr)
	full(unix.SYS_SETRLIMIT, Setrlimit, Int, Ptr)
	full(unix.SYS_PRLIMIT64, Prlimit64, Int, Int, Ptr, Ptr)
	partial(unix.SYS_ARCH_PRCTL, ArchPrctl, "ARCH_SET_FS/GET_FS only", Hex, Hex)
	partial(unix.SYS_PRCTL, Prctl, "naming, dumpable, keepcaps, no_new_privs, bounding set, pdeathsig, subreaper, ambient query", Int, Hex, Hex, Hex, Hex)
	full(unix.SYS_SCHED_YIELD, func(t *kernel.Task, a args) (uintptr, error) { return 0, nil })
	full(unix.SYS_SCHED_GETAFFINITY, SchedGetaffinity, Int, Int, Ptr)
	partial(unix.SYS_GETCPU, Getcpu, "reports the first CPU of the task's affinity, node 0", Ptr, Ptr, Ptr)
	full(unix.SYS_EXIT, ExitThread, Int)
	full(unix.SYS_EXIT_GROUP, Exit, Int)
}

// Exit implements exit_group(2).
func Exit(t *kernel.Task, a args) (uintptr, error) {
	return 0, t.Exit(int(a[0].Int()))
}

// ExitThread implements exit(2).
func ExitThread(t *kernel.Task, a args) (uintptr, error) {
	return 0, t.ExitThread(int(a[0].Int()))
}

// Getresuid implements getresuid(2).
func Getresuid(t *kernel.Task, a args) (uintptr, error) {
	c := t.Credentials()
	return 0, put3(t, a, c.RealUID, c.EffectiveUID, c.SavedUID)
}

// Getresgid implements getresgid(2).
func Getresgid(t *kernel.Task, a args) (uintptr, error) {
	c := t.Credentials()
	return 0, put3(t, a, c.RealGID, c.EffectiveGID, c.SavedGID)
}

func put3(t *kernel.Task, a args, x, y, z uint32) error {
	for i, v := range []uint32{x, y, z} {
		if err := t.MemoryManager().CopyOutUint32(a[i].Pointer(), v); err != nil {
			return err
		}
	}
	return nil
}

// Getgroups implements getgroups(2).
func Getgroups(t *kernel.Task, a args) (uintptr, error) {
	size := a[0].Int()
	groups := t.Credentials().Groups
	if size < 0 {
		return 0, unix.EINVAL
	}
	if size == 0 {
		return uintptr(len(groups)), nil
	}
	if int(size) < len(groups) {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*len(groups))
	for i, g := range groups {
		binary.LittleEndian.PutUint32(b[4*i:], g)
	}
	if _, err := t.CopyOut(a[1].Pointer(), b); err != nil {
		return 0, err
	}
	return uintptr(len(groups)), nil
}

// Getpgid implements getpgid(2).
func Getpgid(t *kernel.Task, a args) (uintptr, error) {
	id, err := t.Getpgid(a[0].Int())
	return uintptr(id), err
}

// Getsid implements getsid(2).
func Getsid(t *kernel.Task, a args) (uintptr, error) {
	id, err := t.Getsid(a[0].Int())
	return uintptr(id), err
}

// Uname implements uname(2).
func Uname(t *kernel.Task, a args) (uintptr, error) {
	k := t.Kernel()
	var b [6 * 65]byte
	for i, s := range []string{"Linux", k.HostnameNow(), k.Release, k.Version, "x86_64", "(none)"} {
		copy(b[i*65:i*65+64], s)
	}
	_, err := t.CopyOut(a[0].Pointer(), b[:])
	return 0, err
}

// Sysinfo implements sysinfo(2).
func Sysinfo(t *kernel.Task, a args) (uintptr, error) {
	var si unix.Sysinfo_t
	// Memory figures are the host's; uptime and processes are the sandbox's.
	if err := unix.Sysinfo(&si); err != nil {
		return 0, err
	}
	b := make([]byte, 112)
	le := binary.LittleEndian
	up := t.Kernel().Uptime()
	le.PutUint64(b[0:], uint64((up+time.Second-1)/time.Second))
	// loads[3] at 8..32 are zero.
	le.PutUint64(b[32:], si.Totalram)
	le.PutUint64(b[40:], si.Freeram)
	le.PutUint64(b[48:], si.Sharedram)
	le.PutUint64(b[56:], si.Bufferram)
	le.PutUint64(b[64:], 0) // totalswap
	le.PutUint64(b[72:], 0) // freeswap
	le.PutUint16(b[80:], uint16(len(t.Kernel().Tasks())))
	le.PutUint64(b[88:], 0) // totalhigh
	le.PutUint64(b[96:], 0) // freehigh
	le.PutUint32(b[104:], si.Unit)
	_, err := t.CopyOut(a[0].Pointer(), b)
	return 0, err
}

// Getrandom implements getrandom(2).
func Getrandom(t *kernel.Task, a args) (uintptr, error) {
	const flags = unix.GRND_NONBLOCK | unix.GRND_RANDOM | 0x4 // GRND_INSECURE
	f := a[2].Uint()
	if f&^flags != 0 || f&(unix.GRND_RANDOM|0x4) == unix.GRND_RANDOM|0x4 {
		return 0, unix.EINVAL
	}
	n := min(a[1].SizeT(), 1<<25)
	b := make([]byte, n)
	rand.Read(b)
	done, err := t.CopyOut(a[0].Pointer(), b)
	if done == 0 && err != nil {
		return 0, err
	}
	return uintptr(done), nil
}

// SetTidAddress implements set_tid_address(2).
func SetTidAddress(t *kernel.Task, a args) (uintptr, error) {
	t.SetClearTID(a[0].Pointer())
	return uintptr(t.ThreadID()), nil
}

// SetRobustList implements set_robust_list(2).
func SetRobustList(t *kernel.Task, a args) (uintptr, error) {
	if a[1].SizeT() != 24 {
		return 0, unix.EINVAL
	}
	t.SetRobustList(a[0].Pointer(), uintptr(a[1].SizeT()))
	return 0, nil
}

// GetRobustList implements get_robust_list(2).
func GetRobustList(t *kernel.Task, a args) (uintptr, error) {
	target := t
	if pid := a[0].Int(); pid != 0 {
		if target = t.Kernel().TaskByTID(pid); target == nil {
			return 0, unix.ESRCH
		}
	}
	head, l := target.RobustList()
	m := t.MemoryManager()
	if err := m.CopyOutUint64(a[1].Pointer(), uint64(head)); err != nil {
		return 0, err
	}
	return 0, m.CopyOutUint64(a[2].Pointer(), uint64(l))
}

func copyInRlimit(t *kernel.Task, addr uintptr) (kernel.Limit, error) {
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return kernel.Limit{}, err
	}
	return kernel.Limit{Cur: binary.LittleEndian.Uint64(b[:]), Max: binary.LittleEndian.Uint64(b[8:])}, nil
}

func copyOutRlimit(t *kernel.Task, addr uintptr, l kernel.Limit) error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], l.Cur)
	binary.LittleEndian.PutUint64(b[8:], l.Max)
	_, err := t.CopyOut(addr, b[:])
	return err
}

// Getrlimit implements getrlimit(2).
func Getrlimit(t *kernel.Task, a args) (uintptr, error) {
	r := a[0].Int()
	if r < 0 || r >= kernel.RLIM_NLIMITS {
		return 0, unix.EINVAL
	}
	return 0, copyOutRlimit(t, a[1].Pointer(), t.ThreadGroup().Limits().Get(int(r)))
}

// Setrlimit implements setrlimit(2).
func Setrlimit(t *kernel.Task, a args) (uintptr, error) {
	r := a[0].Int()
	if r < 0 || r >= kernel.RLIM_NLIMITS {
		return 0, unix.EINVAL
	}
	n, err := copyInRlimit(t, a[1].Pointer())
	if err != nil {
		return 0, err
	}
	_, err = t.ThreadGroup().Limits().Set(int(r), n, t.Credentials().HasCapability(unix.CAP_SYS_RESOURCE))
	return 0, err
}

// Prlimit64 implements prlimit64(2).
func Prlimit64(t *kernel.Task, a args) (uintptr, error) {
	r := a[1].Int()
	if r < 0 || r >= kernel.RLIM_NLIMITS {
		return 0, unix.EINVAL
	}
	target := t
	if pid := a[0].Int(); pid != 0 {
		if target = t.Kernel().TaskByTID(pid); target == nil {
			return 0, unix.ESRCH
		}
	}
	lim := target.ThreadGroup().Limits()
	var old kernel.Limit
	if newAddr := a[2].Pointer(); newAddr != 0 {
		n, err := copyInRlimit(t, newAddr)
		if err != nil {
			return 0, err
		}
		if old, err = lim.Set(int(r), n, t.Credentials().HasCapability(unix.CAP_SYS_RESOURCE)); err != nil {
			return 0, err
		}
	} else {
		old = lim.Get(int(r))
	}
	if oldAddr := a[3].Pointer(); oldAddr != 0 {
		return 0, copyOutRlimit(t, oldAddr, old)
	}
	return 0, nil
}

// arch_prctl codes.
const (
	archSetGS = 0x1001
	archSetFS = 0x1002
	archGetFS = 0x1003
	archGetGS = 0x1004
)

// ArchPrctl implements arch_prctl(2).
func ArchPrctl(t *kernel.Task, a args) (uintptr, error) {
	ac := t.Arch()
	switch a[0].Int() {
	case archSetFS:
		if !ac.SetTLS(a[1].Pointer()) {
			return 0, unix.EPERM
		}
		return 0, nil
	case archGetFS:
		return 0, t.MemoryManager().CopyOutUint64(a[1].Pointer(), uint64(ac.TLS()))
	case archSetGS:
		if a[1].Pointer() >= 0x0000800000000000 {
			return 0, unix.EPERM
		}
		ac.Regs.Gs_base = uint64(a[1].Pointer())
		return 0, nil
	case archGetGS:
		return 0, t.MemoryManager().CopyOutUint64(a[1].Pointer(), ac.Regs.Gs_base)
	}
	return 0, unix.EINVAL
}

// prctl(2) options not in x/sys/unix under these names.
const (
	prSetPdeathsig       = 1
	prGetPdeathsig       = 2
	prGetDumpable        = 3
	prSetDumpable        = 4
	prGetKeepcaps        = 7
	prSetKeepcaps        = 8
	prCapbsetRead        = 23
	prCapbsetDrop        = 24
	prSetChildSubreaper  = 36
	prGetChildSubreaper  = 37
	prSetNoNewPrivs      = 38
	prGetNoNewPrivs      = 39
	prCapAmbient         = 47
	prCapAmbientIsSet    = 1
	prCapAmbientClearAll = 4
)

// Prctl implements prctl(2) for the process, credential and naming
// options.
func Prctl(t *kernel.Task, a args) (uintptr, error) {
	m := t.MemoryManager()
	switch a[0].Int() {
	case unix.PR_SET_NAME:
		name, err := t.CopyInString(a[1].Pointer(), 15)
		if err == unix.ENAMETOOLONG {
			// Linux truncates to 15 bytes.
			b := make([]byte, 15)
			if _, err := t.CopyIn(a[1].Pointer(), b); err != nil {
				return 0, err
			}
			name, err = string(b), nil
		}
		if err != nil {
			return 0, err
		}
		t.SetComm(name)
		return 0, nil
	case unix.PR_GET_NAME:
		b := make([]byte, 16)
		copy(b, t.Comm())
		_, err := t.CopyOut(a[1].Pointer(), b)
		return 0, err
	case prSetPdeathsig:
		sig := a[1].Int()
		if sig < 0 || sig > kernel.NumSignals {
			return 0, unix.EINVAL
		}
		t.SetPdeathSignal(int(sig))
		return 0, nil
	case prGetPdeathsig:
		return 0, m.CopyOutUint32(a[1].Pointer(), uint32(t.PdeathSignal()))
	case prGetDumpable:
		return uintptr(t.Dumpable()), nil
	case prSetDumpable:
		if a[1].Uint64() > 1 {
			return 0, unix.EINVAL
		}
		t.SetDumpable(int(a[1].Uint64()))
		return 0, nil
	case prGetKeepcaps:
		if t.KeepCaps() {
			return 1, nil
		}
		return 0, nil
	case prSetKeepcaps:
		if a[1].Uint64() > 1 {
			return 0, unix.EINVAL
		}
		t.SetKeepCaps(a[1].Uint64() == 1)
		return 0, nil
	case prSetNoNewPrivs:
		if a[1].Uint64() != 1 || a[2].Uint64() != 0 || a[3].Uint64() != 0 || a[4].Uint64() != 0 {
			return 0, unix.EINVAL
		}
		t.SetNoNewPrivs()
		return 0, nil
	case prGetNoNewPrivs:
		if a[1].Uint64() != 0 || a[2].Uint64() != 0 || a[3].Uint64() != 0 || a[4].Uint64() != 0 {
			return 0, unix.EINVAL
		}
		if t.NoNewPrivs() {
			return 1, nil
		}
		return 0, nil
	case prCapbsetRead:
		c := a[1].Uint64()
		if c > auth.CapLastCap {
			return 0, unix.EINVAL
		}
		if t.Credentials().BoundingCaps&(1<<c) != 0 {
			return 1, nil
		}
		return 0, nil
	case prCapbsetDrop:
		c := a[1].Uint64()
		if c > auth.CapLastCap {
			return 0, unix.EINVAL
		}
		cr := t.Credentials()
		if !cr.HasCapability(auth.CAP_SETPCAP) {
			return 0, unix.EPERM
		}
		n := cr.Copy()
		n.BoundingCaps &^= 1 << c
		t.SetCredentials(n)
		return 0, nil
	case prSetChildSubreaper:
		t.ThreadGroup().SetChildSubreaper(a[1].Uint64() != 0)
		return 0, nil
	case prGetChildSubreaper:
		v := uint32(0)
		if t.ThreadGroup().ChildSubreaper() {
			v = 1
		}
		return 0, m.CopyOutUint32(a[1].Pointer(), v)
	case prCapAmbient:
		switch a[1].Int() {
		case prCapAmbientIsSet:
			if a[2].Uint64() > auth.CapLastCap {
				return 0, unix.EINVAL
			}
			if t.Credentials().AmbientCaps&(1<<a[2].Uint64()) != 0 {
				return 1, nil
			}
			return 0, nil
		case prCapAmbientClearAll:
			n := t.Credentials().Copy()
			n.AmbientCaps = 0
			t.SetCredentials(n)
			return 0, nil
		}
		return 0, unix.EINVAL
	}
	t.Kernel().LogUnimplemented(t, unix.SYS_PRCTL<<16|uintptr(a[0].Uint()), "prctl option "+itoa(int(a[0].Int())), false)
	return 0, unix.EINVAL
}

// SchedGetaffinity implements sched_getaffinity(2).
func SchedGetaffinity(t *kernel.Task, a args) (uintptr, error) {
	size := a[1].SizeT()
	if size%8 != 0 {
		return 0, unix.EINVAL
	}
	target := t
	if pid := a[0].Int(); pid != 0 {
		if target = t.Kernel().TaskByTID(pid); target == nil {
			return 0, unix.ESRCH
		}
	}
	cpus := target.Affinity()
	need := (t.Kernel().CPUs()[len(t.Kernel().CPUs())-1]/64 + 1) * 8
	if int(size) < need {
		return 0, unix.EINVAL
	}
	b := make([]byte, need)
	for _, c := range cpus {
		b[c/8] |= 1 << (c % 8)
	}
	if _, err := t.CopyOut(a[2].Pointer(), b); err != nil {
		return 0, err
	}
	return uintptr(len(b)), nil
}

// Getcpu implements getcpu(2): the first CPU the task may run on.
func Getcpu(t *kernel.Task, a args) (uintptr, error) {
	m := t.MemoryManager()
	if p := a[0].Pointer(); p != 0 {
		if err := m.CopyOutUint32(p, uint32(t.Affinity()[0])); err != nil {
			return 0, err
		}
	}
	if p := a[1].Pointer(); p != 0 {
		if err := m.CopyOutUint32(p, 0); err != nil {
			return 0, err
		}
	}
	return 0, nil
}
