package kernel

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/mm"
)

// futexKey identifies a futex word as Linux's futex keys do: a private
// futex is (address space, address); a shared operation on private memory
// is the same pair marked shared (so private waiters and shared wakers
// never meet); a shared operation on shared memory is the memory-file
// offset, the same for every process.
type futexKey struct {
	mm     *mm.MemoryManager
	addr   uint64
	shared bool
}

type futexWaiter struct {
	key    futexKey
	bitset uint32
	ch     chan struct{} // closed when woken
	woken  bool
}

// futexTable holds the waiters of every futex in the sandbox.
type futexTable struct {
	mu      sync.Mutex
	waiters map[futexKey][]*futexWaiter
}

func (ft *futexTable) init() { ft.waiters = make(map[futexKey][]*futexWaiter) }

func (t *Task) futexKey(addr uintptr, private bool) (futexKey, error) {
	sharedMem, key, err := t.mm.FutexKey(addr, private)
	if err != nil {
		return futexKey{}, err
	}
	if sharedMem {
		return futexKey{addr: key, shared: true}, nil
	}
	return futexKey{mm: t.mm, addr: key, shared: !private}, nil
}

// FutexWait implements FUTEX_WAIT and FUTEX_WAIT_BITSET: if the word at
// addr still holds val, sleep until woken (nil), the deadline passes
// (ETIMEDOUT) or a signal arrives (ERESTARTSYS... as Linux: futex waits
// return EINTR for handled signals and restart otherwise).
func (t *Task) FutexWait(addr uintptr, val, bitset uint32, deadline time.Time, private bool) error {
	if bitset == 0 {
		return unix.EINVAL
	}
	key, err := t.futexKey(addr, private)
	if err != nil {
		return err
	}
	ft := &t.k.futexes
	w := &futexWaiter{key: key, bitset: bitset, ch: make(chan struct{})}
	ft.mu.Lock()
	p, err := t.mm.Uint32Ptr(addr, false)
	if err != nil {
		ft.mu.Unlock()
		return unix.EFAULT
	}
	if atomic.LoadUint32(p) != val {
		ft.mu.Unlock()
		return unix.EAGAIN
	}
	ft.waiters[key] = append(ft.waiters[key], w)
	ft.mu.Unlock()

	err = t.Block(w.ch, deadline)
	ft.mu.Lock()
	woken := w.woken
	if !woken {
		ft.removeLocked(w)
	}
	ft.mu.Unlock()
	switch {
	case woken:
		return nil
	case err == ErrInterrupted:
		return linux.ERESTARTSYS
	}
	return err
}

func (ft *futexTable) removeLocked(w *futexWaiter) {
	l := ft.waiters[w.key]
	for i, o := range l {
		if o == w {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(ft.waiters, w.key)
	} else {
		ft.waiters[w.key] = l
	}
}

// wakeLocked wakes up to n waiters on key whose bitset intersects bitset.
func (ft *futexTable) wakeLocked(key futexKey, n int, bitset uint32) int {
	woken := 0
	l := ft.waiters[key]
	kept := l[:0]
	for _, w := range l {
		if woken < n && w.bitset&bitset != 0 {
			w.woken = true
			close(w.ch)
			woken++
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		delete(ft.waiters, key)
	} else {
		ft.waiters[key] = kept
	}
	return woken
}

// FutexWake implements FUTEX_WAKE and FUTEX_WAKE_BITSET.
func (t *Task) FutexWake(addr uintptr, n int, bitset uint32, private bool) (int, error) {
	if bitset == 0 {
		return 0, unix.EINVAL
	}
	key, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	ft := &t.k.futexes
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.wakeLocked(key, n, bitset), nil
}

// FutexRequeue implements FUTEX_REQUEUE and, with cmp, FUTEX_CMP_REQUEUE:
// wake nwake waiters on addr and move up to nrequeue others to addr2.
func (t *Task) FutexRequeue(addr, addr2 uintptr, nwake, nrequeue int, cmp *uint32, private bool) (int, error) {
	key, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.futexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	ft := &t.k.futexes
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if cmp != nil {
		p, err := t.mm.Uint32Ptr(addr, false)
		if err != nil {
			return 0, unix.EFAULT
		}
		if atomic.LoadUint32(p) != *cmp {
			return 0, unix.EAGAIN
		}
	}
	woken := ft.wakeLocked(key, nwake, ^uint32(0))
	moved := 0
	l := ft.waiters[key]
	for len(l) > 0 && moved < nrequeue {
		w := l[0]
		l = l[1:]
		w.key = key2
		ft.waiters[key2] = append(ft.waiters[key2], w)
		moved++
	}
	if len(l) == 0 {
		delete(ft.waiters, key)
	} else {
		ft.waiters[key] = l
	}
	return woken + moved, nil
}

// FutexWakeOp implements FUTEX_WAKE_OP: atomically apply op to the word at
// addr2, wake nwake waiters on addr, and, if the old value of addr2
// satisfies op's comparison, nwake2 waiters on addr2.
func (t *Task) FutexWakeOp(addr, addr2 uintptr, nwake, nwake2 int, op uint32, private bool) (int, error) {
	key, err := t.futexKey(addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := t.futexKey(addr2, private)
	if err != nil {
		return 0, err
	}
	ft := &t.k.futexes
	ft.mu.Lock()
	defer ft.mu.Unlock()
	p, err := t.mm.Uint32Ptr(addr2, true)
	if err != nil {
		return 0, unix.EFAULT
	}
	opcode := (op >> 28) & 0xf
	cmpcode := (op >> 24) & 0xf
	oparg := (op >> 12) & 0xfff
	cmparg := op & 0xfff
	if opcode&8 != 0 { // FUTEX_OP_OPARG_SHIFT
		if oparg > 31 {
			return 0, unix.EINVAL
		}
		oparg = 1 << oparg
		opcode &^= 8
	} else {
		oparg = uint32(int32(oparg<<20) >> 20) // sign-extend 12 bits
	}
	cmparg = uint32(int32(cmparg<<20) >> 20)
	var old uint32
	for {
		old = atomic.LoadUint32(p)
		var n uint32
		switch opcode {
		case 0:
			n = oparg
		case 1:
			n = old + oparg
		case 2:
			n = old | oparg
		case 3:
			n = old &^ oparg
		case 4:
			n = old ^ oparg
		default:
			return 0, unix.ENOSYS
		}
		if atomic.CompareAndSwapUint32(p, old, n) {
			break
		}
	}
	var cond bool
	o, c := int32(old), int32(cmparg)
	switch cmpcode {
	case 0:
		cond = o == c
	case 1:
		cond = o != c
	case 2:
		cond = o < c
	case 3:
		cond = o <= c
	case 4:
		cond = o > c
	case 5:
		cond = o >= c
	default:
		return 0, unix.ENOSYS
	}
	woken := ft.wakeLocked(key, nwake, ^uint32(0))
	if cond {
		woken += ft.wakeLocked(key2, nwake2, ^uint32(0))
	}
	return woken, nil
}

// Robust futex word bits.
const (
	futexWaiters    = 0x80000000
	futexOwnerDied  = 0x40000000
	futexTIDMask    = 0x3fffffff
	robustListLimit = 2048
)

// exitRobustList marks the robust futexes the exiting task holds as
// owner-died and wakes a waiter of each, as Linux's exit_robust_list does.
func (t *Task) exitRobustList() {
	head := t.robustList
	if head == 0 || t.robustLen != 24 {
		return
	}
	m := t.mm
	next, err := m.CopyInUint64(head)
	if err != nil {
		return
	}
	off, err := m.CopyInUint64(head + 8)
	if err != nil {
		return
	}
	pending, _ := m.CopyInUint64(head + 16)
	for i := 0; next != uint64(head) && i < robustListLimit; i++ {
		entry := uintptr(next)
		n, err := m.CopyInUint64(entry)
		if err != nil {
			return
		}
		if next != pending {
			t.handleFutexDeath(entry + uintptr(int64(off)))
		}
		next = n
	}
	if pending != 0 {
		t.handleFutexDeath(uintptr(pending) + uintptr(int64(off)))
	}
}

func (t *Task) handleFutexDeath(addr uintptr) {
	p, err := t.mm.Uint32Ptr(addr, true)
	if err != nil {
		return
	}
	for {
		old := atomic.LoadUint32(p)
		if old&futexTIDMask != uint32(t.tid) {
			return
		}
		n := old&futexWaiters | futexOwnerDied
		if atomic.CompareAndSwapUint32(p, old, n) {
			if old&futexWaiters != 0 {
				t.FutexWake(addr, 1, ^uint32(0), false)
			}
			return
		}
	}
}
