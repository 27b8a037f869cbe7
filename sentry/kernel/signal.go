package kernel

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/waiter"
)

// Signal numbers the kernel refers to.
const (
	SIGHUP     = 1
	SIGINT     = 2
	SIGQUIT    = 3
	SIGILL     = 4
	SIGTRAP    = 5
	SIGABRT    = 6
	SIGBUS     = 7
	SIGFPE     = 8
	SIGKILL    = 9
	SIGUSR1    = 10
	SIGSEGV    = 11
	SIGUSR2    = 12
	SIGPIPE    = 13
	SIGALRM    = 14
	SIGTERM    = 15
	SIGCHLD    = 17
	SIGCONT    = 18
	SIGSTOP    = 19
	SIGTSTP    = 20
	SIGTTIN    = 21
	SIGTTOU    = 22
	SIGURG     = 23
	SIGXCPU    = 24
	SIGXFSZ    = 25
	SIGVTALRM  = 26
	SIGPROF    = 27
	SIGWINCH   = 28
	SIGIO      = 29
	SIGSYS     = 31
	SIGRTMIN   = 32
	NumSignals = 64
)

// sigaction flags.
const (
	saNoCldStop = 0x1
	saNoCldWait = 0x2
	saSiginfo   = 0x4
	saOnStack   = 0x08000000
	saRestart   = 0x10000000
	saNoDefer   = 0x40000000
	saResetHand = 0x80000000
	saRestorer  = 0x04000000
)

// si_code values.
const (
	SI_USER    = 0
	SI_KERNEL  = 0x80
	SI_QUEUE   = -1
	SI_TIMER   = -2
	SI_MESGQ   = -3
	SI_ASYNCIO = -4
	SI_TKILL   = -6

	CLD_EXITED    = 1
	CLD_KILLED    = 2
	CLD_DUMPED    = 3
	CLD_TRAPPED   = 4
	CLD_STOPPED   = 5
	CLD_CONTINUED = 6
)

// Special signal handler values.
const (
	sigDfl = 0
	sigIgn = 1
)

func sigBit(sig int) uint64 { return 1 << uint(sig-1) }

// unblockable signals can never be blocked.
const unblockable = 1<<(SIGKILL-1) | 1<<(SIGSTOP-1)

// synchronous signals are delivered before others, as Linux does.
const synchronous = 1<<(SIGSEGV-1) | 1<<(SIGBUS-1) | 1<<(SIGILL-1) | 1<<(SIGTRAP-1) | 1<<(SIGFPE-1) | 1<<(SIGSYS-1)

// SigAction is a signal's disposition (struct sigaction as the kernel
// sees it).
type SigAction struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// Default actions.
type defaultAction int

const (
	actTerm defaultAction = iota
	actCore
	actStop
	actIgnore
	actCont
)

func defaultActionOf(sig int) defaultAction {
	switch sig {
	case SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS:
		return actCore
	case SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU:
		return actStop
	case SIGCHLD, SIGURG, SIGWINCH:
		return actIgnore
	case SIGCONT:
		return actCont
	}
	return actTerm
}

// isIgnored reports whether a signal with this disposition is discarded.
func (a SigAction) isIgnored(sig int) bool {
	if sig == SIGKILL || sig == SIGSTOP {
		return false
	}
	if a.Handler == sigIgn {
		return true
	}
	return a.Handler == sigDfl && (defaultActionOf(sig) == actIgnore || defaultActionOf(sig) == actCont)
}

// SigInfo is a signal's information (siginfo_t), in the kernel's form.
type SigInfo struct {
	Signo, Errno, Code int32
	// Sender (kill, sigqueue, SIGCHLD).
	PID int32
	UID uint32
	// Value is the sigval of sigqueue and timers.
	Value uint64
	// SIGCHLD.
	Status       int32
	UTime, STime int64
	// Faults.
	Addr        uint64
	Trapno, Err uint64
	// Timers.
	TimerID, Overrun int32
	// timer is the POSIX timer that sent the signal.
	timer *PosixTimer
	// Chld marks the information of a child's state change (the sigchld
	// union member), whatever the signal: a clone child may report its
	// exit with any signal.
	Chld bool
	// SIGPOLL.
	Band int64
	FD   int32
}

// Layouts of a siginfo_t: which member of its union a signal fills.
const (
	LayoutKill  = iota // si_pid, si_uid, si_value (kill, sigqueue)
	LayoutTimer        // si_timerid, si_overrun, si_value
	LayoutChld         // si_pid, si_uid, si_status, si_utime, si_stime
	LayoutFault        // si_addr
	LayoutPoll         // si_band, si_fd
)

// nSigPoll is the highest POLL_* code (POLL_HUP).
const nSigPoll = 6

// Layout returns the union member info fills, chosen as Linux's
// siginfo_layout chooses it.
func (info *SigInfo) Layout() int {
	switch {
	case info.Code == SI_TIMER:
		return LayoutTimer
	case info.Chld || (info.Signo == SIGCHLD && info.Code > 0):
		return LayoutChld
	case info.Code > 0 && info.Code != SI_KERNEL && (info.Signo == SIGSEGV || info.Signo == SIGBUS ||
		info.Signo == SIGILL || info.Signo == SIGFPE || info.Signo == SIGTRAP):
		return LayoutFault
	case info.Code > 0 && info.Code < SI_KERNEL && (info.Signo == SIGIO || info.Code <= nSigPoll):
		// SIGIO's codes, and the POLL_* codes of a signal chosen with
		// F_SETSIG.
		return LayoutPoll
	}
	return LayoutKill
}

// Marshal encodes info as a 128-byte x86-64 siginfo_t.
func (info *SigInfo) Marshal() [128]byte {
	var b [128]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(info.Signo))
	le.PutUint32(b[4:], uint32(info.Errno))
	le.PutUint32(b[8:], uint32(info.Code))
	switch info.Layout() {
	case LayoutTimer:
		le.PutUint32(b[16:], uint32(info.TimerID))
		le.PutUint32(b[20:], uint32(info.Overrun))
		le.PutUint64(b[24:], info.Value)
	case LayoutChld:
		le.PutUint32(b[16:], uint32(info.PID))
		le.PutUint32(b[20:], info.UID)
		le.PutUint32(b[24:], uint32(info.Status))
		le.PutUint64(b[32:], uint64(info.UTime))
		le.PutUint64(b[40:], uint64(info.STime))
	case LayoutFault:
		le.PutUint64(b[16:], info.Addr)
	case LayoutPoll:
		le.PutUint64(b[16:], uint64(info.Band))
		le.PutUint32(b[24:], uint32(info.FD))
	default:
		le.PutUint32(b[16:], uint32(info.PID))
		le.PutUint32(b[20:], info.UID)
		le.PutUint64(b[24:], info.Value)
	}
	return b
}

// UnmarshalSigInfo decodes the kill/sigqueue form of a siginfo_t (for
// rt_sigqueueinfo).
func UnmarshalSigInfo(b []byte) SigInfo {
	le := binary.LittleEndian
	return SigInfo{
		Signo: int32(le.Uint32(b[0:])), Errno: int32(le.Uint32(b[4:])), Code: int32(le.Uint32(b[8:])),
		PID: int32(le.Uint32(b[16:])), UID: le.Uint32(b[20:]), Value: le.Uint64(b[24:]),
	}
}

// sigQueue is a set of pending signals: at most one instance of each
// standard signal, a queue of real-time ones.
type sigQueue struct {
	set   uint64
	infos [NumSignals][]SigInfo
}

// maxQueuedRT bounds queued real-time signals per queue (RLIMIT_SIGPENDING
// is not enforced per user).
const maxQueuedRT = 4096

func (q *sigQueue) enqueue(info SigInfo) bool {
	sig := int(info.Signo)
	if sig < SIGRTMIN && q.set&sigBit(sig) != 0 {
		return false // standard signals don't queue
	}
	if len(q.infos[sig-1]) >= maxQueuedRT {
		return false
	}
	q.infos[sig-1] = append(q.infos[sig-1], info)
	q.set |= sigBit(sig)
	return true
}

func (q *sigQueue) discard(sig int) {
	q.infos[sig-1] = nil
	q.set &^= sigBit(sig)
}

// dequeue removes the first pending signal not in mask, synchronous
// signals first, then the lowest number.
func (q *sigQueue) dequeue(mask uint64) (SigInfo, bool) {
	avail := q.set &^ mask
	if avail == 0 {
		return SigInfo{}, false
	}
	if s := avail & synchronous; s != 0 {
		avail = s
	}
	sig := 1
	for avail&1 == 0 {
		avail >>= 1
		sig++
	}
	return q.take(sig), true
}

func (q *sigQueue) take(sig int) SigInfo {
	l := q.infos[sig-1]
	info := l[0]
	if info.Code == SI_TIMER && info.timer != nil {
		// The overruns counted while the signal waited are reported now.
		info.Overrun = info.timer.dequeuedLocked()
	}
	q.infos[sig-1] = l[1:]
	if len(q.infos[sig-1]) == 0 {
		q.infos[sig-1] = nil
		q.set &^= sigBit(sig)
	}
	return info
}

// SignalMask returns the blocked signal set.
func (t *Task) SignalMask() uint64 {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	return t.mask
}

// SetSignalMask sets the blocked signal set; SIGKILL and SIGSTOP can't be
// blocked. Newly unblocked pending signals interrupt the task.
func (t *Task) SetSignalMask(m uint64) {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	t.setMaskLocked(m)
}

func (t *Task) setMaskLocked(m uint64) {
	m &^= unblockable
	old := t.mask
	t.mask = m
	if old&^m&(t.pending.set|t.tg.pending.set) != 0 {
		t.interruptLocked()
	}
}

// PendingSignals returns the pending signals of the task and its group
// (rt_sigpending: only blocked ones are reported by the caller's mask).
func (t *Task) PendingSignals() uint64 {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	return t.pending.set | t.tg.pending.set
}

// SetSyscallSignalMask sets the signal mask for the rest of the current
// system call (ppoll, pselect6, rt_sigsuspend, epoll_pwait): the old mask
// comes back when the call returns — or, if a signal handler runs because
// of the call's interruption, when that handler returns (Linux's
// set_restore_sigmask).
//
// Preconditions: called on the task goroutine, during a system call.
func (t *Task) SetSyscallSignalMask(m uint64) {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	if !t.haveSavedMask {
		t.savedMask, t.haveSavedMask = t.mask, true
	}
	t.setMaskLocked(m)
}

// restoreSyscallSignalMask undoes SetSyscallSignalMask when no handler
// took over the job.
func (t *Task) restoreSyscallSignalMask() {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	if t.haveSavedMask {
		t.haveSavedMask = false
		t.setMaskLocked(t.savedMask)
	}
}

// interruptLocked wakes the task to look at its signals.
//
// Preconditions: k.taskMu is held.
func (t *Task) interruptLocked() {
	select {
	case t.interruptCh <- struct{}{}:
	default:
	}
	t.pctx.Interrupt()
}

// Interrupted reports whether the task has something to attend to: an
// unblocked pending signal, a stop, or death.
func (t *Task) Interrupted() bool {
	if t.killed.Load() {
		return true
	}
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	return t.interruptedLocked()
}

func (t *Task) interruptedLocked() bool {
	return (t.pending.set|t.tg.pending.set)&^t.mask != 0 || (t.tg.stopSignal != 0 && !t.groupStop)
}

// SendSignal sends a process-directed signal to tg (kill(2)).
func (tg *ThreadGroup) SendSignal(info SigInfo) error {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.sendSignalLocked(info, nil)
}

// SendSignal sends a thread-directed signal to t (tgkill(2)).
func (t *Task) SendSignal(info SigInfo) error {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	if t.exitState != taskRunning {
		return nil
	}
	return t.tg.sendSignalLocked(info, t)
}

// sendSignalLocked delivers info to the group (target nil) or to one task.
//
// Preconditions: k.taskMu is held.
func (tg *ThreadGroup) sendSignalLocked(info SigInfo, target *Task) error {
	sig := int(info.Signo)
	if sig == 0 {
		return nil // kill(pid, 0): existence check only
	}
	if tg.exited || tg.exiting {
		return nil
	}
	// Side effects at generation time (Linux's prepare_signal).
	switch {
	case sig == SIGKILL:
		tg.killGroupLocked(SignaledStatus(SIGKILL, false))
		return nil
	case sig == SIGCONT:
		tg.discardLocked(1<<(SIGSTOP-1) | 1<<(SIGTSTP-1) | 1<<(SIGTTIN-1) | 1<<(SIGTTOU-1))
		tg.continueLocked()
	case defaultActionOf(sig) == actStop:
		tg.discardLocked(1 << (SIGCONT - 1))
	}
	act := tg.handlers.actions[sig-1]
	blocked := false
	if target != nil {
		blocked = target.mask&sigBit(sig) != 0
	} else {
		blocked = true
		for t := range tg.tasks {
			if t.mask&sigBit(sig) == 0 {
				blocked = false
				break
			}
		}
	}
	if act.isIgnored(sig) && !blocked {
		return nil
	}
	q := &tg.pending
	if target != nil {
		q = &target.pending
	}
	if !q.enqueue(info) {
		if sig >= SIGRTMIN {
			return errAgain
		}
		return nil
	}
	tg.signalWaiters.Notify(waiter.EventIn)
	// Wake a task that can take it.
	if target != nil {
		if !blocked {
			target.interruptLocked()
		}
		return nil
	}
	if tg.leader != nil && tg.leader.mask&sigBit(sig) == 0 && tg.leader.exitState == taskRunning {
		tg.leader.interruptLocked()
		return nil
	}
	for t := range tg.tasks {
		if t.mask&sigBit(sig) == 0 && t.exitState == taskRunning {
			t.interruptLocked()
			return nil
		}
	}
	return nil
}

func (tg *ThreadGroup) discardLocked(set uint64) {
	for sig := 1; sig <= NumSignals; sig++ {
		if set&sigBit(sig) != 0 {
			tg.pending.discard(sig)
			for t := range tg.tasks {
				t.pending.discard(sig)
			}
		}
	}
}

// continueLocked ends a group stop (SIGCONT).
func (tg *ThreadGroup) continueLocked() {
	if tg.stopSignal == 0 {
		return
	}
	wasStopped := tg.stopped
	tg.stopSignal, tg.stopped, tg.stopWaitable = 0, false, false
	for t := range tg.tasks {
		t.groupStop = false
		t.interruptLocked()
	}
	if wasStopped {
		tg.contWaitable = true
		tg.notifyParentLocked(CLD_CONTINUED, SIGCONT)
	}
}

// killGroupLocked starts the death of every task in the group.
func (tg *ThreadGroup) killGroupLocked(status WaitStatus) {
	if !tg.exiting {
		tg.exiting = true
		tg.exitStatus = status
	}
	tg.stopSignal, tg.stopped = 0, false
	for t := range tg.tasks {
		t.killed.Store(true)
		t.interruptLocked()
	}
}

// killGroup is killGroupLocked for callers without the lock.
func (tg *ThreadGroup) killGroup(status WaitStatus) {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	tg.killGroupLocked(status)
}

// notifyParentLocked tells the parent about a stop or continue (code
// CLD_STOPPED or CLD_CONTINUED) with SIGCHLD, unless it set SA_NOCLDSTOP.
func (tg *ThreadGroup) notifyParentLocked(code int32, status int) {
	p := tg.parent
	tg.notifyChildEventLocked()
	if p == nil {
		return
	}
	if act := p.handlers.actions[SIGCHLD-1]; act.Flags&saNoCldStop != 0 {
		return
	}
	p.sendSignalLocked(SigInfo{Signo: SIGCHLD, Code: code, PID: tg.tgid, Status: int32(status), Chld: true}, nil)
}

// forceSignal delivers a signal the task caused (a fault) even if it is
// blocked or ignored: then it takes its default action, as Linux's
// force_sig does.
func (t *Task) forceSignal(info *SigInfo) {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	sig := int(info.Signo)
	act := &t.tg.handlers.actions[sig-1]
	if t.mask&sigBit(sig) != 0 || act.Handler == sigIgn {
		*act = SigAction{}
		t.mask &^= sigBit(sig)
	}
	if !t.pending.enqueue(*info) {
		// Already pending (a fault while the first is undelivered):
		// nothing more can be done for the task than its default action.
		t.tg.killGroupLocked(SignaledStatus(sig, defaultActionOf(sig) == actCore))
	}
}

// SendSignalSelf sends sig to the task itself, as a system call's side
// effect (SIGPIPE from a write to a broken pipe, SIGXFSZ): Linux's
// send_sig, which reports SI_USER from the task itself.
func (t *Task) SendSignalSelf(sig int) {
	t.SendSignal(SigInfo{Signo: int32(sig), Code: SI_USER, PID: t.PID(), UID: t.Credentials().RealUID})
}

// handleSignals is called by the task goroutine before it returns to the
// application: it takes part in group stops, and delivers pending signals
// (default actions, or handler frames).
func (t *Task) handleSignals() {
	handled := false
	for !t.killed.Load() {
		t.k.taskMu.Lock()
		tg := t.tg
		if tg.stopSignal != 0 {
			t.k.taskMu.Unlock()
			t.groupStopWait()
			continue
		}
		info, ok := t.pending.dequeue(t.mask)
		if !ok {
			info, ok = tg.pending.dequeue(t.mask)
		}
		if !ok {
			t.k.taskMu.Unlock()
			break
		}
		sig := int(info.Signo)
		act := tg.handlers.actions[sig-1]
		switch {
		case act.Handler == sigIgn:
			t.k.taskMu.Unlock()
			continue
		case act.Handler == sigDfl:
			switch defaultActionOf(sig) {
			case actIgnore, actCont:
				t.k.taskMu.Unlock()
				continue
			case actStop:
				tg.startStopLocked(sig)
				t.k.taskMu.Unlock()
				continue
			default:
				core := defaultActionOf(sig) == actCore
				tg.killGroupLocked(SignaledStatus(sig, core))
				t.k.taskMu.Unlock()
				continue
			}
		}
		// A handler runs.
		oldMask := t.mask
		if t.haveSavedMask {
			oldMask, t.haveSavedMask = t.savedMask, false
		}
		newMask := t.mask | act.Mask
		if act.Flags&saNoDefer == 0 {
			newMask |= sigBit(sig)
		}
		if act.Flags&saResetHand != 0 {
			tg.handlers.actions[sig-1] = SigAction{}
		}
		t.k.taskMu.Unlock()

		if !handled {
			t.syscallRestartFixup(true, &act)
		}
		handled = true
		if err := t.setupSignalFrame(sig, &info, &act, oldMask); err != nil {
			t.k.Log.Debug("can't set up a signal frame: SIGSEGV", "tid", t.tid, "signal", sig, "err", err)
			t.k.taskMu.Lock()
			tg.killGroupLocked(SignaledStatus(SIGSEGV, true))
			t.k.taskMu.Unlock()
			return
		}
		t.SetSignalMask(newMask)
	}
	if !handled {
		t.syscallRestartFixup(false, nil)
		if t.restartErr == nil {
			t.restoreSyscallSignalMask()
		}
	}
}

// startStopLocked begins a group stop by sig.
func (tg *ThreadGroup) startStopLocked(sig int) {
	if tg.exiting || tg.stopSignal != 0 {
		return
	}
	tg.stopSignal = sig
	for t := range tg.tasks {
		t.interruptLocked()
	}
}

// groupStopWait stops the task for its group's stop until SIGCONT or
// death; the last task to stop reports the stop to the parent.
func (t *Task) groupStopWait() {
	t.k.taskMu.Lock()
	tg := t.tg
	if tg.stopSignal != 0 && !t.groupStop {
		t.groupStop = true
		all := true
		for o := range tg.tasks {
			if !o.groupStop && o.exitState == taskRunning {
				all = false
			}
		}
		if all && !tg.stopped {
			tg.stopped, tg.stopWaitable, tg.contWaitable = true, true, false
			tg.notifyParentLocked(CLD_STOPPED, tg.stopSignal)
		}
	}
	t.k.taskMu.Unlock()
	for {
		t.k.taskMu.Lock()
		done := tg.stopSignal == 0 || t.killed.Load()
		t.k.taskMu.Unlock()
		if done {
			return
		}
		<-t.interruptCh
	}
}

// AltStack is a signal stack (stack_t).
type AltStack struct {
	SP    uint64
	Flags uint32
	Size  uint64
}

// Sigaltstack flags.
const (
	SS_ONSTACK = 1
	SS_DISABLE = 2
)

// AltStack returns the task's signal stack; Flags has SS_ONSTACK if the
// task is running on it now.
func (t *Task) AltStack() AltStack {
	t.mu.Lock()
	a := t.altStack
	t.mu.Unlock()
	if a.Size == 0 && a.SP == 0 {
		return AltStack{Flags: SS_DISABLE}
	}
	if t.onAltStack(a) {
		a.Flags |= SS_ONSTACK
	}
	return a
}

func (t *Task) onAltStack(a AltStack) bool {
	sp := t.arch.Regs.Rsp
	return a.Flags&SS_DISABLE == 0 && sp > a.SP && sp-a.SP <= a.Size
}

// SetAltStack sets the task's signal stack; EPERM while running on the
// current one.
func (t *Task) SetAltStack(s AltStack) error {
	cur := t.AltStack()
	if cur.Flags&SS_ONSTACK != 0 {
		return errPerm
	}
	t.mu.Lock()
	t.altStack = s
	t.mu.Unlock()
	return nil
}

func (s SigInfo) String() string {
	return fmt.Sprintf("signal %d code %d", s.Signo, s.Code)
}

// Sigtimedwait implements rt_sigtimedwait(2): dequeue a signal of set,
// waiting for one until the deadline (zero: forever). The signals of set
// are unblocked for the wait, as Linux does, without running handlers.
func (t *Task) Sigtimedwait(set uint64, deadline time.Time) (SigInfo, error) {
	set &^= unblockable
	k := t.k
	for {
		k.taskMu.Lock()
		info, ok := t.pending.dequeue(^set)
		if !ok {
			info, ok = t.tg.pending.dequeue(^set)
		}
		if ok {
			k.taskMu.Unlock()
			return info, nil
		}
		// Wake on signals of set even though they are blocked.
		oldMask := t.mask
		t.mask &^= set
		k.taskMu.Unlock()
		err := t.Block(nil, deadline)
		k.taskMu.Lock()
		t.mask = oldMask
		pendingInSet := (t.pending.set|t.tg.pending.set)&set != 0
		k.taskMu.Unlock()
		if pendingInSet {
			continue
		}
		if err == ErrInterrupted {
			// Never restarted, whatever SA_RESTART says.
			return SigInfo{}, unix.EINTR
		}
		if err != nil {
			return SigInfo{}, err
		}
	}
}
