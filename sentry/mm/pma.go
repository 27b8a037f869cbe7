package mm

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/segment"
)

// Mappable is an object that can be mapped: a file's page cache, or
// shared anonymous memory.
type Mappable interface {
	// Translate returns the memory-file pages that back the object's
	// page-aligned range [start, end), bringing them into memory as
	// needed. It takes one memory-file reference on each returned range
	// for the caller. It may return less than asked for (at end of file)
	// but always includes the page at required, or fails with ErrBusError
	// if that page lies wholly beyond the end of the object.
	Translate(start, end, required uint64) ([]Translation, error)
}

// Translation maps the object range [Start, End) to the memory file at
// MemOff.
type Translation struct {
	Start, End uint64
	MemOff     uint64
}

// ErrBusError is returned for accesses to a mapping beyond the end of its
// object; the faulting task gets SIGBUS.
var ErrBusError = errors.New("access beyond end of mapped object")

// pma is a platform mapping area: the memory backing a range of addresses.
// Each pma holds one memory-file reference on its pages.
type pma struct {
	memOff uint64
	// private pages belong to this address space (anonymous memory or
	// copies); other pages are borrowed from a Mappable.
	private bool
	// needCOW is set on private pages shared with another address space
	// after fork: they must be copied before either writes.
	needCOW bool
}

type pmaOps struct{}

func (pmaOps) Split(s segment.Seg[pma], at uint64) (pma, pma) {
	l, r := s.Val, s.Val
	r.memOff += at - s.Start
	return l, r
}

func (pmaOps) Merge(a, b segment.Seg[pma]) (pma, bool) {
	ok := a.Val.memOff+a.Len() == b.Val.memOff && a.Val.private == b.Val.private && a.Val.needCOW == b.Val.needCOW
	return a.Val, ok
}

// needsCopy reports whether the pages of p must be copied before anything
// writes them in an area v: a private area never writes pages it borrowed
// from a mappable, or shares copy-on-write, in place. A shared area always
// writes its object's pages.
func needsCopy(v *vma, p *pma) bool {
	return v.private && (!p.private || p.needCOW)
}

// writable reports whether the application may write the pages of p in
// place in an area v.
func writable(v *vma, p *pma) bool {
	return v.perms.Write && !needsCopy(v, p)
}

// hostPerms are the permissions to map p with inside v.
func hostPerms(v *vma, p *pma) platform.AccessType {
	at := v.perms
	if at.Write && !writable(v, p) {
		at.Write = false
	}
	return at
}

// Fault chunk sizes: how much to bring in around a faulting address.
const (
	anonChunk = 2 << 20
	fileChunk = 256 << 10
)

// FaultError is the signal a fault that can't be resolved turns into.
type FaultError struct {
	Signo int
	Code  int32
	Addr  uintptr
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("unresolvable fault at %#x (signal %d code %d)", e.Addr, e.Signo, e.Code)
}

// si_codes of SIGSEGV and SIGBUS.
const (
	SEGV_MAPERR = 1
	SEGV_ACCERR = 2
	BUS_ADRERR  = 2
)

// HandleFault resolves an application page fault at addr. hostMapped is
// true when the host had a mapping there (the access violated its
// permissions). It returns nil if the application can retry the access,
// or a *FaultError naming the signal to deliver.
func (mm *MemoryManager) HandleFault(addr uintptr, hostMapped bool) error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	page := addr &^ linux.PageMask
	vi, ok := mm.findVMALocked(page)
	if !ok {
		return &FaultError{int(linuxSIGSEGV), SEGV_MAPERR, addr}
	}
	v := mm.vmas.At(vi)
	if !v.Val.perms.Any() {
		return &FaultError{int(linuxSIGSEGV), SEGV_ACCERR, addr}
	}
	pi, ok := mm.pmas.Find(uint64(page))
	if !ok {
		// Nothing backs the page yet: bring in a chunk around it.
		chunk := uint64(anonChunk)
		if v.Val.mappable != nil {
			chunk = fileChunk
		}
		start := max(page&^uintptr(chunk-1), uintptr(v.Start))
		end := min((page&^uintptr(chunk-1))+uintptr(chunk), uintptr(v.End))
		if gs, ge, ok := mm.pmas.Gap(uint64(page), uint64(start), uint64(end)); ok {
			start, end = uintptr(gs), uintptr(ge)
		}
		return mm.faultErr(mm.populateRangeLocked(start, end, page, page+linux.PageSize, false), addr)
	}
	p := mm.pmas.At(pi)
	if hostMapped {
		if v.Val.perms.Write && !writable(&v.Val, &p.Val) {
			// A write to a copy-on-write page.
			return mm.faultErr(mm.breakCOWLocked(page, page+linux.PageSize), addr)
		}
		return &FaultError{int(linuxSIGSEGV), SEGV_ACCERR, addr}
	}
	// Backed but not mapped in the host (a forked child, or the host
	// dropped the mapping): map the backed chunk around the page.
	start := max(page&^(anonChunk-1), uintptr(v.Start), uintptr(p.Start))
	end := min((page&^(anonChunk-1))+anonChunk, uintptr(v.End), uintptr(p.End))
	return mm.faultErr(mm.remapLocked(start, end, false), addr)
}

const linuxSIGSEGV, linuxSIGBUS = 11, 7

func (mm *MemoryManager) faultErr(err error, addr uintptr) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrBusError):
		return &FaultError{linuxSIGBUS, BUS_ADRERR, addr}
	default:
		return &FaultError{linuxSIGSEGV, SEGV_MAPERR, addr}
	}
}

// populateLocked makes sure every page of [start, end) is backed, copying
// copy-on-write pages if write is set, and mapped into the address space.
// The range must be covered by areas permitting the access.
func (mm *MemoryManager) populateLocked(start, end uintptr, write bool) error {
	return mm.populateRangeLocked(start, end, start, end, write)
}

// populateRangeLocked backs [start, end), of which only [required, need)
// must succeed: past need, a mappable that ends early stops the work
// without an error. Before need it is ErrBusError.
func (mm *MemoryManager) populateRangeLocked(start, end, required, need uintptr, write bool) error {
	for addr := start; addr < end; {
		vi, ok := mm.vmas.Find(uint64(addr))
		if !ok {
			return errFault
		}
		v := mm.vmas.At(vi)
		segEnd := min(end, uintptr(v.End))
		for addr < segEnd {
			pi, ok := mm.pmas.Find(uint64(addr))
			if ok {
				p := mm.pmas.At(pi)
				pe := min(uintptr(p.End), segEnd)
				if write && needsCopy(&v.Val, &p.Val) {
					if err := mm.breakCOWLocked(addr, pe); err != nil {
						return err
					}
				}
				addr = pe
				continue
			}
			ge := segEnd
			if pi < mm.pmas.Len() && uintptr(mm.pmas.At(pi).Start) < ge {
				ge = uintptr(mm.pmas.At(pi).Start)
			}
			filled, err := mm.fillLocked(vi, addr, ge, required)
			if err != nil {
				return err
			}
			if write && v.Val.private && v.Val.mappable != nil && filled > addr {
				// Fresh pages borrowed from a file: copy them to write,
				// including when the object ends early, since the caller
				// may use what was backed.
				if err := mm.breakCOWLocked(addr, filled); err != nil {
					return err
				}
			}
			if filled < ge {
				// The object ended.
				if filled < need {
					return ErrBusError
				}
				return nil
			}
			addr = ge
		}
	}
	return nil
}

// fillLocked backs the unbacked range [start, end) of area vi and maps it.
// It returns where it stopped (end, unless the mappable ended early).
func (mm *MemoryManager) fillLocked(vi int, start, end, required uintptr) (uintptr, error) {
	v := mm.vmas.At(vi)
	length := uint64(end - start)
	if v.Val.mappable == nil {
		off, err := mm.mf.Allocate(length)
		if err != nil {
			return start, err
		}
		mm.insertPMALocked(start, end, pma{memOff: off, private: true})
		return end, mm.mapLocked(start, end)
	}
	objStart := v.Val.off + (uint64(start) - v.Start)
	req := objStart
	if required >= start && required < end {
		req = v.Val.off + (uint64(required) - v.Start)
	}
	ts, err := v.Val.mappable.Translate(objStart, objStart+length, req)
	if err != nil {
		if !errors.Is(err, ErrBusError) && !errors.Is(err, unix.ENOMEM) {
			// The object could not supply its pages (a read failed):
			// Linux sends SIGBUS for that too.
			err = fmt.Errorf("%w: %w", ErrBusError, err)
		}
		return start, err
	}
	stop := start
	for _, t := range ts {
		s := start + uintptr(t.Start-objStart)
		e := start + uintptr(t.End-objStart)
		mm.insertPMALocked(s, e, pma{memOff: t.MemOff})
		stop = max(stop, e)
	}
	return stop, mm.mapLocked(start, stop)
}

func (mm *MemoryManager) insertPMALocked(start, end uintptr, p pma) {
	mm.rss += uint64(end - start)
	mm.maxRSS = max(mm.maxRSS, mm.rss)
	i := mm.pmas.Insert(segment.Seg[pma]{Start: uint64(start), End: uint64(end), Val: p})
	mm.pmas.MergeRange(i, i+1)
}

// breakCOWLocked gives [start, end) private, writable copies of its pages.
func (mm *MemoryManager) breakCOWLocked(start, end uintptr) error {
	i, j := mm.pmas.Isolate(uint64(start), uint64(end))
	for k := i; k < j; k++ {
		p := mm.pmas.At(k)
		if p.Val.private && !p.Val.needCOW {
			continue
		}
		if p.Val.private && mm.mf.MaxRefs(p.Val.memOff, p.Len()) == 1 {
			// Shared after fork, but the other side has let go: the
			// pages are ours alone again, no copy needed.
			p.Val.needCOW = false
			continue
		}
		off, err := mm.mf.Allocate(p.Len())
		if err != nil {
			return err
		}
		copy(mm.mf.Slice(off, p.Len()), mm.mf.Slice(p.Val.memOff, p.Len()))
		mm.mf.DecRef(p.Val.memOff, p.Len())
		p.Val = pma{memOff: off, private: true}
	}
	mm.pmas.MergeRange(i, j)
	return mm.mapLocked(start, end)
}

// mapLocked maps the backed pages of [start, end) into the address space
// with the permissions their areas and pages allow.
func (mm *MemoryManager) mapLocked(start, end uintptr) error {
	return mm.forEachPieceLocked(start, end, func(s, e uintptr, v *vma, p *pma, memOff uint64) error {
		return mm.as.MapFile(s, memOff, e-s, hostPerms(v, p))
	})
}

// remapLocked refreshes the host mappings of [start, end): with
// protectOnly, only their permissions.
func (mm *MemoryManager) remapLocked(start, end uintptr, protectOnly bool) error {
	if !protectOnly {
		return mm.mapLocked(start, end)
	}
	return mm.forEachPieceLocked(start, end, func(s, e uintptr, v *vma, p *pma, _ uint64) error {
		return mm.as.Protect(s, e-s, hostPerms(v, p))
	})
}

// forEachPieceLocked calls fn for each intersection of an area and a
// backed range within [start, end).
func (mm *MemoryManager) forEachPieceLocked(start, end uintptr, fn func(s, e uintptr, v *vma, p *pma, memOff uint64) error) error {
	for pi := mm.pmas.LowerBound(uint64(start)); pi < mm.pmas.Len() && mm.pmas.At(pi).Start < uint64(end); pi++ {
		p := mm.pmas.At(pi)
		ps, pe := max(p.Start, uint64(start)), min(p.End, uint64(end))
		for vi := mm.vmas.LowerBound(ps); vi < mm.vmas.Len() && mm.vmas.At(vi).Start < pe; vi++ {
			v := mm.vmas.At(vi)
			s, e := max(ps, v.Start), min(pe, v.End)
			if err := fn(uintptr(s), uintptr(e), &v.Val, &p.Val, p.Val.memOff+(s-p.Start)); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropPMAsLocked releases the backing of [start, end) and unmaps it from
// the host.
func (mm *MemoryManager) dropPMAsLocked(start, end uintptr) {
	if end <= start || mm.pmas.IsEmptyRange(uint64(start), uint64(end)) {
		return
	}
	i, j := mm.pmas.Isolate(uint64(start), uint64(end))
	for k := i; k < j; k++ {
		p := mm.pmas.At(k)
		mm.mf.DecRef(p.Val.memOff, p.Len())
		mm.rss -= p.Len()
	}
	mm.pmas.Remove(i, j)
	mm.as.Unmap(start, end-start)
}

// takePMAsLocked removes the backing of [start, end) without releasing it
// and returns it, for mremap to reinsert elsewhere.
func (mm *MemoryManager) takePMAsLocked(start, end uintptr) []segment.Seg[pma] {
	if end <= start || mm.pmas.IsEmptyRange(uint64(start), uint64(end)) {
		return nil
	}
	i, j := mm.pmas.Isolate(uint64(start), uint64(end))
	out := make([]segment.Seg[pma], 0, j-i)
	for k := i; k < j; k++ {
		out = append(out, *mm.pmas.At(k))
	}
	mm.pmas.Remove(i, j)
	mm.as.Unmap(start, end-start)
	return out
}
