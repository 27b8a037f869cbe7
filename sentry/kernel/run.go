package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/arch"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/strace"
)

// start runs the task goroutine.
func (t *Task) start() {
	go t.run()
}

// run is the task goroutine: handle signals, run the application until it
// stops, handle what it stopped for; until the task is killed or exits.
func (t *Task) run() {
	// Never unlocked: the platform binds stub threads to this OS thread,
	// and Go ends the thread when the goroutine returns.
	runtime.LockOSThread()
	sysStart := time.Now()
	for {
		t.handleSignals()
		if t.killed.Load() {
			break
		}
		t.sysNS.Add(int64(time.Since(sysStart)))
		appStart := time.Now()
		ev, fault, err := t.pctx.Switch(t.mm.AddressSpace(), &t.arch)
		sysStart = time.Now()
		t.userNS.Add(int64(sysStart.Sub(appStart)))
		if err != nil {
			t.k.Log.Error("platform failure: killing thread group", "tid", t.tid, "err", err)
			t.tg.killGroup(SignaledStatus(SIGKILL, false))
			break
		}
		switch ev {
		case platform.EventSyscall:
			t.doSyscall()
		case platform.EventFault:
			t.handleFault(fault)
		case platform.EventInterrupt:
			// Signals are looked at on the next iteration.
		}
	}
	t.sysNS.Add(int64(time.Since(sysStart)))
	t.exit()
}

// doSyscall runs the system call the task just made.
func (t *Task) doSyscall() {
	sysno := t.arch.SyscallNo()
	args := t.arch.SyscallArgs()
	// A stale interruption from an earlier wait must not cut this call
	// short; anything that still needs attention is pending state.
	select {
	case <-t.interruptCh:
	default:
	}
	entry := t.k.Syscalls.Lookup(sysno)
	var ret uintptr
	var err error
	if sysno == unix.SYS_RESTART_SYSCALL {
		ret, err = t.restartSyscall()
	} else if entry == nil || entry.Fn == nil {
		name, probe := "", false
		if entry != nil {
			name, probe = entry.Name, entry.Probe
		}
		t.k.LogUnimplemented(t, sysno, name, probe)
		err = unix.ENOSYS
	} else {
		ret, err = entry.Fn(t, args)
	}
	if t.k.Strace {
		t.straceLog(sysno, entry, args, ret, err)
	}
	t.restartErr = nil
	switch {
	case err == nil:
		t.arch.SetReturn(ret)
	case err == ErrNoReturn, err == errExit:
	case isRestartErr(err):
		// Decided by handleSignals: restart, or EINTR if a handler runs.
		t.restartErr = err
		t.arch.SetReturn(uintptr(-int64(linux.ToErrno(err))))
	default:
		t.arch.SetReturn(uintptr(-int64(linux.ToErrno(err))))
	}
	if t.restartErr == nil {
		t.restoreSyscallSignalMask()
	}
}

func isRestartErr(err error) bool {
	var e linux.Errno
	if !errors.As(err, &e) {
		return false
	}
	switch e {
	case linux.ERESTARTSYS, linux.ERESTARTNOINTR, linux.ERESTARTNOHAND, linux.ERESTART_RESTARTBLOCK:
		return true
	}
	return false
}

// syscallRestartFixup applies Linux's restart rules to an interrupted
// system call once it is known whether a handler (with action act) runs
// (handler false: none ran, the call restarts).
func (t *Task) syscallRestartFixup(handler bool, act *SigAction) {
	err := t.restartErr
	if err == nil {
		return
	}
	t.restartErr = nil
	e := linux.ToErrno(err)
	restart := !handler
	if handler {
		switch e {
		case linux.ERESTARTNOINTR:
			restart = true
		case linux.ERESTARTSYS:
			restart = act.Flags&saRestart != 0
		}
	}
	if !restart {
		eintr := linux.Errno(unix.EINTR)
		t.arch.SetReturn(uintptr(-int64(eintr)))
		t.restartFn = nil
		return
	}
	// Back up over the 2-byte syscall instruction to make the call again.
	t.arch.Regs.Rip -= 2
	if e == linux.ERESTART_RESTARTBLOCK {
		t.arch.Regs.Rax = unix.SYS_RESTART_SYSCALL
	} else {
		t.arch.Regs.Rax = t.arch.Regs.Orig_rax
		t.restartFn = nil
	}
}

// SetRestartFn arranges for an interrupted system call that returns
// ERESTART_RESTARTBLOCK to continue through restart_syscall(2) with fn.
func (t *Task) SetRestartFn(fn func(t *Task) (uintptr, error)) { t.restartFn = fn }

func (t *Task) restartSyscall() (uintptr, error) {
	fn := t.restartFn
	t.restartFn = nil
	if fn == nil {
		return 0, unix.EINTR
	}
	return fn(t)
}

func (t *Task) straceLog(sysno uintptr, entry *Syscall, args arch.SyscallArguments, ret uintptr, err error) {
	name := fmt.Sprintf("syscall_%d", sysno)
	var kinds []strace.Arg
	if entry != nil {
		name, kinds = entry.Name, entry.Args
	}
	var raw [6]uintptr
	for i := range raw {
		raw[i] = args[i].Value
	}
	var res string
	switch err {
	case ErrNoReturn, errExit:
		res = "?"
	default:
		res = strace.FormatResult(ret, linux.ToErrno(err))
	}
	var argStr string
	if t.mm != nil && err != ErrNoReturn && err != errExit {
		argStr = strace.FormatArgs(t.mm, kinds, raw, ret, err != nil)
	} else {
		for i, v := range raw[:len(kinds)] {
			if i > 0 {
				argStr += ", "
			}
			argStr += fmt.Sprintf("%#x", v)
		}
	}
	t.k.Log.Info(fmt.Sprintf("[%4d] %s(%s) = %s", t.tid, name, argStr, res))
}

// x86 exception vectors reported as sigcontext trapno.
const (
	trapDivide    = 0
	trapBreak     = 3
	trapInvalidOp = 6
	trapGP        = 13
	trapPageFault = 14
)

// handleFault resolves a fault or turns it into the signal Linux sends,
// recording the trap (vector, error code, address) that signal frames
// report from now on.
func (t *Task) handleFault(f *platform.Fault) {
	const siKernel = 0x80
	info := &SigInfo{Signo: int32(f.Signo), Code: f.Code, Addr: uint64(f.Addr)}
	trap := arch.TrapInfo{}
	switch f.Kind {
	case platform.FaultSegv:
		if f.Code == siKernel {
			// A general protection fault: no address.
			info.Addr = 0
			trap = arch.TrapInfo{TrapNo: trapGP}
			break
		}
		err := t.mm.HandleFault(f.Addr, f.Mapped)
		if err == nil {
			return
		}
		var fe *mm.FaultError
		if errors.As(err, &fe) {
			info = &SigInfo{Signo: int32(fe.Signo), Code: fe.Code, Addr: uint64(fe.Addr)}
		}
		trap = arch.PageFaultTrap(uint64(f.Addr), t.pageFaultErr(f))
	case platform.FaultBus:
		trap = arch.PageFaultTrap(uint64(f.Addr), t.pageFaultErr(f))
	case platform.FaultFPE:
		info.Addr = uint64(t.arch.IP())
		trap = arch.TrapInfo{TrapNo: trapDivide}
	case platform.FaultIll:
		info.Addr = uint64(t.arch.IP())
		trap = arch.TrapInfo{TrapNo: trapInvalidOp}
	case platform.FaultTrap:
		info.Addr = 0
		trap = arch.TrapInfo{TrapNo: trapBreak}
	}
	// The hardware's own account of the fault, when the platform can get
	// it, replaces the reconstruction above.
	if trapno, code, cr2, err := t.pctx.FaultDetails(t.mm.AddressSpace(), &t.arch); err == nil {
		trap = arch.TrapInfo{TrapNo: trapno, ErrorCode: code, CR2: cr2}
	}
	t.lastTrap = trap
	if t.k.Log.Enabled(t, slog.LevelDebug) {
		var b strings.Builder
		for _, v := range t.mm.VMAs() {
			fmt.Fprintf(&b, "%#x-%#x %s off=%#x %s\n", v.Start, v.End, v.Perms, v.Offset, v.Hint)
		}
		t.k.Log.Debug("fault becomes a signal", "tid", t.tid, "comm", t.Comm(), "signal", info.Signo,
			"code", info.Code, "addr", fmt.Sprintf("%#x", info.Addr), "ip", fmt.Sprintf("%#x", t.arch.IP()),
			"maps", b.String())
	}
	t.forceSignal(info)
}

// pageFaultErr reconstructs the x86 page fault error code as far as
// ptrace lets it be known: always user mode; present for an access error;
// an instruction fetch when the address is the instruction pointer's; a
// write for an access error on a readable page (a read would not have
// faulted); otherwise a read.
func (t *Task) pageFaultErr(f *platform.Fault) uint64 {
	const (
		pfPresent = 1
		pfWrite   = 2
		pfUser    = 4
		pfInstr   = 16
	)
	e := uint64(pfUser)
	if f.Mapped {
		e |= pfPresent
	}
	switch {
	case f.Access.Execute:
		e |= pfInstr
	case f.Mapped:
		if perms, ok := t.mm.PermsAt(f.Addr); ok && perms.Read {
			e |= pfWrite
		}
	}
	return e
}
