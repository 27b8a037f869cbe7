package mm

import (
	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/segment"
)

// vma is a virtual memory area: a range the application mapped.
type vma struct {
	perms    platform.AccessType
	maxPerms platform.AccessType
	// private is true for MAP_PRIVATE: writes are copied, never reaching
	// the mappable.
	private   bool
	growsDown bool
	// mappable backs the area; nil means anonymous private memory.
	mappable Mappable
	// off is the mappable offset of the start of the area.
	off uint64
	// hint names the area in /proc/[pid]/maps ("[heap]", "[stack]").
	hint string
	// file identifies the mapped file for /proc/[pid]/maps (the VFS's
	// VirtualDentry); it is not a reference.
	file any
}

type vmaOps struct{}

func (vmaOps) Split(s segment.Seg[vma], at uint64) (vma, vma) {
	l, r := s.Val, s.Val
	if r.mappable != nil {
		r.off += at - s.Start
		incMappings(r.mappable) // one area became two
	}
	return l, r
}

func (vmaOps) Merge(a, b segment.Seg[vma]) (vma, bool) {
	x, y := a.Val, b.Val
	if x.perms != y.perms || x.maxPerms != y.maxPerms || x.private != y.private ||
		x.growsDown != y.growsDown || x.mappable != y.mappable || x.hint != y.hint || x.file != y.file {
		return x, false
	}
	if x.mappable != nil && x.off+a.Len() != y.off {
		return x, false
	}
	// The set merges whenever Merge says it may: two areas become one.
	decMappings(x.mappable)
	return x, true
}

// MappingRefs is implemented by mappables that track how many areas map
// them, to free their memory when the last one goes. MMap takes over one
// reference from its caller (who got it from ConfigureMMap or with a new
// object); the MemoryManager keeps the count right as areas are split,
// merged, moved and unmapped.
type MappingRefs interface {
	IncMappings()
	DecMappings()
}

func incMappings(m Mappable) {
	if r, ok := m.(MappingRefs); ok {
		r.IncMappings()
	}
}

func decMappings(m Mappable) {
	if r, ok := m.(MappingRefs); ok {
		r.DecMappings()
	}
}

// MMapOpts are the arguments of MMap.
type MMapOpts struct {
	Length uint64
	// Addr is the requested address: a hint, or exact with Fixed.
	Addr  uintptr
	Fixed bool
	// NoReplace makes a Fixed mapping fail with EEXIST rather than
	// replace existing mappings.
	NoReplace bool
	Perms     platform.AccessType
	MaxPerms  platform.AccessType
	Private   bool
	GrowsDown bool
	// Mappable and Offset give the backing object; nil Mappable with
	// Private means anonymous memory.
	Mappable Mappable
	Offset   uint64
	Hint     string
	// File identifies the mapped file, for /proc (see vma.file).
	File any
	// Populate faults the whole mapping in now (MAP_POPULATE).
	Populate bool
}

// MMap creates a mapping and returns its address. It consumes the
// caller's mapping reference on o.Mappable (see MappingRefs), whether it
// succeeds or not.
func (mm *MemoryManager) MMap(o MMapOpts) (addr uintptr, err error) {
	defer func() {
		if err != nil {
			decMappings(o.Mappable)
		}
	}()
	length, ok := linux.PageRoundUp(o.Length)
	if !ok || length == 0 || length > uint64(mm.maxAddr-mm.minAddr) {
		return 0, errNoMem
	}
	if (o.Fixed && o.Addr&linux.PageMask != 0) || (o.Mappable != nil && o.Offset&linux.PageMask != 0) {
		// mmap(2) checks these; other callers must not get an area that
		// would make the memory file allocate partial pages.
		return 0, errInval
	}
	if o.Mappable != nil && o.Offset+length < o.Offset {
		return 0, errOverflow
	}
	if !o.Private && o.Mappable == nil {
		panic("mm: shared mapping without a mappable")
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()

	if o.Fixed {
		addr = o.Addr
		end := addr + uintptr(length)
		if end < addr || addr < mm.minAddr || end > mm.maxAddr {
			return 0, errNoMem
		}
		if o.NoReplace {
			if !mm.vmas.IsEmptyRange(uint64(addr), uint64(end)) {
				return 0, errExist
			}
		} else {
			mm.unmapLocked(addr, end)
		}
	} else {
		addr, err = mm.findAvailableLocked(o.Addr, uintptr(length))
		if err != nil {
			return 0, err
		}
	}
	v := vma{
		perms: o.Perms, maxPerms: o.MaxPerms, private: o.Private, growsDown: o.GrowsDown,
		mappable: o.Mappable, off: o.Offset, hint: o.Hint, file: o.File,
	}
	i := mm.vmas.Insert(segment.Seg[vma]{Start: uint64(addr), End: uint64(addr) + length, Val: v})
	mm.vmas.MergeRange(i, i+1)
	if o.Populate && o.Perms.Any() {
		// Best effort, as in Linux: errors show up at access time.
		mm.populateLocked(addr, addr+uintptr(length), false)
	}
	return addr, nil
}

// stackGuardGap is Linux's stack_guard_gap: a growing stack stops this far
// above the area below it.
const stackGuardGap = 256 << linux.PageShift

// findVMALocked returns the index of the area containing addr. If there is
// none but addr lies below a MAP_GROWSDOWN area, within the stack limit and
// clear of the guard gap, the area grows down to addr's page first, as
// Linux's expand_stack does.
func (mm *MemoryManager) findVMALocked(addr uintptr) (int, bool) {
	vi, ok := mm.vmas.Find(uint64(addr))
	if ok || vi >= mm.vmas.Len() {
		return vi, ok
	}
	v := mm.vmas.At(vi)
	if !v.Val.growsDown || v.Val.mappable != nil {
		return vi, false
	}
	page := uint64(addr) &^ linux.PageMask
	if v.End-page > mm.stackLimit || page < uint64(mm.minAddr) {
		return vi, false
	}
	if vi > 0 && page < mm.vmas.At(vi-1).End+stackGuardGap {
		return vi, false
	}
	v.Start = page
	return vi, true
}

// findAvailableLocked finds a free range of length bytes, preferring the
// hint, else searching top-down from the mmap base, else bottom-up above it.
func (mm *MemoryManager) findAvailableLocked(hint, length uintptr) (uintptr, error) {
	if hint != 0 {
		hint &^= linux.PageMask
		if end := hint + length; end > hint && hint >= mm.minAddr && end <= mm.maxAddr &&
			mm.vmas.IsEmptyRange(uint64(hint), uint64(end)) {
			return hint, nil
		}
	}
	// Top-down from mmapBase.
	top := uint64(mm.mmapBase)
	for i := mm.vmas.LowerBound(top - 1); ; i-- {
		// The gap below segment i (or below top when i is past the end).
		gapEnd := top
		if i < mm.vmas.Len() && mm.vmas.At(i).Start < gapEnd {
			gapEnd = mm.vmas.At(i).Start
		}
		gapStart := uint64(mm.minAddr)
		if i > 0 {
			gapStart = max(gapStart, mm.vmas.At(i-1).End)
		}
		if gapEnd >= gapStart+uint64(length) && gapEnd >= uint64(length) {
			return uintptr(gapEnd - uint64(length)), nil
		}
		if i <= 0 {
			break
		}
	}
	// Bottom-up above mmapBase.
	start := uint64(mm.mmapBase)
	for i := mm.vmas.LowerBound(start); ; i++ {
		if uint64(length) > uint64(mm.maxAddr) || start > uint64(mm.maxAddr)-uint64(length) {
			return 0, errNoMem
		}
		if i < mm.vmas.Len() && mm.vmas.At(i).Start < start+uint64(length) {
			start = max(start, mm.vmas.At(i).End)
			continue
		}
		return uintptr(start), nil
	}
}

// MUnmap implements munmap(2).
func (mm *MemoryManager) MUnmap(addr uintptr, length uint64) error {
	if addr&linux.PageMask != 0 || length == 0 {
		return errInval
	}
	l, ok := linux.PageRoundUp(length)
	end := addr + uintptr(l)
	if !ok || end < addr || end > mm.maxAddr {
		return errInval
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.unmapLocked(addr, end)
	return nil
}

// unmapLocked removes every mapping in [start, end).
func (mm *MemoryManager) unmapLocked(start, end uintptr) {
	// An empty range must not reach Isolate, which would split the area
	// around it.
	if start >= end || mm.vmas.IsEmptyRange(uint64(start), uint64(end)) {
		return
	}
	i, j := mm.vmas.Isolate(uint64(start), uint64(end))
	for k := i; k < j; k++ {
		decMappings(mm.vmas.At(k).Val.mappable)
	}
	mm.vmas.Remove(i, j)
	mm.dropPMAsLocked(start, end)
}

// MProtect implements mprotect(2).
func (mm *MemoryManager) MProtect(addr uintptr, length uint64, prot int) error {
	if addr&linux.PageMask != 0 {
		return errInval
	}
	if prot&^(linux.PROT_READ|linux.PROT_WRITE|linux.PROT_EXEC|linux.PROT_GROWSDOWN|linux.PROT_GROWSUP) != 0 ||
		prot&(linux.PROT_GROWSDOWN|linux.PROT_GROWSUP) == linux.PROT_GROWSDOWN|linux.PROT_GROWSUP {
		return errInval
	}
	l, ok := linux.PageRoundUp(length)
	end := addr + uintptr(l)
	if !ok || end < addr {
		return errNoMem
	}
	if l == 0 {
		return nil
	}
	at := platform.ProtToAccessType(prot)
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if !mm.coveredLocked(addr, end) {
		return errNoMem
	}
	// Check every area first so that a failure changes nothing.
	for i := mm.vmas.LowerBound(uint64(addr)); i < mm.vmas.Len() && mm.vmas.At(i).Start < uint64(end); i++ {
		if !mm.vmas.At(i).Val.maxPerms.SupersetOf(at) {
			return errAcces
		}
	}
	i, j := mm.vmas.Isolate(uint64(addr), uint64(end))
	for k := i; k < j; k++ {
		mm.vmas.At(k).Val.perms = at
	}
	mm.vmas.MergeRange(i, j)
	mm.remapLocked(addr, end, true)
	return nil
}

// coveredLocked reports whether [start, end) is entirely mapped.
func (mm *MemoryManager) coveredLocked(start, end uintptr) bool {
	pos := uint64(start)
	for i := mm.vmas.LowerBound(pos); pos < uint64(end); i++ {
		if i >= mm.vmas.Len() || mm.vmas.At(i).Start > pos {
			return false
		}
		pos = mm.vmas.At(i).End
	}
	return true
}

// SetBrkStart sets the initial program break (the loader calls it).
func (mm *MemoryManager) SetBrkStart(addr uintptr) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.brkStart, mm.brk = addr, addr
}

// Brk implements brk(2): it returns the new break, or the old one if addr
// is unacceptable.
func (mm *MemoryManager) Brk(addr uintptr) uintptr {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if addr < mm.brkStart || addr >= mm.maxAddr {
		return mm.brk
	}
	oldEnd := pageUp(mm.brk)
	newEnd := pageUp(addr)
	switch {
	case newEnd > oldEnd:
		if !mm.vmas.IsEmptyRange(uint64(oldEnd), uint64(newEnd)) || newEnd-mm.brkStart > maxBrkSize {
			return mm.brk
		}
		v := vma{perms: platform.ReadWrite, maxPerms: platform.AnyAccess, private: true, hint: "[heap]"}
		i := mm.vmas.Insert(segment.Seg[vma]{Start: uint64(oldEnd), End: uint64(newEnd), Val: v})
		mm.vmas.MergeRange(i, i+1)
	case newEnd < oldEnd:
		mm.unmapLocked(newEnd, oldEnd)
	}
	mm.brk = addr
	return addr
}

// maxBrkSize bounds the heap (RLIMIT_DATA is not enforced yet).
const maxBrkSize = 1 << 40

func pageUp(a uintptr) uintptr { return (a + linux.PageMask) &^ linux.PageMask }

// MRemap implements mremap(2).
func (mm *MemoryManager) MRemap(oldAddr uintptr, oldSize, newSize uint64, flags int, newAddr uintptr) (uintptr, error) {
	if flags&^(linux.MREMAP_MAYMOVE|linux.MREMAP_FIXED|linux.MREMAP_DONTUNMAP) != 0 || oldAddr&linux.PageMask != 0 {
		return 0, errInval
	}
	if flags&linux.MREMAP_FIXED != 0 && flags&linux.MREMAP_MAYMOVE == 0 {
		return 0, errInval
	}
	if flags&linux.MREMAP_DONTUNMAP != 0 {
		// Not supported yet: report it like an unknown flag.
		return 0, errInval
	}
	oldLen, ok1 := linux.PageRoundUp(oldSize)
	newLen, ok2 := linux.PageRoundUp(newSize)
	if !ok1 || !ok2 || newLen == 0 || newLen > uint64(mm.maxAddr) {
		return 0, errInval
	}
	oldEnd := oldAddr + uintptr(oldLen)
	if flags&linux.MREMAP_FIXED != 0 {
		// The destination is checked first, as Linux does, and for every
		// kind of remap: placeLocked relies on it.
		if newAddr&linux.PageMask != 0 {
			return 0, errInval
		}
		ne := newAddr + uintptr(newLen)
		if ne < newAddr || newAddr < mm.minAddr || ne > mm.maxAddr {
			return 0, errInval
		}
		if oldEnd >= oldAddr && newAddr < oldEnd && oldAddr < ne {
			return 0, errInval
		}
	}
	if oldLen == 0 && flags&linux.MREMAP_MAYMOVE == 0 {
		return 0, errInval
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	vi, ok := mm.vmas.Find(uint64(oldAddr))
	if !ok {
		return 0, errFault
	}
	v := mm.vmas.At(vi)
	if oldLen == 0 {
		// Duplicate a shared mapping: only shared mappings allow it.
		if v.Val.private {
			return 0, errInval
		}
		src := v.Val
		src.off = v.Val.off + (uint64(oldAddr) - v.Start)
		return mm.placeLocked(src, flags, newAddr, newLen, 0, 0)
	}
	if oldEnd > uintptr(v.End) || oldEnd < oldAddr {
		return 0, errFault
	}
	// Shrink in place.
	if flags&linux.MREMAP_FIXED == 0 && newLen <= oldLen {
		mm.unmapLocked(oldAddr+uintptr(newLen), oldEnd)
		return oldAddr, nil
	}
	// Grow in place if the area ends here and the space after is free.
	if flags&linux.MREMAP_FIXED == 0 && uint64(oldEnd) == v.End {
		growEnd := oldAddr + uintptr(newLen)
		if growEnd > oldAddr && growEnd <= mm.maxAddr && mm.vmas.IsEmptyRange(uint64(oldEnd), uint64(growEnd)) {
			v.End = uint64(growEnd)
			mm.vmas.MergeRange(vi, vi+1)
			return oldAddr, nil
		}
	}
	if flags&linux.MREMAP_MAYMOVE == 0 {
		return 0, errNoMem
	}
	src := v.Val
	if src.mappable != nil {
		src.off += uint64(oldAddr) - v.Start
	}
	return mm.placeLocked(src, flags, newAddr, newLen, oldAddr, oldEnd)
}

// placeLocked creates the destination of a moving mremap with the
// attributes of src and moves the pages of [oldAddr, oldEnd) there (if
// oldEnd > oldAddr), unmapping the source.
func (mm *MemoryManager) placeLocked(src vma, flags int, newAddr uintptr, newLen uint64, oldAddr, oldEnd uintptr) (uintptr, error) {
	var dst uintptr
	if flags&linux.MREMAP_FIXED != 0 {
		dst = newAddr
		mm.unmapLocked(dst, dst+uintptr(newLen))
	} else {
		var err error
		// Search while the source is still mapped so we never land on it.
		dst, err = mm.findAvailableLocked(0, uintptr(newLen))
		if err != nil {
			return 0, err
		}
	}
	moveLen := uint64(oldEnd - oldAddr)
	if moveLen > newLen {
		moveLen = newLen
	}
	// Detach the source pages, then the source area.
	moved := mm.takePMAsLocked(oldAddr, oldAddr+uintptr(moveLen))
	if oldEnd > oldAddr {
		mm.unmapLocked(oldAddr, oldEnd)
	}
	incMappings(src.mappable) // the destination is a new area
	i := mm.vmas.Insert(segment.Seg[vma]{Start: uint64(dst), End: uint64(dst) + newLen, Val: src})
	mm.vmas.MergeRange(i, i+1)
	for _, p := range moved {
		p.Start = p.Start - uint64(oldAddr) + uint64(dst)
		p.End = p.End - uint64(oldAddr) + uint64(dst)
		mm.pmas.Insert(p)
	}
	mm.remapLocked(dst, dst+uintptr(moveLen), false)
	return dst, nil
}

// Madvise implements madvise(2).
func (mm *MemoryManager) Madvise(addr uintptr, length uint64, advice int) error {
	if addr&linux.PageMask != 0 {
		return errInval
	}
	l, ok := linux.PageRoundUp(length)
	end := addr + uintptr(l)
	if !ok || end < addr {
		return errInval
	}
	switch advice {
	case linux.MADV_NORMAL, linux.MADV_RANDOM, linux.MADV_SEQUENTIAL, linux.MADV_WILLNEED,
		linux.MADV_DONTFORK, linux.MADV_DOFORK, linux.MADV_MERGEABLE, linux.MADV_UNMERGEABLE,
		linux.MADV_HUGEPAGE, linux.MADV_NOHUGEPAGE, linux.MADV_DONTDUMP, linux.MADV_DODUMP,
		linux.MADV_COLD, linux.MADV_PAGEOUT, linux.MADV_WIPEONFORK, linux.MADV_KEEPONFORK:
		// Hints the sentry's memory model has no use for yet.
		if l == 0 {
			return nil
		}
		mm.mu.Lock()
		defer mm.mu.Unlock()
		if !mm.coveredLocked(addr, end) {
			return errNoMem
		}
		return nil
	case linux.MADV_DONTNEED, linux.MADV_FREE, linux.MADV_REMOVE:
		if l == 0 {
			return nil
		}
		mm.mu.Lock()
		defer mm.mu.Unlock()
		if !mm.coveredLocked(addr, end) {
			return errNoMem
		}
		// Dropping the pages makes private memory read back as zeros (or
		// as the file), and shared memory as the object's contents.
		mm.dropPMAsLocked(addr, end)
		return nil
	}
	return errInval
}

// Msync implements msync(2). Shared file mappings write back through
// their page cache (none are writable yet), so it only validates.
func (mm *MemoryManager) Msync(addr uintptr, length uint64, flags int) error {
	if addr&linux.PageMask != 0 || flags&^(linux.MS_ASYNC|linux.MS_SYNC|linux.MS_INVALIDATE) != 0 ||
		flags&(linux.MS_ASYNC|linux.MS_SYNC) == linux.MS_ASYNC|linux.MS_SYNC {
		return errInval
	}
	l, ok := linux.PageRoundUp(length)
	end := addr + uintptr(l)
	if !ok || end < addr {
		return errNoMem
	}
	mm.mu.Lock()
	if !mm.coveredLocked(addr, end) {
		mm.mu.Unlock()
		return errNoMem
	}
	syncs := mm.sharedSyncsLocked(uint64(addr), uint64(end))
	mm.mu.Unlock()
	return runSyncs(syncs)
}

// Mincore implements mincore(2): for each page of the range, whether it is
// backed by memory now.
func (mm *MemoryManager) Mincore(addr uintptr, length uint64) ([]byte, error) {
	if addr&linux.PageMask != 0 {
		return nil, errInval
	}
	l, ok := linux.PageRoundUp(length)
	end := addr + uintptr(l)
	if !ok || end < addr || end > mm.maxAddr {
		return nil, errNoMem
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if !mm.coveredLocked(addr, end) {
		return nil, errNoMem
	}
	out := make([]byte, l>>linux.PageShift)
	for i := mm.pmas.LowerBound(uint64(addr)); i < mm.pmas.Len() && mm.pmas.At(i).Start < uint64(end); i++ {
		p := mm.pmas.At(i)
		s, e := max(p.Start, uint64(addr)), min(p.End, uint64(end))
		for a := s; a < e; a += linux.PageSize {
			out[(a-uint64(addr))>>linux.PageShift] = 1
		}
	}
	return out, nil
}

// VMA describes one area, for /proc/[pid]/maps.
type VMA struct {
	Start, End uintptr
	Perms      platform.AccessType
	Private    bool
	Offset     uint64
	Mappable   Mappable
	Hint       string
}

// VMAs returns the areas in address order.
func (mm *MemoryManager) VMAs() []VMA {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	out := make([]VMA, 0, mm.vmas.Len())
	for i := 0; i < mm.vmas.Len(); i++ {
		s := mm.vmas.At(i)
		out = append(out, VMA{uintptr(s.Start), uintptr(s.End), s.Val.perms, s.Val.private, s.Val.off, s.Val.mappable, s.Val.hint})
	}
	return out
}

// PermsAt returns the permissions of the area containing addr.
func (mm *MemoryManager) PermsAt(addr uintptr) (platform.AccessType, bool) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	i, ok := mm.vmas.Find(uint64(addr))
	if !ok {
		return platform.NoAccess, false
	}
	return mm.vmas.At(i).Val.perms, true
}
