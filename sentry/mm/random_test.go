package mm

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
)

// The randomized test runs random operations on two address spaces over a
// small window and compares every result with a page-by-page model of what
// Linux would do, then checks the invariants of mm and of the memory file.

// mobj is a mappable object in the model.
type mobj struct {
	name   string
	cache  *PageCache
	data   []byte // npages pages; shared writes land here
	npages uint64
}

// mpage is the model of one mapped page.
type mpage struct {
	perms, maxPerms platform.AccessType
	private         bool
	obj             *mobj // nil for anonymous memory
	pgoff           uint64
	data            []byte // a private page's own contents, once written
	hint            string
}

func (p *mpage) beyondEOF() bool { return p.obj != nil && p.data == nil && p.pgoff >= p.obj.npages }

var zeroPage = make([]byte, pg)

func (p *mpage) contents() []byte {
	switch {
	case p.data != nil:
		return p.data
	case p.obj == nil:
		return zeroPage
	default:
		return p.obj.data[p.pgoff*pg : (p.pgoff+1)*pg]
	}
}

func (p *mpage) write(off int, b []byte) {
	if !p.private {
		copy(p.obj.data[p.pgoff*pg+uint64(off):], b)
		return
	}
	if p.data == nil {
		p.data = append([]byte(nil), p.contents()...)
	}
	copy(p.data[off:], b)
}

// mspace is the model of one address space.
type mspace struct {
	pages         map[uintptr]*mpage
	brkStart, brk uintptr
}

func (s *mspace) free(addr uintptr, n uint64) bool {
	for a := addr; a < addr+uintptr(n); a += pg {
		if s.pages[a] != nil {
			return false
		}
	}
	return true
}

func (s *mspace) mapped(addr uintptr, n uint64) bool {
	for a := addr; a < addr+uintptr(n); a += pg {
		if s.pages[a] == nil {
			return false
		}
	}
	return true
}

func (s *mspace) remove(addr uintptr, n uint64) {
	for a := addr; a < addr+uintptr(n); a += pg {
		delete(s.pages, a)
	}
}

type randomTest struct {
	t      *testing.T
	e      *env
	r      *rand.Rand
	lo, hi uintptr
	mms    []*MemoryManager
	ass    []*fakeAS
	spaces []*mspace
	objs   []*mobj // [0] is a file, the rest shared anonymous memory
	op     int
	recent []string
}

const (
	windowPages = 40
	windowLo    = 0x100000
)

func TestRandomOperations(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rt := newRandomTest(t, seed)
			for rt.op = 0; rt.op < 2000; rt.op++ {
				rt.step()
				rt.checkAll()
				if rt.op%100 == 99 {
					rt.checkContents()
				}
			}
			rt.checkContents()
		})
	}
}

func newRandomTest(t *testing.T, seed int64) *randomTest {
	lo, hi := uintptr(windowLo), uintptr(windowLo+windowPages*pg)
	e := newEnvRange(t, lo, hi)
	rt := &randomTest{t: t, e: e, r: rand.New(rand.NewSource(seed)), lo: lo, hi: hi}
	for i := 0; i < 2; i++ {
		m, as := e.newMM(hi)
		brk := lo + uintptr(5+15*i)*pg + 100
		m.SetBrkStart(brk)
		rt.mms = append(rt.mms, m)
		rt.ass = append(rt.ass, as)
		rt.spaces = append(rt.spaces, &mspace{pages: make(map[uintptr]*mpage), brkStart: brk, brk: brk})
	}
	// A file of five and a bit pages.
	fileData := make([]byte, 5*pg+1000)
	rt.r.Read(fileData)
	c, _ := e.newCache(fileData)
	file := &mobj{name: "file", cache: c, npages: 6, data: make([]byte, 6*pg)}
	copy(file.data, fileData)
	rt.objs = append(rt.objs, file)
	for i := 0; i < 2; i++ {
		// The test keeps NewSharedAnon's reference for its whole run, as
		// an open descriptor would, so the object survives being
		// unmapped everywhere and is re-mapped later; finish releases it.
		c := NewSharedAnon(e.mf, 6*pg)
		e.caches = append(e.caches, c)
		rt.objs = append(rt.objs, &mobj{name: fmt.Sprint("shm", i), cache: c, npages: 6, data: make([]byte, 6*pg)})
	}
	return rt
}

func (rt *randomTest) logf(format string, args ...any) {
	s := fmt.Sprintf("op %d: ", rt.op) + fmt.Sprintf(format, args...)
	rt.recent = append(rt.recent, s)
	if len(rt.recent) > 12 {
		rt.recent = rt.recent[1:]
	}
}

func (rt *randomTest) fatalf(format string, args ...any) {
	rt.t.Helper()
	rt.t.Fatalf("%s\nrecent operations:\n  %s", fmt.Sprintf(format, args...), strings.Join(rt.recent, "\n  "))
}

func (rt *randomTest) checkErr(what string, err, want error) {
	rt.t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		rt.fatalf("%s: err = %v, want %v", what, err, want)
	}
}

var randomPerms = []platform.AccessType{
	platform.NoAccess, platform.Read, platform.ReadWrite, {Read: true, Execute: true},
	platform.AnyAccess, {Write: true}, {Execute: true},
}

// page returns a random page address in and just around the window.
func (rt *randomTest) page() uintptr {
	return rt.lo + uintptr(rt.r.Intn(windowPages+4))*pg - 2*pg
}

// byteAddr returns a random byte address in and just around the window.
func (rt *randomTest) byteAddr() uintptr {
	return rt.lo - pg + uintptr(rt.r.Intn((windowPages+2)*pg))
}

func (rt *randomTest) step() {
	i := rt.r.Intn(len(rt.mms))
	switch n := rt.r.Intn(100); {
	case n < 10:
		rt.mmapFixed(i)
	case n < 18:
		rt.mmapAnywhere(i)
	case n < 26:
		rt.munmap(i)
	case n < 36:
		rt.mprotect(i)
	case n < 46:
		rt.mremap(i)
	case n < 51:
		rt.madvise(i)
	case n < 56:
		rt.brk(i)
	case n < 70:
		rt.copyOut(i)
	case n < 78:
		rt.copyIn(i)
	case n < 80:
		// The host may lose mappings (a platform may drop them at any
		// time); mm must map them again on the next fault.
		addr, length := rt.page(), uintptr(1+rt.r.Intn(6))*pg
		rt.logf("mm%d host drops %#x+%#x", i, addr, length)
		rt.ass[i].Unmap(addr, length)
	default:
		rt.access(i)
	}
}

// randomMapping returns random options for a new mapping of n pages and
// the model page of its first page.
func (rt *randomTest) randomMapping(n uint64) (MMapOpts, mpage) {
	perms := randomPerms[rt.r.Intn(len(randomPerms))]
	o := MMapOpts{Length: n*pg - uint64(rt.r.Intn(pg)), Perms: perms, MaxPerms: platform.AnyAccess, Private: true, Populate: rt.r.Intn(10) == 0}
	p := mpage{perms: perms, maxPerms: platform.AnyAccess, private: true}
	switch k := rt.r.Intn(10); {
	case k < 4: // anonymous
	case k < 7: // private file, possibly past its end
		p.obj = rt.objs[0]
		p.pgoff = uint64(rt.r.Intn(int(p.obj.npages) + 2))
	case k < 9: // shared memory, sometimes mapped privately
		p.obj = rt.objs[1+rt.r.Intn(len(rt.objs)-1)]
		p.pgoff = uint64(rt.r.Intn(int(p.obj.npages)))
		p.private = rt.r.Intn(4) == 0
	default: // shared read-only file
		p.obj = rt.objs[0]
		p.pgoff = uint64(rt.r.Intn(int(p.obj.npages)))
		p.private = false
		p.maxPerms = platform.AccessType{Read: true, Execute: true}
		p.perms = p.perms.Intersect(p.maxPerms)
	}
	o.Perms, o.MaxPerms, o.Private = p.perms, p.maxPerms, p.private
	if p.obj != nil {
		o.Mappable = p.obj.cache
		o.Offset = p.pgoff * pg
	}
	return o, p
}

func (rt *randomTest) describe(p mpage) string {
	name := "anon"
	if p.obj != nil {
		name = fmt.Sprintf("%s@%d", p.obj.name, p.pgoff)
	}
	kind := "shared"
	if p.private {
		kind = "private"
	}
	return fmt.Sprintf("%s %s %v/%v", kind, name, p.perms, p.maxPerms)
}

// place adds n pages at addr like proto, with consecutive object offsets.
func (s *mspace) place(addr uintptr, n uint64, proto mpage) {
	for k := uint64(0); k < n/pg; k++ {
		p := proto
		p.data = nil
		p.pgoff = proto.pgoff + k
		s.pages[addr+uintptr(k*pg)] = &p
	}
}

func (rt *randomTest) mmapFixed(i int) {
	m, s := rt.mms[i], rt.spaces[i]
	n := uint64(1+rt.r.Intn(8)) * pg
	o, proto := rt.randomMapping(n / pg)
	o.Addr, o.Fixed = rt.page(), true
	o.NoReplace = rt.r.Intn(5) == 0
	rt.logf("mm%d mmap fixed %#x+%#x noreplace=%v %s", i, o.Addr, n, o.NoReplace, rt.describe(proto))
	got, err := mmapRef(m, o)
	var want error
	switch {
	case o.Addr < rt.lo || o.Addr+uintptr(n) > rt.hi:
		want = unix.ENOMEM
	case o.NoReplace && !s.free(o.Addr, n):
		want = unix.EEXIST
	}
	rt.checkErr("mmap fixed", err, want)
	if want != nil {
		return
	}
	if got != o.Addr {
		rt.fatalf("mmap fixed returned %#x, want %#x", got, o.Addr)
	}
	s.remove(o.Addr, n)
	s.place(o.Addr, n, proto)
}

// topDown returns where a search for n bytes below the mmap base (the top
// of the window) lands: the highest free range.
func (rt *randomTest) topDown(s *mspace, n uint64) (uintptr, bool) {
	for a := rt.hi - uintptr(n); a >= rt.lo && a < rt.hi; a -= pg {
		if s.free(a, n) {
			return a, true
		}
	}
	return 0, false
}

func (rt *randomTest) mmapAnywhere(i int) {
	m, s := rt.mms[i], rt.spaces[i]
	n := uint64(1+rt.r.Intn(8)) * pg
	o, proto := rt.randomMapping(n / pg)
	if rt.r.Intn(2) == 0 {
		o.Addr = rt.page() + uintptr(rt.r.Intn(3))
	}
	rt.logf("mm%d mmap hint %#x+%#x %s", i, o.Addr, n, rt.describe(proto))
	got, err := mmapRef(m, o)
	want, ok := uintptr(0), false
	if h := o.Addr &^ linux.PageMask; o.Addr != 0 && h >= rt.lo && h+uintptr(n) <= rt.hi && s.free(h, n) {
		want, ok = h, true
	} else {
		want, ok = rt.topDown(s, n)
	}
	if !ok {
		rt.checkErr("mmap", err, unix.ENOMEM)
		return
	}
	rt.checkErr("mmap", err, nil)
	if got != want {
		rt.fatalf("mmap returned %#x, want %#x", got, want)
	}
	s.place(got, n, proto)
}

func (rt *randomTest) munmap(i int) {
	m, s := rt.mms[i], rt.spaces[i]
	addr := rt.page()
	if rt.r.Intn(20) == 0 {
		addr += 8
	}
	length := uint64(rt.r.Intn(10))*pg - uint64(rt.r.Intn(2))
	rt.logf("mm%d munmap %#x+%#x", i, addr, length)
	err := m.MUnmap(addr, length)
	l, _ := linux.PageRoundUp(length)
	var want error
	if addr&linux.PageMask != 0 || length == 0 || length > 1<<40 || addr+uintptr(l) > rt.hi {
		want = unix.EINVAL
	}
	rt.checkErr("munmap", err, want)
	if want == nil {
		s.remove(addr, l)
	}
}

func (rt *randomTest) mprotect(i int) {
	m, s := rt.mms[i], rt.spaces[i]
	addr := rt.page()
	if rt.r.Intn(30) == 0 {
		addr++
	}
	length := uint64(rt.r.Intn(8)) * pg
	at := randomPerms[rt.r.Intn(len(randomPerms))]
	rt.logf("mm%d mprotect %#x+%#x %v", i, addr, length, at)
	err := m.MProtect(addr, length, at.Prot())
	var want error
	switch {
	case addr&linux.PageMask != 0:
		want = unix.EINVAL
	case length == 0:
	case !s.mapped(addr, length):
		want = unix.ENOMEM
	default:
		for a := addr; a < addr+uintptr(length); a += pg {
			if !s.pages[a].maxPerms.SupersetOf(at) {
				want = unix.EACCES
			}
		}
	}
	rt.checkErr("mprotect", err, want)
	if want == nil {
		for a := addr; a < addr+uintptr(length); a += pg {
			s.pages[a].perms = at
		}
	}
}

func (rt *randomTest) mremap(i int) {
	m, s := rt.mms[i], rt.spaces[i]
	vs := m.VMAs()
	var oldAddr uintptr
	var oldLen uint64
	if len(vs) > 0 && rt.r.Intn(4) != 0 {
		v := vs[rt.r.Intn(len(vs))]
		np := int((v.End - v.Start) / pg)
		k := rt.r.Intn(np)
		oldAddr = v.Start + uintptr(k)*pg
		oldLen = uint64(1+rt.r.Intn(np-k)) * pg
		if rt.r.Intn(10) == 0 {
			oldLen += pg
		}
	} else {
		oldAddr = rt.page()
		oldLen = uint64(rt.r.Intn(5)) * pg
	}
	if rt.r.Intn(8) == 0 {
		oldLen = 0
	}
	newLen := uint64(1+rt.r.Intn(8)) * pg
	if rt.r.Intn(40) == 0 {
		newLen = 0
	}
	flags := []int{0, linux.MREMAP_MAYMOVE, linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, linux.MREMAP_FIXED}[rt.r.Intn(5)]
	newAddr := rt.page()
	if rt.r.Intn(20) == 0 {
		newAddr++
	}
	rt.logf("mm%d mremap %#x+%#x -> %#x flags %d new %#x", i, oldAddr, oldLen, newLen, flags, newAddr)
	got, err := m.MRemap(oldAddr, oldLen, newLen, flags, newAddr)

	fixed, mayMove := flags&linux.MREMAP_FIXED != 0, flags&linux.MREMAP_MAYMOVE != 0
	fail := func(want error) {
		rt.t.Helper()
		if err == nil {
			rt.fatalf("mremap = %#x, nil; want %v", got, want)
		}
		rt.checkErr("mremap", err, want)
	}
	switch {
	case fixed && !mayMove, newLen == 0:
		fail(unix.EINVAL)
		return
	case fixed && (newAddr&linux.PageMask != 0 || newAddr < rt.lo || newAddr+uintptr(newLen) > rt.hi):
		fail(unix.EINVAL)
		return
	case fixed && newAddr < oldAddr+uintptr(oldLen) && oldAddr < newAddr+uintptr(newLen):
		fail(unix.EINVAL)
		return
	case oldLen == 0 && !mayMove:
		fail(unix.EINVAL)
		return
	}
	var v *VMA
	for k := range vs {
		if vs[k].Start <= oldAddr && oldAddr < vs[k].End {
			v = &vs[k]
		}
	}
	if v == nil {
		fail(unix.EFAULT)
		return
	}
	src := *s.pages[oldAddr]
	if oldLen == 0 {
		if v.Private {
			fail(unix.EINVAL)
			return
		}
	} else if oldAddr+uintptr(oldLen) > v.End {
		fail(unix.EFAULT)
		return
	}
	oldEnd := oldAddr + uintptr(oldLen)
	var want uintptr
	switch {
	case oldLen == 0:
		// Duplicate a shared mapping.
	case !fixed && newLen <= oldLen:
		rt.checkErr("mremap shrink", err, nil)
		if got != oldAddr {
			rt.fatalf("mremap shrink = %#x, want %#x", got, oldAddr)
		}
		s.remove(oldAddr+uintptr(newLen), oldLen-newLen)
		return
	case !fixed && oldEnd == v.End && oldAddr+uintptr(newLen) <= rt.hi && s.free(oldEnd, newLen-oldLen):
		rt.checkErr("mremap grow", err, nil)
		if got != oldAddr {
			rt.fatalf("mremap grow = %#x, want %#x", got, oldAddr)
		}
		tail := src
		tail.pgoff += oldLen / pg
		s.place(oldEnd, newLen-oldLen, tail)
		return
	case !mayMove:
		fail(unix.ENOMEM)
		return
	}
	if fixed {
		want = newAddr
	} else {
		var ok bool
		if want, ok = rt.topDown(s, newLen); !ok {
			fail(unix.ENOMEM)
			return
		}
	}
	rt.checkErr("mremap move", err, nil)
	if got != want {
		rt.fatalf("mremap moved to %#x, want %#x", got, want)
	}
	moveLen := min(oldLen, newLen)
	moved := make(map[uintptr]*mpage)
	for a := uintptr(0); a < uintptr(moveLen); a += pg {
		moved[want+a] = s.pages[oldAddr+a]
	}
	s.remove(oldAddr, oldLen)
	s.remove(want, newLen)
	for a, p := range moved {
		s.pages[a] = p
	}
	tail := src
	tail.pgoff += moveLen / pg
	s.place(want+uintptr(moveLen), newLen-moveLen, tail)
}

func (rt *randomTest) madvise(i int) {
	m, s := rt.mms[i], rt.spaces[i]
	addr := rt.page()
	length := uint64(rt.r.Intn(8)) * pg
	advice := []int{linux.MADV_DONTNEED, linux.MADV_FREE, linux.MADV_WILLNEED}[rt.r.Intn(3)]
	rt.logf("mm%d madvise %#x+%#x %d", i, addr, length, advice)
	err := m.Madvise(addr, length, advice)
	var want error
	if length != 0 && !s.mapped(addr, length) {
		want = unix.ENOMEM
	}
	rt.checkErr("madvise", err, want)
	if want == nil && advice != linux.MADV_WILLNEED {
		for a := addr; a < addr+uintptr(length); a += pg {
			s.pages[a].data = nil
		}
	}
}

func (rt *randomTest) brk(i int) {
	m, s := rt.mms[i], rt.spaces[i]
	addr := s.brkStart - pg + uintptr(rt.r.Intn(14*pg))
	rt.logf("mm%d brk %#x (break %#x)", i, addr, s.brk)
	got := m.Brk(addr)
	want := s.brk
	if addr >= s.brkStart && addr < rt.hi {
		oldEnd, newEnd := pageUp(s.brk), pageUp(addr)
		switch {
		case newEnd > oldEnd:
			if s.free(oldEnd, uint64(newEnd-oldEnd)) {
				s.place(oldEnd, uint64(newEnd-oldEnd), mpage{perms: platform.ReadWrite, maxPerms: platform.AnyAccess, private: true, hint: "[heap]"})
				want = addr
			}
		case newEnd < oldEnd:
			s.remove(newEnd, uint64(oldEnd-newEnd))
			want = addr
		default:
			want = addr
		}
	}
	if got != want {
		rt.fatalf("brk(%#x) = %#x, want %#x", addr, got, want)
	}
	s.brk = want
}

// span calls fn for each page piece of [addr, addr+n) until it returns
// false, and returns the number of bytes accepted.
func (s *mspace) span(addr uintptr, n int, fn func(p *mpage, off int, b int) bool) int {
	done := 0
	for done < n {
		a := addr + uintptr(done)
		page := a &^ linux.PageMask
		chunk := min(int(page+pg-a), n-done)
		p := s.pages[page]
		if p == nil || !fn(p, int(a-page), chunk) {
			break
		}
		done += chunk
	}
	return done
}

func (rt *randomTest) copyOut(i int) {
	m, s := rt.mms[i], rt.spaces[i]
	addr := rt.byteAddr()
	data := make([]byte, 1+rt.r.Intn(3*pg))
	rt.r.Read(data)
	ignore := rt.r.Intn(6) == 0
	zero := rt.r.Intn(8) == 0
	if zero {
		clear(data)
	}
	rt.logf("mm%d copyout %#x+%#x ignore=%v zero=%v", i, addr, len(data), ignore, zero)
	var got int
	var err error
	if zero {
		got, err = m.ZeroOut(addr, len(data), IOOpts{IgnorePermissions: ignore})
	} else {
		got, err = m.CopyOutOpts(addr, data, IOOpts{IgnorePermissions: ignore})
	}
	want := s.span(addr, len(data), func(p *mpage, off, n int) bool {
		if p.beyondEOF() {
			return false
		}
		if ignore {
			return p.private || p.maxPerms.Write
		}
		return p.perms.Write
	})
	if got != want || (err != nil) != (want < len(data)) || (err != nil && !errors.Is(err, unix.EFAULT)) {
		rt.fatalf("copyout = %d, %v; want %d (of %d)", got, err, want, len(data))
	}
	done := 0
	for done < got {
		a := addr + uintptr(done)
		page := a &^ linux.PageMask
		n := min(int(page+pg-a), got-done)
		s.pages[page].write(int(a-page), data[done:done+n])
		done += n
	}
}

func (rt *randomTest) copyIn(i int) {
	m, s := rt.mms[i], rt.spaces[i]
	addr := rt.byteAddr()
	buf := make([]byte, 1+rt.r.Intn(3*pg))
	rt.logf("mm%d copyin %#x+%#x", i, addr, len(buf))
	got, err := m.CopyIn(addr, buf)
	var want []byte
	s.span(addr, len(buf), func(p *mpage, off, n int) bool {
		if p.beyondEOF() || !p.perms.Any() {
			return false
		}
		want = append(want, p.contents()[off:off+n]...)
		return true
	})
	if got != len(want) || (err != nil) != (got < len(buf)) || (err != nil && !errors.Is(err, unix.EFAULT)) {
		rt.fatalf("copyin = %d, %v; want %d (of %d)", got, err, len(want), len(buf))
	}
	if !bytes.Equal(buf[:got], want) {
		rt.fatalf("copyin %#x+%#x read different bytes from the model", addr, got)
	}
}

// access simulates the application touching one byte through the host
// page table, taking faults as a CPU would.
func (rt *randomTest) access(i int) {
	m, s, as := rt.mms[i], rt.spaces[i], rt.ass[i]
	addr := rt.byteAddr()
	write := rt.r.Intn(2) == 0
	rt.logf("mm%d access %#x write=%v", i, addr, write)
	p := s.pages[addr&^linux.PageMask]
	type outcome struct {
		signo int
		code  int32
	}
	var want outcome
	switch {
	case p == nil:
		want = outcome{linuxSIGSEGV, SEGV_MAPERR}
	case !p.perms.Any():
		want = outcome{linuxSIGSEGV, SEGV_ACCERR}
	case p.beyondEOF():
		want = outcome{linuxSIGBUS, BUS_ADRERR}
	case write && !p.perms.Write:
		want = outcome{linuxSIGSEGV, SEGV_ACCERR}
	}
	for try := 0; try < 4; try++ {
		pte, mapped := as.lookup(addr)
		allowed := pte.perms.Write || (!write && pte.perms.Any())
		if mapped && allowed {
			if want.signo != 0 {
				rt.fatalf("access succeeded through host mapping %+v, want signal %d code %d", pte, want.signo, want.code)
			}
			b := rt.e.mf.Slice(pte.off, pg)
			off := int(addr & linux.PageMask)
			if write {
				v := byte(rt.r.Intn(256))
				b[off] = v
				p.write(off, []byte{v})
			} else if b[off] != p.contents()[off] {
				rt.fatalf("application reads %#x at %#x, model has %#x", b[off], addr, p.contents()[off])
			}
			return
		}
		err := m.HandleFault(addr, mapped)
		if err == nil {
			continue
		}
		var fe *FaultError
		if !errors.As(err, &fe) {
			rt.fatalf("HandleFault(%#x, %v) = %v, want a *FaultError", addr, mapped, err)
		}
		if fe.Signo != want.signo || fe.Code != want.code || fe.Addr != addr {
			rt.fatalf("HandleFault(%#x, %v) = signal %d code %d addr %#x; want signal %d code %d", addr, mapped, fe.Signo, fe.Code, fe.Addr, want.signo, want.code)
		}
		return
	}
	rt.fatalf("access to %#x (write=%v) still faulting after 4 faults", addr, write)
}

// checkAll checks mm's invariants and compares its areas and the host page
// tables with the model.
func (rt *randomTest) checkAll() {
	rt.t.Helper()
	rt.e.check(fmt.Sprintf("op %d", rt.op))
	if rt.t.Failed() {
		rt.fatalf("invariants broken")
	}
	for i, m := range rt.mms {
		s := rt.spaces[i]
		n := 0
		m.mu.Lock()
		for k := 0; k < m.vmas.Len(); k++ {
			v := m.vmas.At(k)
			for a := uintptr(v.Start); a < uintptr(v.End); a += pg {
				n++
				p := s.pages[a]
				if p == nil {
					m.mu.Unlock()
					rt.fatalf("mm%d: page %#x is in an area but not in the model", i, a)
				}
				var mappable Mappable
				if p.obj != nil {
					mappable = p.obj.cache
				}
				ok := v.Val.perms == p.perms && v.Val.maxPerms == p.maxPerms && v.Val.private == p.private &&
					v.Val.mappable == mappable && v.Val.hint == p.hint &&
					(p.obj == nil || v.Val.off+uint64(a)-v.Start == p.pgoff*pg)
				if !ok {
					m.mu.Unlock()
					rt.fatalf("mm%d: page %#x: area %+v (start %#x), model %s pgoff %d hint %q", i, a, v.Val, v.Start, rt.describe(*p), p.pgoff, p.hint)
				}
			}
		}
		m.mu.Unlock()
		if n != len(s.pages) {
			rt.fatalf("mm%d: areas cover %d pages, model has %d", i, n, len(s.pages))
		}
		// What the application sees through the host page table is the
		// model's contents.
		for a, pte := range rt.ass[i].snapshot() {
			p := s.pages[a]
			if p == nil {
				rt.fatalf("mm%d: host maps unmapped page %#x", i, a)
			}
			if !bytes.Equal(rt.e.mf.Slice(pte.off, pg), p.contents()) {
				rt.fatalf("mm%d: host page %#x (memOff %#x) differs from the model (%s)", i, a, pte.off, rt.describe(*p))
			}
		}
	}
}

// checkContents reads every readable page through CopyIn.
func (rt *randomTest) checkContents() {
	rt.t.Helper()
	for i, m := range rt.mms {
		for a, p := range rt.spaces[i].pages {
			if !p.perms.Any() || p.beyondEOF() {
				continue
			}
			b := make([]byte, pg)
			if n, err := m.CopyIn(a, b); n != pg || err != nil {
				rt.fatalf("mm%d: CopyIn(%#x) = %d, %v", i, a, n, err)
			}
			if !bytes.Equal(b, p.contents()) {
				rt.fatalf("mm%d: page %#x differs from the model (%s)", i, a, rt.describe(*p))
			}
		}
	}
	rt.checkAll()
}
