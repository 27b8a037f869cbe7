package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
)

func init() {
	partial(unix.SYS_CLOCK_GETTIME, ClockGettime, "CPU-time clocks report time since boot", Int, Ptr)
	full(unix.SYS_CLOCK_GETRES, ClockGetres, Int, Ptr)
	full(unix.SYS_GETTIMEOFDAY, Gettimeofday, Ptr, Ptr)
	full(unix.SYS_TIME, Time, Ptr)
	partial(unix.SYS_NANOSLEEP, Nanosleep, "not interruptible by signals yet", Ptr, Ptr)
	partial(unix.SYS_CLOCK_NANOSLEEP, ClockNanosleep, "not interruptible by signals yet", Int, Hex, Ptr, Ptr)
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
	case clockProcessCputime, clockThreadCputime:
		return int64(t.Kernel().Uptime()), nil
	}
	return 0, unix.EINVAL
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

// Nanosleep implements nanosleep(2).
func Nanosleep(t *kernel.Task, a args) (uintptr, error) {
	ns, err := copyInTimespec(t, a[0].Pointer())
	if err != nil {
		return 0, err
	}
	time.Sleep(time.Duration(ns))
	return 0, nil
}

// ClockNanosleep implements clock_nanosleep(2).
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
		return 0, unix.ENOTSUP
	}
	ns, err := copyInTimespec(t, a[2].Pointer())
	if err != nil {
		return 0, err
	}
	const timerAbstime = 1
	if a[1].Int()&timerAbstime != 0 {
		now, _ := clockNow(t, id)
		ns -= now
	}
	if ns > 0 {
		time.Sleep(time.Duration(ns))
	}
	return 0, nil
}
