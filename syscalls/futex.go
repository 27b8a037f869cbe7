package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
)

func init() {
	partial(unix.SYS_FUTEX, Futex, "single-threaded processes only: WAKE wakes nobody, WAIT checks the value and sleeps until its timeout", Ptr, Hex, Int, Ptr, Ptr, Int)
}

// futex(2) operations.
const (
	futexWait        = 0
	futexWake        = 1
	futexWaitBitset  = 9
	futexWakeBitset  = 10
	futexPrivateFlag = 128
	futexClockRT     = 256
)

// Futex implements futex(2) for a process with one thread: nobody else can
// change the word or wake the waiter.
func Futex(t *kernel.Task, a args) (uintptr, error) {
	op := a[1].Int() &^ (futexPrivateFlag | futexClockRT)
	switch op {
	case futexWake, futexWakeBitset:
		if op == futexWakeBitset && a[5].Uint() == 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case futexWait, futexWaitBitset:
		if op == futexWaitBitset && a[5].Uint() == 0 {
			return 0, unix.EINVAL
		}
		if a[0].Pointer()&3 != 0 {
			return 0, unix.EINVAL
		}
		v, err := t.MemoryManager().CopyInUint32(a[0].Pointer())
		if err != nil {
			return 0, err
		}
		if v != a[2].Uint() {
			return 0, unix.EAGAIN
		}
		if a[3].Pointer() == 0 {
			// Nothing can ever wake a lone thread: it sleeps until the
			// sandbox is torn down.
			for {
				time.Sleep(time.Hour)
			}
		}
		ns, err := copyInTimespec(t, a[3].Pointer())
		if err != nil {
			return 0, err
		}
		if op == futexWaitBitset {
			// An absolute deadline on the chosen clock.
			id := int32(clockMonotonic)
			if a[1].Int()&futexClockRT != 0 {
				id = clockRealtime
			}
			now, _ := clockNow(t, id)
			ns -= now
		}
		if ns > 0 {
			time.Sleep(time.Duration(ns))
		}
		return 0, unix.ETIMEDOUT
	}
	return 0, unix.ENOSYS
}
