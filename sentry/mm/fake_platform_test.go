package mm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"testing"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/memfile"
)

// fakePlatform is a platform.Platform whose address spaces only record
// what is mapped where: a model of the host page table. It runs no code.
type fakePlatform struct {
	min, max uintptr
}

func (p *fakePlatform) NewAddressSpace() (platform.AddressSpace, error) {
	return &fakeAS{pages: make(map[uintptr]hostPTE)}, nil
}
func (p *fakePlatform) NewContext() platform.Context { panic("fake platform runs no code") }
func (p *fakePlatform) MinUserAddress() uintptr      { return p.min }
func (p *fakePlatform) MaxUserAddress() uintptr      { return p.max }
func (p *fakePlatform) FPStateSize() int             { return 0 }

// hostPTE is one host page table entry: the memory-file offset a page maps
// and its permissions.
type hostPTE struct {
	off   uint64
	perms platform.AccessType
}

// fakeAS is a platform.AddressSpace over a page table.
type fakeAS struct {
	mu       sync.Mutex
	pages    map[uintptr]hostPTE
	released bool
	// misuse records calls a real platform would reject.
	misuse []string
}

func (as *fakeAS) checkArgs(op string, addr, length uintptr, off uint64) bool {
	if as.released {
		as.misuse = append(as.misuse, fmt.Sprintf("%s(%#x, %#x) after Release", op, addr, length))
		return false
	}
	if addr&linux.PageMask != 0 || length&linux.PageMask != 0 || off&linux.PageMask != 0 || length == 0 || addr+length < addr {
		as.misuse = append(as.misuse, fmt.Sprintf("%s(addr=%#x, len=%#x, off=%#x): bad arguments", op, addr, length, off))
		return false
	}
	return true
}

func (as *fakeAS) MapFile(addr uintptr, off uint64, length uintptr, at platform.AccessType) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	if !as.checkArgs("MapFile", addr, length, off) {
		return errors.New("fake: bad MapFile")
	}
	for a := addr; a < addr+length; a += linux.PageSize {
		as.pages[a] = hostPTE{off: off + uint64(a-addr), perms: at}
	}
	return nil
}

func (as *fakeAS) Protect(addr, length uintptr, at platform.AccessType) error {
	as.mu.Lock()
	defer as.mu.Unlock()
	if !as.checkArgs("Protect", addr, length, 0) {
		return errors.New("fake: bad Protect")
	}
	for a := addr; a < addr+length; a += linux.PageSize {
		if pte, ok := as.pages[a]; ok {
			pte.perms = at
			as.pages[a] = pte
		}
	}
	return nil
}

func (as *fakeAS) Unmap(addr, length uintptr) {
	as.mu.Lock()
	defer as.mu.Unlock()
	if !as.checkArgs("Unmap", addr, length, 0) {
		return
	}
	if uintptr(len(as.pages)) < length>>linux.PageShift {
		for a := range as.pages {
			if a >= addr && a < addr+length {
				delete(as.pages, a)
			}
		}
		return
	}
	for a := addr; a < addr+length; a += linux.PageSize {
		delete(as.pages, a)
	}
}

func (as *fakeAS) Release() {
	as.mu.Lock()
	defer as.mu.Unlock()
	if as.released {
		as.misuse = append(as.misuse, "Release called twice")
	}
	as.released = true
	as.pages = nil
}

// lookup returns the entry for the page holding addr.
func (as *fakeAS) lookup(addr uintptr) (hostPTE, bool) {
	as.mu.Lock()
	defer as.mu.Unlock()
	pte, ok := as.pages[addr&^linux.PageMask]
	return pte, ok
}

// snapshot returns a copy of the page table.
func (as *fakeAS) snapshot() map[uintptr]hostPTE {
	as.mu.Lock()
	defer as.mu.Unlock()
	out := make(map[uintptr]hostPTE, len(as.pages))
	for a, pte := range as.pages {
		out[a] = pte
	}
	return out
}

// fakeSource is a CacheSource over a byte slice.
type fakeSource struct {
	data []byte
	// eof makes ReadAt return io.EOF on a short read, as io.ReaderAt
	// implementations do.
	eof bool
	// fail makes ReadAt fail.
	fail  bool
	reads int
}

func (s *fakeSource) ReadAt(dst []byte, off int64) (int, error) {
	s.reads++
	if s.fail {
		return 0, errors.New("fake: read error")
	}
	n := 0
	if off < int64(len(s.data)) {
		n = copy(dst, s.data[off:])
	}
	if n < len(dst) && s.eof {
		return n, io.EOF
	}
	return n, nil
}

func (s *fakeSource) Size() uint64 { return uint64(len(s.data)) }

// The memory file is shared by all tests: each is 1 TiB of address space
// and cannot be unmapped. Tests do not run in parallel, and each checks
// that it leaves nothing allocated.
var (
	sharedMFOnce sync.Once
	sharedMF     *memfile.MemoryFile
	sharedMFErr  error
)

const (
	testMin = 0x10000
	testMax = 0x7fff_ffff_f000
	pg      = linux.PageSize
)

// env is one test's world: a memory file, a platform, and the address
// spaces and page caches created on it.
type env struct {
	t      *testing.T
	mf     *memfile.MemoryFile
	p      *fakePlatform
	mms    []*MemoryManager
	caches []*PageCache
}

func newEnv(t *testing.T) *env {
	return newEnvRange(t, testMin, testMax)
}

func newEnvRange(t *testing.T, min, max uintptr) *env {
	t.Helper()
	sharedMFOnce.Do(func() { sharedMF, sharedMFErr = memfile.New("mm-test") })
	if sharedMFErr != nil {
		t.Fatalf("memfile.New: %v", sharedMFErr)
	}
	if n := sharedMF.InUse(); n != 0 {
		t.Fatalf("memory file has %d bytes in use before the test", n)
	}
	e := &env{t: t, mf: sharedMF, p: &fakePlatform{min: min, max: max}}
	t.Cleanup(e.finish)
	return e
}

// newMM returns a new address space whose mmap base is base.
func (e *env) newMM(base uintptr) (*MemoryManager, *fakeAS) {
	e.t.Helper()
	m, err := New(e.p, e.mf)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	m.mmapBase = base
	e.mms = append(e.mms, m)
	return m, m.as.(*fakeAS)
}

// newCache returns a page cache over data.
func (e *env) newCache(data []byte) (*PageCache, *fakeSource) {
	src := &fakeSource{data: data}
	c := NewPageCache(e.mf, src)
	e.caches = append(e.caches, c)
	return c, src
}

// finish releases everything and checks that no memory leaked.
func (e *env) finish() {
	e.t.Helper()
	for _, m := range e.mms {
		for m.users.Load() > 0 {
			m.DecUsers()
		}
		as := m.as.(*fakeAS)
		if !as.released {
			e.t.Errorf("address space not released after the last DecUsers")
		}
		for _, s := range as.misuse {
			e.t.Errorf("platform misuse: %s", s)
		}
	}
	for _, c := range e.caches {
		c.Release()
	}
	if n := e.mf.InUse(); n != 0 {
		e.t.Errorf("memory file: %d bytes still in use after releasing everything, want 0", n)
		// Don't let one leak fail every later test.
		sharedMF, sharedMFErr = memfile.New("mm-test")
	}
}

// check verifies the invariants of every live address space and of the
// memory file's accounting.
func (e *env) check(ctx string) {
	e.t.Helper()
	var held []span
	for i, m := range e.mms {
		if m.users.Load() <= 0 {
			continue
		}
		held = append(held, checkMM(e.t, fmt.Sprintf("%s: mm%d", ctx, i), m)...)
	}
	for _, c := range e.caches {
		c.mu.Lock()
		for i := 0; i < c.pages.Len(); i++ {
			s := c.pages.At(i)
			held = append(held, span{s.Val, s.Val + s.Len()})
		}
		c.mu.Unlock()
	}
	if got, want := unionLen(held), e.mf.InUse(); got != want {
		e.t.Fatalf("%s: memory held by pmas and caches is %#x bytes, memory file has %#x in use", ctx, got, want)
	}
}

type span struct{ start, end uint64 }

func unionLen(s []span) uint64 {
	sort.Slice(s, func(i, j int) bool { return s[i].start < s[j].start })
	var total, cur uint64
	for _, x := range s {
		if x.end <= cur {
			continue
		}
		total += x.end - max(x.start, cur)
		cur = x.end
	}
	return total
}

// checkMM checks the structure of m's VMAs and PMAs and that the host page
// table agrees with them, and returns the memory its PMAs hold.
func checkMM(t *testing.T, ctx string, m *MemoryManager) []span {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var prevEnd uint64
	for i := 0; i < m.vmas.Len(); i++ {
		v := m.vmas.At(i)
		if v.Start >= v.End || v.Start&linux.PageMask != 0 || v.End&linux.PageMask != 0 || v.Start < prevEnd {
			t.Fatalf("%s: bad vma %d [%#x, %#x) after %#x", ctx, i, v.Start, v.End, prevEnd)
		}
		if v.Start < uint64(m.minAddr) || v.End > uint64(m.maxAddr) {
			t.Fatalf("%s: vma [%#x, %#x) outside [%#x, %#x)", ctx, v.Start, v.End, m.minAddr, m.maxAddr)
		}
		if i > 0 && v.Start == prevEnd {
			if _, ok := (vmaOps{}).Merge(*m.vmas.At(i - 1), *v); ok {
				t.Errorf("%s: adjacent vmas [%#x, %#x) and [%#x, %#x) were not merged", ctx, m.vmas.At(i-1).Start, prevEnd, v.Start, v.End)
			}
		}
		prevEnd = v.End
	}
	var held []span
	prevEnd = 0
	for i := 0; i < m.pmas.Len(); i++ {
		p := m.pmas.At(i)
		if p.Start >= p.End || p.Start&linux.PageMask != 0 || p.End&linux.PageMask != 0 || p.Start < prevEnd || p.Val.memOff&linux.PageMask != 0 {
			t.Fatalf("%s: bad pma %d [%#x, %#x) memOff %#x after %#x", ctx, i, p.Start, p.End, p.Val.memOff, prevEnd)
		}
		prevEnd = p.End
		if !m.coveredLocked(uintptr(p.Start), uintptr(p.End)) {
			t.Fatalf("%s: pma [%#x, %#x) not covered by vmas", ctx, p.Start, p.End)
		}
		held = append(held, span{p.Val.memOff, p.Val.memOff + p.Len()})
	}
	as := m.as.(*fakeAS)
	for a, pte := range as.snapshot() {
		pi, ok := m.pmas.Find(uint64(a))
		if !ok {
			t.Fatalf("%s: host maps page %#x (memOff %#x) but no pma backs it", ctx, a, pte.off)
		}
		p := m.pmas.At(pi)
		vi, ok := m.vmas.Find(uint64(a))
		if !ok {
			t.Fatalf("%s: host maps page %#x outside any vma", ctx, a)
		}
		v := m.vmas.At(vi)
		if want := p.Val.memOff + (uint64(a) - p.Start); pte.off != want {
			t.Fatalf("%s: host maps page %#x to memOff %#x, want %#x", ctx, a, pte.off, want)
		}
		if want := hostPerms(&v.Val, &p.Val); pte.perms != want {
			t.Fatalf("%s: host maps page %#x %v, want %v (vma %v private=%v, pma private=%v)", ctx, a, pte.perms, want, v.Val.perms, v.Val.private, p.Val.private)
		}
	}
	return held
}

// mustHostMap returns the host mapping of addr, failing if there is none.
func mustHostMap(t *testing.T, as *fakeAS, addr uintptr) hostPTE {
	t.Helper()
	pte, ok := as.lookup(addr)
	if !ok {
		t.Fatalf("page %#x: not mapped in the host, want mapped", addr)
	}
	return pte
}

// pattern returns n bytes of a recognisable pattern.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed ^ byte(i>>12)
	}
	return b
}

// readAll reads n bytes at addr, failing the test on error.
func readAll(t *testing.T, m *MemoryManager, addr uintptr, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if got, err := m.CopyIn(addr, b); err != nil || got != n {
		t.Fatalf("CopyIn(%#x, %d) = %d, %v; want %d, nil", addr, n, got, err, n)
	}
	return b
}

// writeAll writes b at addr, failing the test on error.
func writeAll(t *testing.T, m *MemoryManager, addr uintptr, b []byte) {
	t.Helper()
	if got, err := m.CopyOut(addr, b); err != nil || got != len(b) {
		t.Fatalf("CopyOut(%#x, %d) = %d, %v; want %d, nil", addr, len(b), got, err, len(b))
	}
}

func isZero(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }

// cacheContents returns the cached bytes of c at [off, off+n) without
// going through any mapping.
func cacheContents(t *testing.T, c *PageCache, off uint64, n int) []byte {
	t.Helper()
	start := off &^ linux.PageMask
	end, _ := linux.PageRoundUp(off + uint64(n))
	ts, err := c.Translate(start, end, start)
	if err != nil {
		t.Fatalf("Translate(%#x, %#x): %v", start, end, err)
	}
	var out []byte
	for _, tr := range ts {
		out = append(out, c.mf.Slice(tr.MemOff, tr.End-tr.Start)...)
		c.mf.DecRef(tr.MemOff, tr.End-tr.Start)
	}
	return out[off-start : off-start+uint64(n)]
}
