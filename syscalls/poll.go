package syscalls

import (
	"encoding/binary"
	"math/bits"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
	"palisade.dev/sentry/waiter"
)

func init() {
	full(unix.SYS_POLL, Poll, Ptr, Int, Int)
	full(unix.SYS_PPOLL, Ppoll, Ptr, Int, Ptr, Ptr, Int)
	full(unix.SYS_SELECT, Select, Int, Ptr, Ptr, Ptr, Ptr)
	full(unix.SYS_PSELECT6, Pselect6, Int, Ptr, Ptr, Ptr, Ptr, Ptr)
}

const (
	// defaultPollMask is what a file that can't be waited for (a regular
	// file, a memory device) reports: always ready (DEFAULT_POLLMASK).
	defaultPollMask = waiter.EventIn | waiter.EventOut | waiter.EventRdNorm | waiter.EventWrNorm

	// pollNval is POLLNVAL: poll's answer for a descriptor that isn't open.
	pollNval = 0x20

	// The events that make select(2) report a descriptor in its read,
	// write and exceptional sets (Linux's POLLIN_SET, POLLOUT_SET and
	// POLLEX_SET).
	selectIn  = waiter.EventRdNorm | waiter.EventRdBand | waiter.EventIn | waiter.EventHUp | waiter.EventErr
	selectOut = waiter.EventWrBand | waiter.EventWrNorm | waiter.EventOut | waiter.EventErr
	selectEx  = waiter.EventPri

	// maxPollTimeout is the longest wait with a deadline; longer timeouts
	// (beyond 146 years) wait until something happens.
	maxPollTimeout = time.Duration(1 << 62)
)

// fileReadiness returns the events of mask, and errors and hang-ups, that
// are ready on f.
func fileReadiness(f *vfs.FileDescription, mask waiter.EventMask) waiter.EventMask {
	mask |= waiter.EventErr | waiter.EventHUp
	if w, ok := f.Impl().(waiter.Waitable); ok {
		return w.Readiness(mask) & mask
	}
	return defaultPollMask & mask
}

// pollWait calls scan, which counts what is ready among files, until the
// count is not zero, the timeout (negative: none; zero: don't wait) has
// passed since start, or the task is interrupted (ERESTARTNOHAND: poll and
// select are restarted when no handler runs, and fail with EINTR when one
// does, whatever its SA_RESTART). It waits with one waiter entry for the
// events in mask, registered with every file that is a waiter.Waitable;
// a wake-up for an event of no interest to the file it came from just
// means one more scan.
func pollWait(t *kernel.Task, files []*vfs.FileDescription, mask waiter.EventMask, timeout time.Duration, start time.Time, scan func() int) (int, error) {
	if n := scan(); n > 0 || timeout == 0 {
		return n, nil
	}
	e, ch := waiter.NewEntry(mask)
	var ws []waiter.Waitable
	for _, f := range files {
		if f == nil {
			continue
		}
		if w, ok := f.Impl().(waiter.Waitable); ok {
			w.EventRegister(e)
			ws = append(ws, w)
		}
	}
	defer func() {
		for _, w := range ws {
			w.EventUnregister(e)
		}
	}()
	var deadline time.Time
	if timeout > 0 && timeout < maxPollTimeout {
		deadline = start.Add(timeout)
	}
	for {
		// Registered first, then checked: no event is lost.
		if n := scan(); n > 0 {
			return n, nil
		}
		switch err := t.Block(ch, deadline); err {
		case nil:
		case unix.ETIMEDOUT:
			return scan(), nil
		case kernel.ErrInterrupted:
			if n := scan(); n > 0 {
				return n, nil
			}
			return 0, linux.ERESTARTNOHAND
		default:
			return 0, err
		}
	}
}

// timeoutOf converts a relative time to a timeout, checking it as Linux's
// poll_select_set_timeout does.
func timeoutOf(sec, nsec int64) (time.Duration, error) {
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return 0, unix.EINVAL
	}
	if sec >= int64(maxPollTimeout/time.Second) {
		return maxPollTimeout, nil
	}
	return time.Duration(sec)*time.Second + time.Duration(nsec), nil
}

// copyInPollTimespec reads the struct timespec timeout of ppoll and
// pselect6.
func copyInPollTimespec(t *kernel.Task, addr uintptr) (time.Duration, error) {
	var b [16]byte
	if _, err := t.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	le := binary.LittleEndian
	return timeoutOf(int64(le.Uint64(b[0:])), int64(le.Uint64(b[8:])))
}

// writeRemaining stores the time left of timeout back in the caller's
// struct timeval or timespec at addr, as Linux's select, pselect6 and
// ppoll system calls do (the glibc wrappers of the latter two hide it), so
// that a restarted call waits only for the rest. A zero timeout is left
// alone. A failed store is ignored, except that the call then can't be
// restarted.
func writeRemaining(t *kernel.Task, addr uintptr, timeval bool, timeout time.Duration, start time.Time, err error) error {
	if addr == 0 || timeout <= 0 {
		return err
	}
	rem := max(timeout-time.Since(start), 0)
	var b [16]byte
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(rem/time.Second))
	if timeval {
		le.PutUint64(b[8:], uint64(rem%time.Second/time.Microsecond))
	} else {
		le.PutUint64(b[8:], uint64(rem%time.Second))
	}
	if _, cerr := t.CopyOut(addr, b[:]); cerr != nil && err == linux.ERESTARTNOHAND {
		return unix.EINTR
	}
	return err
}

// setSyscallMask installs the signal mask at addr (if any) for the rest of
// the call, as ppoll and pselect6 do.
func setSyscallMask(t *kernel.Task, addr uintptr, size uint64) error {
	if addr == 0 {
		return nil
	}
	if size != sigsetSize {
		return unix.EINVAL
	}
	m, err := t.MemoryManager().CopyInUint64(addr)
	if err != nil {
		return err
	}
	t.SetSyscallSignalMask(m)
	return nil
}

// Poll implements Linux syscall poll(2).
//
// Linux continues a poll interrupted by a signal that runs no handler
// through restart_syscall(2) with what is left of the timeout; here it is
// restarted with its whole timeout.
func Poll(t *kernel.Task, a args) (uintptr, error) {
	timeout := time.Duration(-1)
	if ms := a[2].Int(); ms >= 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	n, err := doPoll(t, a[0].Pointer(), a[1].Uint(), timeout, time.Now())
	return uintptr(n), err
}

// Ppoll implements Linux syscall ppoll(2).
func Ppoll(t *kernel.Task, a args) (uintptr, error) {
	start := time.Now()
	timeout := time.Duration(-1)
	tsp := a[2].Pointer()
	if tsp != 0 {
		var err error
		if timeout, err = copyInPollTimespec(t, tsp); err != nil {
			return 0, err
		}
	}
	if err := setSyscallMask(t, a[3].Pointer(), a[4].Uint64()); err != nil {
		return 0, err
	}
	n, err := doPoll(t, a[0].Pointer(), a[1].Uint(), timeout, start)
	return uintptr(n), writeRemaining(t, tsp, false, timeout, start, err)
}

// doPoll polls the nfds struct pollfds at addr and stores their revents.
func doPoll(t *kernel.Task, addr uintptr, nfds uint32, timeout time.Duration, start time.Time) (int, error) {
	if uint64(nfds) > t.ThreadGroup().Limits().Get(kernel.RLIMIT_NOFILE).Cur {
		return 0, unix.EINVAL
	}
	// struct pollfd { int fd; short events; short revents; }
	buf := make([]byte, 8*int(nfds))
	if nfds > 0 {
		if _, err := t.CopyIn(addr, buf); err != nil {
			return 0, err
		}
	}
	le := binary.LittleEndian
	fds := make([]int32, nfds)
	events := make([]waiter.EventMask, nfds)
	files := make([]*vfs.FileDescription, nfds)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.DecRef()
			}
		}
	}()
	var mask waiter.EventMask
	for i := range fds {
		fds[i] = int32(le.Uint32(buf[8*i:]))
		events[i] = waiter.EventMask(le.Uint16(buf[8*i+4:]))
		if fds[i] < 0 {
			continue
		}
		f, _ := t.FDTable().Get(int(fds[i]))
		if f == nil {
			continue
		}
		if f.IsPath() {
			// Linux's poll doesn't see O_PATH descriptors: POLLNVAL.
			f.DecRef()
			continue
		}
		files[i] = f
		mask |= events[i]
	}
	revents := make([]waiter.EventMask, nfds)
	scan := func() int {
		n := 0
		for i, fd := range fds {
			switch {
			case fd < 0:
				revents[i] = 0
			case files[i] == nil:
				revents[i] = pollNval
			default:
				revents[i] = fileReadiness(files[i], events[i])
			}
			if revents[i] != 0 {
				n++
			}
		}
		return n
	}
	n, err := pollWait(t, files, mask, timeout, start, scan)
	if err != nil && err != linux.ERESTARTNOHAND {
		return 0, err
	}
	if nfds > 0 {
		for i, r := range revents {
			le.PutUint16(buf[8*i+6:], uint16(r))
		}
		if _, cerr := t.CopyOut(addr, buf); cerr != nil {
			return 0, unix.EFAULT
		}
	}
	return n, err
}

// Select implements Linux syscall select(2).
func Select(t *kernel.Task, a args) (uintptr, error) {
	start := time.Now()
	timeout := time.Duration(-1)
	tvp := a[4].Pointer()
	if tvp != 0 {
		var b [16]byte
		if _, err := t.CopyIn(tvp, b[:]); err != nil {
			return 0, err
		}
		le := binary.LittleEndian
		sec, usec := int64(le.Uint64(b[0:])), int64(le.Uint64(b[8:]))
		// Microseconds beyond a second carry into the seconds.
		var err error
		if timeout, err = timeoutOf(sec+usec/1e6, usec%1e6*1e3); err != nil {
			return 0, err
		}
	}
	n, err := doSelect(t, a[0].Int(), [3]uintptr{a[1].Pointer(), a[2].Pointer(), a[3].Pointer()}, timeout, start)
	return uintptr(n), writeRemaining(t, tvp, true, timeout, start, err)
}

// Pselect6 implements Linux syscall pselect6(2): its sixth argument points
// to a {sigset pointer, sigset size} pair.
func Pselect6(t *kernel.Task, a args) (uintptr, error) {
	start := time.Now()
	var sigAddr uintptr
	var sigSize uint64
	if p := a[5].Pointer(); p != 0 {
		var b [16]byte
		if _, err := t.CopyIn(p, b[:]); err != nil {
			return 0, err
		}
		sigAddr = uintptr(binary.LittleEndian.Uint64(b[0:]))
		sigSize = binary.LittleEndian.Uint64(b[8:])
	}
	timeout := time.Duration(-1)
	tsp := a[4].Pointer()
	if tsp != 0 {
		var err error
		if timeout, err = copyInPollTimespec(t, tsp); err != nil {
			return 0, err
		}
	}
	if err := setSyscallMask(t, sigAddr, sigSize); err != nil {
		return 0, err
	}
	n, err := doSelect(t, a[0].Int(), [3]uintptr{a[1].Pointer(), a[2].Pointer(), a[3].Pointer()}, timeout, start)
	return uintptr(n), writeRemaining(t, tsp, false, timeout, start, err)
}

// selectFDTableSize stands for the size of Linux's descriptor table
// (max_fds), to which select clamps nfds: 64 slots, or enough for the
// highest open descriptor in multiples of 64.
func selectFDTableSize(t *kernel.Task) int {
	fds := t.FDTable().FDs()
	if len(fds) == 0 {
		return 64
	}
	return max(64, (fds[len(fds)-1]+64)/64*64)
}

// selectFD is one descriptor select watches.
type selectFD struct {
	fd int
	f  *vfs.FileDescription // nil for an O_PATH descriptor: never ready
	// in says which of the read, write and exceptional sets it is in.
	in [3]bool
}

// doSelect implements select and pselect6 for the fd_sets at addrs (read,
// write, exceptional; 0 for none).
func doSelect(t *kernel.Task, n int32, addrs [3]uintptr, timeout time.Duration, start time.Time) (int, error) {
	if n < 0 {
		return 0, unix.EINVAL
	}
	nfds := min(int(n), selectFDTableSize(t))
	words := (nfds + 63) / 64
	le := binary.LittleEndian
	buf := make([]byte, 8*words)
	var sets [3][]uint64
	for i, addr := range addrs {
		sets[i] = make([]uint64, words)
		if addr == 0 || words == 0 {
			continue
		}
		if _, err := t.CopyIn(addr, buf); err != nil {
			return 0, err
		}
		for w := range sets[i] {
			sets[i][w] = le.Uint64(buf[8*w:])
		}
		if nfds%64 != 0 {
			sets[i][words-1] &= 1<<(nfds%64) - 1
		}
	}

	var watched []selectFD
	var files []*vfs.FileDescription
	defer func() {
		for _, f := range files {
			f.DecRef()
		}
	}()
	var mask waiter.EventMask
	for w := 0; w < words; w++ {
		for all := sets[0][w] | sets[1][w] | sets[2][w]; all != 0; all &= all - 1 {
			b := bits.TrailingZeros64(all)
			s := selectFD{fd: w*64 + b}
			f, _ := t.FDTable().Get(s.fd)
			if f == nil {
				return 0, unix.EBADF
			}
			if f.IsPath() {
				// Open, so not EBADF, but Linux's select can't poll it.
				f.DecRef()
			} else {
				s.f = f
				files = append(files, f)
			}
			for i, m := range [3]waiter.EventMask{selectIn, selectOut, selectEx} {
				if sets[i][w]&(1<<b) != 0 {
					s.in[i] = true
					mask |= m
				}
			}
			watched = append(watched, s)
		}
	}

	var res [3][]uint64
	for i := range res {
		res[i] = make([]uint64, words)
	}
	scan := func() int {
		count := 0
		for i := range res {
			clear(res[i])
		}
		for _, s := range watched {
			if s.f == nil {
				continue
			}
			r := fileReadiness(s.f, selectIn|selectOut|selectEx)
			for i, m := range [3]waiter.EventMask{selectIn, selectOut, selectEx} {
				if s.in[i] && r&m != 0 {
					res[i][s.fd/64] |= 1 << (s.fd % 64)
					count++
				}
			}
		}
		return count
	}
	count, err := pollWait(t, files, mask, timeout, start, scan)
	if err != nil {
		// Interrupted: the sets are left as they were.
		return 0, err
	}
	for i, addr := range addrs {
		if addr == 0 || words == 0 {
			continue
		}
		for w, v := range res[i] {
			le.PutUint64(buf[8*w:], v)
		}
		if _, err := t.CopyOut(addr, buf); err != nil {
			return 0, unix.EFAULT
		}
	}
	return count, nil
}
