package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// Interval timers (setitimer) and POSIX timers (timer_create).
//
// ITIMER_REAL and timers on wall clocks run on Go timers. ITIMER_VIRTUAL
// and ITIMER_PROF count the group's CPU time (user, or user+system), which
// the sentry measures as the time its tasks spend in application code and
// in the sentry: a ticker checks them every cpuTick while they are armed.

// Itimer IDs.
const (
	ITIMER_REAL    = 0
	ITIMER_VIRTUAL = 1
	ITIMER_PROF    = 2
)

const cpuTick = 10 * time.Millisecond

// Itimer is an interval timer's setting.
type Itimer struct {
	Value, Interval time.Duration
}

type cpuItimer struct {
	interval time.Duration
	// expires is the group CPU time (user or user+sys) at which it fires;
	// zero when disarmed.
	expires time.Duration
}

// groupTimers are a thread group's timers. Protected by Kernel.taskMu.
type groupTimers struct {
	tg *ThreadGroup

	real         *time.Timer
	realExpires  time.Time
	realInterval time.Duration

	virtual, prof cpuItimer
	ticker        *time.Ticker
	tickerStop    chan struct{}

	posix  map[int32]*PosixTimer
	nextID int32
}

// CPUTime returns the group's CPU time: live and exited tasks.
func (tg *ThreadGroup) CPUTime() (user, sys time.Duration) {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.cpuTimeLocked()
}

func (tg *ThreadGroup) cpuTimeLocked() (user, sys time.Duration) {
	user, sys = tg.exitedUser, tg.exitedSys
	for t := range tg.tasks {
		u, s := t.CPUTime()
		user += u
		sys += s
	}
	return user, sys
}

// ChildrenCPUTime returns the CPU time of reaped children.
func (tg *ThreadGroup) ChildrenCPUTime() (user, sys time.Duration) {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.childUser, tg.childSys
}

// GetItimer implements getitimer(2).
func (tg *ThreadGroup) GetItimer(which int) (Itimer, error) {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	return tg.timers.getLocked(which)
}

func (gt *groupTimers) getLocked(which int) (Itimer, error) {
	switch which {
	case ITIMER_REAL:
		if gt.real == nil {
			return Itimer{}, nil
		}
		v := time.Until(gt.realExpires)
		if v <= 0 {
			v = time.Microsecond
		}
		return Itimer{Value: v, Interval: gt.realInterval}, nil
	case ITIMER_VIRTUAL, ITIMER_PROF:
		it := gt.cpuTimer(which)
		if it.expires == 0 {
			return Itimer{Interval: it.interval}, nil
		}
		v := it.expires - gt.cpuNow(which)
		if v <= 0 {
			v = time.Microsecond
		}
		return Itimer{Value: v, Interval: it.interval}, nil
	}
	return Itimer{}, unix.EINVAL
}

func (gt *groupTimers) cpuTimer(which int) *cpuItimer {
	if which == ITIMER_VIRTUAL {
		return &gt.virtual
	}
	return &gt.prof
}

func (gt *groupTimers) cpuNow(which int) time.Duration {
	u, s := gt.tg.cpuTimeLocked()
	if which == ITIMER_VIRTUAL {
		return u
	}
	return u + s
}

// SetItimer implements setitimer(2) (and alarm(2) through ITIMER_REAL);
// it returns the old setting.
func (tg *ThreadGroup) SetItimer(which int, it Itimer) (Itimer, error) {
	tg.k.taskMu.Lock()
	defer tg.k.taskMu.Unlock()
	gt := &tg.timers
	old, err := gt.getLocked(which)
	if err != nil {
		return Itimer{}, err
	}
	switch which {
	case ITIMER_REAL:
		if gt.real != nil {
			gt.real.Stop()
			gt.real = nil
		}
		gt.realInterval = it.Interval
		if it.Value > 0 {
			gt.armRealLocked(it.Value)
		}
	default:
		ct := gt.cpuTimer(which)
		ct.interval = it.Interval
		ct.expires = 0
		if it.Value > 0 {
			ct.expires = gt.cpuNow(which) + it.Value
		}
		gt.updateTickerLocked()
	}
	return old, nil
}

func (gt *groupTimers) armRealLocked(d time.Duration) {
	gt.realExpires = time.Now().Add(d)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		k := gt.tg.k
		k.taskMu.Lock()
		defer k.taskMu.Unlock()
		if gt.real != t || gt.tg.exited {
			return
		}
		gt.real = nil
		gt.tg.sendSignalLocked(SigInfo{Signo: SIGALRM, Code: SI_KERNEL}, nil)
		if gt.realInterval > 0 {
			gt.armRealLocked(gt.realInterval)
		}
	})
	gt.real = t
}

// updateTickerLocked runs the CPU-time ticker while a CPU timer is armed.
func (gt *groupTimers) updateTickerLocked() {
	armed := gt.virtual.expires != 0 || gt.prof.expires != 0
	for _, pt := range gt.posix {
		if pt.cpuExpires != 0 {
			armed = true
		}
	}
	if armed && gt.ticker == nil {
		gt.ticker = time.NewTicker(cpuTick)
		gt.tickerStop = make(chan struct{})
		go gt.tick(gt.ticker, gt.tickerStop)
	} else if !armed && gt.ticker != nil {
		gt.ticker.Stop()
		close(gt.tickerStop)
		gt.ticker = nil
	}
}

func (gt *groupTimers) tick(t *time.Ticker, stop chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		k := gt.tg.k
		// Running tasks have not accounted their current stretch yet:
		// interrupting them makes them do it (and look at signals).
		k.taskMu.Lock()
		for task := range gt.tg.tasks {
			task.pctx.Interrupt()
		}
		for _, which := range []int{ITIMER_VIRTUAL, ITIMER_PROF} {
			ct := gt.cpuTimer(which)
			if ct.expires == 0 || gt.cpuNow(which) < ct.expires {
				continue
			}
			sig := SIGVTALRM
			if which == ITIMER_PROF {
				sig = SIGPROF
			}
			gt.tg.sendSignalLocked(SigInfo{Signo: int32(sig), Code: SI_KERNEL}, nil)
			if ct.interval > 0 {
				ct.expires += ct.interval
			} else {
				ct.expires = 0
			}
		}
		for _, pt := range gt.posix {
			pt.checkCPULocked()
		}
		gt.updateTickerLocked()
		k.taskMu.Unlock()
	}
}

// stopLocked disarms everything (the group exited).
func (gt *groupTimers) stopLocked() {
	if gt.real != nil {
		gt.real.Stop()
		gt.real = nil
	}
	gt.virtual, gt.prof = cpuItimer{}, cpuItimer{}
	gt.updateTickerLocked()
	for _, pt := range gt.posix {
		pt.stopLocked()
	}
	gt.posix = nil
}
