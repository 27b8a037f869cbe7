package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
)

func init() {
	partial(unix.SYS_CLOCK_GETTIME, ClockGettime, "CPU time is time spent in application code and in the sentry for it", Int, Ptr)
	full(unix.SYS_CLOCK_GETRES, ClockGetres, Int, Ptr)
	full(unix.SYS_GETTIMEOFDAY, Gettimeofday, Ptr, Ptr)
	full(unix.SYS_TIME, Time, Ptr)
	full(unix.SYS_NANOSLEEP, Nanosleep, Ptr, Ptr)
	full(unix.SYS_CLOCK_NANOSLEEP, ClockNanosleep, Int, Hex, Ptr, Ptr)
	full(unix.SYS_ALARM, Alarm, Int)
	full(unix.SYS_GETITIMER, Getitimer, Int, Ptr)
	full(unix.SYS_SETITIMER, Setitimer, Int, Ptr, Ptr)
	partial(unix.SYS_TIMER_CREATE, TimerCreate, "wall and monotonic clocks; SIGEV_THREAD is SIGEV_SIGNAL (libc runs the thread)", Int, Ptr, Ptr)
	full(unix.SYS_TIMER_SETTIME, TimerSettime, Int, Hex, Ptr, Ptr)
	full(unix.SYS_TIMER_GETTIME, TimerGettime, Int, Ptr)
	full(unix.SYS_TIMER_GETOVERRUN, TimerGetoverrun, Int)
	full(unix.SYS_TIMER_DELETE, TimerDelete, Int)
	full(unix.SYS_TIMES, Times, Ptr)
	partial(unix.SYS_GETRUSAGE, Getrusage, "only CPU times are filled in", Int, Ptr)
}

// Clock IDs.
const (
	clockRealtime        = 0
	clockMonotonic       = 1
	clockProcessCputime  = 2
	clockThreadCputime   = 3
	clockMonotonicRaw    = 4
	clockRealtimeCoarse  = 5
	clockMonotonicCoarse = 6
	clockBoottime        = 7
	clockRealtimeAlarm   = 8
	clockBoottimeAlarm   = 9
	clockTAI             = 11
	coarseResolution     = 4 * time.Millisecond
)

// clockNow returns the value of a clock as nanoseconds.
func clockNow(t *kernel.Task, id int32) (int64, error) {
	switch id {
	case clockRealtime, clockRealtimeCoarse, clockRealtimeAlarm, clockTAI:
		return time.Now().UnixNano(), nil
	case clockMonotonic, clockMonotonicRaw, clockMonotonicCoarse, clockBoottime, clockBoottimeAlarm:
		// The sandbox's monotonic clock starts at its boot.
		return int64(t.Kernel().Uptime()), nil
	case clockProcessCputime:
		u, s := t.ThreadGroup().CPUTime()
		return int64(u + s), nil
	case clockThreadCputime:
		u, s := t.CPUTime()
		return int64(u + s), nil
	}
	if id < 0 {
		return cpuClockNow(t, id)
	}
	return 0, unix.EINVAL
}

// cpuClockNow reads a CPU-time clock of another process or thread, as
// clock_getcpuclockid(3) and pthread_getcpuclockid(3) make them: the
// negated PID shifted by 3, with CPUCLOCK_PERTHREAD (4) for a thread.
func cpuClockNow(t *kernel.Task, id int32) (int64, error) {
	const perThread, which = 4, 3
	if id&which == which {
		return 0, unix.EINVAL
	}
	pid := ^(id >> 3)
	if id&perThread != 0 {
		target := t
		if pid != 0 {
			target = t.Kernel().TaskByTID(pid)
			if target == nil || target.ThreadGroup() != t.ThreadGroup() {
				return 0, unix.EINVAL
			}
		}
		u, s := target.CPUTime()
		return int64(u + s), nil
	}
	tg := t.ThreadGroup()
	if pid != 0 {
		if tg = t.Kernel().ThreadGroupByID(pid); tg == nil {
			return 0, unix.EINVAL
		}
	}
	u, s := tg.CPUTime()
	return int64(u + s), nil
}

func timespecBytes(ns int64) []byte {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(ns/1e9))
	binary.LittleEndian.PutUint64(b[8:], uint64(ns%1e9))
	return b[:]
}

// copyInTimespec reads a struct timespec, checking it is valid.
func copyInTimespec(t *kernel.Task, addr uintptr) (int64, error) {
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	sec := int64(binary.LittleEndian.Uint64(b[:]))
	nsec := int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return 0, unix.EINVAL
	}
	if sec > 9223372035 {
		return 1<<63 - 1, nil
	}
	return sec*1e9 + nsec, nil
}

// ClockGettime implements clock_gettime(2).
func ClockGettime(t *kernel.Task, a args) (uintptr, error) {
	ns, err := clockNow(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	_, err = t.CopyOut(a[1].Pointer(), timespecBytes(ns))
	return 0, err
}

// ClockGetres implements clock_getres(2).
func ClockGetres(t *kernel.Task, a args) (uintptr, error) {
	id := a[0].Int()
	if _, err := clockNow(t, id); err != nil {
		return 0, err
	}
	res := int64(1)
	if id == clockRealtimeCoarse || id == clockMonotonicCoarse {
		res = int64(coarseResolution)
	}
	if p := a[1].Pointer(); p != 0 {
		if _, err := t.CopyOut(p, timespecBytes(res)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Gettimeofday implements gettimeofday(2).
func Gettimeofday(t *kernel.Task, a args) (uintptr, error) {
	if p := a[0].Pointer(); p != 0 {
		now := time.Now()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:], uint64(now.Unix()))
		binary.LittleEndian.PutUint64(b[8:], uint64(now.Nanosecond()/1000))
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	if p := a[1].Pointer(); p != 0 {
		// struct timezone: minutes west of UTC and DST type, both zero.
		if _, err := t.CopyOut(p, make([]byte, 8)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Time implements time(2).
func Time(t *kernel.Task, a args) (uintptr, error) {
	now := time.Now().Unix()
	if p := a[0].Pointer(); p != 0 {
		if err := t.MemoryManager().CopyOutUint64(p, uint64(now)); err != nil {
			return 0, err
		}
	}
	return uintptr(now), nil
}

// sleepUntil sleeps until deadline (a time.Now reading). Interrupted, it
// writes the remaining time to rem (if not 0) and returns
// ERESTART_RESTARTBLOCK, arranging for restart_syscall(2) to sleep for the
// rest: nanosleep returns EINTR when a handler runs, and otherwise goes on
// transparently.
func sleepUntil(t *kernel.Task, deadline time.Time, rem uintptr) error {
	err := t.Block(nil, deadline)
	switch err {
	case unix.ETIMEDOUT:
		return nil
	case kernel.ErrInterrupted:
		if rem != 0 {
			left := max(time.Until(deadline), 0)
			if _, err := t.CopyOut(rem, timespecBytes(int64(left))); err != nil {
				return err
			}
		}
		t.SetRestartFn(func(t *kernel.Task) (uintptr, error) {
			return 0, sleepUntil(t, deadline, rem)
		})
		return linux.ERESTART_RESTARTBLOCK
	}
	return err
}

// Nanosleep implements nanosleep(2).
func Nanosleep(t *kernel.Task, a args) (uintptr, error) {
	ns, err := copyInTimespec(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	return 0, sleepUntil(t, time.Now().Add(time.Duration(ns)), a[1].Pointer())
}

// ClockNanosleep implements clock_nanosleep(2). Errors are returned
// directly (it doesn't set errno: libc handles that).
func ClockNanosleep(t *kernel.Task, a args) (uintptr, error) {
	id := a[0].Int()
	switch id {
	case clockRealtime, clockMonotonic, clockBoottime, clockTAI, clockProcessCputime:
	case clockThreadCputime:
		return 0, unix.EINVAL
	default:
		if _, err := clockNow(t, id); err != nil {
			return 0, err
		}
		if id >= 0 {
			return 0, unix.ENOTSUP
		}
	}
	ns, err := copyInTimespec(t, a[2].Pointer())
	if err != nil {
		return 0, err
	}
	const timerAbstime = 1
	if a[1].Int()&timerAbstime != 0 {
		now, _ := clockNow(t, id)
		deadline := time.Now().Add(time.Duration(ns - now))
		// An absolute sleep restarts with the same deadline and reports
		// no remaining time.
		return 0, sleepUntil(t, deadline, 0)
	}
	return 0, sleepUntil(t, time.Now().Add(time.Duration(ns)), a[3].Pointer())
}

func timevalBytes(d time.Duration) []byte {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(d/time.Second))
	binary.LittleEndian.PutUint64(b[8:], uint64((d%time.Second)/time.Microsecond))
	return b[:]
}

func copyInTimeval(t *kernel.Task, addr uintptr) (time.Duration, error) {
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	sec := int64(binary.LittleEndian.Uint64(b[:]))
	usec := int64(binary.LittleEndian.Uint64(b[8:]))
	if sec < 0 || usec < 0 || usec >= 1e6 {
		return 0, unix.EINVAL
	}
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, nil
}

// Alarm implements alarm(2).
func Alarm(t *kernel.Task, a args) (uintptr, error) {
	old, err := t.ThreadGroup().SetItimer(kernel.ITIMER_REAL, kernel.Itimer{Value: time.Duration(a[0].Uint()) * time.Second})
	if err != nil {
		return 0, err
	}
	secs := old.Value / time.Second
	if old.Value%time.Second >= time.Second/2 || (secs == 0 && old.Value > 0) {
		secs++
	}
	return uintptr(secs), nil
}

func putItimer(t *kernel.Task, addr uintptr, it kernel.Itimer) error {
	b := append(timevalBytes(it.Interval), timevalBytes(it.Value)...)
	_, err := t.CopyOut(addr, b)
	return err
}

// Getitimer implements getitimer(2).
func Getitimer(t *kernel.Task, a args) (uintptr, error) {
	it, err := t.ThreadGroup().GetItimer(int(a[0].Int()))
	if err != nil {
		return 0, err
	}
	return 0, putItimer(t, a[1].Pointer(), it)
}

// Setitimer implements setitimer(2).
func Setitimer(t *kernel.Task, a args) (uintptr, error) {
	var it kernel.Itimer
	if p := a[1].Pointer(); p != 0 {
		var err error
		if it.Interval, err = copyInTimeval(t, p); err != nil {
			return 0, err
		}
		if it.Value, err = copyInTimeval(t, p+16); err != nil {
			return 0, err
		}
	}
	which := int(a[0].Int())
	if which < kernel.ITIMER_REAL || which > kernel.ITIMER_PROF {
		return 0, unix.EINVAL
	}
	old, err := t.ThreadGroup().SetItimer(which, it)
	if err != nil {
		return 0, err
	}
	if p := a[2].Pointer(); p != 0 {
		return 0, putItimer(t, p, old)
	}
	return 0, nil
}

// TimerCreate implements timer_create(2).
func TimerCreate(t *kernel.Task, a args) (uintptr, error) {
	clock := a[0].Int()
	var cpu *kernel.CPUClock
	switch {
	case clock == clockRealtime, clock == clockMonotonic, clock == clockBoottime,
		clock == clockRealtimeAlarm, clock == clockBoottimeAlarm, clock == clockTAI:
	case clock == clockProcessCputime:
		cpu = &kernel.CPUClock{}
	case clock == clockThreadCputime:
		cpu = &kernel.CPUClock{Thread: t}
	case clock < 0:
		// A clock_getcpuclockid/pthread_getcpuclockid clock.
		if _, err := cpuClockNow(t, clock); err != nil {
			return 0, err
		}
		cpu = &kernel.CPUClock{}
		if clock&4 != 0 {
			pid := ^(clock >> 3)
			cpu.Thread = t
			if pid != 0 {
				cpu.Thread = t.Kernel().TaskByTID(pid)
			}
		} else if pid := ^(clock >> 3); pid != 0 && pid != t.PID() {
			// Timers on another process's CPU clock are not supported.
			return 0, unix.EINVAL
		}
	default:
		return 0, unix.EINVAL
	}
	notify, signo := int32(kernel.SIGEV_SIGNAL), int32(kernel.SIGALRM)
	var value uint64
	var tid int32
	valueIsID := true
	if p := a[1].Pointer(); p != 0 {
		// struct sigevent: sigval (8), signo (4), notify (4), tid (4)...
		var b [64]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		value = binary.LittleEndian.Uint64(b[0:])
		signo = int32(binary.LittleEndian.Uint32(b[8:]))
		notify = int32(binary.LittleEndian.Uint32(b[12:]))
		tid = int32(binary.LittleEndian.Uint32(b[16:]))
		valueIsID = false
		if notify == kernel.SIGEV_THREAD {
			notify = kernel.SIGEV_SIGNAL
		}
	}
	id, err := t.CreateTimer(clock, cpu, notify, signo, value, valueIsID, tid)
	if err != nil {
		return 0, err
	}
	if err := t.MemoryManager().CopyOutUint32(a[2].Pointer(), uint32(id)); err != nil {
		t.DeleteTimer(id)
		return 0, err
	}
	return 0, nil
}

func putTimerSpec(t *kernel.Task, addr uintptr, s kernel.TimerSpec) error {
	b := append(timespecBytes(int64(s.Interval)), timespecBytes(int64(s.Value))...)
	_, err := t.CopyOut(addr, b)
	return err
}

// TimerSettime implements timer_settime(2).
func TimerSettime(t *kernel.Task, a args) (uintptr, error) {
	const timerAbstime = 1
	flags := a[1].Int()
	if flags&^timerAbstime != 0 {
		return 0, unix.EINVAL
	}
	interval, err := copyInTimespec(t, a[2].Pointer())
	if err != nil {
		return 0, err
	}
	value, err := copyInTimespec(t, a[2].Pointer()+16)
	if err != nil {
		return 0, err
	}
	clock, err := t.TimerClock(a[0].Int())
	if err != nil {
		return 0, err
	}
	now, _ := clockNow(t, clock)
	old, err := t.SetTimer(a[0].Int(), kernel.TimerSpec{Value: time.Duration(value), Interval: time.Duration(interval)},
		flags&timerAbstime != 0, time.Duration(now))
	if err != nil {
		return 0, err
	}
	if p := a[3].Pointer(); p != 0 {
		return 0, putTimerSpec(t, p, old)
	}
	return 0, nil
}

// TimerGettime implements timer_gettime(2).
func TimerGettime(t *kernel.Task, a args) (uintptr, error) {
	s, err := t.GetTimer(a[0].Int())
	if err != nil {
		return 0, err
	}
	return 0, putTimerSpec(t, a[1].Pointer(), s)
}

// TimerGetoverrun implements timer_getoverrun(2).
func TimerGetoverrun(t *kernel.Task, a args) (uintptr, error) {
	n, err := t.TimerOverrun(a[0].Int())
	return uintptr(n), err
}

// TimerDelete implements timer_delete(2).
func TimerDelete(t *kernel.Task, a args) (uintptr, error) {
	return 0, t.DeleteTimer(a[0].Int())
}

// Times implements times(2).
func Times(t *kernel.Task, a args) (uintptr, error) {
	tg := t.ThreadGroup()
	u, s := tg.CPUTime()
	cu, cs := tg.ChildrenCPUTime()
	ticks := func(d time.Duration) uint64 { return uint64(d / (10 * time.Millisecond)) }
	if p := a[0].Pointer(); p != 0 {
		var b [32]byte
		binary.LittleEndian.PutUint64(b[0:], ticks(u))
		binary.LittleEndian.PutUint64(b[8:], ticks(s))
		binary.LittleEndian.PutUint64(b[16:], ticks(cu))
		binary.LittleEndian.PutUint64(b[24:], ticks(cs))
		if _, err := t.CopyOut(p, b[:]); err != nil {
			return 0, err
		}
	}
	// Clock ticks since an arbitrary point: boot, plus a day so that the
	// value is never small.
	return uintptr(ticks(t.Kernel().Uptime() + 24*time.Hour)), nil
}

// Getrusage implements getrusage(2).
func Getrusage(t *kernel.Task, a args) (uintptr, error) {
	const (
		self     = 0
		children = -1
		thread   = 1
	)
	var u, s time.Duration
	var rss uint64
	switch a[0].Int() {
	case self:
		u, s = t.ThreadGroup().CPUTime()
		rss = t.ThreadGroup().MaxRSS(false)
	case children:
		u, s = t.ThreadGroup().ChildrenCPUTime()
		rss = t.ThreadGroup().MaxRSS(true)
	case thread:
		u, s = t.CPUTime()
		rss = t.ThreadGroup().MaxRSS(false)
	default:
		return 0, unix.EINVAL
	}
	_, err := t.CopyOut(a[1].Pointer(), marshalRusage(u, s, rss))
	return 0, err
}
