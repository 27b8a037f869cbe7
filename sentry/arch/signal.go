package arch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Flags of SignalAct.Flags (sa_flags) that decide how a frame is built.
const (
	SASigInfo  = 0x00000004
	SAOnStack  = 0x08000000
	SARestorer = 0x04000000
)

// Flags of SignalStack.Flags (ss_flags).
const (
	SSOnStack    = 1
	SSDisable    = 2
	SSAutoDisarm = 1 << 31
)

// ucontext uc_flags bits.
const (
	ucFPXstate        = 0x1
	ucSigcontextSS    = 0x2
	ucStrictRestoreSS = 0x4
)

// rflags bits.
const (
	eflagsCF = 1 << 0
	eflagsPF = 1 << 2
	eflagsAF = 1 << 4
	eflagsZF = 1 << 6
	eflagsSF = 1 << 7
	eflagsTF = 1 << 8
	eflagsDF = 1 << 10
	eflagsOF = 1 << 11
	eflagsRF = 1 << 16
	eflagsAC = 1 << 18

	// eflagsRestorable are the bits rt_sigreturn takes from the frame
	// (Linux's FIX_EFLAGS on x86-64); the others keep their current value.
	eflagsRestorable = eflagsAC | eflagsOF | eflagsDF | eflagsTF | eflagsSF |
		eflagsZF | eflagsAF | eflagsPF | eflagsCF | eflagsRF
)

// Layout of struct rt_sigframe on x86-64:
//
//	0    char *pretcode             (the handler's return address)
//	8    struct ucontext uc:
//	8      unsigned long uc_flags
//	16     struct ucontext *uc_link
//	24     stack_t uc_stack          (ss_sp 24, ss_flags 32, ss_size 40)
//	48     struct sigcontext uc_mcontext (256 bytes)
//	304    sigset_t uc_sigmask
//	312  siginfo_t info             (128 bytes)
//	440  end; the FP state is placed above, 64-byte aligned.
const (
	rtSigframeSize = 440

	frameOffPretcode = 0
	frameOffUC       = 8
	frameOffInfo     = 312

	// Offsets within struct ucontext.
	ucOffFlags    = 0
	ucOffLink     = 8
	ucOffStackSP  = 16
	ucOffStackFl  = 24
	ucOffStackSz  = 32
	ucOffMcontext = 40
	ucOffSigmask  = 296
	ucSize        = 304

	// Offsets within struct sigcontext.
	scOffR8      = 0
	scOffR9      = 8
	scOffR10     = 16
	scOffR11     = 24
	scOffR12     = 32
	scOffR13     = 40
	scOffR14     = 48
	scOffR15     = 56
	scOffRDI     = 64
	scOffRSI     = 72
	scOffRBP     = 80
	scOffRBX     = 88
	scOffRDX     = 96
	scOffRAX     = 104
	scOffRCX     = 112
	scOffRSP     = 120
	scOffRIP     = 128
	scOffEflags  = 136
	scOffCS      = 144
	scOffGS      = 146
	scOffFS      = 148
	scOffSS      = 150
	scOffErr     = 152
	scOffTrapno  = 160
	scOffOldmask = 168
	scOffCR2     = 176
	scOffFPState = 184
	// scCopySize is how much of the sigcontext rt_sigreturn reads: all
	// but reserved1[8].
	scCopySize = 192

	// redZoneSize is the part of the stack below rsp that the x86-64 ABI
	// lets leaf functions use, which a frame on the same stack skips.
	redZoneSize = 128
)

// SignalAct is a signal's disposition as the x86-64 kernel's struct
// sigaction holds it.
type SignalAct struct {
	Handler  uint64
	Flags    uint64
	Restorer uint64
	Mask     uint64
}

// SignalStack is stack_t: a thread's alternate signal stack as
// sigaltstack(2) stored it (Flags as the application passed them: 0,
// SSAutoDisarm, or SSDisable with SP and Size zero).
type SignalStack struct {
	SP    uint64
	Flags uint32
	Size  uint64
}

// Contains reports whether a stack pointer sp lies on the stack (Linux's
// __on_sig_stack): the stack grows down from SP+Size, so SP+Size is on it
// and SP is not.
func (s *SignalStack) Contains(sp uint64) bool {
	return sp > s.SP && sp-s.SP <= s.Size
}

// OnStack reports whether a thread whose stack pointer is sp is running on
// the stack, as Linux's on_sig_stack: never when SSAutoDisarm is set,
// since such a stack is disarmed while a handler runs on it.
func (s *SignalStack) OnStack(sp uint64) bool {
	return s.Flags&SSAutoDisarm == 0 && s.Contains(sp)
}

// Memory is how signal frames are read from and written to the
// application's memory. Both methods return the number of bytes copied
// and an error if they could not copy everything.
type Memory interface {
	CopyIn(addr uintptr, dst []byte) (int, error)
	CopyOut(addr uintptr, src []byte) (int, error)
}

// TrapInfo is what Linux keeps of a thread's last hardware exception
// (thread.trap_nr, error_code and cr2) and reports in every signal frame's
// sigcontext trapno, err and cr2, until the next exception replaces it.
type TrapInfo struct {
	TrapNo    uint64
	ErrorCode uint64
	CR2       uint64
}

// x86 exception vectors, for TrapInfo.TrapNo.
const (
	TrapDivideError   = 0
	TrapDebug         = 1
	TrapBreakpoint    = 3
	TrapOverflow      = 4
	TrapBounds        = 5
	TrapInvalidOpcode = 6
	TrapStackSegment  = 12
	TrapGP            = 13
	TrapPF            = 14
	TrapMF            = 16
	TrapAC            = 17
	TrapXF            = 19
)

// Page fault error code bits, for PageFaultTrap.
const (
	PFProt  = 1 << 0 // the page was present (a protection violation)
	PFWrite = 1 << 1 // the access was a write
	PFUser  = 1 << 2 // the access came from user mode
	PFRsvd  = 1 << 3 // a reserved bit was set in a page table entry
	PFInstr = 1 << 4 // the access was an instruction fetch
	PFPK    = 1 << 5 // a protection key forbade the access
)

// taskSizeMax is the end of the x86-64 user address space (4-level paging).
const taskSizeMax = 0x00007ffffffff000

// PageFaultTrap returns the TrapInfo that Linux records when a user-mode
// page fault at addr with the hardware error code errorCode becomes a
// signal: vector 14, the error code with PFUser set, and cr2 = addr. Faults
// on kernel addresses always read as protection violations, as Linux
// reports them so as not to reveal the kernel's page tables.
func PageFaultTrap(addr, errorCode uint64) TrapInfo {
	errorCode |= PFUser
	if addr >= taskSizeMax {
		errorCode |= PFProt
	}
	return TrapInfo{TrapNo: TrapPF, ErrorCode: errorCode, CR2: addr}
}

// Errors SignalSetup returns. Linux responds to each by forcing SIGSEGV.
var (
	// ErrNoRestorer: x86-64 handlers must be installed with SA_RESTORER.
	ErrNoRestorer = errors.New("signal handler installed without SA_RESTORER")
	// ErrSignalStackOverflow: the frame does not fit on the alternate
	// signal stack the thread is on or is switching to.
	ErrSignalStackOverflow = errors.New("signal frame overflows the alternate signal stack")
	// ErrNoXSave: the machine lacks XSAVE, which frames are built around.
	ErrNoXSave = errors.New("signal frames need XSAVE")
)

// le is the byte order of every structure here.
var le = binary.LittleEndian

// SignalSetup delivers a signal to the handler act: it builds an x86-64
// rt_sigframe as Linux does and sets the registers to enter the handler.
//
// The frame goes on the alternate stack alt when act has SAOnStack and
// alt is enabled and not already in use (alt may be nil: no alternate
// stack), otherwise on the current stack below its 128-byte red zone. It
// holds the return address act.Restorer, a ucontext with the registers
// and uc_sigmask = oldMask, the siginfo (only when act has SASigInfo; as
// in Linux the bytes are left alone otherwise), and the XSAVE state with
// the software bytes and magic Linux adds. trap (nil for none) supplies
// sigcontext trapno, err and cr2; see TrapInfo.
//
// On return the handler is entered with rip = handler, rdi = signal
// number, rsi = &info, rdx = &ucontext, rax = 0, rsp = the frame
// ((rsp+8)%16 == 0, as after a call), cs = the 64-bit user code segment,
// DF, RF and TF clear, and the FP state reset to its initial value
// (c.FP.Init set), as Linux starts handlers.
//
// The bytes of the frame that Linux does not write (padding, sigcontext
// reserved1, siginfo without SASigInfo, the reserved parts of the XSAVE
// area and components that are not saved) keep their previous contents:
// the frame's memory is read, updated and written back.
//
// On error c is unchanged and Linux would force SIGSEGV. Memory is
// untouched too, except when the stack is readable but not writable and
// the write stopped part way, as Linux's would. The caller is left to do what Linux does after a frame is set
// up: block act.Mask and (unless SA_NODEFER) the signal, reset the
// alternate stack if it has SSAutoDisarm, and handle SA_RESETHAND.
//
// Preconditions: c.FP.Loaded; info != nil.
func (c *Context) SignalSetup(mem Memory, act *SignalAct, info *SignalInfo, alt *SignalStack, oldMask uint64, trap *TrapInfo) error {
	return c.signalSetup(hostXSave(), mem, act, info, alt, oldMask, trap)
}

func (c *Context) signalSetup(l *xsaveLayout, mem Memory, act *SignalAct, info *SignalInfo, alt *SignalStack, oldMask uint64, trap *TrapInfo) error {
	if act.Flags&SARestorer == 0 {
		return ErrNoRestorer
	}
	if !l.xsave {
		return ErrNoXSave
	}
	if !c.FP.Loaded {
		return errors.New("arch: SignalSetup needs the FP state loaded")
	}
	stack := SignalStack{Flags: SSDisable}
	if alt != nil {
		stack = *alt
	}
	var ti TrapInfo
	if trap != nil {
		ti = *trap
	}

	// Choose the stack and lay out the frame (Linux's get_sigframe).
	sp := c.Regs.Rsp
	nested := stack.OnStack(sp)
	entering := false
	sp -= redZoneSize
	if act.Flags&SAOnStack != 0 && stack.Size != 0 && !stack.OnStack(sp) {
		sp = stack.SP + stack.Size
		entering = true
	}
	fpSize := uint64(l.size) + fpXstateMagic2Size
	fpAddr := (sp - fpSize) &^ 63
	frame := (fpAddr-rtSigframeSize)&^15 - 8
	if (nested || entering) && !stack.Contains(frame) {
		return fmt.Errorf("%w: frame at %#x, stack %#x size %#x", ErrSignalStackOverflow, frame, stack.SP, stack.Size)
	}

	buf := make([]byte, fpAddr+fpSize-frame)
	if _, err := mem.CopyIn(uintptr(frame), buf); err != nil {
		return fmt.Errorf("signal frame at %#x: %w", frame, err)
	}
	c.putFPFrame(l, buf[fpAddr-frame:])

	f := buf[:rtSigframeSize]
	le.PutUint64(f[frameOffPretcode:], act.Restorer)
	uc := f[frameOffUC:]
	flags := uint64(ucFPXstate | ucSigcontextSS)
	if c.Regs.Cs == userCS {
		flags |= ucStrictRestoreSS
	}
	le.PutUint64(uc[ucOffFlags:], flags)
	le.PutUint64(uc[ucOffLink:], 0)
	le.PutUint64(uc[ucOffStackSP:], stack.SP)
	le.PutUint32(uc[ucOffStackFl:], stack.Flags)
	le.PutUint64(uc[ucOffStackSz:], stack.Size)
	c.putSigcontext(uc[ucOffMcontext:], fpAddr, oldMask, &ti)
	le.PutUint64(uc[ucOffSigmask:], oldMask)
	if act.Flags&SASigInfo != 0 {
		info.MarshalTo(f[frameOffInfo:])
	}
	if _, err := mem.CopyOut(uintptr(frame), buf); err != nil {
		return fmt.Errorf("signal frame at %#x: %w", frame, err)
	}

	c.Regs.Rdi = uint64(info.Signo)
	c.Regs.Rax = 0
	c.Regs.Rsi = frame + frameOffInfo
	c.Regs.Rdx = frame + frameOffUC
	c.Regs.Rip = act.Handler
	c.Regs.Rsp = frame
	c.Regs.Cs = userCS
	if c.Regs.Ss != userDS {
		// Linux keeps a valid SS and replaces an invalid one; the
		// user data segment is the only valid one the sentry offers.
		c.Regs.Ss = userDS
	}
	c.Regs.Eflags &^= eflagsDF | eflagsRF | eflagsTF
	c.FP.Reset()
	return nil
}

// putSigcontext writes struct sigcontext for the current registers into
// sc, except reserved1, which Linux leaves alone.
func (c *Context) putSigcontext(sc []byte, fpstate, oldMask uint64, ti *TrapInfo) {
	r := &c.Regs
	for _, f := range [...]struct {
		off int
		v   uint64
	}{
		{scOffR8, r.R8}, {scOffR9, r.R9}, {scOffR10, r.R10}, {scOffR11, r.R11},
		{scOffR12, r.R12}, {scOffR13, r.R13}, {scOffR14, r.R14}, {scOffR15, r.R15},
		{scOffRDI, r.Rdi}, {scOffRSI, r.Rsi}, {scOffRBP, r.Rbp}, {scOffRBX, r.Rbx},
		{scOffRDX, r.Rdx}, {scOffRAX, r.Rax}, {scOffRCX, r.Rcx}, {scOffRSP, r.Rsp},
		{scOffRIP, r.Rip}, {scOffEflags, r.Eflags},
		{scOffErr, ti.ErrorCode}, {scOffTrapno, ti.TrapNo}, {scOffOldmask, oldMask},
		{scOffCR2, ti.CR2}, {scOffFPState, fpstate},
	} {
		le.PutUint64(sc[f.off:], f.v)
	}
	le.PutUint16(sc[scOffCS:], uint16(r.Cs))
	le.PutUint16(sc[scOffGS:], 0)
	le.PutUint16(sc[scOffFS:], 0)
	le.PutUint16(sc[scOffSS:], uint16(r.Ss))
}

// putFPFrame writes the FP state into fp, the frame's FP area (l.size bytes
// of XSAVE area and the trailing magic), as Linux's XSAVE to the frame and
// save_xstate_epilog leave it: the legacy region and the saved components
// from c.FP.Data, a cleared header whose XSTATE_BV has x87 and SSE set, the
// software bytes, and FP_XSTATE_MAGIC2 after the area. The legacy region's
// reserved bytes and components that are not saved are left alone.
func (c *Context) putFPFrame(l *xsaveLayout, fp []byte) {
	data := c.FP.Data
	from := func(dst []byte, off uint32) {
		n := 0
		if int(off) < len(data) {
			n = copy(dst, data[off:])
		}
		clear(dst[n:])
	}

	dataBV := uint64(xfeatureMaskFPSSE)
	if len(data) >= fxsaveSize+8 {
		dataBV = le.Uint64(data[fxsaveSize+hdrOffXstateBV:])
	}
	// XSAVE saves the requested components (with dynamic features, Linux
	// skips the "init-optimisable" ones that are not in use) and sets
	// their XSTATE_BV bits from the in-use state.
	rfbm := l.features
	if l.initOpt != 0 {
		rfbm &= dataBV | ^l.initOpt
	}
	bv := dataBV & rfbm
	if l.features&(1<<xfeaturePKRU) != 0 {
		// Linux writes PKRU into the frame itself and marks it in use.
		bv |= 1 << xfeaturePKRU
	}
	bv |= xfeatureMaskFPSSE

	from(fp[:fxOffReserved], 0)
	for i := 2; i < 63; i++ {
		if rfbm&(1<<i) != 0 {
			ci := l.comp[i]
			from(fp[ci.offset:ci.offset+ci.size], ci.offset)
		}
	}
	sw := fp[fxOffSW : fxOffSW+swBytesSize]
	clear(sw)
	le.PutUint32(sw[swOffMagic1:], fpXstateMagic1)
	le.PutUint32(sw[swOffExtendedSize:], l.size+fpXstateMagic2Size)
	le.PutUint64(sw[swOffXfeatures:], l.features)
	le.PutUint32(sw[swOffXstateSize:], l.size)
	hdr := fp[fxsaveSize:xsaveMinSize]
	clear(hdr)
	le.PutUint64(hdr[hdrOffXstateBV:], bv)
	le.PutUint32(fp[l.size:], fpXstateMagic2)
}

// SigreturnError is the error SignalRestore returns for a frame that
// Linux's rt_sigreturn rejects, which it answers by forcing SIGSEGV.
type SigreturnError struct {
	// Addr is the frame's address.
	Addr uint64
	// MaskRestored is true when Linux had already installed the frame's
	// signal mask (returned alongside the error) and the general
	// registers (now in the Context) before it found the frame bad.
	MaskRestored bool
	// Err says what was wrong.
	Err error
}

func (e *SigreturnError) Error() string {
	return fmt.Sprintf("rt_sigreturn frame at %#x: %v", e.Addr, e.Err)
}

func (e *SigreturnError) Unwrap() error { return e.Err }

// errXRSTOR stands for the #GP that XRSTOR or FXRSTOR raises on a bad
// XSAVE area.
var errXRSTOR = errors.New("FP state rejected")

// SignalRestore implements rt_sigreturn(2): it reads the frame SignalSetup
// built, whose return address the handler's ret has popped (rsp points
// just past it), and restores the thread's state from the frame's ucontext
// as Linux does:
//
//   - all general registers, rip and rsp; cs and ss with the requested
//     privilege level forced to 3; only the arithmetic flags, DF, TF, AC
//     and RF from the saved rflags; orig_rax = -1 so that no system call
//     restart applies;
//   - the FP state from uc_mcontext.fpstate: a NULL pointer resets it;
//     an area without valid FP_XSTATE_MAGIC1/2 restores only the legacy
//     x87/SSE region and resets the rest; otherwise the state is loaded
//     as XRSTOR loads it, faulting (an error) on a misaligned area, a bad
//     header or a bad MXCSR.
//
// It returns uc_sigmask, which the caller installs (without SIGKILL and
// SIGSTOP), and uc_stack, which the caller applies as sigaltstack(2) would
// at the restored stack pointer, ignoring any error as Linux does. The
// caller also makes a pending restart_syscall fail with EINTR, and must
// not overwrite rax with a return value: rt_sigreturn returns the
// restored rax.
//
// Afterwards the FP state is either loaded and dirty (c.FP.Data holds the
// new state) or set to be reset (c.FP.Init); the caller pushes it to the
// platform before the thread runs.
//
// On error (a *SigreturnError) Linux forces SIGSEGV; when its
// MaskRestored is set the returned mask must be installed first and c
// holds the registers Linux would have restored, with the FP state reset.
func (c *Context) SignalRestore(mem Memory) (mask uint64, alt SignalStack, err error) {
	return c.signalRestore(hostXSave(), mem)
}

func (c *Context) signalRestore(l *xsaveLayout, mem Memory) (uint64, SignalStack, error) {
	frame := c.Regs.Rsp - 8
	var uc [ucSize]byte
	if _, err := mem.CopyIn(uintptr(frame+frameOffUC), uc[:]); err != nil {
		return 0, SignalStack{}, &SigreturnError{Addr: frame, Err: err}
	}
	mask := le.Uint64(uc[ucOffSigmask:])
	flags := le.Uint64(uc[ucOffFlags:])
	sc := uc[ucOffMcontext : ucOffMcontext+scCopySize]

	r := &c.Regs
	for _, f := range [...]struct {
		off int
		p   *uint64
	}{
		{scOffR8, &r.R8}, {scOffR9, &r.R9}, {scOffR10, &r.R10}, {scOffR11, &r.R11},
		{scOffR12, &r.R12}, {scOffR13, &r.R13}, {scOffR14, &r.R14}, {scOffR15, &r.R15},
		{scOffRDI, &r.Rdi}, {scOffRSI, &r.Rsi}, {scOffRBP, &r.Rbp}, {scOffRBX, &r.Rbx},
		{scOffRDX, &r.Rdx}, {scOffRAX, &r.Rax}, {scOffRCX, &r.Rcx}, {scOffRSP, &r.Rsp},
		{scOffRIP, &r.Rip},
	} {
		*f.p = le.Uint64(sc[f.off:])
	}
	r.Cs = uint64(le.Uint16(sc[scOffCS:])) | 3
	r.Ss = uint64(le.Uint16(sc[scOffSS:])) | 3
	if flags&ucStrictRestoreSS == 0 && r.Cs == userCS && r.Ss != userDS {
		// Old frames (DOSEMU, CRIU) may carry a stale SS: Linux
		// replaces one that is not a valid data segment.
		r.Ss = userDS
	}
	r.Eflags = r.Eflags&^eflagsRestorable | le.Uint64(sc[scOffEflags:])&eflagsRestorable
	r.Orig_rax = ^uint64(0)

	if fpstate := le.Uint64(sc[scOffFPState:]); fpstate == 0 {
		c.FP.Reset()
	} else if err := c.restoreFP(l, mem, fpstate); err != nil {
		c.FP.Reset()
		return mask, SignalStack{}, &SigreturnError{Addr: frame, MaskRestored: true, Err: err}
	}
	alt := SignalStack{
		SP:    le.Uint64(uc[ucOffStackSP:]),
		Flags: le.Uint32(uc[ucOffStackFl:]),
		Size:  le.Uint64(uc[ucOffStackSz:]),
	}
	return mask, alt, nil
}

// restoreFP loads the FP state from the frame's XSAVE area at addr into
// c.FP, as Linux's fpu__restore_sig does for a 64-bit frame.
func (c *Context) restoreFP(l *xsaveLayout, mem Memory, addr uint64) error {
	if !l.xsave {
		return ErrNoXSave
	}
	var legacy [fxsaveSize]byte
	if _, err := mem.CopyIn(uintptr(addr), legacy[:]); err != nil {
		return err
	}
	// The software bytes say whether the area is extended; Linux only
	// checks the two magics and otherwise restores the legacy region
	// alone ("fx only").
	fxOnly := true
	xfeatures := uint64(xfeatureMaskFPSSE)
	sw := legacy[fxOffSW:]
	if le.Uint32(sw[swOffMagic1:]) == fpXstateMagic1 {
		var m [fpXstateMagic2Size]byte
		if _, err := mem.CopyIn(uintptr(addr+uint64(l.size)), m[:]); err != nil {
			return err
		}
		if le.Uint32(m[:]) == fpXstateMagic2 {
			fxOnly = false
			xfeatures = le.Uint64(sw[swOffXfeatures:])
		}
	}
	rfbm := xfeatures & l.features
	initBV := l.features &^ rfbm

	// Build the new state in XSAVE standard format, starting from the
	// initial state of every component.
	n := max(int(l.maxSize), len(c.FP.Data))
	var data []byte
	if cap(c.FP.Data) >= n {
		data = c.FP.Data[:n]
	} else {
		data = make([]byte, n)
	}
	clear(data)
	le.PutUint16(data[fxOffFCW:], fcwInit)
	le.PutUint32(data[fxOffMXCSRMask:], l.mxcsrMask)
	mxcsr := uint32(mxcsrInit)
	bv := uint64(xfeatureMaskFPSSE)
	validMXCSR := func(v uint32) bool { return v&^l.mxcsrMask == 0 }

	if fxOnly {
		// FXRSTOR: 16-byte alignment, x87 and SSE from the legacy region.
		if addr%16 != 0 {
			return fmt.Errorf("%w: legacy area at %#x is not 16-byte aligned", errXRSTOR, addr)
		}
		mxcsr = le.Uint32(legacy[fxOffMXCSR:])
		if !validMXCSR(mxcsr) {
			return fmt.Errorf("%w: MXCSR %#x", errXRSTOR, mxcsr)
		}
		l.putX87(data, legacy[:])
		copy(data[fxOffXMM:fxOffReserved], legacy[fxOffXMM:fxOffReserved])
	} else {
		// XRSTOR with the requested-feature bitmap rfbm.
		if addr%64 != 0 {
			return fmt.Errorf("%w: XSAVE area at %#x is not 64-byte aligned", errXRSTOR, addr)
		}
		var hdr [xsaveHeaderSize]byte
		if _, err := mem.CopyIn(uintptr(addr+fxsaveSize), hdr[:]); err != nil {
			return err
		}
		xstateBV := le.Uint64(hdr[hdrOffXstateBV:])
		xcompBV := le.Uint64(hdr[hdrOffXcompBV:])
		var offs [64]uint32
		compacted := xcompBV&xcompBVCompacted != 0
		if compacted {
			if !l.compacted || xcompBV&^xcompBVCompacted&^l.xcr0 != 0 ||
				xstateBV&^(xcompBV&^xcompBVCompacted) != 0 || !allZero(hdr[16:]) {
				return fmt.Errorf("%w: bad compacted XSAVE header", errXRSTOR)
			}
			offs = l.compactedOffsets(xcompBV)
		} else {
			if xstateBV&^l.xcr0 != 0 || !allZero(hdr[8:24]) {
				return fmt.Errorf("%w: bad XSAVE header (XSTATE_BV %#x)", errXRSTOR, xstateBV)
			}
			for i := range offs {
				offs[i] = l.comp[i].offset
			}
		}
		// MXCSR: the standard form loads it whenever SSE or AVX is
		// requested; the compacted form treats it as SSE state.
		if compacted {
			if rfbm&(1<<xfeatureSSE) != 0 && xstateBV&(1<<xfeatureSSE) != 0 {
				mxcsr = le.Uint32(legacy[fxOffMXCSR:])
			}
		} else if rfbm&(1<<xfeatureSSE|1<<xfeatureYMM) != 0 {
			mxcsr = le.Uint32(legacy[fxOffMXCSR:])
		}
		if !validMXCSR(mxcsr) {
			return fmt.Errorf("%w: MXCSR %#x", errXRSTOR, mxcsr)
		}
		load := rfbm & xstateBV
		if load&(1<<xfeatureFP) != 0 {
			l.putX87(data, legacy[:])
		}
		if load&(1<<xfeatureSSE) != 0 {
			copy(data[fxOffXMM:fxOffReserved], legacy[fxOffXMM:fxOffReserved])
		}
		for i := 2; i < 63; i++ {
			if load&(1<<i) == 0 {
				continue
			}
			ci := l.comp[i]
			if int(ci.offset+ci.size) > len(data) {
				continue
			}
			dst := data[ci.offset : ci.offset+ci.size]
			if _, err := mem.CopyIn(uintptr(addr+uint64(offs[i])), dst); err != nil {
				return err
			}
			bv |= 1 << i
		}
	}
	// Linux then resets the components it did not restore from its
	// initial state. That restore also loads MXCSR (with its initial
	// value) when it covers SSE, or, in the standard form Linux uses
	// without XSAVES, AVX.
	mxcsrResetBy := uint64(1 << xfeatureSSE)
	if !l.kernelCompacted {
		mxcsrResetBy |= 1 << xfeatureYMM
	}
	if initBV&mxcsrResetBy != 0 {
		mxcsr = mxcsrInit
	}
	le.PutUint32(data[fxOffMXCSR:], mxcsr)

	// The software bytes of an XSAVE area are Linux's business: fill
	// them as PTRACE_GETREGSET does.
	sw = data[fxOffSW : fxOffSW+swBytesSize]
	le.PutUint32(sw[swOffMagic1:], fpXstateMagic1)
	le.PutUint32(sw[swOffExtendedSize:], l.maxSize+fpXstateMagic2Size)
	le.PutUint64(sw[swOffXfeatures:], l.xcr0)
	le.PutUint32(sw[swOffXstateSize:], l.maxSize)
	le.PutUint64(data[fxsaveSize+hdrOffXstateBV:], bv)

	c.FP.Data = data
	c.FP.Loaded = true
	c.FP.Dirty = true
	c.FP.Init = false
	return nil
}

// putX87 copies the x87 state (control, status and tag words, last
// opcode, instruction and data pointers, and ST0-7) from the legacy region
// src to dst, as the CPU would store it after loading it: reserved bits
// and bytes cleared, FCW bit 6 set (it always reads as 1), FSW's error
// summary and busy bits recomputed from the pending unmasked exceptions,
// and the 11-bit FOP; CPUs that keep FOP, FIP and FDP only while an
// exception is pending return zeros otherwise.
func (l *xsaveLayout) putX87(dst, src []byte) {
	copy(dst[:fxOffMXCSR], src[:fxOffMXCSR])
	for i := 0; i < 8; i++ {
		off := fxOffST + 16*i
		copy(dst[off:off+10], src[off:off+10])
		clear(dst[off+10 : off+16])
	}
	fcw := le.Uint16(dst[0:])&0x1f3f | 0x0040
	fsw := le.Uint16(dst[2:]) &^ 0x8080
	pending := fsw&^fcw&0x3f != 0
	if pending {
		fsw |= 0x8080
	}
	le.PutUint16(dst[0:], fcw)
	le.PutUint16(dst[2:], fsw)
	dst[5] = 0
	le.PutUint16(dst[6:], le.Uint16(dst[6:])&0x7ff)
	if l.x87PointersOnException && !pending {
		clear(dst[6:fxOffMXCSR])
	}
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}
