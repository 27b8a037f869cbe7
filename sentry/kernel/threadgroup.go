package kernel

import (
	"sync"
	"sync/atomic"
	"time"

	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

// ThreadGroup is a process: a set of tasks sharing a PID, signal
// dispositions, resource limits and a place in the process tree.
//
// Fields are protected by Kernel.taskMu unless noted.
type ThreadGroup struct {
	k      *Kernel
	tgid   int32
	limits *Limits // has its own lock

	leader   *Task
	tasks    map[*Task]struct{} // tasks that have not finished exiting
	parent   *ThreadGroup
	children map[*ThreadGroup]struct{}
	pgid     int32
	sid      int32
	// exitSignal is sent to the parent when the group exits (SIGCHLD, or
	// what clone's flags said; 0 for none).
	exitSignal int
	subreaper  bool

	handlers *SignalHandlers
	pending  sigQueue // process-directed signals
	// signalWaiters are told of every signal queued to the group or one
	// of its tasks (signalfd).
	signalWaiters waiter.Queue

	// Exit: exiting is set when the group starts dying (exit_group, a
	// fatal signal); exited when its last task is gone (a zombie until
	// reaped).
	exiting    bool
	exitStatus WaitStatus
	exited     bool
	reaped     bool
	done       chan struct{} // closed when exited

	// Group stop and its reports to wait.
	stopSignal   int  // non-zero while a group stop is in progress or done
	stopped      bool // every task has stopped
	stopWaitable bool // a stop not yet reported to wait(WUNTRACED)
	contWaitable bool // a continue not yet reported to wait(WCONTINUED)

	// childEvent is closed and replaced whenever a child changes state, to
	// wake waiters in wait(2).
	childEvent chan struct{}

	// execing is the task running execve while it waits for the other
	// tasks to die.
	execing *Task
	// execed is set once the process has called execve (setpgid on a
	// child that has is EACCES).
	execed bool

	// CPU time of tasks that exited, and of reaped children; peak memory
	// of the group's past address spaces, and of reaped children.
	exitedUser, exitedSys time.Duration
	childUser, childSys   time.Duration
	maxRSS, childMaxRSS   uint64

	timers groupTimers

	// oom is the group's OOM-killer tuning (/proc/[pid]/oom_score_adj).
	oom oomState
}

func newThreadGroup(k *Kernel, tgid int32, parent *ThreadGroup, limits *Limits, h *SignalHandlers) *ThreadGroup {
	tg := &ThreadGroup{
		k: k, tgid: tgid, limits: limits, parent: parent, handlers: h,
		tasks: make(map[*Task]struct{}), children: make(map[*ThreadGroup]struct{}),
		exitSignal: SIGCHLD, done: make(chan struct{}), childEvent: make(chan struct{}),
	}
	if parent != nil {
		parent.children[tg] = struct{}{}
		tg.pgid, tg.sid = parent.pgid, parent.sid
	}
	tg.timers.tg = tg
	return tg
}

// ID returns the thread group ID (the PID).
func (tg *ThreadGroup) ID() int32 { return tg.tgid }

// Kernel returns the group's kernel.
func (tg *ThreadGroup) Kernel() *Kernel { return tg.k }

// Leader returns the thread group leader.
func (tg *ThreadGroup) Leader() *Task {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.leader
}

// Limits returns the resource limits.
func (tg *ThreadGroup) Limits() *Limits { return tg.limits }

// Wait blocks until the group exits and returns its status.
func (tg *ThreadGroup) Wait() WaitStatus {
	<-tg.done
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.exitStatus
}

// Done returns a channel closed when the group exits.
func (tg *ThreadGroup) Done() <-chan struct{} { return tg.done }

// Tasks returns the group's live tasks in thread ID order.
func (tg *ThreadGroup) Tasks() []*Task {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	out := make([]*Task, 0, len(tg.tasks))
	for t := range tg.tasks {
		out = append(out, t)
	}
	sortTasks(out)
	return out
}

// ParentID returns the parent's PID (0 for init or an orphan of the
// sandbox).
func (tg *ThreadGroup) ParentID() int32 {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	if tg.parent == nil {
		return 0
	}
	return tg.parent.tgid
}

// ProcessGroupID returns the process group ID.
func (tg *ThreadGroup) ProcessGroupID() int32 {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.pgid
}

// SessionID returns the session ID.
func (tg *ThreadGroup) SessionID() int32 {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.sid
}

// State returns the /proc state letter of the group.
func (tg *ThreadGroup) State() byte {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	switch {
	case tg.exited:
		return 'Z'
	case tg.stopped:
		return 'T'
	}
	return 'S'
}

// notifyChildEventLocked wakes the parent's waiters.
//
// Preconditions: k.taskMu is held.
func (tg *ThreadGroup) notifyChildEventLocked() {
	if p := tg.parent; p != nil {
		close(p.childEvent)
		p.childEvent = make(chan struct{})
	}
}

// SignalHandlers are the dispositions of the signals, shared by the tasks
// of a group (and by groups created with CLONE_SIGHAND).
type SignalHandlers struct {
	actions [NumSignals]SigAction // protected by Kernel.taskMu
}

func newSignalHandlers() *SignalHandlers { return &SignalHandlers{} }

func (h *SignalHandlers) copy() *SignalHandlers {
	n := *h
	return &n
}

// SigAction returns the disposition of sig (1-based).
func (tg *ThreadGroup) SigAction(sig int) SigAction {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.handlers.actions[sig-1]
}

// SetSigAction replaces the disposition of sig and returns the old one.
// Setting a signal to be ignored discards it if it is pending, as POSIX
// requires.
func (tg *ThreadGroup) SetSigAction(sig int, a SigAction) SigAction {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	old := tg.handlers.actions[sig-1]
	tg.handlers.actions[sig-1] = a
	if a.isIgnored(sig) {
		tg.pending.discard(sig)
		for t := range tg.tasks {
			t.pending.discard(sig)
		}
	}
	return old
}

// FDTable is a file descriptor table that tasks may share (CLONE_FILES).
type FDTable struct {
	*vfs.FDTable
	users atomic.Int32
}

func newFDTable() *FDTable {
	t := &FDTable{FDTable: vfs.NewFDTable()}
	t.users.Store(1)
	return t
}

// IncUsers adds a sharing task.
func (t *FDTable) IncUsers() { t.users.Add(1) }

// DecUsers drops a sharing task; the last one closes every descriptor.
func (t *FDTable) DecUsers() {
	if t.users.Add(-1) == 0 {
		t.RemoveAll()
	}
}

// FSContext is a task's root, working directory and umask, which tasks
// may share (CLONE_FS).
type FSContext struct {
	mu    sync.Mutex
	root  vfs.VirtualDentry
	cwd   vfs.VirtualDentry
	umask uint32
	users atomic.Int32
}

// Fork returns an unshared copy.
func (f *FSContext) Fork() *FSContext {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := &FSContext{root: f.root, cwd: f.cwd, umask: f.umask}
	n.users.Store(1)
	return n
}

// Root returns the root directory.
func (f *FSContext) Root() vfs.VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.root
}

// SetRoot changes the root directory (chroot).
func (f *FSContext) SetRoot(vd vfs.VirtualDentry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.root = vd
}

// Cwd returns the working directory.
func (f *FSContext) Cwd() vfs.VirtualDentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cwd
}

// SetCwd changes the working directory.
func (f *FSContext) SetCwd(vd vfs.VirtualDentry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cwd = vd
}

// Umask returns the umask.
func (f *FSContext) Umask() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.umask
}

// SwapUmask sets the umask and returns the old one.
func (f *FSContext) SwapUmask(m uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.umask
	f.umask = m & 0o777
	return old
}

// MaxRSS returns the peak memory in bytes of the group (its live and past
// address spaces), or, with children, of its reaped children.
func (tg *ThreadGroup) MaxRSS(children bool) uint64 {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	if children {
		return tg.childMaxRSS
	}
	m := tg.maxRSS
	for t := range tg.tasks {
		if t.mm != nil {
			m = max(m, t.mm.MaxRSS())
		}
	}
	return m
}
