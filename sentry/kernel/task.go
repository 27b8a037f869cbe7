package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/arch"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/loader"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

// ErrNoReturn is returned by a system call handler that set the task's
// registers itself (execve), so the dispatcher leaves rax alone.
var ErrNoReturn = errors.New("syscall replaced registers")

// errExit is returned by exit handlers: the task goroutine stops.
var errExit = errors.New("task exit")

// Task is a thread.
//
// Fields without a lock are touched only by the task goroutine (or before
// it starts).
type Task struct {
	k    *Kernel
	tg   *ThreadGroup
	tid  int32
	pctx platform.Context
	arch arch.Context

	mm      *mm.MemoryManager
	fdTable *vfs.FDTable
	fs      *FSContext

	mu         sync.Mutex
	creds      *auth.Credentials
	comm       string
	signalMask uint64
	altStack   AltStack

	// clearTID is the set_tid_address address.
	clearTID uintptr
	// robustList is the set_robust_list head and length.
	robustList, robustLen uintptr

	exiting bool

	// interruptCh wakes a blocked task (see Interrupt).
	interruptCh chan struct{}

	// savedMask is the mask to restore after a system call that set a
	// temporary one (SetSyscallSignalMask).
	savedMask     uint64
	haveSavedMask bool
}

// Task implements context.Context so that filesystem and other subsystem
// calls can find the task (credentials, interruption) from their context.
var _ context.Context = (*Task)(nil)

// Deadline implements context.Context.
func (t *Task) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context. Tasks are not cancelled through their
// context.
func (t *Task) Done() <-chan struct{} { return nil }

// Err implements context.Context.
func (t *Task) Err() error { return nil }

type taskKey struct{}

// TaskKey is the context key under which a Task finds itself.
var TaskKey = taskKey{}

// Value implements context.Context.
func (t *Task) Value(key any) any {
	if key == TaskKey {
		return t
	}
	return nil
}

// TaskFromContext returns the task behind ctx, or nil.
func TaskFromContext(ctx context.Context) *Task {
	if t, ok := ctx.Value(TaskKey).(*Task); ok {
		return t
	}
	return nil
}

// Kernel returns the task's kernel.
func (t *Task) Kernel() *Kernel { return t.k }

// ThreadGroup returns the task's thread group.
func (t *Task) ThreadGroup() *ThreadGroup { return t.tg }

// ThreadID returns the task's thread ID.
func (t *Task) ThreadID() int32 { return t.tid }

// MemoryManager returns the task's address space.
func (t *Task) MemoryManager() *mm.MemoryManager { return t.mm }

// FDTable returns the task's file descriptor table.
func (t *Task) FDTable() *vfs.FDTable { return t.fdTable }

// FSContext returns the task's root, cwd and umask.
func (t *Task) FSContext() *FSContext { return t.fs }

// Arch returns the task's registers.
func (t *Task) Arch() *arch.Context { return &t.arch }

// Credentials returns the task's credentials (do not modify them).
func (t *Task) Credentials() *auth.Credentials {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.creds
}

// Comm returns the task's name.
func (t *Task) Comm() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.comm
}

// SetComm sets the task's name (prctl(PR_SET_NAME)).
func (t *Task) SetComm(name string) {
	if len(name) > 15 {
		name = name[:15]
	}
	t.mu.Lock()
	t.comm = name
	t.mu.Unlock()
}

// SignalMask returns the blocked signal set.
func (t *Task) SignalMask() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.signalMask
}

// SetSignalMask sets the blocked signal set; SIGKILL and SIGSTOP can't be
// blocked.
func (t *Task) SetSignalMask(m uint64) {
	m &^= 1<<(SIGKILL-1) | 1<<(SIGSTOP-1)
	t.mu.Lock()
	t.signalMask = m
	t.mu.Unlock()
}

// SetClearTID sets the set_tid_address address.
func (t *Task) SetClearTID(addr uintptr) { t.clearTID = addr }

// SetRobustList records set_robust_list's arguments.
func (t *Task) SetRobustList(head, length uintptr) { t.robustList, t.robustLen = head, length }

// RobustList returns the robust list head and length.
func (t *Task) RobustList() (uintptr, uintptr) { return t.robustList, t.robustLen }

// CopyIn and friends read and write the task's memory.
func (t *Task) CopyIn(addr uintptr, dst []byte) (int, error) { return t.mm.CopyIn(addr, dst) }

// CopyOut writes src to the task's memory.
func (t *Task) CopyOut(addr uintptr, src []byte) (int, error) { return t.mm.CopyOut(addr, src) }

// CopyInString reads a string from the task's memory.
func (t *Task) CopyInString(addr uintptr, maxLen int) (string, error) {
	return t.mm.CopyInString(addr, maxLen)
}

// CopyInUint64 reads a word from the task's memory.
func (t *Task) CopyInUint64(addr uintptr) (uint64, error) { return t.mm.CopyInUint64(addr) }

// start runs the task goroutine.
func (t *Task) start() {
	go t.run()
}

// run is the task goroutine.
func (t *Task) run() {
	// Never unlocked: the platform binds stub threads to this OS thread,
	// and Go ends the thread when the goroutine returns.
	runtime.LockOSThread()
	for !t.exiting {
		ev, fault, err := t.pctx.Switch(t.mm.AddressSpace(), &t.arch)
		if err != nil {
			t.k.Log.Error("platform failure: killing thread group", "tid", t.tid, "err", err)
			t.exitGroup(SignaledStatus(SIGKILL, false))
			break
		}
		switch ev {
		case platform.EventSyscall:
			t.doSyscall()
		case platform.EventFault:
			t.handleFault(fault)
		case platform.EventInterrupt:
			// Nothing to do until signals are delivered.
		}
	}
	t.exit()
}

// doSyscall runs the system call the task just made.
func (t *Task) doSyscall() {
	sysno := t.arch.SyscallNo()
	args := t.arch.SyscallArgs()
	entry := t.k.Syscalls.Lookup(sysno)
	var ret uintptr
	var err error
	if entry == nil || entry.Fn == nil {
		name, probe := "", false
		if entry != nil {
			name, probe = entry.Name, entry.Probe
		}
		t.k.LogUnimplemented(t, sysno, name, probe)
		err = unix.ENOSYS
	} else {
		ret, err = entry.Fn(t, args)
	}
	if t.k.Strace {
		t.straceLog(sysno, entry, args, ret, err)
	}
	t.restoreSyscallSignalMask()
	switch {
	case err == nil:
		t.arch.SetReturn(ret)
	case err == ErrNoReturn, err == errExit:
	default:
		t.arch.SetReturn(uintptr(-int64(linux.ToErrno(err))))
	}
}

func (t *Task) straceLog(sysno uintptr, entry *Syscall, args arch.SyscallArguments, ret uintptr, err error) {
	name := fmt.Sprintf("syscall_%d", sysno)
	var kinds []strace.Arg
	if entry != nil {
		name, kinds = entry.Name, entry.Args
	}
	var raw [6]uintptr
	for i := range raw {
		raw[i] = args[i].Value
	}
	var res string
	switch err {
	case ErrNoReturn, errExit:
		res = "?"
	default:
		res = strace.FormatResult(ret, linux.ToErrno(err))
	}
	var argStr string
	if t.mm != nil && err != ErrNoReturn && err != errExit {
		argStr = strace.FormatArgs(t.mm, kinds, raw, ret, err != nil)
	} else {
		for i, v := range raw[:len(kinds)] {
			if i > 0 {
				argStr += ", "
			}
			argStr += fmt.Sprintf("%#x", v)
		}
	}
	t.k.Log.Info(fmt.Sprintf("[%4d] %s(%s) = %s", t.tid, name, argStr, res))
}

// handleFault resolves a fault or kills the thread group with the signal
// Linux would send. Signal handlers are not run yet: every such signal
// takes its default action (terminate with core).
func (t *Task) handleFault(f *platform.Fault) {
	const siKernel = 0x80
	sig, code, addr := f.Signo, f.Code, f.Addr
	if f.Kind == platform.FaultSegv && f.Code != siKernel {
		err := t.mm.HandleFault(f.Addr, f.Mapped)
		if err == nil {
			return
		}
		var fe *mm.FaultError
		if errors.As(err, &fe) {
			sig, code, addr = fe.Signo, fe.Code, fe.Addr
		}
	}
	t.k.Log.Info("fatal signal from fault", "tid", t.tid, "comm", t.Comm(), "signal", sig, "code", code, "addr", fmt.Sprintf("%#x", addr), "ip", fmt.Sprintf("%#x", t.arch.IP()))
	if t.k.Log.Enabled(t, slog.LevelDebug) {
		var b strings.Builder
		for _, v := range t.mm.VMAs() {
			fmt.Fprintf(&b, "%#x-%#x %s off=%#x %s\n", v.Start, v.End, v.Perms, v.Offset, v.Hint)
		}
		t.k.Log.Debug("memory map at fatal fault\n"+b.String(), "regs", fmt.Sprintf("%+v", t.arch.Regs))
	}
	t.exitGroup(SignaledStatus(sig, true))
}

// exitGroup ends the thread group with status.
func (t *Task) exitGroup(status WaitStatus) {
	tg := t.tg
	tg.mu.Lock()
	if !tg.exiting {
		tg.exiting = true
		tg.exitStatus = status
	}
	tg.mu.Unlock()
	t.exiting = true
}

// exit tears the task down. It runs on the task goroutine.
func (t *Task) exit() {
	t.pctx.Release()
	if t.clearTID != 0 {
		t.mm.CopyOutUint32(t.clearTID, 0)
	}
	t.fdTable.RemoveAll()
	if t.mm != nil {
		t.mm.DecUsers()
	}
	t.k.removeTask(t)
	tg := t.tg
	if tg.leader == t {
		close(tg.done)
	}
}

// execve replaces the task's program.
func (t *Task) execve(filename string, argv, envv []string) error {
	newMM, err := mm.New(t.k.Platform, t.k.MemoryFile)
	if err != nil {
		return err
	}
	newMM.SetStackLimit(t.tg.limits.Get(RLIMIT_STACK).Cur)
	creds := t.Credentials()
	res, err := loader.Load(t, loader.Args{
		MM: newMM, Open: t.openExecutable, Filename: filename, Argv: argv, Envv: envv,
		UID: creds.RealUID, EUID: creds.EffectiveUID, GID: creds.RealGID, EGID: creds.EffectiveGID,
	})
	if err != nil {
		newMM.DecUsers()
		return err
	}
	av, ev := newMM.ArgvEnv()
	newMM.SetImageInfo(av, ev, newMM.Auxv(), res.Executable)
	old := t.mm
	t.mm = newMM
	if old != nil {
		old.DecUsers()
	}
	t.fdTable.RemoveCloexec()
	t.tg.mu.Lock()
	for i := range t.tg.sigactions {
		if t.tg.sigactions[i].Handler > sigIgn {
			t.tg.sigactions[i] = SigAction{}
		}
	}
	t.tg.mu.Unlock()
	t.SetComm(res.Comm)
	t.clearTID = 0
	t.robustList, t.robustLen = 0, 0
	t.arch.ResetForExec(res.Entry, res.Stack)
	return nil
}

// openExecutable opens a file for execve: it must be a regular file with an
// execute bit, readable by the sentry.
func (t *Task) openExecutable(ctx context.Context, path string) (*vfs.FileDescription, error) {
	vd, err := t.resolve(unix.AT_FDCWD, path, true)
	if err != nil {
		return nil, err
	}
	mode := vd.Dentry.Mode()
	if mode&vfs.S_IFMT != vfs.S_IFREG || mode&0o111 == 0 {
		return nil, unix.EACCES
	}
	return vd.Dentry.Open(t, vd, unix.O_RDONLY)
}

// resolve resolves path relative to dirfd (or the cwd for AT_FDCWD).
func (t *Task) resolve(dirfd int32, path string, follow bool) (vfs.VirtualDentry, error) {
	start, err := t.StartDir(dirfd, path)
	if err != nil {
		return vfs.VirtualDentry{}, err
	}
	return t.k.MountNS.Resolve(t, path, vfs.ResolveOpts{Root: t.fs.Root(), Start: start, FollowFinal: follow})
}

// Resolve resolves path relative to dirfd as the *at(2) calls do.
func (t *Task) Resolve(dirfd int32, path string, follow bool) (vfs.VirtualDentry, error) {
	return t.resolve(dirfd, path, follow)
}

// StartDir returns where a relative path given with dirfd starts.
func (t *Task) StartDir(dirfd int32, path string) (vfs.VirtualDentry, error) {
	if len(path) > 0 && path[0] == '/' || dirfd == unix.AT_FDCWD {
		return t.fs.Cwd(), nil
	}
	f, _ := t.fdTable.Get(int(dirfd))
	if f == nil {
		return vfs.VirtualDentry{}, unix.EBADF
	}
	defer f.DecRef()
	vd := f.VirtualDentry()
	if path != "" && vd.Dentry.Mode()&vfs.S_IFMT != vfs.S_IFDIR {
		return vfs.VirtualDentry{}, unix.ENOTDIR
	}
	return vd, nil
}

// Exit ends the thread group with a normal exit status (exit_group(2);
// with one thread per group, exit(2) too).
func (t *Task) Exit(code int) error {
	t.exitGroup(ExitedStatus(code))
	return errExit
}

// Execve implements execve(2) for the task.
func (t *Task) Execve(filename string, argv, envv []string) error {
	if err := t.execve(filename, argv, envv); err != nil {
		return err
	}
	return ErrNoReturn
}

// PID returns the task's thread group ID as seen by itself.
func (t *Task) PID() int32 { return t.tg.tgid }

// PPID returns the parent's PID, 0 for init.
func (t *Task) PPID() int32 { return 0 }
