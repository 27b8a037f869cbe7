package kernel

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// This file holds what /proc (package sentry/fs/proc) reads of tasks,
// processes and the kernel, and the little state that only /proc shows.

// taskProcState is what /proc reports of a task's scheduling that only
// the task goroutine knows: whether it is blocked now, and how often it
// has blocked (voluntary context switches).
type taskProcState struct {
	blocked   atomic.Bool
	voluntary atomic.Uint64
}

// contextSwitches counts the blocking waits of every task since the
// sentry started (/proc/stat's ctxt); a sentry runs one kernel.
var contextSwitches atomic.Uint64

// sleep marks the task blocked (Block calls it).
func (s *taskProcState) sleep() {
	s.voluntary.Add(1)
	contextSwitches.Add(1)
	s.blocked.Store(true)
}

// wake marks the task running again.
func (s *taskProcState) wake() { s.blocked.Store(false) }

// oomState is a process's OOM-killer tuning; children inherit it.
// Protected by Kernel.taskMu.
type oomState struct {
	// adj is oom_score_adj; adjMin the lowest value it may be set to
	// without CAP_SYS_RESOURCE (set by privileged writers, as in Linux).
	adj, adjMin int32
}

// OOM score adjustment bounds.
const (
	OOMScoreAdjMin = -1000
	OOMScoreAdjMax = 1000
)

// OOMScoreAdj returns the process's oom_score_adj.
func (tg *ThreadGroup) OOMScoreAdj() int32 {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.oom.adj
}

// SetOOMScoreAdj sets oom_score_adj as a write to
// /proc/[pid]/oom_score_adj does: EINVAL out of range, EACCES below the
// process's floor without CAP_SYS_RESOURCE (privileged); a privileged
// writer moves the floor to the new value.
func (tg *ThreadGroup) SetOOMScoreAdj(v int32, privileged bool) error {
	if v < OOMScoreAdjMin || v > OOMScoreAdjMax {
		return unix.EINVAL
	}
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	if v < tg.oom.adjMin && !privileged {
		return unix.EACCES
	}
	tg.oom.adj = v
	if privileged {
		tg.oom.adjMin = v
	}
	return nil
}

// TaskStatus is a consistent snapshot of a task and its process, in the
// terms of /proc/[pid]/stat and status.
type TaskStatus struct {
	TID, PID, PPID, PGID, SID int32
	// State is the state letter: R (running), S (sleeping), T (stopped),
	// Z (zombie) or X (dead).
	State byte
	// Leader is set for the thread group leader.
	Leader bool
	// Threads is the number of tasks in the process (a zombie counts its
	// leader, as in Linux).
	Threads int
	// ExitSignal is what the process sends its parent when it exits; -1
	// for tasks other than the leader.
	ExitSignal int
	// ExitStatus is the wait status of an exited process, else 0.
	ExitStatus WaitStatus
	// Exiting is set once the process has started to die.
	Exiting bool
	// Execed is set once the process has called execve since its fork.
	Execed bool
	// Signals: the task's own pending set, the process's, the task's mask,
	// and the ignored and caught (handled) signals of the process.
	Pending, SharedPending, Blocked, Ignored, Caught uint64
	// QueuedSignals counts the signals queued to the task and process.
	QueuedSignals int
	// TaskUser and TaskSys are the task's CPU time; GroupUser and GroupSys
	// the process's (live and exited tasks); ChildUser and ChildSys its
	// reaped children's.
	TaskUser, TaskSys   time.Duration
	GroupUser, GroupSys time.Duration
	ChildUser, ChildSys time.Duration
	// Started is when the task was created, GroupStarted when the process
	// was (its leader).
	Started, GroupStarted time.Time
	// VoluntarySwitches counts the times the task blocked.
	VoluntarySwitches uint64
}

// Status returns a snapshot of the task and its process.
func (t *Task) Status() TaskStatus {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	tg := t.tg
	s := TaskStatus{
		TID: t.tid, PID: tg.tgid, PGID: tg.pgid, SID: tg.sid,
		Leader: tg.leader == t, Threads: max(len(tg.tasks), 1), ExitSignal: -1,
		Exiting: tg.exiting, Execed: tg.execed,
		Pending: t.pending.set, SharedPending: tg.pending.set, Blocked: t.mask,
		Started: t.started, GroupStarted: t.started,
		VoluntarySwitches: t.proc.voluntary.Load(),
	}
	if tg.parent != nil {
		s.PPID = tg.parent.tgid
	}
	if s.Leader {
		s.ExitSignal = tg.exitSignal
	}
	if tg.leader != nil {
		s.GroupStarted = tg.leader.started
	}
	if tg.exited {
		s.ExitStatus = tg.exitStatus
	}
	for i, a := range tg.handlers.actions {
		switch {
		case a.Handler == sigIgn:
			s.Ignored |= sigBit(i + 1)
		case a.Handler != sigDfl:
			s.Caught |= sigBit(i + 1)
		}
	}
	for i := range t.pending.infos {
		s.QueuedSignals += len(t.pending.infos[i]) + len(tg.pending.infos[i])
	}
	s.State = t.stateLocked()
	s.TaskUser, s.TaskSys = t.CPUTime()
	s.GroupUser, s.GroupSys = tg.cpuTimeLocked()
	s.ChildUser, s.ChildSys = tg.childUser, tg.childSys
	return s
}

// stateLocked returns the task's state letter.
//
// Preconditions: k.taskMu is held.
func (t *Task) stateLocked() byte {
	tg := t.tg
	switch {
	case t.exitState == taskDead && tg.leader == t && !tg.reaped:
		// A dead leader stays as its process's zombie, as in Linux,
		// while the other threads live on or until the parent reaps it.
		return 'Z'
	case t.exitState == taskDead:
		return 'X'
	case t.exitState == taskExiting:
		return 'R'
	case tg.stopSignal != 0 && t.groupStop:
		return 'T'
	case t.proc.blocked.Load():
		return 'S'
	}
	return 'R'
}

// Alive reports whether the task has not finished exiting.
func (t *Task) Alive() bool {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	return t.exitState != taskDead
}

// Exited reports whether every task of the process is gone (a zombie, or
// reaped).
func (tg *ThreadGroup) Exited() bool {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.exited
}

// TaskInGroup returns the live task of tg with thread ID tid, or nil.
func (tg *ThreadGroup) TaskInGroup(tid int32) *Task {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	t := tg.k.tasks[tid]
	if t == nil || t.tg != tg {
		return nil
	}
	return t
}

// KernelStats are the kernel-wide counts of /proc/stat and /proc/loadavg.
type KernelStats struct {
	// Forks counts the tasks created since boot (the last thread ID
	// allocated, as IDs are not reused before they wrap).
	Forks int64
	// LastPID is the most recently allocated ID.
	LastPID int32
	// Tasks is the number of live tasks, Running how many of them are
	// runnable now.
	Tasks, Running int
	// ContextSwitches counts the tasks' blocking waits.
	ContextSwitches uint64
}

// Stats returns the kernel-wide counts.
func (k *Kernel) Stats() KernelStats {
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	s := KernelStats{Forks: int64(k.lastTID), LastPID: k.lastTID, Tasks: len(k.tasks), ContextSwitches: contextSwitches.Load()}
	for _, t := range k.tasks {
		if t.stateLocked() == 'R' {
			s.Running++
		}
	}
	return s
}

// CPUTime returns the CPU time of every task since boot: the live
// processes', and their reaped children's (reaping adds a process's time
// to its parent's children's time).
func (k *Kernel) CPUTime() (user, sys time.Duration) {
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	for _, tg := range k.tgs {
		u, s := tg.cpuTimeLocked()
		user += u + tg.childUser
		sys += s + tg.childSys
	}
	return user, sys
}

// utsMu protects Kernel.Hostname against SetHostname.
var utsMu sync.RWMutex

// HostnameNow returns the hostname (uname's nodename), safe to call while
// another task changes it.
func (k *Kernel) HostnameNow() string {
	utsMu.RLock()
	defer utsMu.RUnlock()
	return k.Hostname
}

// SetHostname changes the hostname (sethostname(2), or a write to
// /proc/sys/kernel/hostname). The caller has checked CAP_SYS_ADMIN and the
// length (at most 64 bytes).
func (k *Kernel) SetHostname(name string) {
	utsMu.Lock()
	defer utsMu.Unlock()
	k.Hostname = name
}
