package arch

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// This file checks SignalSetup and SignalRestore against the host kernel.
// testdata/sigframe.c loads known values into every register, raises a
// signal, and dumps the frame the kernel built (from the handler's stack
// pointer to the end of the pattern-filled region holding it); its handler
// then edits the ucontext and returns, and the program prints what
// rt_sigreturn restored. Here the same register state goes through
// SignalSetup into a fake memory covering the same addresses with the same
// pattern, the bytes are compared one for one, the same edits are made,
// and SignalRestore must give back what the host's rt_sigreturn did.

// buildSigframe compiles testdata/sigframe into a temporary directory of
// t's. A missing gcc is a failure: this test is the check against Linux.
func buildSigframe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sigframe")
	cmd := exec.Command("gcc", "-static", "-O1", "-Wall", "-o", bin,
		filepath.Join("testdata", "sigframe.c"), filepath.Join("testdata", "sigframe_asm.S"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building testdata/sigframe.c: gcc: %v\n%s", err, out)
	}
	return bin
}

// rrState is struct rr of sigframe.c: a full register state.
type rrState struct {
	gpr    [16]uint64 // rax rbx rcx rdx rsi rdi rbp rsp r8..r15
	rflags uint64
	which  uint64
	mxcsr  uint32
	fcw    uint16
	useAVX bool
	xmm    [16][16]byte
	ymmhi  [4][16]byte
}

func parseRR(b []byte) (*rrState, error) {
	if len(b) != 480 {
		return nil, fmt.Errorf("struct rr is %d bytes, want 480", len(b))
	}
	s := &rrState{}
	for i := range s.gpr {
		s.gpr[i] = le.Uint64(b[8*i:])
	}
	s.rflags = le.Uint64(b[128:])
	s.which = le.Uint64(b[136:])
	s.mxcsr = le.Uint32(b[144:])
	s.fcw = le.Uint16(b[148:])
	s.useAVX = le.Uint64(b[152:]) != 0
	for i := range s.xmm {
		copy(s.xmm[i][:], b[160+16*i:])
	}
	for i := range s.ymmhi {
		copy(s.ymmhi[i][:], b[416+16*i:])
	}
	return s, nil
}

// hostRun is what one run of sigframe printed.
type hostRun struct {
	xsaveSize uint64
	xcr0      uint64
	regions   [][2]uint64 // base, size
	alt       SignalStack
	sig       int32
	act       SignalAct
	blocked   uint64
	pid, uid  uint64
	// Addresses in the program: after int3, after syscall, the faulting
	// store, the alternative resume point, the handler.
	afterInt3, afterSyscall, faultIP, resumeAlt, handler uint64
	in                                                   *rrState

	// Set when the handler ran.
	handled   bool
	frameAddr uint64
	frame     []byte
	entry     map[string]uint64
	entryXMM  []byte

	// Set when the handler returned and rt_sigreturn succeeded.
	out       *rrState
	outXSave  []byte // XSAVE of every enabled component afterwards
	afterMask uint64
	afterAlt  SignalStack

	// killedBy is the signal that ended the program, if any.
	killedBy syscall.Signal
}

func runSigframe(t *testing.T, bin, scenario string) *hostRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, scenario)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	h := &hostRun{}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		ws, wok := ee.Sys().(syscall.WaitStatus)
		if !ok || !wok || !ws.Signaled() {
			t.Fatalf("sigframe %s: %v\nstderr: %s\nstdout: %.2000s", scenario, err, stderr.String(), stdout.String())
		}
		h.killedBy = ws.Signal()
	}
	if err := h.parse(stdout.Bytes()); err != nil {
		t.Fatalf("sigframe %s: %v\noutput: %.2000s", scenario, err, stdout.String())
	}
	return h
}

func (h *hostRun) parse(out []byte) error {
	hexes := func(fs []string) ([]uint64, error) {
		v := make([]uint64, len(fs))
		for i, f := range fs {
			var err error
			if v[i], err = strconv.ParseUint(f, 16, 64); err != nil {
				return nil, err
			}
		}
		return v, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		var err error
		switch f[0] {
		case "in", "frame", "entryxmm", "out", "outxsave":
			if len(f) != 3 {
				return fmt.Errorf("bad line %.80q", sc.Text())
			}
			var addr uint64
			var b []byte
			if addr, err = strconv.ParseUint(f[1], 16, 64); err != nil {
				return err
			}
			if b, err = hex.DecodeString(f[2]); err != nil {
				return err
			}
			switch f[0] {
			case "in":
				h.in, err = parseRR(b)
			case "out":
				h.out, err = parseRR(b)
			case "frame":
				h.handled, h.frameAddr, h.frame = true, addr, b
			case "entryxmm":
				h.entryXMM = b
			case "outxsave":
				h.outXSave = b
			}
		case "entry":
			h.entry = map[string]uint64{}
			for i := 1; i+1 < len(f); i += 2 {
				var v []uint64
				if v, err = hexes(f[i+1 : i+2]); err != nil {
					return err
				}
				h.entry[f[i]] = v[0]
			}
		case "error":
			return fmt.Errorf("program: %s", sc.Text())
		default:
			// Lines of the form "key [word] hex..." where words are
			// skipped.
			var nums []string
			for _, w := range f[1:] {
				if _, err := strconv.ParseUint(w, 16, 64); err == nil {
					nums = append(nums, w)
				}
			}
			v, err := hexes(nums)
			if err != nil {
				return err
			}
			need := map[string]int{"xsave": 2, "region": 2, "altstack": 3, "sigaction": 5,
				"blocked": 1, "ids": 2, "labels": 5, "after": 5}[f[0]]
			if len(v) < need {
				return fmt.Errorf("bad line %q", sc.Text())
			}
			switch f[0] {
			case "xsave":
				h.xsaveSize, h.xcr0 = v[0], v[1]
			case "region":
				h.regions = append(h.regions, [2]uint64{v[0], v[1]})
			case "altstack":
				h.alt = SignalStack{SP: v[0], Flags: uint32(v[1]), Size: v[2]}
			case "sigaction":
				h.sig = int32(v[0])
				h.act = SignalAct{Handler: v[1], Flags: v[2], Restorer: v[3], Mask: v[4]}
			case "blocked":
				h.blocked = v[0]
			case "ids":
				h.pid, h.uid = v[0], v[1]
			case "labels":
				h.afterInt3, h.afterSyscall, h.faultIP, h.resumeAlt, h.handler = v[0], v[1], v[2], v[3], v[4]
			case "after":
				h.afterMask = v[0]
				h.afterAlt = SignalStack{SP: v[1], Flags: uint32(v[2]), Size: v[3]}
			}
		}
		if err != nil {
			return err
		}
	}
	if h.in == nil || len(h.regions) != 2 {
		return errors.New("incomplete output")
	}
	return nil
}

// pattern is the byte sigframe.c fills its regions with at address a.
func pattern(a uint64) byte { return byte((a * 0x9E3779B1) >> 24) }

// fakeMem is application memory made of separate regions.
type fakeMem struct {
	regions []fakeRegion
}

type fakeRegion struct {
	base uint64
	b    []byte
}

var errFault = errors.New("bad address")

func (m *fakeMem) add(base uint64, b []byte) { m.regions = append(m.regions, fakeRegion{base, b}) }

func (m *fakeMem) find(addr uint64) []byte {
	for _, r := range m.regions {
		if addr >= r.base && addr-r.base < uint64(len(r.b)) {
			return r.b[addr-r.base:]
		}
	}
	return nil
}

// do copies between p and memory at addr, region by region, stopping at
// the first byte no region holds.
func (m *fakeMem) do(addr uintptr, p []byte, out bool) (int, error) {
	n := 0
	for n < len(p) {
		r := m.find(uint64(addr) + uint64(n))
		if r == nil {
			return n, errFault
		}
		if out {
			n += copy(r, p[n:])
		} else {
			n += copy(p[n:], r)
		}
	}
	return n, nil
}

func (m *fakeMem) CopyIn(addr uintptr, dst []byte) (int, error)  { return m.do(addr, dst, false) }
func (m *fakeMem) CopyOut(addr uintptr, src []byte) (int, error) { return m.do(addr, src, true) }

func (m *fakeMem) bytes(addr uint64, n int) []byte {
	b := make([]byte, n)
	if _, err := m.CopyIn(uintptr(addr), b); err != nil {
		panic(fmt.Sprintf("bytes(%#x, %d): %v", addr, n, err))
	}
	return b
}

func (m *fakeMem) u64(addr uint64) uint64       { return le.Uint64(m.bytes(addr, 8)) }
func (m *fakeMem) putU64(addr uint64, v uint64) { m.CopyOut(uintptr(addr), le.AppendUint64(nil, v)) }
func (m *fakeMem) putU32(addr uint64, v uint32) { m.CopyOut(uintptr(addr), le.AppendUint32(nil, v)) }

// hostScenario is one scenario of sigframe.c.
type hostScenario struct {
	name string
	// raise is how the program raises the signal: "syscall" (kill),
	// "int3" or "store" (a faulting write through rbx).
	raise string
	// faultAddr is the address the store faults on.
	faultAddr uint64
	// setupErr is the error SignalSetup must return (the host kills
	// the program with SIGSEGV before the handler runs).
	setupErr error
	// restoreFails says rt_sigreturn rejects the edited frame (the host
	// kills the program with SIGSEGV after the handler ran).
	restoreFails bool
	// check makes extra checks of what the host's rt_sigreturn
	// restored, to be sure the scenario did what it is meant to.
	check func(t *testing.T, h *hostRun)
}

var hostScenarios = []hostScenario{
	{name: "kill", raise: "syscall"},
	{name: "int3", raise: "int3"},
	{name: "segv", raise: "store", faultAddr: 0x1ff8},
	{name: "segvkernel", raise: "store", faultAddr: 0xffff800000001000},
	{name: "main", raise: "syscall"},
	{name: "nested", raise: "int3"},
	{name: "autodisarm", raise: "int3"},
	{name: "disabled", raise: "syscall"},
	{name: "nosiginfo", raise: "syscall"},
	{name: "overflow", raise: "syscall", setupErr: ErrSignalStackOverflow},
	{name: "norestorer", raise: "syscall", setupErr: ErrNoRestorer},
	{name: "badmagic", raise: "syscall", check: func(t *testing.T, h *hostRun) {
		// Only the legacy region comes back: the AVX halves are reset.
		if h.in.useAVX && h.out.ymmhi != [4][16]byte{} {
			t.Errorf("host: ymm upper halves after a frame without magic = %x, want zeros", h.out.ymmhi)
		}
		if h.out.xmm[0] != [16]byte(newXMM0) {
			t.Errorf("host: xmm0 = %x, want the edited %x", h.out.xmm[0], newXMM0)
		}
	}},
	{name: "nullfp", raise: "syscall", check: func(t *testing.T, h *hostRun) {
		if h.out.xmm[1] != [16]byte{} || h.out.mxcsr != mxcsrInit || h.out.fcw != fcwInit {
			t.Errorf("host: FP state after a NULL fpstate: xmm1 %x mxcsr %#x fcw %#x, want the initial state", h.out.xmm[1], h.out.mxcsr, h.out.fcw)
		}
	}},
	{name: "fp64", raise: "syscall"},
	{name: "fp16", raise: "syscall"},
	{name: "fp8", raise: "syscall", restoreFails: true},
	{name: "badbv", raise: "syscall", restoreFails: true},
	{name: "badmxcsr", raise: "syscall", restoreFails: true},
	{name: "x87junk", raise: "syscall"},
	{name: "x87junkes", raise: "syscall"},
	{name: "sseinit", raise: "syscall", check: func(t *testing.T, h *hostRun) {
		if h.out.xmm[0] != [16]byte{} || h.out.fcw != fcwInit {
			t.Errorf("host: xmm0 %x fcw %#x after clearing XSTATE_BV, want the initial state", h.out.xmm[0], h.out.fcw)
		}
	}},
}

// The values sigframe.c's handler writes into the frame.
var (
	newXMM0    = []byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	newYMM0Hi  = []byte{0xca, 0xfe, 0xf0, 0x0d, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144}
	editedMask = uint64(1<<(15-1) | 1<<(9-1) | 1<<(40-1))
)

// edit makes the handler's edits of sigframe.c to the frame at frame.
func (sc *hostScenario) edit(m *fakeMem, frame, resumeAlt uint64) {
	mc := frame + frameOffUC + ucOffMcontext
	fp := m.u64(mc + scOffFPState)
	m.putU64(mc+scOffRIP, resumeAlt)
	m.putU64(mc+scOffR12, m.u64(mc+scOffR12)^0x5a5a)
	m.putU64(mc+scOffRAX, 0x7777)
	m.putU64(mc+scOffEflags, m.u64(mc+scOffEflags)^(0x801|0x3000|0x200000))
	m.putU64(frame+frameOffUC+ucOffSigmask, editedMask)
	m.CopyOut(uintptr(fp+fxOffXMM), newXMM0)
	m.CopyOut(uintptr(fp+576), newYMM0Hi)
	switch sc.name {
	case "badmagic":
		m.putU32(fp+fxOffSW, 0)
	case "nullfp":
		m.putU64(mc+scOffFPState, 0)
	case "fp64":
		m.putU64(mc+scOffFPState, fp+64)
	case "fp16":
		m.putU64(mc+scOffFPState, fp+16)
	case "fp8":
		m.putU64(mc+scOffFPState, fp+8)
	case "badbv":
		m.putU64(fp+fxsaveSize, m.u64(fp+fxsaveSize)|1<<63)
	case "badmxcsr":
		m.putU32(fp+fxOffMXCSR, le.Uint32(m.bytes(fp+fxOffMXCSR, 4))|1<<20)
	case "x87junk", "x87junkes":
		b := m.bytes(fp, fxOffMXCSR)
		le.PutUint16(b[0:], 0xf03f)
		le.PutUint16(b[2:], 0x3801)
		if sc.name == "x87junkes" {
			// An unmasked invalid-operation exception pending.
			le.PutUint16(b[0:], 0xf03e)
			le.PutUint16(b[2:], 0x8081)
		}
		b[4], b[5] = 0xa5, 0xff
		le.PutUint16(b[6:], 0xffff)
		le.PutUint64(b[8:], 0x00007f1122334455)
		le.PutUint64(b[16:], 0xffff805566778899)
		m.CopyOut(uintptr(fp), b)
		for i := 0; i < 8; i++ {
			m.CopyOut(uintptr(fp+fxOffST+16*uint64(i)), bytes.Repeat([]byte{0x11 * byte(i+1)}, 10))
			m.CopyOut(uintptr(fp+fxOffST+16*uint64(i)+10), bytes.Repeat([]byte{0xee}, 6))
		}
	case "sseinit":
		m.putU64(fp+fxsaveSize, m.u64(fp+fxsaveSize)&^7)
		m.putU32(fp+fxOffMXCSR, 0x7f80)
	}
}

// info is the siginfo Linux delivers in the scenario.
func (sc *hostScenario) info(h *hostRun) SignalInfo {
	info := SignalInfo{Signo: h.sig}
	switch sc.raise {
	case "syscall": // kill(2): SI_USER with the sender's pid and uid
		info.Code = 0
		info.SetPID(int32(h.pid))
		info.SetUID(uint32(h.uid))
	case "int3": // SI_KERNEL
		info.Code = 0x80
	case "store": // SEGV_MAPERR at the address
		info.Code = 1
		info.SetAddr(sc.faultAddr)
	}
	return info
}

// trap is what Linux records of the exception that raised the signal (a
// fresh process has recorded none before).
func (sc *hostScenario) trap() *TrapInfo {
	switch sc.raise {
	case "int3":
		return &TrapInfo{TrapNo: TrapBreakpoint}
	case "store":
		t := PageFaultTrap(sc.faultAddr, PFWrite)
		return &t
	}
	return nil
}

// context is the thread's state when the host delivered the signal.
func (sc *hostScenario) context(h *hostRun, fp []byte) *Context {
	c := &Context{}
	g := h.in.gpr
	r := &c.Regs
	r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi, r.Rbp, r.Rsp = g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]
	r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15 = g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]
	r.Eflags = h.in.rflags
	r.Cs, r.Ss = userCS, userDS
	switch sc.raise {
	case "int3":
		r.Rip = h.afterInt3
	case "syscall":
		// kill returned 0; the syscall instruction left the return
		// address in rcx and the flags in r11.
		r.Rip, r.Rax, r.Rcx, r.R11 = h.afterSyscall, 0, h.afterSyscall, h.in.rflags
		r.Orig_rax = uint64(syscall.SYS_KILL)
	case "store":
		// A fault leaves RF set in the flags the CPU saves, and so in
		// the registers the platform reports.
		r.Rip = h.faultIP
		r.Eflags |= eflagsRF
	}
	c.FP = FPState{Data: fp, Loaded: true}
	return c
}

// ptraceFP turns the XSAVE area of a host frame into what
// PTRACE_GETREGSET would have returned for the same state: the reserved
// bytes of the legacy region zero, the software bytes Linux's, the header
// holding XSTATE_BV alone.
func ptraceFP(l *xsaveLayout, area []byte) []byte {
	d := make([]byte, l.maxSize)
	copy(d, area[:l.size])
	d[5] = 0
	for i := 0; i < 8; i++ {
		clear(d[fxOffST+16*i+10 : fxOffST+16*i+16])
	}
	clear(d[fxOffReserved:fxsaveSize])
	sw := d[fxOffSW:]
	le.PutUint32(sw[swOffMagic1:], fpXstateMagic1)
	le.PutUint32(sw[swOffExtendedSize:], l.maxSize+fpXstateMagic2Size)
	le.PutUint64(sw[swOffXfeatures:], l.xcr0)
	le.PutUint32(sw[swOffXstateSize:], l.maxSize)
	clear(d[fxsaveSize+8 : xsaveMinSize])
	return d
}

// fieldName names the frame field holding address a, for diffs.
func fieldName(l *xsaveLayout, a, frame, fp uint64) string {
	if a >= frame && a < frame+rtSigframeSize {
		off := a - frame
		switch {
		case off < frameOffUC:
			return "pretcode"
		case off >= frameOffInfo:
			return fmt.Sprintf("info[%d]", off-frameOffInfo)
		}
		uo := off - frameOffUC
		switch {
		case uo < ucOffLink:
			return "uc_flags"
		case uo < ucOffStackSP:
			return "uc_link"
		case uo < ucOffStackFl:
			return "uc_stack.ss_sp"
		case uo < ucOffStackFl+4:
			return "uc_stack.ss_flags"
		case uo < ucOffStackSz:
			return "uc_stack padding"
		case uo < ucOffMcontext:
			return "uc_stack.ss_size"
		case uo >= ucOffSigmask:
			return "uc_sigmask"
		}
		so := uo - ucOffMcontext
		names := []string{"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi",
			"rbp", "rbx", "rdx", "rax", "rcx", "rsp", "rip", "eflags"}
		switch {
		case so < scOffCS:
			return "sigcontext." + names[so/8]
		case so < scOffErr:
			return "sigcontext." + []string{"cs", "gs", "fs", "ss"}[(so-scOffCS)/2]
		case so < scCopySize:
			return "sigcontext." + []string{"err", "trapno", "oldmask", "cr2", "fpstate"}[(so-scOffErr)/8]
		default:
			return fmt.Sprintf("sigcontext.reserved1[%d]", (so-scCopySize)/8)
		}
	}
	if a >= fp && a < fp+uint64(l.size)+fpXstateMagic2Size {
		off := uint32(a - fp)
		switch {
		case off < fxOffMXCSR:
			return fmt.Sprintf("fpstate.x87[%d]", off)
		case off < fxOffST:
			return "fpstate.mxcsr"
		case off < fxOffXMM:
			return fmt.Sprintf("fpstate.st%d", (off-fxOffST)/16)
		case off < fxOffReserved:
			return fmt.Sprintf("fpstate.xmm%d", (off-fxOffXMM)/16)
		case off < fxOffSW:
			return "fpstate.reserved"
		case off < fxsaveSize:
			return fmt.Sprintf("fpstate.sw_reserved[%d]", off-fxOffSW)
		case off < fxsaveSize+8:
			return "fpstate.xstate_bv"
		case off < xsaveMinSize:
			return "fpstate.header"
		case off >= l.size:
			return "fpstate.magic2"
		}
		for i := 2; i < 63; i++ {
			if c := l.comp[i]; c.size != 0 && off >= c.offset && off < c.offset+c.size {
				return fmt.Sprintf("fpstate.component%d[%d]", i, off-c.offset)
			}
		}
		return "fpstate.gap"
	}
	if a < frame {
		return "below the frame"
	}
	return "between or above the frame"
}

// diffFrame reports the fields where got and want, the bytes at base,
// differ.
func diffFrame(t *testing.T, l *xsaveLayout, base uint64, got, want []byte, frame, fp uint64) {
	t.Helper()
	var diffs []string
	last := ""
	for i := range want {
		if got[i] == want[i] {
			continue
		}
		a := base + uint64(i)
		name := fieldName(l, a, frame, fp)
		if name == last {
			continue
		}
		last = name
		diffs = append(diffs, fmt.Sprintf("%#x %s: got %x, want %x", a, name,
			got[i:min(i+8, len(got))], want[i:min(i+8, len(want))]))
	}
	if len(diffs) > 0 {
		if len(diffs) > 30 {
			diffs = append(diffs[:30], "...")
		}
		t.Errorf("frame differs from the host's in %d places:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}

// fpView reads the registers sigframe.c captures out of an FP state.
type fpView struct {
	xmm   [4][16]byte
	ymmhi [4][16]byte
	mxcsr uint32
	fcw   uint16
}

func viewFP(l *xsaveLayout, f *FPState) fpView {
	v := fpView{mxcsr: mxcsrInit, fcw: fcwInit}
	if f.Init {
		return v
	}
	d := f.Data
	for i := range v.xmm {
		copy(v.xmm[i][:], d[fxOffXMM+16*i:])
	}
	if le.Uint64(d[fxsaveSize:])&(1<<xfeatureYMM) != 0 {
		for i := range v.ymmhi {
			copy(v.ymmhi[i][:], d[l.comp[xfeatureYMM].offset+16*uint32(i):])
		}
	}
	v.mxcsr = le.Uint32(d[fxOffMXCSR:])
	v.fcw = le.Uint16(d[fxOffFCW:])
	return v
}

func TestSignalFrameMatchesHost(t *testing.T) {
	l := hostXSave()
	if !l.xsave {
		t.Fatal("the host has no XSAVE")
	}
	bin := buildSigframe(t)
	for i := range hostScenarios {
		sc := &hostScenarios[i]
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			h := runSigframe(t, bin, sc.name)
			if h.xcr0 != l.xcr0 || h.xsaveSize != uint64(l.maxSize) {
				t.Fatalf("host XCR0 %#x XSAVE size %#x, layout says %#x and %#x", h.xcr0, h.xsaveSize, l.xcr0, l.maxSize)
			}
			testHostScenario(t, l, sc, h)
		})
	}
}

func testHostScenario(t *testing.T, l *xsaveLayout, sc *hostScenario, h *hostRun) {
	mem := &fakeMem{}
	for _, r := range h.regions {
		b := make([]byte, r[1])
		for i := range b {
			b[i] = pattern(r[0] + uint64(i))
		}
		mem.add(r[0], b)
	}
	info := sc.info(h)

	if sc.setupErr != nil {
		if h.handled || h.killedBy != syscall.SIGSEGV {
			t.Fatalf("host: handled %v, killed by %v; want no handler and SIGSEGV", h.handled, h.killedBy)
		}
		fp := make([]byte, l.maxSize)
		c := sc.context(h, fp)
		before := *c
		err := c.signalSetup(l, mem, &h.act, &info, &h.alt, h.blocked, sc.trap())
		if !errors.Is(err, sc.setupErr) {
			t.Fatalf("SignalSetup: %v, want %v", err, sc.setupErr)
		}
		if c.Regs != before.Regs || !c.FP.Loaded {
			t.Errorf("SignalSetup changed the context on error")
		}
		for _, r := range mem.regions {
			for i, v := range r.b {
				if v != pattern(r.base+uint64(i)) {
					t.Fatalf("SignalSetup wrote %#x on error", r.base+uint64(i))
				}
			}
		}
		return
	}
	if !h.handled {
		t.Fatalf("host: the handler did not run (killed by %v)", h.killedBy)
	}

	// The FP state as the platform would have it: taken from the host's
	// frame, after checking that it holds what the program loaded.
	hostFP := le.Uint64(h.frame[frameOffUC+ucOffMcontext+scOffFPState:])
	area := h.frame[hostFP-h.frameAddr:]
	for i := 0; i < 16; i++ {
		if !bytes.Equal(area[fxOffXMM+16*i:][:16], h.in.xmm[i][:]) {
			t.Fatalf("host frame xmm%d = %x, want %x", i, area[fxOffXMM+16*i:][:16], h.in.xmm[i])
		}
	}
	if h.in.useAVX {
		for i := 0; i < 4; i++ {
			if got := area[l.comp[xfeatureYMM].offset+16*uint32(i):][:16]; !bytes.Equal(got, h.in.ymmhi[i][:]) {
				t.Fatalf("host frame ymm%d upper half = %x, want %x", i, got, h.in.ymmhi[i])
			}
		}
	}
	if got := le.Uint32(area[fxOffMXCSR:]); got != h.in.mxcsr {
		t.Fatalf("host frame MXCSR = %#x, want %#x", got, h.in.mxcsr)
	}
	if got := le.Uint16(area[fxOffFCW:]); got != h.in.fcw {
		t.Fatalf("host frame FCW = %#x, want %#x", got, h.in.fcw)
	}

	c := sc.context(h, ptraceFP(l, area))
	if err := c.signalSetup(l, mem, &h.act, &info, &h.alt, h.blocked, sc.trap()); err != nil {
		t.Fatalf("SignalSetup: %v", err)
	}

	// The handler's registers.
	r := &c.Regs
	for _, f := range []struct {
		name string
		got  uint64
	}{
		{"rsp", r.Rsp}, {"rdi", r.Rdi}, {"rsi", r.Rsi}, {"rdx", r.Rdx}, {"rax", r.Rax}, {"rflags", r.Eflags},
	} {
		if f.got != h.entry[f.name] {
			t.Errorf("handler %s = %#x, host %#x", f.name, f.got, h.entry[f.name])
		}
	}
	if r.Rip != h.handler {
		t.Errorf("handler rip = %#x, want %#x", r.Rip, h.handler)
	}
	if r.Rsp != h.frameAddr {
		t.Fatalf("frame at %#x, host's at %#x", r.Rsp, h.frameAddr)
	}
	if !c.FP.Init {
		t.Errorf("FP state not reset for the handler")
	}
	if h.entry["mxcsr"] != mxcsrInit || h.entry["fcw"] != fcwInit || !allZero(h.entryXMM) {
		t.Errorf("host handler started with mxcsr %#x fcw %#x xmm0-1 %x, not the initial FP state", h.entry["mxcsr"], h.entry["fcw"], h.entryXMM)
	}

	// The frame, byte for byte.
	got := mem.bytes(h.frameAddr, len(h.frame))
	ourFP := mem.u64(h.frameAddr + frameOffUC + ucOffMcontext + scOffFPState)
	diffFrame(t, l, h.frameAddr, got, h.frame, h.frameAddr, ourFP)

	// rt_sigreturn after the handler's edits.
	frame := r.Rsp
	sc.edit(mem, frame, h.resumeAlt)
	r.Rsp = frame + 8 // the handler's ret popped pretcode
	r.Rip = h.act.Restorer
	r.Rax = uint64(syscall.SYS_RT_SIGRETURN)
	r.Orig_rax = uint64(syscall.SYS_RT_SIGRETURN)
	r.Eflags = 0x202 | eflagsCF | eflagsZF
	junk := make([]byte, l.maxSize)
	for i := range junk {
		junk[i] = 0x5c
	}
	c.FP = FPState{Data: junk, Loaded: true}
	mask, alt, err := c.signalRestore(l, mem)
	if sc.restoreFails {
		if h.killedBy != syscall.SIGSEGV || h.out != nil {
			t.Fatalf("host: rt_sigreturn did not fail (killed by %v)", h.killedBy)
		}
		var se *SigreturnError
		if !errors.As(err, &se) || !se.MaskRestored {
			t.Fatalf("SignalRestore: %v, want a *SigreturnError with the mask restored", err)
		}
		if mask != editedMask || !c.FP.Init || r.Rip != h.resumeAlt {
			t.Errorf("after the failed restore: mask %#x, FP reset %v, rip %#x; want %#x, true, %#x", mask, c.FP.Init, r.Rip, editedMask, h.resumeAlt)
		}
		return
	}
	if err != nil {
		t.Fatalf("SignalRestore: %v", err)
	}
	if h.out == nil {
		t.Fatalf("host: rt_sigreturn failed (killed by %v)", h.killedBy)
	}
	if sc.check != nil {
		sc.check(t, h)
	}
	if h.out.which != 2 || r.Rip != h.resumeAlt {
		t.Errorf("resumed at rip %#x (host path %d), want %#x", r.Rip, h.out.which, h.resumeAlt)
	}
	gotGPR := [16]uint64{r.Rax, r.Rbx, r.Rcx, r.Rdx, r.Rsi, r.Rdi, r.Rbp, r.Rsp,
		r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15}
	names := []string{"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}
	for i := range gotGPR {
		if gotGPR[i] != h.out.gpr[i] {
			t.Errorf("restored %s = %#x, host %#x", names[i], gotGPR[i], h.out.gpr[i])
		}
	}
	// pushfq, which the program reads rflags with, always shows RF clear.
	if r.Eflags&^eflagsRF != h.out.rflags {
		t.Errorf("restored rflags = %#x, host %#x", r.Eflags, h.out.rflags)
	}
	if r.Orig_rax != ^uint64(0) || r.Cs != userCS || r.Ss != userDS {
		t.Errorf("restored orig_rax %#x cs %#x ss %#x, want -1, %#x, %#x", r.Orig_rax, r.Cs, r.Ss, userCS, userDS)
	}
	v := viewFP(l, &c.FP)
	if !c.FP.Init && !c.FP.Dirty {
		t.Errorf("restored FP state neither dirty nor reset")
	}
	for i := 0; i < 4; i++ {
		if v.xmm[i] != h.out.xmm[i] {
			t.Errorf("restored xmm%d = %x, host %x", i, v.xmm[i], h.out.xmm[i])
		}
		if h.in.useAVX && v.ymmhi[i] != h.out.ymmhi[i] {
			t.Errorf("restored ymm%d upper half = %x, host %x", i, v.ymmhi[i], h.out.ymmhi[i])
		}
	}
	if v.mxcsr != h.out.mxcsr || v.fcw != h.out.fcw {
		t.Errorf("restored mxcsr %#x fcw %#x, host %#x %#x", v.mxcsr, v.fcw, h.out.mxcsr, h.out.fcw)
	}
	compareXSave(t, l, &c.FP, h.outXSave)
	const unblockable = 1<<(9-1) | 1<<(19-1)
	if mask&^unblockable != h.afterMask {
		t.Errorf("restored mask %#x (less SIGKILL and SIGSTOP), host %#x", mask&^unblockable, h.afterMask)
	}
	// The host reports the alternate stack as sigaltstack(2) does after
	// installing uc_stack.
	wantFlags := alt.Flags & SSAutoDisarm
	if alt.Flags&^SSAutoDisarm == SSDisable {
		wantFlags |= SSDisable
	}
	if alt.SP != h.afterAlt.SP || alt.Size != h.afterAlt.Size || wantFlags != h.afterAlt.Flags {
		t.Errorf("restored uc_stack %+v, host's altstack afterwards %+v", alt, h.afterAlt)
	}
}

// compareXSave compares the whole FP state f with an XSAVE of the host's
// state after rt_sigreturn: the legacy x87 and SSE state and every
// extended component, a component whose XSTATE_BV bit is clear counting as
// its initial state (zeros) on either side.
func compareXSave(t *testing.T, l *xsaveLayout, f *FPState, host []byte) {
	t.Helper()
	if len(host) != int(l.maxSize) {
		t.Fatalf("host XSAVE dump is %d bytes, want %d", len(host), l.maxSize)
	}
	ours := make([]byte, l.maxSize)
	if f.Init {
		le.PutUint16(ours[fxOffFCW:], fcwInit)
		le.PutUint32(ours[fxOffMXCSR:], mxcsrInit)
	} else {
		copy(ours, f.Data)
	}
	type span struct {
		name     string
		off, end uint32
		feature  int
	}
	spans := []span{
		{"x87 environment", 0, fxOffMXCSR, xfeatureFP},
		{"mxcsr", fxOffMXCSR, fxOffMXCSRMask, -1},
		{"xmm", fxOffXMM, fxOffReserved, xfeatureSSE},
	}
	for i := 0; i < 8; i++ {
		spans = append(spans, span{fmt.Sprintf("st%d", i), uint32(fxOffST + 16*i), uint32(fxOffST + 16*i + 10), xfeatureFP})
	}
	for i := 2; i < 63; i++ {
		if l.xcr0&(1<<i) != 0 {
			c := l.comp[i]
			spans = append(spans, span{fmt.Sprintf("component %d", i), c.offset, c.offset + c.size, i})
		}
	}
	effective := func(area []byte, s span) []byte {
		b := area[s.off:s.end]
		if s.feature >= 2 && le.Uint64(area[fxsaveSize:])&(1<<s.feature) == 0 {
			return make([]byte, len(b))
		}
		return b
	}
	for _, s := range spans {
		if got, want := effective(ours, s), effective(host, s); !bytes.Equal(got, want) {
			t.Errorf("restored FP %s = %x, host %x", s.name, got, want)
		}
	}
}
