package kernel

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/vfs"
)

// TTY is a terminal that can be a session's controlling terminal (the
// slave side of a pseudo-terminal). The kernel keeps which session a TTY
// controls and its foreground process group, under taskMu, so that the
// process model and the terminal never need each other's locks: a
// terminal calls the functions below without holding its own lock, and
// the kernel never calls into a TTY while holding taskMu.
type TTY interface {
	// OpenTTY opens a new description of the terminal, as /dev/tty does;
	// vd is the path it was reached by.
	OpenTTY(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error)
}

// ttyState is one kernel's table of controlling terminals. Its fields are
// protected by Kernel.taskMu.
type ttyState struct {
	// bySession maps a session ID to its controlling terminal.
	bySession map[int32]TTY
	// ctl holds, for each terminal that controls a session, the session
	// and its foreground process group (0: none).
	ctl map[TTY]*ttyCtl
	// detached are processes that gave up their controlling terminal with
	// TIOCNOTTY while their session keeps it.
	detached map[*ThreadGroup]struct{}
}

type ttyCtl struct {
	sid, pgid int32
}

// ttyStates maps each Kernel to its ttyState. (The table lives outside
// Kernel so that kernel.go need not change; a sentry runs one kernel.)
var ttyStates sync.Map

// ttysLocked returns k's terminal table.
//
// Preconditions: k.taskMu is held.
func (k *Kernel) ttysLocked() *ttyState {
	if s, ok := ttyStates.Load(k); ok {
		return s.(*ttyState)
	}
	s := &ttyState{bySession: make(map[int32]TTY), ctl: make(map[TTY]*ttyCtl), detached: make(map[*ThreadGroup]struct{})}
	ttyStates.Store(k, s)
	return s
}

// cttyLocked returns tg's controlling terminal, or nil.
//
// Preconditions: k.taskMu is held.
func (tg *ThreadGroup) cttyLocked() TTY {
	s := tg.k.ttysLocked()
	if _, ok := s.detached[tg]; ok {
		return nil
	}
	return s.bySession[tg.sid]
}

// ControllingTTY returns the caller's controlling terminal, or nil.
func (t *Task) ControllingTTY() TTY {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	return t.tg.cttyLocked()
}

// setCttyLocked makes tty the controlling terminal of tg's session, with
// tg's process group in the foreground.
func (tg *ThreadGroup) setCttyLocked(tty TTY) {
	s := tg.k.ttysLocked()
	s.bySession[tg.sid] = tty
	s.ctl[tty] = &ttyCtl{sid: tg.sid, pgid: tg.pgid}
	for o := range s.detached {
		if o.sid == tg.sid {
			delete(s.detached, o)
		}
	}
}

// clearTTYLocked disassociates tty from the session it controls.
func (k *Kernel) clearTTYLocked(tty TTY) {
	s := k.ttysLocked()
	c, ok := s.ctl[tty]
	if !ok {
		return
	}
	delete(s.ctl, tty)
	if s.bySession[c.sid] == tty {
		delete(s.bySession, c.sid)
	}
	for o := range s.detached {
		if o.sid == c.sid {
			delete(s.detached, o)
		}
	}
}

// AcquireTTYOnOpen implements the implicit acquisition of a controlling
// terminal when a terminal is opened without O_NOCTTY: a session leader
// whose session has none gets tty, if tty controls no session.
func (t *Task) AcquireTTYOnOpen(tty TTY) {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	tg := t.tg
	s := k.ttysLocked()
	if tg.sid != tg.tgid || s.bySession[tg.sid] != nil {
		return
	}
	if _, ok := s.ctl[tty]; ok {
		return
	}
	tg.setCttyLocked(tty)
}

// SetControllingTTY implements TIOCSCTTY: the caller, a session leader
// without a controlling terminal, makes tty its session's. A terminal
// another session controls is EPERM unless steal is set and the caller
// has CAP_SYS_ADMIN, which takes it from that session.
func (t *Task) SetControllingTTY(tty TTY, steal bool) error {
	admin := t.Credentials().HasCapability(unix.CAP_SYS_ADMIN)
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	tg := t.tg
	s := k.ttysLocked()
	leader := tg.sid == tg.tgid
	if c, ok := s.ctl[tty]; ok && leader && c.sid == tg.sid {
		return nil // already ours
	}
	if !leader || s.bySession[tg.sid] != nil {
		return unix.EPERM
	}
	if _, ok := s.ctl[tty]; ok {
		if !steal || !admin {
			return unix.EPERM
		}
		k.clearTTYLocked(tty)
	}
	tg.setCttyLocked(tty)
	return nil
}

// DisassociateTTY implements TIOCNOTTY: the caller gives up tty, its
// controlling terminal (ENOTTY if it isn't). When the session leader does
// it, the foreground process group gets SIGHUP and SIGCONT and the whole
// session loses the terminal.
func (t *Task) DisassociateTTY(tty TTY) error {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	tg := t.tg
	if tg.cttyLocked() != tty {
		return unix.ENOTTY
	}
	s := k.ttysLocked()
	if tg.sid == tg.tgid {
		if c := s.ctl[tty]; c != nil && c.pgid != 0 {
			k.signalPgrpLocked(c.pgid, SIGHUP)
			k.signalPgrpLocked(c.pgid, SIGCONT)
		}
		k.clearTTYLocked(tty)
		return nil
	}
	s.detached[tg] = struct{}{}
	return nil
}

// TTYForegroundGroup implements TIOCGPGRP: the foreground process group of
// tty (0 if it has none). Unless asked through the master side (viaMaster),
// tty must be the caller's controlling terminal (ENOTTY).
func (t *Task) TTYForegroundGroup(tty TTY, viaMaster bool) (int32, error) {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	if !viaMaster && t.tg.cttyLocked() != tty {
		return 0, unix.ENOTTY
	}
	if c := k.ttysLocked().ctl[tty]; c != nil {
		return c.pgid, nil
	}
	return 0, nil
}

// TTYSession implements TIOCGSID: the session tty controls (ENOTTY if
// none). Unless asked through the master side, tty must be the caller's
// controlling terminal.
func (t *Task) TTYSession(tty TTY, viaMaster bool) (int32, error) {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	if !viaMaster && t.tg.cttyLocked() != tty {
		return 0, unix.ENOTTY
	}
	if c := k.ttysLocked().ctl[tty]; c != nil {
		return c.sid, nil
	}
	return 0, unix.ENOTTY
}

// SetTTYForegroundGroup implements TIOCSPGRP (tcsetpgrp): pgid, a process
// group of the caller's session, becomes tty's foreground group. tty must
// be the caller's controlling terminal (ENOTTY). A background caller gets
// SIGTTOU first unless it ignores or blocks it.
func (t *Task) SetTTYForegroundGroup(tty TTY, pgid int32) error {
	if err := t.CheckTTYJobControl(tty, SIGTTOU); err != nil {
		if err == unix.EIO {
			return unix.ENOTTY
		}
		return err
	}
	if pgid < 0 {
		return unix.EINVAL
	}
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	tg := t.tg
	c := k.ttysLocked().ctl[tty]
	if tg.cttyLocked() != tty || c == nil || c.sid != tg.sid {
		return unix.ENOTTY
	}
	found := false
	for _, o := range k.tgs {
		if o.pgid == pgid && !o.exited {
			found = true
			if o.sid != tg.sid {
				return unix.EPERM
			}
		}
	}
	if !found {
		return unix.ESRCH
	}
	c.pgid = pgid
	return nil
}

// CheckTTYJobControl applies job control to an operation on tty by the
// caller: reading (sig SIGTTIN), or writing with TOSTOP and changing the
// terminal's settings (SIGTTOU). It is nil when tty isn't the caller's
// controlling terminal or the caller is in the foreground. A background
// caller gets EIO if its process group is orphaned, or if it ignores or
// blocks SIGTTIN; it goes ahead if it ignores or blocks SIGTTOU; otherwise
// its process group gets the signal and the call is restarted
// (ERESTARTSYS) once the group is continued.
func (t *Task) CheckTTYJobControl(tty TTY, sig int) error {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	tg := t.tg
	if tg.cttyLocked() != tty {
		return nil
	}
	c := k.ttysLocked().ctl[tty]
	if c == nil || c.pgid == 0 || c.pgid == tg.pgid {
		return nil
	}
	if t.mask&sigBit(sig) != 0 || tg.handlers.actions[sig-1].Handler == sigIgn {
		if sig == SIGTTIN {
			return unix.EIO
		}
		return nil
	}
	if k.pgrpOrphanedLocked(tg.pgid) {
		return unix.EIO
	}
	k.signalPgrpLocked(tg.pgid, sig)
	return linux.ERESTARTSYS
}

// SignalTTYForeground sends sig to tty's foreground process group, as the
// terminal does for its signal characters and window size changes.
func (k *Kernel) SignalTTYForeground(tty TTY, sig int) {
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	if c := k.ttysLocked().ctl[tty]; c != nil && c.pgid != 0 {
		k.signalPgrpLocked(c.pgid, sig)
	}
}

// HangupTTY is called when tty hangs up (a pseudo-terminal's master is
// closed): the leader of the session it controls gets SIGHUP and SIGCONT,
// and the session loses the terminal.
func (k *Kernel) HangupTTY(tty TTY) {
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	c := k.ttysLocked().ctl[tty]
	if c == nil {
		return
	}
	if leader := k.tgs[c.sid]; leader != nil && leader.sid == c.sid && !leader.exited {
		leader.sendSignalLocked(SigInfo{Signo: SIGHUP, Code: SI_KERNEL}, nil)
		leader.sendSignalLocked(SigInfo{Signo: SIGCONT, Code: SI_KERNEL}, nil)
	}
	k.clearTTYLocked(tty)
}

// ttyExitLocked runs when tg exits: a session leader's controlling
// terminal is disassociated from the session, and its foreground process
// group gets SIGHUP.
//
// Preconditions: k.taskMu is held.
func (tg *ThreadGroup) ttyExitLocked() {
	k := tg.k
	s, ok := ttyStates.Load(k)
	if !ok {
		return
	}
	st := s.(*ttyState)
	delete(st.detached, tg)
	if tg.sid != tg.tgid {
		return
	}
	tty := st.bySession[tg.sid]
	if tty == nil {
		return
	}
	if c := st.ctl[tty]; c != nil && c.pgid != 0 {
		k.signalPgrpLocked(c.pgid, SIGHUP)
	}
	k.clearTTYLocked(tty)
}

// ttySetsidLocked runs when tg starts a new session: the new session has
// no controlling terminal.
//
// Preconditions: k.taskMu is held.
func (tg *ThreadGroup) ttySetsidLocked() {
	if s, ok := ttyStates.Load(tg.k); ok {
		delete(s.(*ttyState).detached, tg)
	}
}

// signalPgrpLocked sends sig from the kernel to every live member of
// process group pgid.
//
// Preconditions: k.taskMu is held.
func (k *Kernel) signalPgrpLocked(pgid int32, sig int) {
	for _, tg := range k.tgs {
		if tg.pgid == pgid && !tg.exited {
			tg.sendSignalLocked(SigInfo{Signo: int32(sig), Code: SI_KERNEL}, nil)
		}
	}
}

// pgrpOrphanedLocked reports whether process group pgid is orphaned: no
// live member has a parent in another process group of the same session.
//
// Preconditions: k.taskMu is held.
func (k *Kernel) pgrpOrphanedLocked(pgid int32) bool {
	for _, tg := range k.tgs {
		if tg.pgid != pgid || tg.exited {
			continue
		}
		if p := tg.parent; p != nil && !p.exited && p.pgid != pgid && p.sid == tg.sid {
			return false
		}
	}
	return true
}
