package kernel

import (
	"golang.org/x/sys/unix"
)

// Setsid implements setsid(2): the caller's process leads a new session
// and process group; EPERM if it already leads a process group.
func (tg *ThreadGroup) Setsid() (int32, error) {
	k := tg.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	for _, o := range k.tgs {
		if o.pgid == tg.tgid && !o.reaped {
			return 0, unix.EPERM
		}
	}
	tg.sid, tg.pgid = tg.tgid, tg.tgid
	tg.ttySetsidLocked()
	return tg.sid, nil
}

// Setpgid implements setpgid(2).
func (t *Task) Setpgid(pid, pgid int32) error {
	if pgid < 0 {
		return unix.EINVAL
	}
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	caller := t.tg
	target := caller
	if pid != 0 && pid != caller.tgid {
		target = k.tgs[pid]
		if target == nil || target.parent != caller || target.exited {
			return unix.ESRCH
		}
		if target.sid != caller.sid {
			return unix.EPERM
		}
		if target.execed {
			return unix.EACCES
		}
	}
	if pgid == 0 {
		pgid = target.tgid
	}
	if target.sid == target.tgid {
		return unix.EPERM // a session leader stays in its group
	}
	if pgid != target.tgid {
		// Joining an existing group: it must be in the caller's session.
		found := false
		for _, o := range k.tgs {
			if o.pgid == pgid && o.sid == caller.sid && !o.exited {
				found = true
				break
			}
		}
		if !found {
			return unix.EPERM
		}
	}
	target.pgid = pgid
	return nil
}

// Getpgid returns the process group of process pid (0: the caller).
func (t *Task) Getpgid(pid int32) (int32, error) {
	tg, err := t.processByID(pid)
	if err != nil {
		return 0, err
	}
	return tg.ProcessGroupID(), nil
}

// Getsid returns the session of process pid (0: the caller).
func (t *Task) Getsid(pid int32) (int32, error) {
	tg, err := t.processByID(pid)
	if err != nil {
		return 0, err
	}
	return tg.SessionID(), nil
}

func (t *Task) processByID(pid int32) (*ThreadGroup, error) {
	if pid < 0 {
		return nil, unix.ESRCH
	}
	if pid == 0 {
		return t.tg, nil
	}
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	if tg := k.tgs[pid]; tg != nil && !tg.reaped {
		return tg, nil
	}
	return nil, unix.ESRCH
}

// maySignalLocked applies kill(2)'s permission rule: the sender's real or
// effective UID matches the target's real or saved UID, or the sender has
// CAP_KILL (SIGCONT within a session is always allowed).
func (t *Task) maySignalLocked(target *ThreadGroup, sig int32) bool {
	c := t.Credentials()
	if c.HasCapability(unix.CAP_KILL) {
		return true
	}
	if sig == SIGCONT && target.sid == t.tg.sid {
		return true
	}
	if target.leader == nil {
		return false
	}
	tc := target.leader.Credentials()
	return c.RealUID == tc.RealUID || c.RealUID == tc.SavedUID ||
		c.EffectiveUID == tc.RealUID || c.EffectiveUID == tc.SavedUID
}

// Kill implements kill(2)'s targeting: pid > 0 a process, 0 the caller's
// process group, -1 every process the caller may signal but init and
// itself, < -1 the process group -pid.
func (t *Task) Kill(pid int32, info SigInfo) error {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	if pid > 0 {
		tg := k.tgs[pid]
		if tg == nil || tg.reaped {
			return unix.ESRCH
		}
		if !t.maySignalLocked(tg, info.Signo) {
			return unix.EPERM
		}
		if tg.exited {
			return nil // a zombie: nothing to deliver
		}
		return tg.sendSignalLocked(info, nil)
	}
	var pgid int32
	switch {
	case pid == 0:
		pgid = t.tg.pgid
	case pid < -1:
		pgid = -pid
	}
	found, sent := false, false
	var lastErr error
	for _, tg := range k.tgs {
		if tg.exited {
			continue
		}
		if pid == -1 {
			if tg == k.initTG || tg == t.tg {
				continue
			}
		} else if tg.pgid != pgid {
			continue
		}
		found = true
		if !t.maySignalLocked(tg, info.Signo) {
			lastErr = unix.EPERM
			continue
		}
		if err := tg.sendSignalLocked(info, nil); err != nil {
			lastErr = err
			continue
		}
		sent = true
	}
	if pid == -1 && sent {
		return nil
	}
	switch {
	case !found:
		return unix.ESRCH
	case sent:
		return nil
	}
	return lastErr
}

// SignalThread implements tkill(2) (tgid 0) and tgkill(2).
func (t *Task) SignalThread(tgid, tid int32, info SigInfo) error {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	target := k.tasks[tid]
	if target == nil || (tgid != 0 && target.tg.tgid != tgid) || target.exitState == taskDead {
		return unix.ESRCH
	}
	if !t.maySignalLocked(target.tg, info.Signo) {
		return unix.EPERM
	}
	if target.exitState != taskRunning {
		return nil
	}
	return target.tg.sendSignalLocked(info, target)
}

// SetChildSubreaper sets PR_SET_CHILD_SUBREAPER.
func (tg *ThreadGroup) SetChildSubreaper(v bool) {
	tg.k.taskMu.Lock()
	tg.subreaper = v
	tg.k.taskMu.Unlock()
}

// ChildSubreaper returns PR_GET_CHILD_SUBREAPER.
func (tg *ThreadGroup) ChildSubreaper() bool {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.subreaper
}
