package arch

import (
	"encoding/binary"
	"sync"
	"unsafe"
)

// XSAVE state components (the bit numbers of XCR0 and of an XSAVE header's
// XSTATE_BV) that signal frames treat specially.
const (
	xfeatureFP        = 0
	xfeatureSSE       = 1
	xfeatureYMM       = 2
	xfeaturePKRU      = 9
	xfeatureXTileCfg  = 17
	xfeatureXTileData = 18

	xfeatureMaskFPSSE = 1<<xfeatureFP | 1<<xfeatureSSE
)

// Offsets and sizes in the XSAVE area.
const (
	// fxsaveSize is the size of the legacy (FXSAVE) region.
	fxsaveSize = 512
	// xsaveHeaderSize is the size of the XSAVE header that follows it.
	xsaveHeaderSize = 64
	// xsaveMinSize covers the legacy region and the header.
	xsaveMinSize = fxsaveSize + xsaveHeaderSize

	// fxOffMXCSR and fxOffMXCSRMask locate MXCSR and MXCSR_MASK in the
	// legacy region; fxOffST is ST0 (eight 16-byte slots, 10 bytes used
	// each) and fxOffXMM is XMM0 (sixteen 16-byte registers).
	fxOffFCW       = 0
	fxOffMXCSR     = 24
	fxOffMXCSRMask = 28
	fxOffST        = 32
	fxOffXMM       = 160
	// fxOffReserved..fxOffSW are reserved bytes that XSAVE leaves alone;
	// fxOffSW is the 48 bytes "available to software", which Linux fills
	// with struct _fpx_sw_bytes in signal frames.
	fxOffReserved = 416
	fxOffSW       = 464

	// Fields of struct _fpx_sw_bytes, relative to fxOffSW.
	swOffMagic1       = 0
	swOffExtendedSize = 4
	swOffXfeatures    = 8
	swOffXstateSize   = 16
	swBytesSize       = 48

	// hdrOffXstateBV and hdrOffXcompBV are the header's fields, relative to
	// fxsaveSize.
	hdrOffXstateBV = 0
	hdrOffXcompBV  = 8

	// fpXstateMagic1 marks sw bytes describing an extended frame, and
	// fpXstateMagic2 follows the XSAVE area in it.
	fpXstateMagic1     = 0x46505853
	fpXstateMagic2     = 0x46505845
	fpXstateMagic2Size = 4

	// Initial values of the x87 control word and of MXCSR.
	fcwInit   = 0x037f
	mxcsrInit = 0x1f80
	// mxcsrMaskDefault is what MXCSR_MASK means when the CPU stores 0.
	mxcsrMaskDefault = 0xffbf

	// xcompBVCompacted is XCOMP_BV bit 63: the area is in compacted form.
	xcompBVCompacted = 1 << 63
)

// xsaveLayout describes the XSAVE areas of this machine as Linux uses them
// in signal frames.
type xsaveLayout struct {
	// xsave is false when the CPU or OS lacks XSAVE; signal frames are
	// then not supported.
	xsave bool
	// xcr0 is the set of state components the OS enabled.
	xcr0 uint64
	// features are the components a signal frame carries: the kernel's
	// default user_xfeatures, which leave out the dynamically enabled
	// ones (AMX tile data) that a task has to ask for.
	features uint64
	// initOpt are components left out of a frame when they are in their
	// initial state (Linux's XFEATURE_MASK_SIGFRAME_INITOPT, applied only
	// when the machine has dynamic features).
	initOpt uint64
	// size is the size of the standard-format area covering features:
	// Linux's fpstate->user_size, which sizes the frame's FP state.
	size uint32
	// maxSize covers every enabled component: the size of the buffer
	// PTRACE_GETREGSET(NT_X86_XSTATE) fills, and so of FPState.Data.
	maxSize uint32
	// compacted is true when XRSTOR accepts compacted-form areas (XSAVEC).
	compacted bool
	// kernelCompacted is true when Linux keeps its own XSAVE buffers, and
	// so its initial state, in compacted form restored with XRSTORS
	// (XSAVES is present). This decides whether resetting the AVX state
	// also resets MXCSR (see restoreFP).
	kernelCompacted bool
	// mxcsrMask is the set of MXCSR bits the CPU allows.
	mxcsrMask uint32
	// x87PointersOnException is true on CPUs (AMD's) that store the x87
	// last-instruction opcode and pointers (FOP, FIP, FDP) only while an
	// unmasked x87 exception is pending, and zeros otherwise.
	x87PointersOnException bool
	// comp holds each component's place in the standard format.
	comp [64]xsaveComponent
}

// xsaveComponent is one state component's place in an XSAVE area.
type xsaveComponent struct {
	offset, size uint32
	// align64 is true when the component starts 64-byte aligned in the
	// compacted format.
	align64 bool
}

// cpuidFunc is the shape of cpuid, so tests can describe other machines.
type cpuidFunc func(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

// newXSaveLayout describes a machine whose enabled components are xcr0,
// with component geometry from cpuidFn's leaf 0xd, and whose MXCSR_MASK
// (as FXSAVE stores it) is mxcsrMask.
func newXSaveLayout(xcr0 uint64, cpuidFn cpuidFunc, mxcsrMask uint32) *xsaveLayout {
	l := &xsaveLayout{xsave: true, xcr0: xcr0, mxcsrMask: mxcsrMask}
	if l.mxcsrMask == 0 {
		l.mxcsrMask = mxcsrMaskDefault
	}
	l.comp[xfeatureFP] = xsaveComponent{offset: 0, size: fxOffXMM}
	l.comp[xfeatureSSE] = xsaveComponent{offset: fxOffXMM, size: fxOffReserved - fxOffXMM}
	for i := 2; i < 63; i++ {
		if xcr0&(1<<i) == 0 {
			continue
		}
		eax, ebx, ecx, _ := cpuidFn(0xd, uint32(i))
		l.comp[i] = xsaveComponent{offset: ebx, size: eax, align64: ecx&2 != 0}
	}
	_, ebx, ecx, edx := cpuidFn(0, 0)
	vendor := string(le.AppendUint32(le.AppendUint32(le.AppendUint32(nil, ebx), edx), ecx))
	l.x87PointersOnException = vendor == "AuthenticAMD" || vendor == "HygonGenuine"
	eax, _, _, _ := cpuidFn(0xd, 1)
	l.compacted = eax&2 != 0
	l.kernelCompacted = eax&8 != 0

	l.features = xcr0 &^ (1 << xfeatureXTileData)
	if xcr0&(1<<xfeatureXTileData) != 0 {
		l.initOpt = 1<<xfeatureXTileCfg | 1<<xfeatureXTileData
	}
	l.size = l.standardSize(l.features)
	l.maxSize = l.standardSize(xcr0)
	return l
}

// standardSize is the size of a standard-format area holding features.
func (l *xsaveLayout) standardSize(features uint64) uint32 {
	size := uint32(xsaveMinSize)
	for i := 2; i < 63; i++ {
		if features&(1<<i) != 0 {
			size = max(size, l.comp[i].offset+l.comp[i].size)
		}
	}
	return size
}

// compactedOffsets returns where each component of xcompBV lives in a
// compacted-form area (for XRSTOR of such an area).
func (l *xsaveLayout) compactedOffsets(xcompBV uint64) [64]uint32 {
	var offs [64]uint32
	offs[xfeatureFP] = 0
	offs[xfeatureSSE] = fxOffXMM
	next := uint32(xsaveMinSize)
	for i := 2; i < 63; i++ {
		if xcompBV&(1<<i) == 0 {
			continue
		}
		if l.comp[i].align64 {
			next = (next + 63) &^ 63
		}
		offs[i] = next
		next += l.comp[i].size
	}
	return offs
}

// hostXSave describes this machine, once.
var hostXSave = sync.OnceValue(func() *xsaveLayout {
	_, _, ecx, _ := cpuid(1, 0)
	const osxsave = 1 << 27
	if ecx&osxsave == 0 {
		return &xsaveLayout{mxcsrMask: hostMXCSRMask()}
	}
	lo, hi := xgetbv(0)
	return newXSaveLayout(uint64(lo)|uint64(hi)<<32, cpuid, hostMXCSRMask())
})

// hostMXCSRMask returns the MXCSR_MASK that FXSAVE reports on this CPU.
func hostMXCSRMask() uint32 {
	var buf [fxsaveSize + 16]byte
	p := unsafe.Pointer(&buf[0])
	area := (*[fxsaveSize]byte)(unsafe.Add(p, (16-uintptr(p)%16)%16))
	fxsave(area)
	return binary.LittleEndian.Uint32(area[fxOffMXCSRMask:])
}

// XSaveFeatures returns the XSAVE state components that signal frames
// carry on this machine (Linux's default user xfeatures) and the size of
// the XSAVE area in a frame, without the trailing magic.
func XSaveFeatures() (features uint64, size int) {
	l := hostXSave()
	return l.features, int(l.size)
}
