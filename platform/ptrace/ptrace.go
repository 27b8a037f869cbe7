package ptrace

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"palisade.dev/platform"
	"palisade.dev/sentry/arch"
)

// Platform is the ptrace platform. It implements platform.Platform.
type Platform struct {
	memfd    int
	cpus     []int         // CPUs this process may run on
	nextCPU  atomic.Uint32 // round-robin index into cpus
	master   *subprocess
	initRegs arch.Registers
	initFP   []byte
}

var _ platform.Platform = (*Platform)(nil)

// New starts the master stub. memfd is the memory file every address space
// maps from.
func New(memfd int) (*Platform, error) {
	p := &Platform{memfd: memfd}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil {
		for i := 0; i < 1024; i++ {
			if set.IsSet(i) {
				p.cpus = append(p.cpus, i)
			}
		}
	}
	stubFD, err := unix.MemfdCreate("palisade-stub", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("ptrace platform: memfd_create: %w", err)
	}
	defer unix.Close(stubFD)
	if _, err := unix.Write(stubFD, stubImage()); err != nil {
		return nil, fmt.Errorf("ptrace platform: write stub: %w", err)
	}
	master, err := newSubprocess(p, func() (*thread, error) { return p.startMaster(stubFD) })
	if err != nil {
		return nil, fmt.Errorf("ptrace platform: start master stub: %w", err)
	}
	p.master = master
	return p, nil
}

// startMaster execs the stub and prepares it. It runs on the master's owner
// goroutine, which is locked to its OS thread and becomes the tracer.
func (p *Platform) startMaster(stubFD int) (*thread, error) {
	// The stub must land at its fixed address without colliding with the
	// host's randomised initial stack. The persona sticks to this thread,
	// which is dedicated to the master.
	const addrNoRandomize = 0x0040000
	old, _, _ := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	unix.RawSyscall(unix.SYS_PERSONALITY, old|addrNoRandomize, 0, 0)

	none := ^uintptr(0)
	pid, err := syscall.ForkExec(fmt.Sprintf("/proc/self/fd/%d", stubFD), []string{"palisade-stub"}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{none, none, none, uintptr(p.memfd)},
		Sys:   &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return nil, fmt.Errorf("exec stub: %w", err)
	}
	t := &thread{tgid: int32(pid), tid: int32(pid), cpu: -1}
	ws, err := t.waitStopped()
	if err != nil {
		return nil, err
	}
	if ws.StopSignal() != unix.SIGTRAP {
		unix.Kill(pid, unix.SIGKILL)
		return nil, fmt.Errorf("stub after exec: %s", describeStatus(ws))
	}
	if err := ptrace(unix.PTRACE_SETOPTIONS, t.tid, 0, ptraceOptions); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return nil, fmt.Errorf("PTRACE_SETOPTIONS: %w", err)
	}
	if err := t.getRegs(&t.initRegs); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return nil, err
	}
	p.initRegs = t.initRegs
	buf := make([]byte, 64<<10)
	n, err := t.getFP(buf)
	if err != nil {
		unix.Kill(pid, unix.SIGKILL)
		return nil, fmt.Errorf("read initial FPU state: %w", err)
	}
	p.initFP = buf[:n:n]

	type setupCall struct {
		name string
		nr   uintptr
		args []uintptr
	}
	setup := []setupCall{
		{"munmap below stub", unix.SYS_MUNMAP, []uintptr{0, stubAddr}},
		{"munmap above stub", unix.SYS_MUNMAP, []uintptr{stubAddr + stubSize, hostTaskSize - stubAddr - stubSize}},
		{"name", unix.SYS_PRCTL, []uintptr{unix.PR_SET_NAME, stubAddr + nameOffset, 0, 0, 0}},
		{"ignore SIGCHLD", unix.SYS_RT_SIGACTION, []uintptr{uintptr(unix.SIGCHLD), stubAddr + sigactOffset, 0, 8}},
	}
	for _, sig := range faultSignals {
		setup = append(setup, setupCall{"fault handler", unix.SYS_RT_SIGACTION, []uintptr{uintptr(sig), stubAddr + faultActOffset, 0, 8}})
	}
	setup = append(setup,
		setupCall{"drop capabilities", unix.SYS_CAPSET, []uintptr{stubAddr + capHdrOffset, stubAddr + capDataOffset}},
		setupCall{"no_new_privs", unix.SYS_PRCTL, []uintptr{unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0}},
		setupCall{"seccomp filter", unix.SYS_SECCOMP, []uintptr{unix.SECCOMP_SET_MODE_FILTER, 0, stubAddr + fprogOffset}},
	)
	for _, s := range setup {
		if _, err := t.syscall(s.nr, s.args...); err != nil {
			unix.Kill(pid, unix.SIGKILL)
			return nil, fmt.Errorf("stub setup: %s: %w", s.name, err)
		}
	}
	return t, nil
}

// pinThread pins the calling OS thread, which must be locked and must end
// with its goroutine, to the next CPU in round-robin order, and returns it
// (-1 if pinning failed). Tracers are pinned so that each tracer and its stub
// threads share a CPU.
func (p *Platform) pinThread() int32 {
	if len(p.cpus) == 0 {
		return -1
	}
	cpu := p.cpus[int(p.nextCPU.Add(1))%len(p.cpus)]
	var set unix.CPUSet
	set.Set(cpu)
	if unix.SchedSetaffinity(0, &set) != nil {
		return -1
	}
	return int32(cpu)
}

// NewAddressSpace implements platform.Platform.NewAddressSpace: it forks a
// clean stub from the master.
func (p *Platform) NewAddressSpace() (platform.AddressSpace, error) {
	return newSubprocess(p, func() (*thread, error) {
		pid, err := p.master.cloneProcess()
		if err != nil {
			return nil, fmt.Errorf("fork stub: %w", err)
		}
		t, err := seize(pid, pid, &p.initRegs)
		if err != nil {
			unix.Kill(int(pid), unix.SIGKILL)
			return nil, err
		}
		return t, nil
	})
}

// NewContext implements platform.Platform.NewContext.
func (p *Platform) NewContext() platform.Context {
	return &context{p: p, threads: make(map[*subprocess]*thread)}
}

// MinUserAddress implements platform.Platform.MinUserAddress.
func (p *Platform) MinUserAddress() uintptr { return 0x10000 }

// MaxUserAddress implements platform.Platform.MaxUserAddress.
func (p *Platform) MaxUserAddress() uintptr { return stubAddr }

// FPStateSize implements platform.Platform.FPStateSize.
func (p *Platform) FPStateSize() int { return len(p.initFP) }

// context implements platform.Context.
type context struct {
	p *Platform

	// The fields below are used only by the goroutine that switches.
	tracer    int32 // OS thread id, fixed at first use
	cpu       int32 // CPU the tracer is pinned to
	cur       *subprocess
	curThread *thread
	threads   map[*subprocess]*thread

	interrupted atomic.Bool
	running     atomic.Pointer[thread]

	// faultSig is the host signal of the fault the last Switch returned,
	// still pending in the stopped thread (0 if none).
	faultSig int
}

// threadIn returns the calling OS thread's stub thread in s, creating it if
// needed.
func (c *context) threadIn(s *subprocess) (*thread, error) {
	if s == c.cur {
		return c.curThread, nil
	}
	if c.tracer == 0 {
		c.tracer = int32(unix.Gettid())
		c.cpu = c.p.pinThread()
	}
	c.prune()
	t := c.threads[s]
	if t == nil {
		var err error
		t, err = s.newThreadFor(c.tracer)
		if err != nil {
			return nil, err
		}
		c.threads[s] = t
	}
	c.cur, c.curThread = s, t
	return t, nil
}

// prune reaps this context's threads in released address spaces.
func (c *context) prune() {
	for s, t := range c.threads {
		s.mu.Lock()
		mine := s.released && s.threads[c.tracer] == t
		if mine {
			delete(s.threads, c.tracer)
		}
		released := s.released
		s.mu.Unlock()
		if mine {
			t.reap()
		}
		if released {
			delete(c.threads, s)
			if c.cur == s {
				c.cur, c.curThread = nil, nil
			}
		}
	}
}

// Switch implements platform.Context.Switch.
func (c *context) Switch(as platform.AddressSpace, ac *arch.Context) (platform.Event, *platform.Fault, error) {
	s := as.(*subprocess)
	t, err := c.threadIn(s)
	if err != nil {
		return 0, nil, err
	}
	if err := c.pushFP(t, ac); err != nil {
		return 0, nil, c.dead(s, t, err)
	}
	c.faultSig = 0
	regs := ac.Regs
	regs.Orig_rax = ^uint64(0) // restarts are the sentry's business
	if err := t.setRegs(&regs); err != nil {
		return 0, nil, c.dead(s, t, err)
	}

	t.bind(c.cpu)
	c.running.Store(t)
	if c.interrupted.Swap(false) {
		c.running.Store(nil)
		return platform.EventInterrupt, nil, nil
	}
	if err := ptrace(ptraceSysemu, t.tid, 0, 0); err != nil {
		c.running.Store(nil)
		return 0, nil, c.dead(s, t, err)
	}
	// A scheduler-aware wait: while the stub runs, this thread's P can
	// serve the sentry's other goroutines (a raw wait4 would hold it).
	ws, err := t.wait()
	c.running.Store(nil)
	if err != nil {
		return 0, nil, c.dead(s, t, err)
	}
	if !ws.Stopped() {
		return 0, nil, c.dead(s, t, fmt.Errorf("stub thread %d %s", t.tid, describeStatus(ws)))
	}
	if err := t.getRegs(&ac.Regs); err != nil {
		return 0, nil, c.dead(s, t, err)
	}
	ac.FP.Loaded = false

	sig := ws.StopSignal()
	if sig == unix.SIGTRAP|0x80 {
		return platform.EventSyscall, nil, nil
	}
	if ws.TrapCause() > 0 {
		return platform.EventInterrupt, nil, nil
	}
	si, err := t.getSiginfo()
	if err != nil {
		return 0, nil, c.dead(s, t, err)
	}
	var kind platform.FaultKind
	switch sig {
	case unix.SIGSEGV:
		kind = platform.FaultSegv
	case unix.SIGBUS:
		kind = platform.FaultBus
	case unix.SIGFPE:
		kind = platform.FaultFPE
	case unix.SIGILL:
		kind = platform.FaultIll
	case unix.SIGTRAP:
		kind = platform.FaultTrap
	default:
		return platform.EventInterrupt, nil, nil
	}
	if si.Code <= 0 {
		// Sent by someone (not raised by the CPU): not the app's fault.
		return platform.EventInterrupt, nil, nil
	}
	const segvAccErr = 2
	addr := uintptr(si.Fields[0])
	access := platform.ReadWrite
	if ip := uintptr(ac.Regs.Rip); addr >= ip && addr < ip+16 {
		// The fetch of the faulting instruction itself (which may
		// straddle into the next page).
		access = platform.AccessType{Execute: true}
	}
	c.faultSig = int(sig)
	return platform.EventFault, &platform.Fault{
		Kind:   kind,
		Signo:  int(sig),
		Code:   si.Code,
		Addr:   addr,
		Mapped: sig == unix.SIGSEGV && si.Code == segvAccErr,
		Access: access,
	}, nil
}

// dead forgets a thread that can no longer be used and wraps err.
func (c *context) dead(s *subprocess, t *thread, err error) error {
	delete(c.threads, s)
	s.forgetThread(c.tracer)
	c.cur, c.curThread = nil, nil
	return fmt.Errorf("%w: %v", platform.ErrContextDead, err)
}

func (c *context) pushFP(t *thread, ac *arch.Context) error {
	switch {
	case ac.FP.Init:
		if err := t.setFP(c.p.initFP); err != nil {
			return err
		}
		ac.FP.Init, ac.FP.Dirty, ac.FP.Loaded = false, false, false
	case ac.FP.Dirty:
		if err := t.setFP(ac.FP.Data); err != nil {
			return err
		}
		ac.FP.Dirty = false
	}
	return nil
}

// PullFPState implements platform.Context.PullFPState.
func (c *context) PullFPState(as platform.AddressSpace, ac *arch.Context) error {
	if ac.FP.Loaded {
		return nil
	}
	if ac.FP.Init {
		ac.FP.Data = append(ac.FP.Data[:0], c.p.initFP...)
		ac.FP.Init, ac.FP.Loaded, ac.FP.Dirty = false, true, true
		return nil
	}
	t, err := c.threadIn(as.(*subprocess))
	if err != nil {
		return err
	}
	if cap(ac.FP.Data) < len(c.p.initFP) {
		ac.FP.Data = make([]byte, len(c.p.initFP))
	}
	n, err := t.getFP(ac.FP.Data[:cap(ac.FP.Data)])
	if err != nil {
		return err
	}
	ac.FP.Data = ac.FP.Data[:n]
	ac.FP.Loaded = true
	return nil
}

// FaultDetails implements platform.Context.FaultDetails: the host
// delivers the pending fault signal to the stub's handler on the thread's
// alternate stack, and the handler's reporting system call stops it.
func (c *context) FaultDetails(as platform.AddressSpace, ac *arch.Context) (trapno, errCode, cr2 uint64, err error) {
	s := as.(*subprocess)
	if s != c.cur || c.faultSig == 0 || c.curThread.slot < 0 {
		return 0, 0, 0, fmt.Errorf("no fault to report")
	}
	t := c.curThread
	sig := c.faultSig
	c.faultSig = 0
	// The host resets the FPU for the handler: keep the application's.
	if err := c.PullFPState(as, ac); err != nil {
		return 0, 0, 0, err
	}
	if err := ptrace(ptraceSysemu, t.tid, 0, uintptr(sig)); err != nil {
		return 0, 0, 0, c.dead(s, t, err)
	}
	ws, err := t.wait()
	if err != nil {
		return 0, 0, 0, c.dead(s, t, err)
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP|0x80 {
		return 0, 0, 0, c.dead(s, t, fmt.Errorf("stub fault handler: %s", describeStatus(ws)))
	}
	var r arch.Registers
	if err := t.getRegs(&r); err != nil {
		return 0, 0, 0, c.dead(s, t, err)
	}
	if r.Orig_rax != faultReportSyscall {
		return 0, 0, 0, c.dead(s, t, fmt.Errorf("stub fault handler made syscall %d", r.Orig_rax))
	}
	// The application's FPU state goes back in at the next Switch.
	ac.FP.Dirty = true
	return r.Rsi, r.Rdi, r.Rdx, nil
}

// Interrupt implements platform.Context.Interrupt.
func (c *context) Interrupt() {
	c.interrupted.Store(true)
	if t := c.running.Load(); t != nil {
		unix.Tgkill(int(t.tgid), int(t.tid), interruptSignal)
	}
}

// Release implements platform.Context.Release: each of the context's stub
// threads exits.
//
// Preconditions: called on the goroutine that switched.
func (c *context) Release() {
	if len(c.threads) == 0 {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.prune()
	for s, t := range c.threads {
		s.forgetThread(c.tracer)
		t.exit()
		delete(c.threads, s)
	}
	c.cur, c.curThread = nil, nil
}
