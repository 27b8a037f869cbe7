package kernel

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/mm"
)

// clone(2) flags.
const (
	CLONE_VM             = 0x100
	CLONE_FS             = 0x200
	CLONE_FILES          = 0x400
	CLONE_SIGHAND        = 0x800
	CLONE_PIDFD          = 0x1000
	CLONE_PTRACE         = 0x2000
	CLONE_VFORK          = 0x4000
	CLONE_PARENT         = 0x8000
	CLONE_THREAD         = 0x10000
	CLONE_NEWNS          = 0x20000
	CLONE_SYSVSEM        = 0x40000
	CLONE_SETTLS         = 0x80000
	CLONE_PARENT_SETTID  = 0x100000
	CLONE_CHILD_CLEARTID = 0x200000
	CLONE_DETACHED       = 0x400000
	CLONE_UNTRACED       = 0x800000
	CLONE_CHILD_SETTID   = 0x1000000
	CLONE_NEWCGROUP      = 0x2000000
	CLONE_NEWUTS         = 0x4000000
	CLONE_NEWIPC         = 0x8000000
	CLONE_NEWUSER        = 0x10000000
	CLONE_NEWPID         = 0x20000000
	CLONE_NEWNET         = 0x40000000
	CLONE_IO             = 0x80000000
	CLONE_CLEAR_SIGHAND  = 0x100000000
	CLONE_INTO_CGROUP    = 0x200000000
	CLONE_NEWTIME        = 0x80
)

// CloneOptions are clone's arguments.
type CloneOptions struct {
	Flags      uint64
	ExitSignal int
	// Stack is the child's stack pointer (0: the parent's).
	Stack uintptr
	// ParentTID, ChildTID and TLS are the addresses clone's flags refer to.
	ParentTID, ChildTID, TLS uintptr
}

// supportedCloneFlags are the flags Clone implements. Namespace flags are
// refused: the sandbox has one namespace of each kind.
const supportedCloneFlags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_PTRACE |
	CLONE_VFORK | CLONE_PARENT | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
	CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_UNTRACED | CLONE_CHILD_SETTID | CLONE_IO | CLONE_CLEAR_SIGHAND

// Clone creates a new task as clone(2) does and returns its thread ID.
func (t *Task) Clone(o CloneOptions) (int32, error) {
	f := o.Flags
	switch {
	case f&CLONE_THREAD != 0 && f&CLONE_SIGHAND == 0,
		f&CLONE_SIGHAND != 0 && f&CLONE_VM == 0,
		f&CLONE_CLEAR_SIGHAND != 0 && f&CLONE_SIGHAND != 0,
		f&CLONE_THREAD != 0 && o.ExitSignal != 0 && f&CLONE_DETACHED == 0 && false:
		return 0, unix.EINVAL
	case o.ExitSignal < 0 || o.ExitSignal > NumSignals:
		return 0, unix.EINVAL
	}
	if unsupported := f &^ supportedCloneFlags; unsupported != 0 {
		t.k.LogUnimplemented(t, unix.SYS_CLONE<<16|1, fmt.Sprintf("clone flags %#x", unsupported), false)
		return 0, unix.EINVAL
	}

	// The child's resources.
	var childMM *mm.MemoryManager
	if f&CLONE_VM != 0 {
		t.mm.IncUsers()
		childMM = t.mm
	} else {
		var err error
		if childMM, err = t.mm.Fork(); err != nil {
			return 0, err
		}
	}
	fdt := t.fdTable
	if f&CLONE_FILES != 0 {
		fdt.IncUsers()
	} else {
		fdt = &FDTable{FDTable: t.fdTable.Fork()}
		fdt.users.Store(1)
	}
	fs := t.fs
	if f&CLONE_FS != 0 {
		fs.users.Add(1)
	} else {
		fs = t.fs.Fork()
	}
	undo := func() {
		childMM.DecUsers()
		fdt.DecUsers()
		fs.users.Add(-1)
	}

	// The child's registers: the parent's, returning 0 from clone.
	if err := t.pctx.PullFPState(t.mm.AddressSpace(), &t.arch); err != nil {
		undo()
		return 0, err
	}
	childArch := t.arch
	childArch.FP = t.arch.FP.Fork()
	childArch.SetReturn(0)
	if o.Stack != 0 {
		childArch.SetStack(o.Stack)
	}
	if f&CLONE_SETTLS != 0 && !childArch.SetTLS(o.TLS) {
		undo()
		return 0, unix.EPERM
	}

	k := t.k
	k.taskMu.Lock()
	if t.tg.exiting || t.killed.Load() {
		k.taskMu.Unlock()
		undo()
		return 0, unix.EINTR
	}
	tid, err := k.allocTIDLocked()
	if err != nil {
		k.taskMu.Unlock()
		undo()
		return 0, err
	}
	var tg *ThreadGroup
	if f&CLONE_THREAD != 0 {
		tg = t.tg
	} else {
		parent := t.tg
		if f&CLONE_PARENT != 0 && t.tg.parent != nil {
			parent = t.tg.parent
		}
		h := t.tg.handlers
		if f&CLONE_SIGHAND == 0 {
			h = h.copy()
		}
		if f&CLONE_CLEAR_SIGHAND != 0 {
			for i := range h.actions {
				if h.actions[i].Handler > sigIgn {
					h.actions[i] = SigAction{}
				}
			}
		}
		tg = newThreadGroup(k, tid, parent, t.tg.limits.Copy(), h)
		tg.pgid, tg.sid = t.tg.pgid, t.tg.sid
		tg.exitSignal = o.ExitSignal
		tg.oom = t.tg.oom
	}
	child := k.newTaskLocked(tid, tg, t.creds, fdt, fs)
	child.mm = childMM
	child.arch = childArch
	child.mask = t.mask
	child.parentTask = t
	t.mu.Lock()
	child.comm = t.comm
	child.sched = t.sched
	if child.sched.policy&0x40000000 != 0 {
		// SCHED_RESET_ON_FORK: the child gets the default policy and a
		// nice value no lower than 0.
		child.sched.policy, child.sched.priority = SCHED_OTHER, 0
		child.sched.nice = max(child.sched.nice, 0)
	}
	child.noNewPrivs = t.noNewPrivs
	child.keepCaps = t.keepCaps
	child.dumpable = t.dumpable
	t.mu.Unlock()
	if f&(CLONE_VM|CLONE_VFORK) != CLONE_VM {
		child.altStack = t.altStack
	}
	if f&CLONE_CHILD_CLEARTID != 0 {
		child.clearTID = o.ChildTID
	}
	var vforkDone chan struct{}
	if f&CLONE_VFORK != 0 {
		vforkDone = make(chan struct{})
		child.vforkDone = vforkDone
	}
	k.taskMu.Unlock()

	if f&CLONE_PARENT_SETTID != 0 {
		t.mm.CopyOutUint32(o.ParentTID, uint32(tid))
	}
	if f&CLONE_CHILD_SETTID != 0 {
		childMM.CopyOutUint32(o.ChildTID, uint32(tid))
	}
	child.start()

	if vforkDone != nil {
		// The parent sleeps until the child execs or exits; only death
		// ends the wait early.
		for {
			select {
			case <-vforkDone:
			case <-t.interruptCh:
				if !t.killed.Load() {
					continue
				}
			}
			break
		}
	}
	return tid, nil
}

// releaseVforkParent lets a vfork parent go on (at exec or exit).
func (t *Task) releaseVforkParent() {
	if t.vforkDone != nil {
		close(t.vforkDone)
		t.vforkDone = nil
	}
}

// ParentWaitTime is a helper for /proc: how long the task has existed.
func (t *Task) Age() time.Duration { return time.Since(t.started) }
