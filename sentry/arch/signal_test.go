package arch

import (
	"bytes"
	"errors"
	"testing"
)

// fakeCPU answers CPUID for a machine the tests describe.
type fakeCPU struct {
	vendor string
	// sub1 is CPUID.(0xd,1).EAX: bit 1 XSAVEC, bit 3 XSAVES.
	sub1 uint32
	// comps maps a component to its size, standard offset and ECX.
	comps map[uint32][3]uint32
}

func (f fakeCPU) cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32) {
	switch leaf {
	case 0:
		v := []byte(f.vendor + "            ")[:12]
		return 0xd, le.Uint32(v[0:]), le.Uint32(v[8:]), le.Uint32(v[4:])
	case 0xd:
		if sub == 1 {
			return f.sub1, 0, 0, 0
		}
		c := f.comps[sub]
		return c[0], c[1], c[2], 0
	}
	return 0, 0, 0, 0
}

var (
	// avxCPU has x87, SSE and AVX only, and neither XSAVEC nor XSAVES.
	avxCPU    = fakeCPU{vendor: "GenuineIntel", comps: map[uint32][3]uint32{2: {256, 576, 0}}}
	avxLayout = newXSaveLayout(0x7, avxCPU.cpuid, 0xffff)

	// avx512CPU is laid out like Intel's AVX-512 parts: the MPX
	// components (not enabled) leave a gap at 960-1087.
	avx512CPU = fakeCPU{vendor: "GenuineIntel", sub1: 0xf, comps: map[uint32][3]uint32{
		2: {256, 576, 0}, 3: {64, 960, 0}, 4: {64, 1024, 0},
		5: {64, 1088, 2}, 6: {512, 1152, 2}, 7: {1024, 1664, 2},
	}}
	avx512Layout = newXSaveLayout(0xe7, avx512CPU.cpuid, 0xffff)

	// amxCPU adds the AMX tile state, whose data is a dynamic feature.
	amxCPU = fakeCPU{vendor: "GenuineIntel", sub1: 0xf, comps: map[uint32][3]uint32{
		2: {256, 576, 0}, 5: {64, 1088, 2}, 6: {512, 1152, 2}, 7: {1024, 1664, 2},
		17: {64, 2752, 2}, 18: {8192, 2816, 6},
	}}
	amxLayout = newXSaveLayout(0x600e7, amxCPU.cpuid, 0xffff)
)

func TestXSaveLayout(t *testing.T) {
	for _, tc := range []struct {
		name              string
		l                 *xsaveLayout
		features          uint64
		size, maxSize     uint32
		initOpt           uint64
		compacted, kernel bool
	}{
		{"avx", avxLayout, 0x7, 832, 832, 0, false, false},
		{"avx512", avx512Layout, 0xe7, 2688, 2688, 0, true, true},
		{"amx", amxLayout, 0x200e7, 2816, 11008, 0x60000, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.l
			if l.features != tc.features || l.size != tc.size || l.maxSize != tc.maxSize || l.initOpt != tc.initOpt ||
				l.compacted != tc.compacted || l.kernelCompacted != tc.kernel {
				t.Errorf("layout: features %#x size %d max %d initOpt %#x compacted %v/%v; want %#x %d %d %#x %v/%v",
					l.features, l.size, l.maxSize, l.initOpt, l.compacted, l.kernelCompacted,
					tc.features, tc.size, tc.maxSize, tc.initOpt, tc.compacted, tc.kernel)
			}
		})
	}
	amd := fakeCPU{vendor: "AuthenticAMD", comps: avxCPU.comps}
	if l := newXSaveLayout(7, amd.cpuid, 0); !l.x87PointersOnException || l.mxcsrMask != mxcsrMaskDefault {
		t.Errorf("AMD layout: x87PointersOnException %v, mxcsrMask %#x; want true, %#x", l.x87PointersOnException, l.mxcsrMask, mxcsrMaskDefault)
	}
	if avxLayout.x87PointersOnException {
		t.Errorf("Intel layout keeps x87 pointers only on exceptions")
	}
	// Compacted offsets: 5, 6 and 7 are 64-byte aligned and follow AVX.
	offs := avx512Layout.compactedOffsets(xcompBVCompacted | 0xe7)
	if offs[2] != 576 || offs[5] != 832 || offs[6] != 896 || offs[7] != 1408 {
		t.Errorf("compacted offsets %v", offs[:8])
	}
	offs = avx512Layout.compactedOffsets(xcompBVCompacted | 0x23)
	if offs[5] != 576 {
		t.Errorf("compacted offset of component 5 alone = %d, want 576", offs[5])
	}
}

func TestHostXSave(t *testing.T) {
	l := hostXSave()
	if !l.xsave {
		t.Skip("no XSAVE: signal frames are unsupported here")
	}
	features, size := XSaveFeatures()
	if features != l.features || size != int(l.size) {
		t.Errorf("XSaveFeatures() = %#x, %d; layout %#x, %d", features, size, l.features, l.size)
	}
	if features&xfeatureMaskFPSSE != xfeatureMaskFPSSE || features&^l.xcr0 != 0 {
		t.Errorf("features %#x, XCR0 %#x", features, l.xcr0)
	}
	if size < xsaveMinSize || l.maxSize < l.size {
		t.Errorf("size %d, max %d", size, l.maxSize)
	}
	if l.mxcsrMask&0xffbf != 0xffbf {
		t.Errorf("MXCSR_MASK %#x lacks the SSE bits", l.mxcsrMask)
	}
}

func TestFrameLayout(t *testing.T) {
	if frameOffUC+ucSize != frameOffInfo || frameOffInfo+SignalInfoSize != rtSigframeSize {
		t.Errorf("rt_sigframe: ucontext ends at %d, info at %d; info ends at %d, frame at %d",
			frameOffUC+ucSize, frameOffInfo, frameOffInfo+SignalInfoSize, rtSigframeSize)
	}
	if ucOffMcontext+256 != ucOffSigmask || scOffFPState+8 != scCopySize {
		t.Errorf("sigcontext: ends at %d, uc_sigmask at %d", ucOffMcontext+256, ucOffSigmask)
	}
}

func TestSignalInfo(t *testing.T) {
	var s SignalInfo
	s.Signo, s.Errno, s.Code = 17, 5, 1
	s.SetPID(1234)
	s.SetUID(1000)
	s.SetStatus(-9)
	s.SetUtime(77)
	s.SetStime(1 << 40)
	b := s.Marshal()
	want := map[int]uint64{0: 17, 4: 5, 8: 1, 16: 1234, 20: 1000, 24: 0xfffffff7, 32: 77, 40: 1 << 40}
	for off, v := range want {
		got := uint64(le.Uint32(b[off:]))
		if off >= 32 {
			got = le.Uint64(b[off:])
		}
		if got != v {
			t.Errorf("SIGCHLD siginfo at %d = %#x, want %#x", off, got, v)
		}
	}
	if s.PID() != 1234 || s.UID() != 1000 || s.Status() != -9 || s.Utime() != 77 || s.Stime() != 1<<40 {
		t.Errorf("SIGCHLD getters: %d %d %d %d %d", s.PID(), s.UID(), s.Status(), s.Utime(), s.Stime())
	}

	var f SignalInfo
	f.SetAddr(0xdeadbeef000)
	f.SetAddrLSB(12)
	if b := f.Marshal(); le.Uint64(b[16:]) != 0xdeadbeef000 || le.Uint16(b[24:]) != 12 || f.Addr() != 0xdeadbeef000 || f.AddrLSB() != 12 {
		t.Errorf("sigfault: % x", b[16:26])
	}
	f.SetPkey(3)
	if b := f.Marshal(); le.Uint32(b[32:]) != 3 || f.Pkey() != 3 {
		t.Errorf("pkey: % x", b[32:36])
	}
	f.SetBounds(0x1000, 0x2000)
	if b := f.Marshal(); le.Uint64(b[32:]) != 0x1000 || le.Uint64(b[40:]) != 0x2000 {
		t.Errorf("bounds: % x", b[32:48])
	}

	var tm SignalInfo
	tm.SetTimerID(7)
	tm.SetOverrun(3)
	tm.SetValue(0x1122334455667788)
	if b := tm.Marshal(); le.Uint32(b[16:]) != 7 || le.Uint32(b[20:]) != 3 || le.Uint64(b[24:]) != 0x1122334455667788 ||
		tm.TimerID() != 7 || tm.Overrun() != 3 || tm.Value() != 0x1122334455667788 {
		t.Errorf("timer: % x", b[16:32])
	}

	var p SignalInfo
	p.SetBand(-1)
	p.SetFD(9)
	if b := p.Marshal(); le.Uint64(b[16:]) != ^uint64(0) || le.Uint32(b[24:]) != 9 || p.Band() != -1 || p.FD() != 9 {
		t.Errorf("sigpoll: % x", b[16:28])
	}

	var sy SignalInfo
	sy.SetSyscall(0x401000, 231, 0xc000003e)
	if b := sy.Marshal(); le.Uint64(b[16:]) != 0x401000 || le.Uint32(b[24:]) != 231 || le.Uint32(b[28:]) != 0xc000003e {
		t.Errorf("sigsys: % x", b[16:32])
	}
	if a, n, arch := sy.Syscall(); a != 0x401000 || n != 231 || arch != 0xc000003e {
		t.Errorf("Syscall() = %#x %d %#x", a, n, arch)
	}

	// Unmarshal keeps every byte; the expansion can be checked and cleared.
	var raw [SignalInfoSize]byte
	for i := range raw {
		raw[i] = byte(i + 1)
	}
	var u SignalInfo
	u.Unmarshal(raw[:])
	if u.Marshal() != raw || u.Signo != 0x04030201 {
		t.Errorf("Unmarshal/Marshal did not round-trip")
	}
	if u.ExpansionZero() {
		t.Errorf("ExpansionZero true for a full siginfo")
	}
	u.ClearExpansion()
	if b := u.Marshal(); !u.ExpansionZero() || !allZero(b[kernelSiginfoSize:]) || !bytes.Equal(b[:kernelSiginfoSize], raw[:kernelSiginfoSize]) {
		t.Errorf("ClearExpansion: % x", b)
	}
}

func TestPageFaultTrap(t *testing.T) {
	for _, tc := range []struct {
		addr, err uint64
		want      TrapInfo
	}{
		{0x1000, 0, TrapInfo{TrapPF, PFUser, 0x1000}},
		{0x1000, PFWrite, TrapInfo{TrapPF, PFUser | PFWrite, 0x1000}},
		{0x7fff0000, PFProt | PFInstr, TrapInfo{TrapPF, PFUser | PFProt | PFInstr, 0x7fff0000}},
		{0xffff800000001000, PFWrite, TrapInfo{TrapPF, PFUser | PFWrite | PFProt, 0xffff800000001000}},
	} {
		if got := PageFaultTrap(tc.addr, tc.err); got != tc.want {
			t.Errorf("PageFaultTrap(%#x, %#x) = %+v, want %+v", tc.addr, tc.err, got, tc.want)
		}
	}
}

func TestSignalStack(t *testing.T) {
	s := SignalStack{SP: 0x1000, Size: 0x1000}
	for sp, want := range map[uint64]bool{0x1000: false, 0x1001: true, 0x2000: true, 0x2001: false} {
		if s.Contains(sp) != want || s.OnStack(sp) != want {
			t.Errorf("stack %+v: Contains/OnStack(%#x) = %v/%v, want %v", s, sp, s.Contains(sp), s.OnStack(sp), want)
		}
	}
	s.Flags = SSAutoDisarm
	if !s.Contains(0x1800) || s.OnStack(0x1800) {
		t.Errorf("SS_AUTODISARM stack: OnStack must be false")
	}
}

// testMem returns memory with one region [base, base+size) filled with a
// pattern.
func testMem(base, size uint64) *fakeMem {
	b := make([]byte, size)
	for i := range b {
		b[i] = pattern(base + uint64(i))
	}
	m := &fakeMem{}
	m.add(base, b)
	return m
}

// testFP returns an XSAVE area for l with recognisable contents: x87 and
// SSE state and every enabled component filled, XSTATE_BV = bv.
func testFP(l *xsaveLayout, bv uint64) []byte {
	d := make([]byte, l.maxSize)
	for i := range d {
		d[i] = byte(i*7 + 1)
	}
	// A valid legacy region: FCW, FSW and FTW as the CPU stores them, no
	// x87 pointers, sane MXCSR.
	le.PutUint16(d[0:], 0x27f)
	le.PutUint16(d[2:], 0)
	copy(d[4:24], make([]byte, 20))
	le.PutUint32(d[fxOffMXCSR:], 0x9f80)
	le.PutUint32(d[fxOffMXCSRMask:], l.mxcsrMask)
	for i := 0; i < 8; i++ {
		clear(d[fxOffST+16*i+10 : fxOffST+16*i+16])
	}
	clear(d[fxOffReserved:xsaveMinSize])
	le.PutUint64(d[fxsaveSize:], bv)
	return d
}

func testContext(l *xsaveLayout, rsp uint64) *Context {
	c := &Context{}
	c.Regs.Rax, c.Regs.Rbx, c.Regs.Rcx, c.Regs.Rdx = 0xa, 0xb, 0xc, 0xd
	c.Regs.Rsi, c.Regs.Rdi, c.Regs.Rbp = 0x51, 0xd1, 0xb9
	c.Regs.R8, c.Regs.R9, c.Regs.R10, c.Regs.R11 = 8, 9, 10, 11
	c.Regs.R12, c.Regs.R13, c.Regs.R14, c.Regs.R15 = 12, 13, 14, 15
	c.Regs.Rip, c.Regs.Rsp = 0x401234, rsp
	c.Regs.Eflags = initialRflags | eflagsDF | eflagsCF
	c.Regs.Cs, c.Regs.Ss = userCS, userDS
	c.Regs.Fs_base = 0x7000
	c.FP = FPState{Data: testFP(l, l.features), Loaded: true}
	return c
}

var testAct = SignalAct{Handler: 0x400100, Flags: SASigInfo | SARestorer | SAOnStack, Restorer: 0x400200, Mask: 1 << 5}

func TestSignalSetupStackChoice(t *testing.T) {
	l := avxLayout
	const (
		base = 0x10000
		alt  = 0x20000 // alternate stack [alt, alt+0x4000)
		size = 0x4000
	)
	fpSize := uint64(l.size) + fpXstateMagic2Size
	place := func(top uint64) uint64 { return ((top-fpSize)&^63-rtSigframeSize)&^15 - 8 }
	for _, tc := range []struct {
		name    string
		rsp     uint64
		flags   uint64
		stack   *SignalStack
		want    uint64 // frame address
		wantErr error
	}{
		{"no altstack", 0x17ff3, testAct.Flags, nil, place(0x17ff3 - redZoneSize), nil},
		{"not SA_ONSTACK", 0x17ff3, SASigInfo | SARestorer, &SignalStack{SP: alt, Size: size}, place(0x17ff3 - redZoneSize), nil},
		{"disabled", 0x17ff3, testAct.Flags, &SignalStack{Flags: SSDisable}, place(0x17ff3 - redZoneSize), nil},
		{"switch", 0x17ff3, testAct.Flags, &SignalStack{SP: alt, Size: size}, place(alt + size), nil},
		{"switch misaligned", 0x17ff3, testAct.Flags, &SignalStack{SP: alt + 3, Size: size - 7}, place(alt + size - 4), nil},
		{"nested", alt + 0x3000, testAct.Flags, &SignalStack{SP: alt, Size: size}, place(alt + 0x3000 - redZoneSize), nil},
		{"nested without SA_ONSTACK", alt + 0x3000, SASigInfo | SARestorer, &SignalStack{SP: alt, Size: size}, place(alt + 0x3000 - redZoneSize), nil},
		{"autodisarm nested", alt + 0x3000, testAct.Flags, &SignalStack{SP: alt, Size: size, Flags: SSAutoDisarm}, place(alt + size), nil},
		{"nested overflow", alt + 0x300, testAct.Flags, &SignalStack{SP: alt, Size: size}, 0, ErrSignalStackOverflow},
		{"too small", 0x17ff3, testAct.Flags, &SignalStack{SP: alt, Size: 0x400}, 0, ErrSignalStackOverflow},
		// Just above the stack the red zone reaches into it: Linux sees
		// the thread as on the stack already and neither switches nor
		// checks for overflow.
		{"red zone on the stack", alt + size + 0x40, testAct.Flags, &SignalStack{SP: alt, Size: size}, place(alt + size + 0x40 - redZoneSize), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := testMem(base, 0x8000)
			mem.add(alt, make([]byte, size+0x1000))
			c := testContext(l, tc.rsp)
			act := testAct
			act.Flags = tc.flags
			info := SignalInfo{Signo: 10}
			err := c.signalSetup(l, mem, &act, &info, tc.stack, 0, nil)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("SignalSetup: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SignalSetup: %v", err)
			}
			if c.Regs.Rsp != tc.want || (c.Regs.Rsp+8)%16 != 0 {
				t.Errorf("frame at %#x, want %#x", c.Regs.Rsp, tc.want)
			}
			fp := mem.u64(c.Regs.Rsp + frameOffUC + ucOffMcontext + scOffFPState)
			if fp%64 != 0 || fp < c.Regs.Rsp+rtSigframeSize || fp-(c.Regs.Rsp+rtSigframeSize) >= 64+16 {
				t.Errorf("FP state at %#x for a frame at %#x", fp, c.Regs.Rsp)
			}
			var wantStack SignalStack
			if tc.stack != nil {
				wantStack = *tc.stack
			} else {
				wantStack.Flags = SSDisable
			}
			uc := c.Regs.Rsp + frameOffUC
			gotStack := SignalStack{SP: mem.u64(uc + ucOffStackSP), Flags: le.Uint32(mem.bytes(uc+ucOffStackFl, 4)), Size: mem.u64(uc + ucOffStackSz)}
			if gotStack != wantStack {
				t.Errorf("uc_stack = %+v, want %+v", gotStack, wantStack)
			}
		})
	}
}

func TestSignalSetup(t *testing.T) {
	l := avx512Layout
	const base, size = 0x10000, 0x10000
	mem := testMem(base, size)
	c := testContext(l, base+0x8003)
	before := *c
	before.FP.Data = append([]byte(nil), c.FP.Data...)
	info := SignalInfo{Signo: 11, Code: 2}
	info.SetAddr(0xbad)
	trap := PageFaultTrap(0xbad, PFWrite|PFProt)
	if err := c.signalSetup(l, mem, &testAct, &info, nil, 0x8000000000000101, &trap); err != nil {
		t.Fatalf("SignalSetup: %v", err)
	}
	frame := c.Regs.Rsp
	r := &c.Regs
	if r.Rip != testAct.Handler || r.Rdi != 11 || r.Rsi != frame+frameOffInfo || r.Rdx != frame+frameOffUC || r.Rax != 0 ||
		r.Eflags != initialRflags|eflagsCF || r.Cs != userCS || r.Ss != userDS || r.Rbx != 0xb || r.Fs_base != 0x7000 {
		t.Errorf("handler registers %+v", *r)
	}
	if !c.FP.Init || c.FP.Loaded {
		t.Errorf("FP state %+v, want reset", c.FP)
	}
	if mem.u64(frame) != testAct.Restorer {
		t.Errorf("pretcode = %#x", mem.u64(frame))
	}
	uc := frame + frameOffUC
	if f := mem.u64(uc + ucOffFlags); f != ucFPXstate|ucSigcontextSS|ucStrictRestoreSS {
		t.Errorf("uc_flags = %#x", f)
	}
	if mem.u64(uc+ucOffLink) != 0 || mem.u64(uc+ucOffSigmask) != 0x8000000000000101 {
		t.Errorf("uc_link %#x uc_sigmask %#x", mem.u64(uc+ucOffLink), mem.u64(uc+ucOffSigmask))
	}
	mc := uc + ucOffMcontext
	for _, f := range []struct {
		name string
		off  uint64
		want uint64
	}{
		{"r8", scOffR8, 8}, {"r15", scOffR15, 15}, {"rdi", scOffRDI, 0xd1}, {"rsi", scOffRSI, 0x51},
		{"rbp", scOffRBP, 0xb9}, {"rbx", scOffRBX, 0xb}, {"rdx", scOffRDX, 0xd}, {"rax", scOffRAX, 0xa},
		{"rcx", scOffRCX, 0xc}, {"rsp", scOffRSP, base + 0x8003}, {"rip", scOffRIP, 0x401234},
		{"eflags", scOffEflags, initialRflags | eflagsDF | eflagsCF},
		{"err", scOffErr, PFWrite | PFProt | PFUser}, {"trapno", scOffTrapno, TrapPF},
		{"oldmask", scOffOldmask, 0x8000000000000101}, {"cr2", scOffCR2, 0xbad},
	} {
		if got := mem.u64(mc + f.off); got != f.want {
			t.Errorf("sigcontext.%s = %#x, want %#x", f.name, got, f.want)
		}
	}
	if seg := mem.bytes(mc+scOffCS, 8); !bytes.Equal(seg, []byte{0x33, 0, 0, 0, 0, 0, 0x2b, 0}) {
		t.Errorf("sigcontext cs/gs/fs/ss = % x", seg)
	}
	if got := mem.bytes(frame+frameOffInfo, SignalInfoSize); !bytes.Equal(got, func() []byte { b := info.Marshal(); return b[:] }()) {
		t.Errorf("siginfo = % x", got)
	}

	// The FP state.
	fp := mem.u64(mc + scOffFPState)
	area := mem.bytes(fp, int(l.size)+4)
	if !bytes.Equal(area[:fxOffReserved], before.FP.Data[:fxOffReserved]) {
		t.Errorf("legacy region not copied")
	}
	for a := fp + fxOffReserved; a < fp+fxOffSW; a++ {
		if area[a-fp] != pattern(a) {
			t.Fatalf("reserved byte %#x written", a)
		}
	}
	sw := area[fxOffSW:fxsaveSize]
	if le.Uint32(sw[0:]) != fpXstateMagic1 || le.Uint32(sw[4:]) != l.size+4 || le.Uint64(sw[8:]) != l.features ||
		le.Uint32(sw[16:]) != l.size || !allZero(sw[20:]) {
		t.Errorf("sw bytes % x", sw)
	}
	if bv := le.Uint64(area[fxsaveSize:]); bv != l.features || !allZero(area[fxsaveSize+8:xsaveMinSize]) {
		t.Errorf("header % x", area[fxsaveSize:xsaveMinSize])
	}
	for _, i := range []int{2, 5, 6, 7} {
		cmp := l.comp[i]
		if !bytes.Equal(area[cmp.offset:cmp.offset+cmp.size], before.FP.Data[cmp.offset:cmp.offset+cmp.size]) {
			t.Errorf("component %d not copied", i)
		}
	}
	// The MPX gap is not part of the frame's state: left alone.
	for a := fp + 832; a < fp+1088; a++ {
		if area[a-fp] != pattern(a) {
			t.Fatalf("gap byte %#x written", a)
		}
	}
	if le.Uint32(area[l.size:]) != fpXstateMagic2 {
		t.Errorf("magic2 = %#x", le.Uint32(area[l.size:]))
	}
}

func TestSignalSetupXstateBV(t *testing.T) {
	for _, tc := range []struct {
		name    string
		l       *xsaveLayout
		dataBV  uint64
		wantBV  uint64
		written uint64 // components the frame must hold
	}{
		// x87 and SSE are always marked, whatever was in use.
		{"nothing in use", avxLayout, 0, 0x3, 0x4},
		{"avx in use", avxLayout, 0x4, 0x7, 0x4},
		// On an AMX machine the tile config is written only when in use.
		{"amx idle", amxLayout, 0xe7, 0xe7, 0xe4},
		{"amx in use", amxLayout, 0x200e7, 0x200e7, 0x200e4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const base = 0x40000
			mem := testMem(base, 0x10000)
			c := testContext(tc.l, base+0x10000)
			c.FP.Data = testFP(tc.l, tc.dataBV)
			data := append([]byte(nil), c.FP.Data...)
			info := SignalInfo{Signo: 1}
			if err := c.signalSetup(tc.l, mem, &testAct, &info, nil, 0, nil); err != nil {
				t.Fatalf("SignalSetup: %v", err)
			}
			fp := mem.u64(c.Regs.Rsp + frameOffUC + ucOffMcontext + scOffFPState)
			if bv := mem.u64(fp + fxsaveSize); bv != tc.wantBV {
				t.Errorf("XSTATE_BV = %#x, want %#x", bv, tc.wantBV)
			}
			for i := 2; i < 63; i++ {
				cmp := tc.l.comp[i]
				if tc.l.features&(1<<i) == 0 {
					continue
				}
				got := mem.bytes(fp+uint64(cmp.offset), int(cmp.size))
				written := bytes.Equal(got, data[cmp.offset:cmp.offset+cmp.size])
				if written != (tc.written&(1<<i) != 0) {
					t.Errorf("component %d written = %v", i, written)
				}
			}
		})
	}
}

func TestSignalSetupErrors(t *testing.T) {
	l := avxLayout
	info := SignalInfo{Signo: 10}
	for _, tc := range []struct {
		name string
		act  SignalAct
		mem  *fakeMem
		rsp  uint64
	}{
		{"no restorer", SignalAct{Handler: 0x400100, Flags: SASigInfo}, testMem(0x10000, 0x10000), 0x18000},
		{"unmapped stack", testAct, testMem(0x10000, 0x10000), 0x50000},
		{"stack partly mapped", testAct, testMem(0x10000, 0x10000), 0x10400},
		{"stack at zero", testAct, testMem(0x10000, 0x10000), 0x100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testContext(l, tc.rsp)
			before := c.Regs
			if err := c.signalSetup(l, tc.mem, &tc.act, &info, nil, 0, nil); err == nil {
				t.Fatalf("SignalSetup succeeded")
			}
			if c.Regs != before || !c.FP.Loaded || c.FP.Init {
				t.Errorf("context changed")
			}
			for _, r := range tc.mem.regions {
				for i, v := range r.b {
					if v != pattern(r.base+uint64(i)) {
						t.Fatalf("memory written at %#x", r.base+uint64(i))
					}
				}
			}
		})
	}
	c := testContext(l, 0x18000)
	c.FP.Loaded = false
	if err := c.signalSetup(l, testMem(0x10000, 0x10000), &testAct, &info, nil, 0, nil); err == nil {
		t.Errorf("SignalSetup without the FP state loaded succeeded")
	}
	if err := c.signalSetup(&xsaveLayout{}, testMem(0x10000, 0x10000), &testAct, &info, nil, 0, nil); !errors.Is(err, ErrNoXSave) {
		t.Errorf("SignalSetup without XSAVE: %v", err)
	}
}

func TestSignalSetupNon64BitCode(t *testing.T) {
	l := avxLayout
	mem := testMem(0x10000, 0x10000)
	c := testContext(l, 0x18000)
	c.Regs.Cs, c.Regs.Ss = 0x23, 0x0
	info := SignalInfo{Signo: 10}
	if err := c.signalSetup(l, mem, &testAct, &info, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	uc := c.Regs.Rsp + frameOffUC
	if f := mem.u64(uc + ucOffFlags); f != ucFPXstate|ucSigcontextSS {
		t.Errorf("uc_flags from 32-bit code = %#x, want no UC_STRICT_RESTORE_SS", f)
	}
	if c.Regs.Cs != userCS || c.Regs.Ss != userDS {
		t.Errorf("handler cs %#x ss %#x", c.Regs.Cs, c.Regs.Ss)
	}
}

// setupForRestore delivers a signal and returns the frame's address, with
// c as the restorer's rt_sigreturn will find it.
func setupForRestore(t *testing.T, l *xsaveLayout, mem Memory, c *Context) uint64 {
	t.Helper()
	info := SignalInfo{Signo: 10}
	if err := c.signalSetup(l, mem, &testAct, &info, nil, 0x5000, nil); err != nil {
		t.Fatalf("SignalSetup: %v", err)
	}
	frame := c.Regs.Rsp
	c.Regs.Rsp = frame + 8
	c.Regs.Rip = testAct.Restorer
	c.Regs.Rax = 15
	c.Regs.Orig_rax = 15
	c.Regs.Eflags = initialRflags | eflagsZF
	// The handler's FP state, which rt_sigreturn must replace entirely.
	c.FP = FPState{Data: bytes.Repeat([]byte{0x77}, int(l.maxSize)), Loaded: true}
	return frame
}

func TestSignalRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    *xsaveLayout
	}{{"avx", avxLayout}, {"avx512", avx512Layout}, {"amx", amxLayout}, {"host", hostXSave()}} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.l
			if !l.xsave {
				t.Skip("no XSAVE")
			}
			mem := testMem(0x10000, 0x10000)
			c := testContext(l, 0x1c000)
			orig := *c
			orig.FP.Data = append([]byte(nil), c.FP.Data...)

			// Unmodified: everything comes back.
			setupForRestore(t, l, mem, c)
			mask, alt, err := c.signalRestore(l, mem)
			if err != nil {
				t.Fatalf("SignalRestore: %v", err)
			}
			want := orig.Regs
			want.Orig_rax = ^uint64(0)
			if c.Regs != want {
				t.Errorf("registers\n got %+v\nwant %+v", c.Regs, want)
			}
			if mask != 0x5000 || alt != (SignalStack{Flags: SSDisable}) {
				t.Errorf("mask %#x alt %+v", mask, alt)
			}
			if !c.FP.Loaded || !c.FP.Dirty || c.FP.Init {
				t.Errorf("FP state flags %+v", c.FP)
			}
			if !bytes.Equal(c.FP.Data[:fxOffReserved], orig.FP.Data[:fxOffReserved]) {
				t.Errorf("legacy region\n got % x\nwant % x", c.FP.Data[:fxOffReserved], orig.FP.Data[:fxOffReserved])
			}
			for i := 2; i < 63; i++ {
				if l.features&(1<<i) == 0 {
					continue
				}
				cmp := l.comp[i]
				if !bytes.Equal(c.FP.Data[cmp.offset:cmp.offset+cmp.size], orig.FP.Data[cmp.offset:cmp.offset+cmp.size]) {
					t.Errorf("component %d not restored", i)
				}
			}
			if bv := le.Uint64(c.FP.Data[fxsaveSize:]); bv != l.features {
				t.Errorf("XSTATE_BV = %#x, want %#x", bv, l.features)
			}

			// Modified: rip, a register, flags, xmm0, ymm0, mask, stack.
			frame := setupForRestore(t, l, mem, c)
			mc := frame + frameOffUC + ucOffMcontext
			fp := mem.u64(mc + scOffFPState)
			mem.putU64(mc+scOffRIP, 0x402000)
			mem.putU64(mc+scOffR13, 0x1313)
			mem.putU64(mc+scOffEflags, initialRflags|eflagsOF|eflagsTF|0x3000|1<<21)
			mem.putU64(mc+scOffRSP, 0x1b000)
			xmm0 := bytes.Repeat([]byte{0xab}, 16)
			ymm0 := bytes.Repeat([]byte{0xcd}, 16)
			mem.CopyOut(uintptr(fp+fxOffXMM), xmm0)
			mem.CopyOut(uintptr(fp+uint64(l.comp[2].offset)), ymm0)
			mem.putU64(frame+frameOffUC+ucOffSigmask, 0xf0f0)
			mem.putU64(frame+frameOffUC+ucOffStackSP, 0x30000)
			mem.putU32(frame+frameOffUC+ucOffStackFl, SSAutoDisarm)
			mem.putU64(frame+frameOffUC+ucOffStackSz, 0x8000)
			mask, alt, err = c.signalRestore(l, mem)
			if err != nil {
				t.Fatalf("SignalRestore: %v", err)
			}
			if c.Regs.Rip != 0x402000 || c.Regs.R13 != 0x1313 || c.Regs.Rsp != 0x1b000 || c.Regs.R12 != 12 {
				t.Errorf("registers %+v", c.Regs)
			}
			// OF and TF come from the frame, IOPL and ID do not; ZF is
			// cleared because the frame has it clear.
			if c.Regs.Eflags != initialRflags|eflagsOF|eflagsTF {
				t.Errorf("rflags = %#x, want %#x", c.Regs.Eflags, initialRflags|eflagsOF|eflagsTF)
			}
			if !bytes.Equal(c.FP.Data[fxOffXMM:fxOffXMM+16], xmm0) || !bytes.Equal(c.FP.Data[l.comp[2].offset:][:16], ymm0) {
				t.Errorf("xmm0/ymm0 not restored")
			}
			if !bytes.Equal(c.FP.Data[fxOffXMM+16:fxOffReserved], orig.FP.Data[fxOffXMM+16:fxOffReserved]) {
				t.Errorf("xmm1-15 changed")
			}
			if mask != 0xf0f0 || alt != (SignalStack{SP: 0x30000, Flags: SSAutoDisarm, Size: 0x8000}) {
				t.Errorf("mask %#x alt %+v", mask, alt)
			}
		})
	}
}

// restoreCase delivers a signal on l, lets edit change the frame, and runs
// rt_sigreturn.
func restoreCase(t *testing.T, l *xsaveLayout, edit func(mem *fakeMem, frame, fp uint64)) (*Context, uint64, error) {
	t.Helper()
	mem := testMem(0x10000, 0x10000)
	c := testContext(l, 0x1c000)
	frame := setupForRestore(t, l, mem, c)
	fp := mem.u64(frame + frameOffUC + ucOffMcontext + scOffFPState)
	edit(mem, frame, fp)
	mask, _, err := c.signalRestore(l, mem)
	return c, mask, err
}

func TestSignalRestoreFP(t *testing.T) {
	l := avx512Layout
	xmm := func(c *Context, i int) []byte { return c.FP.Data[fxOffXMM+16*i:][:16] }
	ymm := func(c *Context, i int) []byte { return c.FP.Data[l.comp[2].offset+16*uint32(i):][:16] }
	orig := testFP(l, l.features)
	for _, tc := range []struct {
		name  string
		l     *xsaveLayout
		edit  func(mem *fakeMem, frame, fp uint64)
		check func(t *testing.T, c *Context)
	}{
		{"null", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(frame+frameOffUC+ucOffMcontext+scOffFPState, 0)
		}, func(t *testing.T, c *Context) {
			if !c.FP.Init || c.FP.Loaded {
				t.Errorf("FP state not reset: %+v", c.FP)
			}
		}},
		{"bad magic1", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU32(fp+fxOffSW, 0)
		}, func(t *testing.T, c *Context) {
			// Legacy state restored, the rest reset; MXCSR kept since
			// Linux resets it only with the SSE component here.
			if !bytes.Equal(xmm(c, 3), orig[fxOffXMM+48:][:16]) || !allZero(ymm(c, 0)) || le.Uint32(c.FP.Data[fxOffMXCSR:]) != 0x9f80 {
				t.Errorf("xmm3 % x ymm0 % x mxcsr %#x", xmm(c, 3), ymm(c, 0), le.Uint32(c.FP.Data[fxOffMXCSR:]))
			}
			if bv := le.Uint64(c.FP.Data[fxsaveSize:]); bv != xfeatureMaskFPSSE {
				t.Errorf("XSTATE_BV %#x", bv)
			}
		}},
		{"bad magic2", avxLayout, func(mem *fakeMem, frame, fp uint64) {
			mem.putU32(fp+uint64(avxLayout.size), 0)
		}, func(t *testing.T, c *Context) {
			// Without XSAVES Linux resets MXCSR along with AVX.
			if !allZero(c.FP.Data[avxLayout.comp[2].offset:][:16]) || le.Uint32(c.FP.Data[fxOffMXCSR:]) != mxcsrInit {
				t.Errorf("ymm0 % x mxcsr %#x", c.FP.Data[avxLayout.comp[2].offset:][:16], le.Uint32(c.FP.Data[fxOffMXCSR:]))
			}
		}},
		{"sw xfeatures without AVX", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(fp+fxOffSW+swOffXfeatures, 0x3)
		}, func(t *testing.T, c *Context) {
			if !allZero(ymm(c, 0)) || !bytes.Equal(xmm(c, 0), orig[fxOffXMM:][:16]) {
				t.Errorf("ymm0 % x xmm0 % x", ymm(c, 0), xmm(c, 0))
			}
		}},
		{"xstate_bv cleared", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(fp+fxsaveSize, 0)
			mem.putU32(fp+fxOffMXCSR, 0x7f80)
		}, func(t *testing.T, c *Context) {
			// The standard form still loads MXCSR.
			if !allZero(xmm(c, 0)) || !allZero(ymm(c, 0)) || le.Uint16(c.FP.Data[fxOffFCW:]) != fcwInit ||
				le.Uint32(c.FP.Data[fxOffMXCSR:]) != 0x7f80 {
				t.Errorf("xmm0 % x ymm0 % x fcw %#x mxcsr %#x", xmm(c, 0), ymm(c, 0), le.Uint16(c.FP.Data[fxOffFCW:]), le.Uint32(c.FP.Data[fxOffMXCSR:]))
			}
		}},
		{"compacted", l, func(mem *fakeMem, frame, fp uint64) {
			// Rewrite the area in compacted form with AVX and ZMM_Hi256
			// only: AVX at 576, ZMM_Hi256 64-byte aligned after it.
			avx := mem.bytes(fp+576, 256)
			zmm := bytes.Repeat([]byte{0x42}, 512)
			mem.CopyOut(uintptr(fp+576), avx)
			mem.CopyOut(uintptr(fp+832), zmm)
			mem.putU64(fp+fxsaveSize, 0x47)
			mem.putU64(fp+fxsaveSize+8, xcompBVCompacted|0x47)
		}, func(t *testing.T, c *Context) {
			zmm := c.FP.Data[l.comp[6].offset:][:512]
			if !bytes.Equal(zmm, bytes.Repeat([]byte{0x42}, 512)) || !bytes.Equal(ymm(c, 0), orig[576:592]) {
				t.Errorf("compacted area not loaded: ymm0 % x zmm % x", ymm(c, 0), zmm[:16])
			}
			if bv := le.Uint64(c.FP.Data[fxsaveSize:]); bv != 0x47 {
				t.Errorf("XSTATE_BV %#x", bv)
			}
		}},
		{"x87 normalised", l, func(mem *fakeMem, frame, fp uint64) {
			mem.CopyOut(uintptr(fp), []byte{0x3f, 0xf0, 0x81, 0x80, 0xa5, 0xff, 0xff, 0xff})
		}, func(t *testing.T, c *Context) {
			// FCW keeps bits 0-5, 8-12 and reads bit 6 as set; ES and
			// B clear since the pending exception is masked; FOP is 11
			// bits.
			d := c.FP.Data
			if le.Uint16(d[0:]) != 0x107f || le.Uint16(d[2:]) != 0x0001 || d[4] != 0xa5 || d[5] != 0 || le.Uint16(d[6:]) != 0x7ff {
				t.Errorf("x87 environment % x", d[:8])
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := restoreCase(t, tc.l, tc.edit)
			if err != nil {
				t.Fatalf("SignalRestore: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestSignalRestoreErrors(t *testing.T) {
	l := avx512Layout
	for _, tc := range []struct {
		name         string
		l            *xsaveLayout
		edit         func(mem *fakeMem, frame, fp uint64)
		maskRestored bool
	}{
		{"frame unmapped", l, func(mem *fakeMem, frame, fp uint64) {
			mem.regions[0].b = mem.regions[0].b[:frame-0x10000+16]
		}, false},
		{"fp unmapped", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(frame+frameOffUC+ucOffMcontext+scOffFPState, 0x900000)
		}, true},
		{"fp misaligned", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(frame+frameOffUC+ucOffMcontext+scOffFPState, fp-32)
			mem.CopyOut(uintptr(fp-32), mem.bytes(fp, int(l.size)+4))
		}, true},
		{"fx only misaligned", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(frame+frameOffUC+ucOffMcontext+scOffFPState, fp+8)
		}, true},
		{"xstate_bv beyond XCR0", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(fp+fxsaveSize, 0xff)
		}, true},
		{"xcomp_bv set without compaction", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(fp+fxsaveSize+8, 4)
		}, true},
		{"header reserved", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(fp+fxsaveSize+16, 1)
		}, true},
		{"compacted unsupported", avxLayout, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(fp+fxsaveSize+8, xcompBVCompacted|7)
		}, true},
		{"compacted xstate_bv beyond xcomp_bv", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU64(fp+fxsaveSize+8, xcompBVCompacted|3)
			mem.putU64(fp+fxsaveSize, 7)
		}, true},
		{"MXCSR reserved bit", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU32(fp+fxOffMXCSR, 0x1f80|1<<16)
		}, true},
		{"fx only MXCSR reserved bit", l, func(mem *fakeMem, frame, fp uint64) {
			mem.putU32(fp+fxOffSW, 0)
			mem.putU32(fp+fxOffMXCSR, 0x1f80|1<<16)
		}, true},
		{"magic2 unmapped", l, func(mem *fakeMem, frame, fp uint64) {
			mem.regions[0].b = mem.regions[0].b[:fp-0x10000+uint64(l.size)]
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, mask, err := restoreCase(t, tc.l, tc.edit)
			var se *SigreturnError
			if !errors.As(err, &se) {
				t.Fatalf("SignalRestore: %v, want a *SigreturnError", err)
			}
			if se.MaskRestored != tc.maskRestored {
				t.Errorf("MaskRestored = %v, want %v", se.MaskRestored, tc.maskRestored)
			}
			if tc.maskRestored {
				// Linux installed the mask and the registers, and
				// reset the FP state.
				if mask != 0x5000 || c.Regs.Rip != 0x401234 || c.Regs.Orig_rax != ^uint64(0) || !c.FP.Init {
					t.Errorf("mask %#x rip %#x orig_rax %#x FP %+v", mask, c.Regs.Rip, c.Regs.Orig_rax, c.FP)
				}
			} else if c.Regs.Rip != testAct.Restorer || !c.FP.Loaded {
				t.Errorf("context changed: rip %#x", c.Regs.Rip)
			}
		})
	}
}

func TestSignalRestoreSegments(t *testing.T) {
	l := avxLayout
	for _, tc := range []struct {
		name           string
		strict         bool
		cs, ss         uint16
		wantCS, wantSS uint64
	}{
		{"normal", true, 0x33, 0x2b, 0x33, 0x2b},
		{"rpl forced", true, 0x30, 0x28, 0x33, 0x2b},
		{"strict keeps ss", true, 0x33, 0x63, 0x33, 0x63},
		{"old frame fixes ss", false, 0x33, 0x63, 0x33, 0x2b},
		{"old frame 32-bit", false, 0x23, 0x63, 0x23, 0x63},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := restoreCase(t, l, func(mem *fakeMem, frame, fp uint64) {
				uc := frame + frameOffUC
				if !tc.strict {
					mem.putU64(uc+ucOffFlags, ucFPXstate|ucSigcontextSS)
				}
				mem.CopyOut(uintptr(uc+ucOffMcontext+scOffCS), le.AppendUint16(nil, tc.cs))
				mem.CopyOut(uintptr(uc+ucOffMcontext+scOffSS), le.AppendUint16(nil, tc.ss))
			})
			if err != nil {
				t.Fatal(err)
			}
			if c.Regs.Cs != tc.wantCS || c.Regs.Ss != tc.wantSS {
				t.Errorf("cs %#x ss %#x, want %#x %#x", c.Regs.Cs, c.Regs.Ss, tc.wantCS, tc.wantSS)
			}
		})
	}
}
