package kernel

import (
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
)

// Exit implements exit_group(2): every task of the group dies with a
// normal exit status.
func (t *Task) Exit(code int) error {
	t.tg.killGroup(ExitedStatus(code))
	return errExit
}

// ExitThread implements exit(2): the calling task ends; the group ends
// with it if it was the last one.
func (t *Task) ExitThread(code int) error {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	live := 0
	for o := range t.tg.tasks {
		if o.exitState == taskRunning {
			live++
		}
	}
	if live == 1 && !t.tg.exiting {
		t.tg.exiting = true
		t.tg.exitStatus = ExitedStatus(code)
	}
	t.killed.Store(true)
	return errExit
}

// exit tears the task down. It runs on the task goroutine.
func (t *Task) exit() {
	t.k.taskMu.Lock()
	t.exitState = taskExiting
	// A group stop no longer waits for this task.
	t.tg.maybeCompleteStopLocked()
	t.k.taskMu.Unlock()

	if t.mm != nil {
		t.exitRobustList()
		if t.clearTID != 0 {
			if t.mm.CopyOutUint32(t.clearTID, 0) == nil {
				t.FutexWake(t.clearTID, 1, ^uint32(0), false)
			}
		}
	}
	t.pctx.Release()
	t.releaseVforkParent()
	if t.mm != nil {
		rss := t.mm.MaxRSS()
		t.k.taskMu.Lock()
		t.tg.maxRSS = max(t.tg.maxRSS, rss)
		t.k.taskMu.Unlock()
		t.mm.DecUsers()
	}
	t.fdTable.DecUsers()
	t.fs.users.Add(-1)

	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	tg := t.tg
	t.exitState = taskDead
	delete(tg.tasks, t)
	delete(k.tasks, t.tid)
	user, sys := t.CPUTime()
	tg.exitedUser += user
	tg.exitedSys += sys
	t.orphanChildrenLocked()
	if tg.execing != nil && len(tg.tasks) == 1 {
		tg.execing.interruptLocked()
	}
	if len(tg.tasks) == 0 {
		tg.exitedLocked()
	}
}

// orphanChildrenLocked sends the parent-death signal to the processes this
// task created: PR_SET_PDEATHSIG fires when the creating thread exits.
func (t *Task) orphanChildrenLocked() {
	for c := range t.tg.children {
		for ct := range c.tasks {
			if ct.parentTask == t {
				ct.parentTask = nil
				if ct.pdeathSig != 0 {
					c.sendSignalLocked(SigInfo{Signo: int32(ct.pdeathSig), Code: SI_USER}, nil)
				}
			}
		}
	}
}

// maybeCompleteStopLocked reports a group stop once every live task has
// stopped.
func (tg *ThreadGroup) maybeCompleteStopLocked() {
	if tg.stopSignal == 0 || tg.stopped {
		return
	}
	n := 0
	for t := range tg.tasks {
		if t.exitState != taskRunning {
			continue
		}
		n++
		if !t.groupStop {
			return
		}
	}
	if n == 0 {
		return
	}
	tg.stopped, tg.stopWaitable, tg.contWaitable = true, true, false
	tg.notifyParentLocked(CLD_STOPPED, tg.stopSignal)
}

// exitedLocked runs when the group's last task is gone: it becomes a
// zombie (or is reaped at once), its children find a new parent, and its
// parent hears about it.
//
// Preconditions: k.taskMu is held.
func (tg *ThreadGroup) exitedLocked() {
	k := tg.k
	if !tg.exiting {
		tg.exiting = true
		tg.exitStatus = ExitedStatus(0)
	}
	tg.exited = true
	tg.timers.stopLocked()
	tg.ttyExitLocked()
	close(tg.done)

	if tg == k.initTG {
		// Init died: the sandbox's PID namespace goes with it.
		for _, o := range k.tgs {
			if o != tg && !o.exited {
				o.killGroupLocked(SignaledStatus(SIGKILL, false))
			}
		}
	}

	// If this exit orphans our process group while it has stopped
	// members, they get SIGHUP and SIGCONT (POSIX's orphaned process group
	// rule), as Linux's kill_orphaned_pgrp does.
	if p := tg.parent; p != nil && p.pgid != tg.pgid && p.sid == tg.sid {
		k.hupOrphanedLocked(tg.pgid)
	}
	reaper := tg.findReaperLocked()
	for c := range tg.children {
		delete(tg.children, c)
		c.parent = reaper
		if reaper != nil {
			reaper.children[c] = struct{}{}
			if c.exited && !c.reaped {
				c.notifyExitLocked()
			}
		}
		// Likewise for a child's group that was held to the session
		// through us.
		if c.pgid != tg.pgid && c.sid == tg.sid {
			k.hupOrphanedLocked(c.pgid)
		}
	}
	tg.notifyExitLocked()
}

// hupOrphanedLocked sends SIGHUP then SIGCONT to the members of process
// group pgid if it is orphaned (no member's parent is in another group of
// the same session) and has a stopped member.
func (k *Kernel) hupOrphanedLocked(pgid int32) {
	stopped := false
	var members []*ThreadGroup
	for _, tg := range k.tgs {
		if tg.pgid != pgid || tg.exited {
			continue
		}
		members = append(members, tg)
		if p := tg.parent; p != nil && !p.exited && p.pgid != pgid && p.sid == tg.sid {
			return // not orphaned
		}
		if tg.stopSignal != 0 {
			stopped = true
		}
	}
	if !stopped {
		return
	}
	for _, tg := range members {
		tg.sendSignalLocked(SigInfo{Signo: SIGHUP, Code: SI_KERNEL}, nil)
		tg.sendSignalLocked(SigInfo{Signo: SIGCONT, Code: SI_KERNEL}, nil)
	}
}

// findReaperLocked returns the process that adopts tg's children: the
// nearest live ancestor that set PR_SET_CHILD_SUBREAPER, else init.
func (tg *ThreadGroup) findReaperLocked() *ThreadGroup {
	for p := tg.parent; p != nil; p = p.parent {
		if p.subreaper && !p.exiting {
			return p
		}
	}
	if init := tg.k.initTG; init != nil && init != tg && !init.exiting {
		return init
	}
	return nil
}

// notifyExitLocked tells the parent that tg exited, with its exit signal,
// and reaps tg at once if the parent doesn't want zombies (SIGCHLD ignored
// or SA_NOCLDWAIT).
func (tg *ThreadGroup) notifyExitLocked() {
	p := tg.parent
	if p == nil {
		return
	}
	sig := tg.exitSignal
	act := p.handlers.actions[SIGCHLD-1]
	autoReap := sig == SIGCHLD && (act.Handler == sigIgn || act.Flags&saNoCldWait != 0)
	if sig != 0 && !(sig == SIGCHLD && act.Handler == sigIgn) {
		code, status := tg.exitCodeLocked()
		user, sys := tg.exitedUser, tg.exitedSys
		p.sendSignalLocked(SigInfo{
			Signo: int32(sig), Code: code, PID: tg.tgid, Status: status,
			UTime: clockTicks(user), STime: clockTicks(sys), Chld: true,
		}, nil)
	}
	if autoReap {
		tg.reapLocked()
	}
	tg.notifyChildEventLocked()
}

// exitCodeLocked returns the CLD_* code and si_status of an exited group.
func (tg *ThreadGroup) exitCodeLocked() (int32, int32) {
	s := tg.exitStatus
	switch {
	case s.Exited():
		return CLD_EXITED, int32(s.ExitCode())
	case s.CoreDumped():
		return CLD_DUMPED, int32(s.Signal())
	default:
		return CLD_KILLED, int32(s.Signal())
	}
}

// reapLocked removes a zombie for good.
func (tg *ThreadGroup) reapLocked() {
	if tg.reaped {
		return
	}
	tg.reaped = true
	if p := tg.parent; p != nil {
		delete(p.children, tg)
		p.childUser += tg.exitedUser + tg.childUser
		p.childSys += tg.exitedSys + tg.childSys
		p.childMaxRSS = max(p.childMaxRSS, tg.maxRSS, tg.childMaxRSS)
	}
	delete(tg.k.tgs, tg.tgid)
}

// clockTicks converts a duration to clock_t units (USER_HZ = 100).
func clockTicks(d time.Duration) int64 { return int64(d / (10 * time.Millisecond)) }

// WaitOptions say which children wait4/waitid look for and how.
type WaitOptions struct {
	// Target: a PID (> 0), a process group (PGID), or any child.
	PID, PGID int32
	Any       bool
	// What to report.
	Exited, Stopped, Continued bool
	NoHang, NoWait             bool
	// Clone and All: which children by exit signal (__WCLONE, __WALL).
	Clone, All bool
	// NoThread restricts to children of the calling thread (__WNOTHREAD).
	NoThread bool
}

// WaitResult describes the child wait reported.
type WaitResult struct {
	PID          int32
	UID          uint32
	MaxRSS       uint64
	Status       WaitStatus
	Code         int32 // CLD_*
	SigStatus    int32 // si_status
	UTime, STime time.Duration
}

// Wait implements the common part of wait4(2) and waitid(2). It returns
// nil with WNOHANG when no child is ready.
func (t *Task) Wait(o WaitOptions) (*WaitResult, error) {
	k := t.k
	for {
		k.taskMu.Lock()
		ch := t.tg.childEvent
		matched := false
		for c := range t.tg.children {
			if !o.matches(c) {
				continue
			}
			if o.NoThread && !c.createdByLocked(t) {
				continue
			}
			matched = true
			if r := c.waitReportLocked(o); r != nil {
				k.taskMu.Unlock()
				return r, nil
			}
		}
		k.taskMu.Unlock()
		if !matched {
			return nil, unix.ECHILD
		}
		if o.NoHang {
			return nil, nil
		}
		if err := t.Block(ch, time.Time{}); err != nil {
			if err == ErrInterrupted {
				return nil, linux.ERESTARTSYS
			}
			return nil, err
		}
	}
}

func (o *WaitOptions) matches(c *ThreadGroup) bool {
	switch {
	case o.PID > 0:
		if c.tgid != o.PID {
			return false
		}
	case o.PGID > 0:
		if c.pgid != o.PGID {
			return false
		}
	}
	if o.All {
		return true
	}
	clone := c.exitSignal != SIGCHLD
	return clone == o.Clone
}

func (c *ThreadGroup) createdByLocked(t *Task) bool {
	for ct := range c.tasks {
		if ct.parentTask == t {
			return true
		}
	}
	return false
}

// waitReportLocked returns what a waiter with options o should be told
// about child c, consuming it unless WNOWAIT.
func (c *ThreadGroup) waitReportLocked(o WaitOptions) *WaitResult {
	r := &WaitResult{PID: c.tgid}
	if c.leader != nil {
		if cr := c.leader.creds; cr != nil {
			r.UID = cr.RealUID
		}
	}
	switch {
	case o.Exited && c.exited && !c.reaped:
		r.Status = c.exitStatus
		r.Code, r.SigStatus = c.exitCodeLocked()
		r.UTime, r.STime = c.exitedUser+c.childUser, c.exitedSys+c.childSys
		r.MaxRSS = max(c.maxRSS, c.childMaxRSS)
		if !o.NoWait {
			c.reapLocked()
		}
		return r
	case o.Stopped && c.stopWaitable && !c.exited:
		r.Status = StoppedStatus(c.stopSignal)
		r.Code, r.SigStatus = CLD_STOPPED, int32(c.stopSignal)
		if !o.NoWait {
			c.stopWaitable = false
		}
		return r
	case o.Continued && c.contWaitable && !c.exited:
		r.Status = ContinuedStatus
		r.Code, r.SigStatus = CLD_CONTINUED, SIGCONT
		if !o.NoWait {
			c.contWaitable = false
		}
		return r
	}
	return nil
}
