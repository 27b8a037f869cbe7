package kernel

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/platform"
	"palisade.dev/sentry/arch"
	"palisade.dev/sentry/kernel/auth"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// ErrNoReturn is returned by a system call handler that set the task's
// registers itself (execve, rt_sigreturn), so the dispatcher leaves rax
// alone.
var ErrNoReturn = errors.New("syscall replaced registers")

// errExit is returned by exit handlers: the task goroutine stops.
var errExit = errors.New("task exit")

// Task is a thread.
//
// Fields without a noted lock are touched only by the task goroutine (or
// before it starts).
type Task struct {
	k    *Kernel
	tg   *ThreadGroup
	tid  int32 // protected by k.taskMu (execve may change it)
	pctx platform.Context
	arch arch.Context

	mm      *mm.MemoryManager
	fdTable *FDTable
	fs      *FSContext

	// Protected by k.taskMu.
	pending    sigQueue
	mask       uint64
	exitState  exitState
	groupStop  bool // this task has stopped for its group's stop
	pdeathSig  int
	parentTask *Task // the task that created this one's process, for PR_SET_PDEATHSIG

	// killed is set (under k.taskMu) when the task must die: group exit,
	// SIGKILL, or another thread's execve.
	killed atomic.Bool

	mu         sync.Mutex
	keepCaps   bool
	dumpable   int
	noNewPrivs bool
	creds      *auth.Credentials
	comm       string
	altStack   AltStack
	sched      schedState

	// clearTID is the set_tid_address address.
	clearTID uintptr
	// robustList is the set_robust_list head and length.
	robustList, robustLen uintptr

	// interruptCh wakes a blocked task (see Interrupt).
	interruptCh chan struct{}

	// savedMask is the mask to restore after a system call that set a
	// temporary one (SetSyscallSignalMask).
	savedMask     uint64
	haveSavedMask bool

	// lastTrap is the last hardware exception, reported in every signal
	// frame's sigcontext as Linux does.
	lastTrap arch.TrapInfo

	// restartErr is the restart errno the last system call returned, until
	// signal handling decides between restarting and EINTR.
	restartErr error
	// restartFn continues a system call through restart_syscall(2).
	restartFn func(t *Task) (uintptr, error)

	// vforkDone is closed when a vfork child execs or exits.
	vforkDone chan struct{}

	// CPU time: user is time running application code, sys time in the
	// sentry for the task (system calls and faults).
	started       time.Time
	userNS, sysNS atomic.Int64

	// proc is what /proc reports of the task's scheduling (procview.go).
	proc taskProcState
}

// exitState is how far a task is through exiting.
type exitState int

const (
	taskRunning exitState = iota
	taskExiting
	taskDead
)

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
func (t *Task) ThreadID() int32 {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	return t.tid
}

// PID returns the task's thread group ID.
func (t *Task) PID() int32 { return t.tg.tgid }

// PPID returns the parent process's PID, 0 for init.
func (t *Task) PPID() int32 { return t.tg.ParentID() }

// MemoryManager returns the task's address space.
func (t *Task) MemoryManager() *mm.MemoryManager { return t.mm }

// FDTable returns the task's file descriptor table.
func (t *Task) FDTable() *FDTable { return t.fdTable }

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

// Dumpable returns PR_GET_DUMPABLE.
func (t *Task) Dumpable() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return 1 - t.dumpable // stored inverted so that the zero value is 1
}

// SetDumpable sets PR_SET_DUMPABLE.
func (t *Task) SetDumpable(v int) {
	t.mu.Lock()
	t.dumpable = 1 - v
	t.mu.Unlock()
}

// NoNewPrivs returns PR_GET_NO_NEW_PRIVS.
func (t *Task) NoNewPrivs() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.noNewPrivs
}

// SetNoNewPrivs sets no_new_privs (it can't be unset).
func (t *Task) SetNoNewPrivs() {
	t.mu.Lock()
	t.noNewPrivs = true
	t.mu.Unlock()
}

// KeepCaps returns PR_GET_KEEPCAPS.
func (t *Task) KeepCaps() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keepCaps
}

// SetKeepCaps sets PR_SET_KEEPCAPS.
func (t *Task) SetKeepCaps(v bool) {
	t.mu.Lock()
	t.keepCaps = v
	t.mu.Unlock()
}

// SetCredentials replaces the task's credentials.
func (t *Task) SetCredentials(c *auth.Credentials) {
	t.mu.Lock()
	t.creds = c
	t.mu.Unlock()
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

// SetClearTID sets the set_tid_address address.
func (t *Task) SetClearTID(addr uintptr) { t.clearTID = addr }

// SetRobustList records set_robust_list's arguments.
func (t *Task) SetRobustList(head, length uintptr) { t.robustList, t.robustLen = head, length }

// RobustList returns the robust list head and length.
func (t *Task) RobustList() (uintptr, uintptr) { return t.robustList, t.robustLen }

// SetPdeathSignal sets PR_SET_PDEATHSIG.
func (t *Task) SetPdeathSignal(sig int) {
	t.k.taskMu.Lock()
	t.pdeathSig = sig
	t.k.taskMu.Unlock()
}

// PdeathSignal returns PR_GET_PDEATHSIG.
func (t *Task) PdeathSignal() int {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	return t.pdeathSig
}

// CopyIn reads the task's memory.
func (t *Task) CopyIn(addr uintptr, dst []byte) (int, error) { return t.mm.CopyIn(addr, dst) }

// CopyOut writes src to the task's memory.
func (t *Task) CopyOut(addr uintptr, src []byte) (int, error) { return t.mm.CopyOut(addr, src) }

// CopyInString reads a string from the task's memory.
func (t *Task) CopyInString(addr uintptr, maxLen int) (string, error) {
	return t.mm.CopyInString(addr, maxLen)
}

// CopyInUint64 reads a word from the task's memory.
func (t *Task) CopyInUint64(addr uintptr) (uint64, error) { return t.mm.CopyInUint64(addr) }

// CPUTime returns the task's user and system time. System time is
// accounted when the task returns to the application, less the time it
// spent blocked, so it may lag while the task is in the sentry.
func (t *Task) CPUTime() (user, sys time.Duration) {
	return time.Duration(t.userNS.Load()), time.Duration(max(t.sysNS.Load(), 0))
}

// StartTime returns when the task was created.
func (t *Task) StartTime() time.Time { return t.started }

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
