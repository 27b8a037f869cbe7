package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// sigevent notification kinds.
const (
	SIGEV_SIGNAL    = 0
	SIGEV_NONE      = 1
	SIGEV_THREAD    = 2
	SIGEV_THREAD_ID = 4
)

// PosixTimer is a timer_create(2) timer on a wall or monotonic clock.
// Protected by Kernel.taskMu.
type PosixTimer struct {
	tg       *ThreadGroup
	id       int32
	clock    int32
	notify   int32
	signo    int32
	value    uint64
	target   *Task // SIGEV_THREAD_ID
	timer    *time.Timer
	expires  time.Time
	interval time.Duration
	overrun  int32
	// pending is true while the last expiry's signal is queued: further
	// expiries count as overruns.
	pending bool

	// CPU-time timers: expiries are measured in CPU time of the group, or
	// of cpuThread, and checked by the group's CPU ticker.
	cpu        bool
	cpuThread  *Task
	cpuExpires time.Duration // 0: disarmed

	// lastOverrun is the overrun count of the last delivered expiry
	// (timer_getoverrun).
	lastOverrun int32
}

// dequeuedLocked is called when the timer's signal is taken for delivery:
// it returns the overruns counted while it was pending and starts a new
// count.
func (pt *PosixTimer) dequeuedLocked() int32 {
	pt.lastOverrun, pt.overrun = pt.overrun, 0
	return pt.lastOverrun
}

// CPUClock describes a CPU-time clock for CreateTimer: the group's, or
// (Thread set) one thread's.
type CPUClock struct {
	Thread *Task
}

// TimerSpec is an itimerspec.
type TimerSpec struct {
	Value, Interval time.Duration
}

// CreateTimer implements timer_create(2). cpu is non-nil for a CPU-time
// clock. With valueIsID the signal's si_value is the timer's ID (a NULL
// sigevent).
func (t *Task) CreateTimer(clock int32, cpu *CPUClock, notify, signo int32, value uint64, valueIsID bool, targetTID int32) (int32, error) {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	tg := t.tg
	pt := &PosixTimer{tg: tg, clock: clock, notify: notify, signo: signo, value: value}
	if cpu != nil {
		pt.cpu, pt.cpuThread = true, cpu.Thread
	}
	switch notify {
	case SIGEV_NONE:
	case SIGEV_SIGNAL, SIGEV_THREAD:
		if signo < 1 || signo > NumSignals {
			return 0, unix.EINVAL
		}
	case SIGEV_THREAD_ID:
		if signo < 1 || signo > NumSignals {
			return 0, unix.EINVAL
		}
		target := k.tasks[targetTID]
		if target == nil || target.tg != tg {
			return 0, unix.EINVAL
		}
		pt.target = target
	default:
		return 0, unix.EINVAL
	}
	gt := &tg.timers
	if gt.posix == nil {
		gt.posix = make(map[int32]*PosixTimer)
	}
	if len(gt.posix) >= 1<<16 {
		return 0, unix.EAGAIN
	}
	for {
		id := gt.nextID
		gt.nextID = (gt.nextID + 1) & 0x7fffffff
		if _, used := gt.posix[id]; !used {
			pt.id = id
			break
		}
	}
	if valueIsID {
		pt.value = uint64(pt.id)
	}
	gt.posix[pt.id] = pt
	return pt.id, nil
}

func (t *Task) timerLocked(id int32) (*PosixTimer, error) {
	pt := t.tg.timers.posix[id]
	if pt == nil {
		return nil, unix.EINVAL
	}
	return pt, nil
}

// TimerClock returns the clock a timer was created on.
func (t *Task) TimerClock(id int32) (int32, error) {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	pt, err := t.timerLocked(id)
	if err != nil {
		return 0, err
	}
	return pt.clock, nil
}

// SetTimer implements timer_settime(2); abs says Value is an absolute
// time on the timer's clock, given as the duration since that clock's
// epoch (now is the clock's current reading; CPU-time timers read their
// own clock).
func (t *Task) SetTimer(id int32, spec TimerSpec, abs bool, now time.Duration) (TimerSpec, error) {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	pt, err := t.timerLocked(id)
	if err != nil {
		return TimerSpec{}, err
	}
	old := pt.getLocked()
	pt.stopLocked()
	pt.interval = spec.Interval
	pt.overrun = 0
	if pt.cpu {
		if spec.Value != 0 {
			pt.cpuExpires = spec.Value
			if !abs {
				pt.cpuExpires += pt.cpuNowLocked()
			}
		}
		t.tg.timers.updateTickerLocked()
		return old, nil
	}
	if spec.Value > 0 || (abs && spec.Value != 0) {
		d := spec.Value
		if abs {
			d = spec.Value - now
		}
		if d <= 0 {
			d = 1
		}
		pt.armLocked(d)
	}
	return old, nil
}

// GetTimer implements timer_gettime(2).
func (t *Task) GetTimer(id int32) (TimerSpec, error) {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	pt, err := t.timerLocked(id)
	if err != nil {
		return TimerSpec{}, err
	}
	return pt.getLocked(), nil
}

// TimerOverrun implements timer_getoverrun(2).
func (t *Task) TimerOverrun(id int32) (int32, error) {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	pt, err := t.timerLocked(id)
	if err != nil {
		return 0, err
	}
	return pt.lastOverrun, nil
}

// DeleteTimer implements timer_delete(2).
func (t *Task) DeleteTimer(id int32) error {
	t.k.taskMu.Lock()
	defer t.k.taskMu.Unlock()
	pt, err := t.timerLocked(id)
	if err != nil {
		return err
	}
	pt.stopLocked()
	delete(t.tg.timers.posix, id)
	return nil
}

// cpuNowLocked reads a CPU-time timer's clock.
func (pt *PosixTimer) cpuNowLocked() time.Duration {
	if pt.cpuThread != nil {
		u, s := pt.cpuThread.CPUTime()
		return u + s
	}
	u, s := pt.tg.cpuTimeLocked()
	return u + s
}

// checkCPULocked fires a CPU-time timer whose expiry has passed (called by
// the group's CPU ticker).
func (pt *PosixTimer) checkCPULocked() {
	if pt.cpuExpires == 0 {
		return
	}
	now := pt.cpuNowLocked()
	if now < pt.cpuExpires {
		return
	}
	pt.fireLocked()
	if pt.interval <= 0 {
		pt.cpuExpires = 0
		return
	}
	missed := int32((now - pt.cpuExpires) / pt.interval)
	pt.overrun += missed
	pt.cpuExpires += pt.interval * time.Duration(missed+1)
}

func (pt *PosixTimer) getLocked() TimerSpec {
	if pt.cpu {
		if pt.cpuExpires == 0 {
			return TimerSpec{Interval: pt.interval}
		}
		return TimerSpec{Value: max(pt.cpuExpires-pt.cpuNowLocked(), 1), Interval: pt.interval}
	}
	if pt.timer == nil {
		return TimerSpec{Interval: pt.interval}
	}
	v := time.Until(pt.expires)
	if v <= 0 {
		v = 1
	}
	return TimerSpec{Value: v, Interval: pt.interval}
}

func (pt *PosixTimer) stopLocked() {
	pt.cpuExpires = 0
	if pt.timer != nil {
		pt.timer.Stop()
		pt.timer = nil
	}
}

func (pt *PosixTimer) armLocked(d time.Duration) {
	pt.expires = time.Now().Add(d)
	var tm *time.Timer
	tm = time.AfterFunc(d, func() {
		k := pt.tg.k
		k.taskMu.Lock()
		defer k.taskMu.Unlock()
		if pt.timer != tm || pt.tg.exited {
			return
		}
		pt.timer = nil
		pt.fireLocked()
		if pt.interval > 0 {
			pt.armLocked(pt.interval)
		}
	})
	pt.timer = tm
}

func (pt *PosixTimer) fireLocked() {
	if pt.notify == SIGEV_NONE {
		return
	}
	info := SigInfo{Signo: pt.signo, Code: SI_TIMER, TimerID: pt.id, Value: pt.value, timer: pt}
	q := &pt.tg.pending
	if pt.target != nil {
		q = &pt.target.pending
	}
	for _, queued := range q.infos[pt.signo-1] {
		if queued.timer == pt {
			// The last expiry's signal is still queued: count an overrun.
			pt.overrun++
			return
		}
	}
	if pt.target != nil && pt.target.exitState == taskRunning {
		pt.tg.sendSignalLocked(info, pt.target)
	} else {
		pt.tg.sendSignalLocked(info, nil)
	}
}
