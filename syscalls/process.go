package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

func init() {
	full(unix.SYS_CLONE, Clone, Hex, Ptr, Ptr, Ptr, Hex)
	full(unix.SYS_FORK, Fork)
	full(unix.SYS_VFORK, Vfork)
	partial(unix.SYS_CLONE3, Clone3, "no CLONE_PIDFD, set_tid or cgroups", Ptr, Int)
	full(unix.SYS_EXECVE, Execve, Path, StrVec, StrVec)
	full(unix.SYS_EXECVEAT, Execveat, FD, Path, StrVec, StrVec, Hex)
	full(unix.SYS_WAIT4, Wait4, Int, Ptr, Hex, Ptr)
	full(unix.SYS_WAITID, Waitid, Int, Int, Ptr, Hex, Ptr)
	full(unix.SYS_SETSID, Setsid)
	full(unix.SYS_SETPGID, Setpgid, Int, Int)
	full(unix.SYS_KILL, Kill, Int, Int)
	full(unix.SYS_TKILL, Tkill, Int, Int)
	full(unix.SYS_TGKILL, Tgkill, Int, Int, Int)
	full(unix.SYS_RT_SIGQUEUEINFO, RtSigqueueinfo, Int, Int, Ptr)
	full(unix.SYS_RT_TGSIGQUEUEINFO, RtTgsigqueueinfo, Int, Int, Int, Ptr)
}

// Clone implements clone(2) (x86-64 argument order: flags, stack,
// parent_tid, child_tid, tls).
func Clone(t *kernel.Task, a args) (uintptr, error) {
	flags := a[0].Uint64()
	tid, err := t.Clone(kernel.CloneOptions{
		Flags:      flags &^ 0xff,
		ExitSignal: int(flags & 0xff),
		Stack:      a[1].Pointer(),
		ParentTID:  a[2].Pointer(),
		ChildTID:   a[3].Pointer(),
		TLS:        a[4].Pointer(),
	})
	return uintptr(tid), err
}

// Fork implements fork(2).
func Fork(t *kernel.Task, a args) (uintptr, error) {
	tid, err := t.Clone(kernel.CloneOptions{ExitSignal: kernel.SIGCHLD})
	return uintptr(tid), err
}

// Vfork implements vfork(2).
func Vfork(t *kernel.Task, a args) (uintptr, error) {
	tid, err := t.Clone(kernel.CloneOptions{Flags: kernel.CLONE_VM | kernel.CLONE_VFORK, ExitSignal: kernel.SIGCHLD})
	return uintptr(tid), err
}

// Clone3 implements clone3(2).
func Clone3(t *kernel.Task, a args) (uintptr, error) {
	size := a[1].SizeT()
	const ver0 = 64 // CLONE_ARGS_SIZE_VER0
	if size < ver0 || size > 4096 {
		return 0, unix.EINVAL
	}
	b := make([]byte, size)
	if _, err := t.CopyIn(a[0].Pointer(), b); err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	flags := le.Uint64(b[0:])
	pidfd := le.Uint64(b[8:])
	childTID := le.Uint64(b[16:])
	parentTID := le.Uint64(b[24:])
	exitSignal := le.Uint64(b[32:])
	stack := le.Uint64(b[40:])
	stackSize := le.Uint64(b[48:])
	tls := le.Uint64(b[56:])
	// set_tid, set_tid_size and cgroup, if present, must be unused;
	// unknown trailing bytes must be zero.
	for _, c := range b[ver0:] {
		if c != 0 {
			return 0, unix.E2BIG
		}
	}
	// pidfd is only read with CLONE_PIDFD (unsupported: Clone refuses it).
	_ = pidfd
	if exitSignal > kernel.NumSignals || flags&0xff != 0 {
		return 0, unix.EINVAL
	}
	if (stack == 0) != (stackSize == 0) {
		return 0, unix.EINVAL
	}
	sp := uintptr(0)
	if stack != 0 {
		sp = uintptr(stack + stackSize)
	}
	tid, err := t.Clone(kernel.CloneOptions{
		Flags: flags, ExitSignal: int(exitSignal), Stack: sp,
		ParentTID: uintptr(parentTID), ChildTID: uintptr(childTID), TLS: uintptr(tls),
	})
	return uintptr(tid), err
}

// copyInStrVec reads a NULL-terminated array of strings (argv, envp).
func copyInStrVec(t *kernel.Task, addr uintptr) ([]string, error) {
	var out []string
	total := 0
	for i := 0; addr != 0; i++ {
		if i >= 1<<20 {
			return nil, unix.E2BIG
		}
		p, err := t.CopyInUint64(addr + uintptr(8*i))
		if err != nil {
			return nil, err
		}
		if p == 0 {
			break
		}
		s, err := t.CopyInString(uintptr(p), 128<<10)
		if err == unix.ENAMETOOLONG {
			return nil, unix.E2BIG
		}
		if err != nil {
			return nil, err
		}
		total += len(s) + 1
		if total > 2<<20 {
			return nil, unix.E2BIG
		}
		out = append(out, s)
	}
	return out, nil
}

// Execve implements execve(2).
func Execve(t *kernel.Task, a args) (uintptr, error) {
	return execveat(t, unix.AT_FDCWD, a[0].Pointer(), a[1].Pointer(), a[2].Pointer(), 0)
}

// Execveat implements execveat(2).
func Execveat(t *kernel.Task, a args) (uintptr, error) {
	return execveat(t, a[0].Int(), a[1].Pointer(), a[2].Pointer(), a[3].Pointer(), a[4].Int())
}

func execveat(t *kernel.Task, dirfd int32, pathAddr, argvAddr, envAddr uintptr, flags int32) (uintptr, error) {
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	path, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	argv, err := copyInStrVec(t, argvAddr)
	if err != nil {
		return 0, err
	}
	envv, err := copyInStrVec(t, envAddr)
	if err != nil {
		return 0, err
	}
	if path == "" {
		if flags&unix.AT_EMPTY_PATH == 0 {
			return 0, unix.ENOENT
		}
		f, cloexec := t.FDTable().Get(int(dirfd))
		if f == nil {
			return 0, unix.EBADF
		}
		if cloexec && isScript(t, f) {
			// The interpreter would be given /dev/fd/N, which the exec
			// closes: Linux refuses with ENOENT.
			f.DecRef()
			return 0, unix.ENOENT
		}
		// Execute what the descriptor refers to, by its path.
		p, ok := t.Kernel().MountNS.PathOf(t.FSContext().Root(), f.VirtualDentry())
		f.DecRef()
		if !ok {
			return 0, unix.ENOENT
		}
		path, dirfd = p, unix.AT_FDCWD
	} else if path[0] != '/' && dirfd != unix.AT_FDCWD {
		start, err := t.StartDir(dirfd, path)
		if err != nil {
			return 0, err
		}
		p, ok := t.Kernel().MountNS.PathOf(t.FSContext().Root(), start)
		if !ok {
			return 0, unix.ENOENT
		}
		path = p + "/" + path
	}
	if flags&unix.AT_SYMLINK_NOFOLLOW != 0 {
		if vd, err := t.Resolve(unix.AT_FDCWD, path, false); err == nil && vd.Dentry.Mode()&vfs.S_IFMT == vfs.S_IFLNK {
			return 0, unix.ELOOP
		}
	}
	return 0, t.Execve(path, argv, envv)
}

// isScript reports whether f's file starts with "#!".
func isScript(t *kernel.Task, f *vfs.FileDescription) bool {
	vd := f.VirtualDentry()
	if vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFREG {
		return false
	}
	g, err := vd.Dentry.Open(t, vd, unix.O_RDONLY)
	if err != nil {
		return false
	}
	defer g.DecRef()
	var b [2]byte
	n, _ := g.PRead(t, b[:], 0)
	return n == 2 && b[0] == '#' && b[1] == '!'
}

// wait4 option bits.
const (
	wNohang     = 0x1
	wUntraced   = 0x2
	wStopped    = 0x2
	wExited     = 0x4
	wContinued  = 0x8
	wNowait     = 0x01000000
	wNothread   = 0x20000000
	wAll        = 0x40000000
	wClone      = 0x80000000
	rusageSize  = 144
	siginfoSize = 128
)

// Wait4 implements wait4(2).
func Wait4(t *kernel.Task, a args) (uintptr, error) {
	pid := a[0].Int()
	opts := a[2].Uint()
	if opts&^(wNohang|wUntraced|wContinued|wNothread|wAll|wClone) != 0 {
		return 0, unix.EINVAL
	}
	o := kernel.WaitOptions{
		Exited: true, Stopped: opts&wUntraced != 0, Continued: opts&wContinued != 0,
		NoHang: opts&wNohang != 0, Clone: opts&wClone != 0, All: opts&wAll != 0, NoThread: opts&wNothread != 0,
	}
	switch {
	case pid == -1:
		o.Any = true
	case pid == 0:
		o.PGID = t.ThreadGroup().ProcessGroupID()
	case pid < -1:
		o.PGID = -pid
	default:
		o.PID = pid
	}
	r, err := t.Wait(o)
	if err != nil || r == nil {
		return 0, err
	}
	if p := a[1].Pointer(); p != 0 {
		if err := t.MemoryManager().CopyOutUint32(p, uint32(r.Status)); err != nil {
			return 0, err
		}
	}
	if p := a[3].Pointer(); p != 0 {
		if _, err := t.CopyOut(p, marshalRusage(r.UTime, r.STime, r.MaxRSS)); err != nil {
			return 0, err
		}
	}
	return uintptr(r.PID), nil
}

// Waitid implements waitid(2).
func Waitid(t *kernel.Task, a args) (uintptr, error) {
	idtype, id := a[0].Int(), a[1].Int()
	opts := a[3].Uint()
	const (
		pAll   = 0
		pPID   = 1
		pPGID  = 2
		pPIDFD = 3
	)
	if opts&^(wNohang|wStopped|wExited|wContinued|wNowait|wNothread|wAll|wClone) != 0 ||
		opts&(wStopped|wExited|wContinued) == 0 {
		return 0, unix.EINVAL
	}
	o := kernel.WaitOptions{
		Exited: opts&wExited != 0, Stopped: opts&wStopped != 0, Continued: opts&wContinued != 0,
		NoHang: opts&wNohang != 0, NoWait: opts&wNowait != 0,
		Clone: opts&wClone != 0, All: opts&wAll != 0, NoThread: opts&wNothread != 0,
	}
	switch idtype {
	case pAll:
		o.Any = true
	case pPID:
		if id <= 0 {
			return 0, unix.EINVAL
		}
		o.PID = id
	case pPGID:
		if id < 0 {
			return 0, unix.EINVAL
		}
		o.PGID = id
		if id == 0 {
			o.PGID = t.ThreadGroup().ProcessGroupID()
		}
	case pPIDFD:
		return 0, unix.EINVAL
	default:
		return 0, unix.EINVAL
	}
	r, err := t.Wait(o)
	if err != nil {
		return 0, err
	}
	if p := a[2].Pointer(); p != 0 {
		var info kernel.SigInfo
		if r != nil {
			info = kernel.SigInfo{Signo: kernel.SIGCHLD, Code: r.Code, PID: r.PID, UID: r.UID, Status: r.SigStatus}
		}
		b := info.Marshal()
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	if p := a[4].Pointer(); p != 0 && r != nil {
		if _, err := t.CopyOut(p, marshalRusage(r.UTime, r.STime, r.MaxRSS)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// marshalRusage encodes a struct rusage with the given CPU times and peak
// memory (bytes; reported in KiB).
func marshalRusage(user, sys time.Duration, maxRSS uint64) []byte {
	b := make([]byte, rusageSize)
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(user/time.Second))
	le.PutUint64(b[8:], uint64((user%time.Second)/time.Microsecond))
	le.PutUint64(b[16:], uint64(sys/time.Second))
	le.PutUint64(b[24:], uint64((sys%time.Second)/time.Microsecond))
	le.PutUint64(b[32:], maxRSS/1024)
	return b
}

// Setsid implements setsid(2).
func Setsid(t *kernel.Task, a args) (uintptr, error) {
	sid, err := t.ThreadGroup().Setsid()
	return uintptr(sid), err
}

// Setpgid implements setpgid(2).
func Setpgid(t *kernel.Task, a args) (uintptr, error) {
	return 0, t.Setpgid(a[0].Int(), a[1].Int())
}

// signalInfo returns the siginfo of a kill-style signal from t.
func signalInfo(t *kernel.Task, sig int32, code int32) kernel.SigInfo {
	return kernel.SigInfo{Signo: sig, Code: code, PID: t.PID(), UID: t.Credentials().RealUID}
}

// Kill implements kill(2).
func Kill(t *kernel.Task, a args) (uintptr, error) {
	pid, sig := a[0].Int(), a[1].Int()
	if sig < 0 || sig > kernel.NumSignals {
		return 0, unix.EINVAL
	}
	return 0, t.Kill(pid, signalInfo(t, sig, kernel.SI_USER))
}

// Tkill implements tkill(2).
func Tkill(t *kernel.Task, a args) (uintptr, error) {
	tid, sig := a[0].Int(), a[1].Int()
	if tid <= 0 || sig < 0 || sig > kernel.NumSignals {
		return 0, unix.EINVAL
	}
	return 0, t.SignalThread(0, tid, signalInfo(t, sig, kernel.SI_TKILL))
}

// Tgkill implements tgkill(2).
func Tgkill(t *kernel.Task, a args) (uintptr, error) {
	tgid, tid, sig := a[0].Int(), a[1].Int(), a[2].Int()
	if tgid <= 0 || tid <= 0 || sig < 0 || sig > kernel.NumSignals {
		return 0, unix.EINVAL
	}
	return 0, t.SignalThread(tgid, tid, signalInfo(t, sig, kernel.SI_TKILL))
}

func copyInQueueInfo(t *kernel.Task, addr uintptr, sig int32, tgid int32) (kernel.SigInfo, error) {
	b := make([]byte, siginfoSize)
	if _, err := t.CopyIn(addr, b); err != nil {
		return kernel.SigInfo{}, err
	}
	info := kernel.UnmarshalSigInfo(b)
	info.Signo = sig
	// Only the kernel may send signals that look like its own, except to
	// oneself.
	if (info.Code >= 0 || info.Code == kernel.SI_TKILL) && tgid != t.PID() {
		return kernel.SigInfo{}, unix.EPERM
	}
	return info, nil
}

// RtSigqueueinfo implements rt_sigqueueinfo(2).
func RtSigqueueinfo(t *kernel.Task, a args) (uintptr, error) {
	pid, sig := a[0].Int(), a[1].Int()
	if sig < 0 || sig > kernel.NumSignals {
		return 0, unix.EINVAL
	}
	info, err := copyInQueueInfo(t, a[2].Pointer(), sig, pid)
	if err != nil {
		return 0, err
	}
	if pid <= 0 {
		return 0, unix.EINVAL
	}
	return 0, t.Kill(pid, info)
}

// RtTgsigqueueinfo implements rt_tgsigqueueinfo(2).
func RtTgsigqueueinfo(t *kernel.Task, a args) (uintptr, error) {
	tgid, tid, sig := a[0].Int(), a[1].Int(), a[2].Int()
	if tgid <= 0 || tid <= 0 || sig < 0 || sig > kernel.NumSignals {
		return 0, unix.EINVAL
	}
	info, err := copyInQueueInfo(t, a[3].Pointer(), sig, tgid)
	if err != nil {
		return 0, err
	}
	return 0, t.SignalThread(tgid, tid, info)
}
