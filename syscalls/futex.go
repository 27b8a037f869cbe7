package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
)

func init() {
	partial(unix.SYS_FUTEX, Futex, "no priority-inheritance operations (FUTEX_LOCK_PI and friends)", Ptr, Hex, Int, Ptr, Ptr, Int)
}

// futex(2) operations.
const (
	futexWait          = 0
	futexWake          = 1
	futexFD            = 2
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivateFlag   = 128
	futexClockRealtime = 256
)

// Futex implements futex(2).
func Futex(t *kernel.Task, a args) (uintptr, error) {
	addr := a[0].Pointer()
	cmd := a[1].Int()
	private := cmd&futexPrivateFlag != 0
	op := cmd &^ (futexPrivateFlag | futexClockRealtime)
	if cmd&futexClockRealtime != 0 && op != futexWaitBitset && op != futexWait {
		return 0, unix.ENOSYS
	}
	val := a[2].Uint()
	switch op {
	case futexWait, futexWaitBitset:
		bitset := ^uint32(0)
		if op == futexWaitBitset {
			bitset = a[5].Uint()
		}
		var deadline time.Time
		if p := a[3].Pointer(); p != 0 {
			ns, err := copyInTimespec(t, p)
			if err != nil {
				return 0, err
			}
			if op == futexWait {
				deadline = time.Now().Add(time.Duration(ns))
			} else {
				// An absolute time on CLOCK_MONOTONIC, or on
				// CLOCK_REALTIME with FUTEX_CLOCK_REALTIME.
				clock := int32(clockMonotonic)
				if cmd&futexClockRealtime != 0 {
					clock = clockRealtime
				}
				now, _ := clockNow(t, clock)
				deadline = time.Now().Add(time.Duration(ns - now))
			}
		}
		return 0, t.FutexWait(addr, val, bitset, deadline, private)
	case futexWake, futexWakeBitset:
		bitset := ^uint32(0)
		if op == futexWakeBitset {
			bitset = a[5].Uint()
		}
		n, err := t.FutexWake(addr, int(int32(val)), bitset, private)
		return uintptr(n), err
	case futexRequeue, futexCmpRequeue:
		nrequeue := int(int32(a[3].Uint()))
		if int32(val) < 0 || nrequeue < 0 {
			return 0, unix.EINVAL
		}
		var cmp *uint32
		if op == futexCmpRequeue {
			c := a[5].Uint()
			cmp = &c
		}
		n, err := t.FutexRequeue(addr, a[4].Pointer(), int(val), nrequeue, cmp, private)
		return uintptr(n), err
	case futexWakeOp:
		n, err := t.FutexWakeOp(addr, a[4].Pointer(), int(int32(val)), int(int32(a[3].Uint())), a[5].Uint(), private)
		return uintptr(n), err
	}
	return 0, unix.ENOSYS
}
