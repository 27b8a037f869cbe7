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
}

// TimerSpec is an itimerspec.
type TimerSpec struct {
	Value, Interval time.Duration
}

// CreateTimer implements timer_create(2).
func (t *Task) CreateTimer(clock int32, notify, signo int32, value uint64, targetTID int32) (int32, error) {
	k := t.k
	k.taskMu.Lock()
	defer k.taskMu.Unlock()
	tg := t.tg
	pt := &PosixTimer{tg: tg, clock: clock, notify: notify, signo: signo, value: value}
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

// SetTimer implements timer_settime(2); abs says Value is an absolute
// time on the timer's clock, given as the duration since that clock's
// epoch (now is the clock's current reading).
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
	return pt.overrun, nil
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

func (pt *PosixTimer) getLocked() TimerSpec {
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
	info := SigInfo{Signo: pt.signo, Code: SI_TIMER, TimerID: pt.id, Value: pt.value, Overrun: pt.overrun}
	q := &pt.tg.pending
	if pt.target != nil {
		q = &pt.target.pending
	}
	if q.set&sigBit(int(pt.signo)) != 0 && int(pt.signo) < SIGRTMIN {
		// The last expiry's signal is still queued: count an overrun.
		pt.overrun++
		return
	}
	pt.overrun = 0
	if pt.target != nil && pt.target.exitState == taskRunning {
		pt.tg.sendSignalLocked(info, pt.target)
	} else {
		pt.tg.sendSignalLocked(info, nil)
	}
}
