package ptrace

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"palisade.dev/sentry/arch"
)

// ptrace requests and constants not all of which x/sys/unix names.
const (
	ptraceSysemu    = 31
	ptraceGetRegset = 0x4204
	ptraceSetRegset = 0x4205
	ptraceSeize     = 0x4206
	ptraceInterrupt = 0x4207

	ntX86XState = 0x202

	ptraceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL

	siKernel = 0x80
	siTkill  = -6
)

// interruptSignal is sent with tgkill to a running stub thread to make
// Switch return. Stubs ignore SIGCHLD, so even an untraced stub survives it.
const interruptSignal = unix.SIGCHLD

// thread is one host thread of a stub process, traced by one host thread
// of the sentry. All methods must be called on the tracer's OS thread.
type thread struct {
	tgid int32
	tid  int32
	// initRegs holds valid segment registers and flags to inject system
	// calls with.
	initRegs arch.Registers
	// cpu is the host CPU the thread is bound to, or -1.
	cpu int32
	// slot is the thread's alternate signal stack slot, or -1.
	slot int
}

// bind pins the stub thread to cpu, the CPU its tracer is pinned to. A stop
// then wakes the tracer on the same CPU, which costs a fraction of a
// cross-CPU wakeup (in VMs especially, where an IPI is expensive).
func (t *thread) bind(cpu int32) {
	if cpu == t.cpu || cpu < 0 {
		return
	}
	var set unix.CPUSet
	set.Set(int(cpu))
	if unix.SchedSetaffinity(int(t.tid), &set) == nil {
		t.cpu = cpu
	}
}

func ptrace(req int, tid int32, addr, data uintptr) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func (t *thread) getRegs(r *arch.Registers) error {
	return ptrace(unix.PTRACE_GETREGS, t.tid, 0, uintptr(unsafe.Pointer(r)))
}

func (t *thread) setRegs(r *arch.Registers) error {
	return ptrace(unix.PTRACE_SETREGS, t.tid, 0, uintptr(unsafe.Pointer(r)))
}

func (t *thread) getFP(buf []byte) (int, error) {
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	err := ptrace(ptraceGetRegset, t.tid, ntX86XState, uintptr(unsafe.Pointer(&iov)))
	return int(iov.Len), err
}

func (t *thread) setFP(buf []byte) error {
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	return ptrace(ptraceSetRegset, t.tid, ntX86XState, uintptr(unsafe.Pointer(&iov)))
}

// siginfo is the part of siginfo_t the platform reads.
type siginfo struct {
	Signo int32
	Errno int32
	Code  int32
	_     int32
	// For SIGSEGV and friends the first union word is si_addr; for
	// kill-style signals it is si_pid then si_uid.
	Fields [14]uint64
}

func (t *thread) getSiginfo() (siginfo, error) {
	var si siginfo
	err := ptrace(unix.PTRACE_GETSIGINFO, t.tid, 0, uintptr(unsafe.Pointer(&si)))
	return si, err
}

// wait blocks until the thread changes state.
func (t *thread) wait() (unix.WaitStatus, error) {
	for {
		var ws unix.WaitStatus
		_, err := unix.Wait4(int(t.tid), &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("wait4(%d): %w", t.tid, err)
		}
		return ws, nil
	}
}

// waitStopped waits for a stop and returns its status. It fails if the
// thread exited.
func (t *thread) waitStopped() (unix.WaitStatus, error) {
	ws, err := t.wait()
	if err != nil {
		return ws, err
	}
	if !ws.Stopped() {
		return ws, fmt.Errorf("stub thread %d: not stopped: %s", t.tid, describeStatus(ws))
	}
	return ws, nil
}

func describeStatus(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exited with %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("killed by %v", ws.Signal())
	case ws.Stopped():
		return fmt.Sprintf("stopped by %v (event %d)", ws.StopSignal(), ws.TrapCause())
	}
	return fmt.Sprintf("status %#x", uint32(ws))
}

// seize attaches to tid (which is running the stub's pause loop) and
// stops it. It must be called on the OS thread that will trace it.
func seize(tgid, tid int32, initRegs *arch.Registers) (*thread, error) {
	t := &thread{tgid: tgid, tid: tid, initRegs: *initRegs, cpu: -1, slot: -1}
	if err := ptrace(ptraceSeize, tid, 0, ptraceOptions); err != nil {
		return nil, fmt.Errorf("PTRACE_SEIZE %d: %w", tid, err)
	}
	if err := ptrace(ptraceInterrupt, tid, 0, 0); err != nil {
		return nil, fmt.Errorf("PTRACE_INTERRUPT %d: %w", tid, err)
	}
	for {
		ws, err := t.waitStopped()
		if err != nil {
			return nil, err
		}
		if ws.TrapCause() == unix.PTRACE_EVENT_STOP {
			return t, nil
		}
		// A signal arrived first (e.g. an interrupt); drop it and wait
		// for the interrupt stop.
		if err := ptrace(unix.PTRACE_CONT, tid, 0, 0); err != nil {
			return nil, err
		}
	}
}

// syscall injects a system call into the stopped thread and returns its
// result. The thread's registers are clobbered.
func (t *thread) syscall(sysno uintptr, args ...uintptr) (uintptr, error) {
	return t.syscallAt(injectAddr, sysno, args...)
}

func (t *thread) syscallAt(ip uintptr, sysno uintptr, args ...uintptr) (uintptr, error) {
	r := t.initRegs
	r.Rip = uint64(ip)
	r.Rax = uint64(sysno)
	r.Orig_rax = ^uint64(0)
	var a [6]uint64
	for i, v := range args {
		a[i] = uint64(v)
	}
	r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9 = a[0], a[1], a[2], a[3], a[4], a[5]
	if err := t.setRegs(&r); err != nil {
		return 0, fmt.Errorf("inject %d: PTRACE_SETREGS: %w", sysno, err)
	}
	if err := ptrace(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
		return 0, fmt.Errorf("inject %d: PTRACE_CONT: %w", sysno, err)
	}
	for {
		ws, err := t.waitStopped()
		if err != nil {
			return 0, fmt.Errorf("inject %d: %w", sysno, err)
		}
		if ws.StopSignal() == unix.SIGTRAP && ws.TrapCause() <= 0 {
			si, err := t.getSiginfo()
			if err == nil && si.Code == siKernel {
				break // the int3 after the syscall
			}
		}
		// Anything else (an interrupt signal, SIGCHLD from a dead child
		// stub, an interrupt stop) is dropped; the injected call goes on.
		if err := ptrace(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
			return 0, err
		}
	}
	if err := t.getRegs(&r); err != nil {
		return 0, err
	}
	if v := int64(r.Rax); v < 0 && v > -4096 {
		return 0, syscall.Errno(-v)
	}
	return uintptr(r.Rax), nil
}

// setupAltStack gives the thread the alternate signal stack in slot, on
// which the host runs the stub's fault handler.
func (t *thread) setupAltStack(slot int) error {
	base := uintptr(altStackBase + slot*altSlotSize)
	if _, err := t.syscall(unix.SYS_MMAP, base, altSlotSize, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED, ^uintptr(0), 0); err != nil {
		return fmt.Errorf("map signal stack: %w", err)
	}
	// stack_t at the bottom of the slot: the stack is the rest.
	for i, w := range []uint64{uint64(base) + 4096, 0, altSlotSize - 4096} {
		if err := ptrace(unix.PTRACE_POKEDATA, t.tid, base+uintptr(8*i), uintptr(w)); err != nil {
			return fmt.Errorf("write stack_t: %w", err)
		}
	}
	if _, err := t.syscall(unix.SYS_SIGALTSTACK, base, 0); err != nil {
		return fmt.Errorf("sigaltstack: %w", err)
	}
	t.slot = slot
	return nil
}

// exit makes the thread exit (exit(2) of one thread) and reaps it.
func (t *thread) exit() {
	r := t.initRegs
	r.Rip = injectAddr
	r.Rax = unix.SYS_EXIT
	r.Orig_rax = ^uint64(0)
	r.Rdi = 0
	if t.setRegs(&r) != nil || ptrace(unix.PTRACE_CONT, t.tid, 0, 0) != nil {
		unix.Tgkill(int(t.tgid), int(t.tid), unix.SIGKILL)
	}
	t.reap()
}

// reap waits until the thread is gone.
func (t *thread) reap() {
	for {
		ws, err := t.wait()
		if err != nil || ws.Exited() || ws.Signaled() {
			return
		}
		// Still stopped (e.g. a signal raced with the kill): let it go on
		// to its death.
		ptrace(unix.PTRACE_CONT, t.tid, 0, 0)
	}
}
