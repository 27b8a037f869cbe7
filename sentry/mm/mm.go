// Package mm models an application address space: virtual memory areas
// (VMAs: what the application asked to map, with permissions and backing
// object), and platform mapping areas (PMAs: which memory-file pages back
// which addresses right now). Faults are resolved here, not by the host:
// a fault on an address with a VMA but no PMA allocates or translates
// backing pages and maps them into the platform address space, a chunk at a
// time; a write fault on a copy-on-write page copies it.
//
// The sentry reads and writes application memory through its own mapping
// of the memory file (CopyIn, CopyOut, ZeroOut), honouring VMA permissions:
// a bad pointer is EFAULT, never a sentry crash.
//
// Lock order: MemoryManager.mu, then Mappable locks (PageCache.mu), then
// memfile.MemoryFile.mu. Platform address space calls are made with mu held.
package mm

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/segment"
)

// MemoryManager is an application address space.
type MemoryManager struct {
	p  platform.Platform
	mf *memfile.MemoryFile

	users atomic.Int32

	mu   sync.Mutex
	as   platform.AddressSpace
	vmas segment.Set[vma, vmaOps]
	pmas segment.Set[pma, pmaOps]

	minAddr, maxAddr uintptr
	// mmapBase is where top-down searches for free space start.
	mmapBase uintptr
	// stackTop is the top of the initial stack.
	stackTop uintptr
	// brkStart is the initial program break; brk the current one.
	brkStart, brk uintptr
	// stackLimit bounds how far a MAP_GROWSDOWN area may grow
	// (RLIMIT_STACK).
	stackLimit uint64
	// rss is the memory backing the address space now; maxRSS its peak.
	rss, maxRSS uint64

	// Process image information (set by the loader, read by /proc).
	argv, envv Range
	auxv       []uint64
	executable any
}

// Range is an address range [Start, End).
type Range struct{ Start, End uintptr }

// Len returns the length of r.
func (r Range) Len() uintptr { return r.End - r.Start }

// New returns an empty address space with one user.
func New(p platform.Platform, mf *memfile.MemoryFile) (*MemoryManager, error) {
	as, err := p.NewAddressSpace()
	if err != nil {
		return nil, err
	}
	mm := &MemoryManager{p: p, mf: mf, as: as, minAddr: p.MinUserAddress(), maxAddr: p.MaxUserAddress(), stackLimit: DefaultStackSize}
	mm.users.Store(1)
	mm.chooseLayout()
	return mm, nil
}

// randomPages returns a random number of pages below 2^bits, as a byte count.
func randomPages(bits uint) uintptr {
	var b [8]byte
	rand.Read(b[:])
	return uintptr(binary.LittleEndian.Uint64(b[:])&(1<<bits-1)) << linux.PageShift
}

// Default stack rlimit and the gap Linux keeps between the stack and the
// mmap area.
const (
	DefaultStackSize = 8 << 20
	minMmapGap       = 128 << 20
)

// chooseLayout places the stack and the mmap base as Linux does on x86-64,
// with randomisation. On a platform with a small address space the offsets
// shrink so that both stay inside it.
func (mm *MemoryManager) chooseLayout() {
	room := mm.maxAddr - mm.minAddr
	mm.stackTop = mm.maxAddr - min(randomPages(22), room/8&^linux.PageMask)
	gap := DefaultStackSize + minMmapGap + randomPages(28)
	mm.mmapBase = mm.stackTop - min(gap, (mm.stackTop-mm.minAddr)/2&^linux.PageMask)
}

// SetStackLimit sets how far stacks may grow (RLIMIT_STACK).
func (mm *MemoryManager) SetStackLimit(n uint64) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.stackLimit = n
}

// MaxRSS returns the peak of the memory backing the address space, in
// bytes (getrusage's ru_maxrss).
func (mm *MemoryManager) MaxRSS() uint64 {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.maxRSS
}

// StackTop returns the top of the initial stack.
func (mm *MemoryManager) StackTop() uintptr { return mm.stackTop }

// AddressSpace returns the platform address space.
func (mm *MemoryManager) AddressSpace() platform.AddressSpace { return mm.as }

// IncUsers adds a user (a task sharing this address space).
func (mm *MemoryManager) IncUsers() { mm.users.Add(1) }

// DecUsers drops a user; the last one releases the address space and all
// its memory.
func (mm *MemoryManager) DecUsers() {
	if mm.users.Add(-1) > 0 {
		return
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	for i := 0; i < mm.pmas.Len(); i++ {
		s := mm.pmas.At(i)
		mm.mf.DecRef(s.Val.memOff, s.Len())
	}
	for i := 0; i < mm.vmas.Len(); i++ {
		decMappings(mm.vmas.At(i).Val.mappable)
	}
	mm.pmas = segment.Set[pma, pmaOps]{}
	mm.vmas = segment.Set[vma, vmaOps]{}
	mm.as.Release()
	decRef(mm.executable)
	mm.executable = nil
}

// Fork returns a copy of the address space for a child process, as
// fork(2) makes it: shared mappings are shared, private memory is shared
// copy-on-write (both sides lose write access to it on the host until
// they write and copy).
func (mm *MemoryManager) Fork() (*MemoryManager, error) {
	as, err := mm.p.NewAddressSpace()
	if err != nil {
		return nil, err
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	n := &MemoryManager{
		p: mm.p, mf: mm.mf, as: as, minAddr: mm.minAddr, maxAddr: mm.maxAddr,
		mmapBase: mm.mmapBase, stackTop: mm.stackTop, brkStart: mm.brkStart, brk: mm.brk,
		stackLimit: mm.stackLimit, argv: mm.argv, envv: mm.envv, auxv: mm.auxv, executable: mm.executable,
		rss: mm.rss, maxRSS: mm.rss,
	}
	n.users.Store(1)
	if r, ok := mm.executable.(interface{ IncRef() }); ok && r != nil {
		r.IncRef()
	}
	n.vmas = mm.vmas.Clone()
	for i := 0; i < n.vmas.Len(); i++ {
		incMappings(n.vmas.At(i).Val.mappable)
	}
	var cow []Range
	for i := 0; i < mm.pmas.Len(); i++ {
		p := mm.pmas.At(i)
		mm.mf.IncRef(p.Val.memOff, p.Len())
		if p.Val.private {
			if !p.Val.needCOW {
				cow = append(cow, Range{uintptr(p.Start), uintptr(p.End)})
			}
			p.Val.needCOW = true
		}
	}
	n.pmas = mm.pmas.Clone()
	// The parent may no longer write what is now shared.
	for _, r := range cow {
		mm.remapLocked(r.Start, r.End, true)
	}
	return n, nil
}

// SetImageInfo records where the loader put argv and envp, the auxiliary
// vector and the executable, for /proc. The address space takes over a
// reference on the executable (dropped with DecRef, if it has one, when it
// is replaced or the address space goes).
func (mm *MemoryManager) SetImageInfo(argv, envv Range, auxv []uint64, executable any) {
	mm.mu.Lock()
	old := mm.executable
	mm.argv, mm.envv, mm.auxv, mm.executable = argv, envv, auxv, executable
	mm.mu.Unlock()
	if old != executable {
		decRef(old)
	}
}

func decRef(x any) {
	if r, ok := x.(interface{ DecRef() }); ok && r != nil {
		r.DecRef()
	}
}

// Executable returns what SetImageInfo recorded as the executable.
func (mm *MemoryManager) Executable() any {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.executable
}

// ArgvEnv returns the argv and envp ranges.
func (mm *MemoryManager) ArgvEnv() (Range, Range) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.argv, mm.envv
}

// Auxv returns the auxiliary vector.
func (mm *MemoryManager) Auxv() []uint64 {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.auxv
}
