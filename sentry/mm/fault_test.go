package mm

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
)

// wantFault checks that err is a *FaultError with the given signal, code
// and address.
func wantFault(t *testing.T, err error, signo int, code int32, addr uintptr) {
	t.Helper()
	var fe *FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("HandleFault(%#x) = %v, want a *FaultError", addr, err)
	}
	if fe.Signo != signo || fe.Code != code || fe.Addr != addr {
		t.Errorf("HandleFault(%#x) = signal %d code %d addr %#x; want signal %d code %d addr %#x", addr, fe.Signo, fe.Code, fe.Addr, signo, code, addr)
	}
	if fe.Error() == "" {
		t.Errorf("FaultError has no message")
	}
}

func TestFaultErrors(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	a := uintptr(0x2000_0000)
	mustMMap(t, m, anon(a, pg, platform.NoAccess))
	mustMMap(t, m, anon(a+pg, pg, platform.Read))

	wantFault(t, m.HandleFault(a-1, false), linuxSIGSEGV, SEGV_MAPERR, a-1)
	wantFault(t, m.HandleFault(a+2*pg+5, false), linuxSIGSEGV, SEGV_MAPERR, a+2*pg+5)
	wantFault(t, m.HandleFault(a+17, false), linuxSIGSEGV, SEGV_ACCERR, a+17)
	wantFault(t, m.HandleFault(a+17, true), linuxSIGSEGV, SEGV_ACCERR, a+17)
	if _, ok := as.lookup(a); ok {
		t.Errorf("PROT_NONE page mapped by a fault")
	}
	// A write to a read-only area: the first fault maps the page read-only,
	// the retried access faults with the page mapped and gets SEGV_ACCERR.
	if err := m.HandleFault(a+pg+8, false); err != nil {
		t.Fatalf("read fault on a read-only page: %v", err)
	}
	if pte := mustHostMap(t, as, a+pg); pte.perms != platform.Read {
		t.Errorf("read-only page mapped %v, want r--", pte.perms)
	}
	wantFault(t, m.HandleFault(a+pg+8, true), linuxSIGSEGV, SEGV_ACCERR, a+pg+8)
	e.check("fault errors")
}

func TestAnonFaultMapsChunk(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	// 8 MiB at a chunk-aligned address plus one page, so the first chunk
	// is clamped by the area's start.
	start := uintptr(0x2000_0000 - pg)
	end := start + 8<<20
	mustMMap(t, m, anon(start, uint64(end-start), platform.AccessType{Read: true, Write: true, Execute: true}))

	fault := uintptr(0x2000_0000 + anonChunk + 12345) // in the second chunk
	if err := m.HandleFault(fault, false); err != nil {
		t.Fatalf("HandleFault: %v", err)
	}
	chunkStart := uintptr(0x2000_0000 + anonChunk)
	chunkEnd := chunkStart + anonChunk
	pages := as.snapshot()
	if got, want := len(pages), anonChunk/pg; got != want {
		t.Errorf("%d pages mapped after one fault, want %d (one chunk)", got, want)
	}
	for a, pte := range pages {
		if a < chunkStart || a >= chunkEnd {
			t.Errorf("page %#x mapped outside the faulting chunk [%#x, %#x)", a, chunkStart, chunkEnd)
		}
		if pte.perms != platform.AnyAccess {
			t.Errorf("page %#x mapped %v, want the area's rwx", a, pte.perms)
		}
	}
	// A fault in the first chunk is clamped to the area.
	if err := m.HandleFault(start, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := as.lookup(start - pg); ok {
		t.Errorf("fault mapped a page below the area")
	}
	if got, want := len(as.snapshot()), anonChunk/pg+(0x2000_0000-int(start))/pg; got != want {
		t.Errorf("%d pages mapped after two faults, want %d", got, want)
	}
	// Memory written by the application through the host mapping is what
	// the sentry reads.
	pte := mustHostMap(t, as, fault)
	e.mf.Slice(pte.off, pg)[fault&linux.PageMask] = 0x77
	if got := readAll(t, m, fault, 1); got[0] != 0x77 {
		t.Errorf("CopyIn sees %#x, want what the application wrote (0x77)", got[0])
	}
	// A fault on a backed page the host lost maps it again, to the same
	// memory.
	as.Unmap(fault&^linux.PageMask, pg)
	if err := m.HandleFault(fault, false); err != nil {
		t.Fatal(err)
	}
	if again := mustHostMap(t, as, fault); again != pte {
		t.Errorf("remapped page %+v, want %+v", again, pte)
	}
	e.check("anon chunk")
}

func TestPrivateFileFaultCOW(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	file := pattern(4*pg, 14)
	c, _ := e.newCache(file)
	opts := MMapOpts{Length: 4 * pg, Mappable: c, Private: true, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}
	a := mustMMap(t, m, opts)
	ro := mustMMap(t, m, MMapOpts{Length: 4 * pg, Mappable: c, Perms: platform.Read, MaxPerms: platform.Read})

	// A read fault borrows the page cache's pages, read-only.
	if err := m.HandleFault(a+pg+5, false); err != nil {
		t.Fatal(err)
	}
	pte := mustHostMap(t, as, a+pg)
	if pte.perms != platform.Read {
		t.Errorf("private file page mapped %v on first fault, want r-- (copy on write)", pte.perms)
	}
	ts, err := c.Translate(pg, 2*pg, pg)
	if err != nil {
		t.Fatal(err)
	}
	cacheOff := ts[0].MemOff
	c.mf.DecRef(ts[0].MemOff, ts[0].End-ts[0].Start)
	if pte.off != cacheOff {
		t.Errorf("private file page maps memOff %#x, want the page cache's %#x", pte.off, cacheOff)
	}

	// The write that faulted on the read-only page copies it.
	if err := m.HandleFault(a+pg+5, true); err != nil {
		t.Fatalf("write fault on a copy-on-write page: %v", err)
	}
	pte = mustHostMap(t, as, a+pg)
	if pte.perms != platform.ReadWrite || pte.off == cacheOff {
		t.Errorf("after the write fault the page maps %#x %v; want a private copy, rw-", pte.off, pte.perms)
	}
	if got := e.mf.Slice(pte.off, pg); !bytes.Equal(got, file[pg:2*pg]) {
		t.Errorf("the copy has different contents from the file")
	}
	// The application writes its copy.
	e.mf.Slice(pte.off, pg)[5] = ^file[pg+5]
	if got := readAll(t, m, a+pg+5, 1); got[0] != ^file[pg+5] {
		t.Errorf("the sentry doesn't see the application's write")
	}
	if got := cacheContents(t, c, pg+5, 1); got[0] != file[pg+5] {
		t.Errorf("the write reached the page cache")
	}
	if got := readAll(t, m, ro+pg+5, 1); got[0] != file[pg+5] {
		t.Errorf("a shared mapping of the file sees the private write")
	}
	// Its neighbours are still borrowed.
	if pte := mustHostMap(t, as, a); pte.perms != platform.Read {
		t.Errorf("neighbouring page mapped %v, want r--", pte.perms)
	}
	// A second write fault on the private copy is a real violation.
	wantFault(t, m.HandleFault(a+pg+5, true), linuxSIGSEGV, SEGV_ACCERR, a+pg+5)
	e.check("cow")

	// Read-only private mappings are never copied by faults.
	roPriv := mustMMap(t, m, MMapOpts{Length: pg, Mappable: c, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess})
	if err := m.HandleFault(roPriv, false); err != nil {
		t.Fatal(err)
	}
	wantFault(t, m.HandleFault(roPriv, true), linuxSIGSEGV, SEGV_ACCERR, roPriv)
	e.check("ro private")
}

func TestFileFaultBeyondEOF(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	file := pattern(pg+pg/2, 15)
	c, _ := e.newCache(file)
	for _, private := range []bool{true, false} {
		a := mustMMap(t, m, MMapOpts{Length: 4 * pg, Mappable: c, Private: private, Perms: platform.Read, MaxPerms: platform.Read})
		// The whole of a page past the end is SIGBUS.
		wantFault(t, m.HandleFault(a+2*pg+1, false), linuxSIGBUS, BUS_ADRERR, a+2*pg+1)
		wantFault(t, m.HandleFault(a+3*pg, false), linuxSIGBUS, BUS_ADRERR, a+3*pg)
		// A fault in the file brings in what exists, no further.
		if err := m.HandleFault(a, false); err != nil {
			t.Fatal(err)
		}
		mustHostMap(t, as, a)
		pte := mustHostMap(t, as, a+pg)
		for _, p := range []uintptr{a + 2*pg, a + 3*pg} {
			if _, ok := as.lookup(p); ok {
				t.Errorf("page %#x beyond EOF mapped", p)
			}
		}
		// The partial last page reads zeros after EOF.
		last := e.mf.Slice(pte.off, pg)
		if !bytes.Equal(last[:pg/2], file[pg:]) || !isZero(last[pg/2:]) {
			t.Errorf("partial last page: want the file's tail then zeros")
		}
		if n, err := m.CopyIn(a+2*pg-1, make([]byte, 2)); n != 1 || err == nil {
			t.Errorf("CopyIn across EOF page = %d, %v; want 1, EFAULT", n, err)
		}
		e.check("eof")
	}
	// Direct translation past the end.
	if _, err := c.Translate(2*pg, 3*pg, 2*pg); !errors.Is(err, ErrBusError) {
		t.Errorf("Translate past EOF: %v, want ErrBusError", err)
	}
	ts, err := c.Translate(0, 8*pg, 0)
	if err != nil || len(ts) == 0 || ts[len(ts)-1].End != 2*pg {
		t.Errorf("Translate(0, 8 pages) = %+v, %v; want up to 2 pages", ts, err)
	}
	for _, tr := range ts {
		c.mf.DecRef(tr.MemOff, tr.End-tr.Start)
	}
}

func TestSharedAnonAcrossAddressSpaces(t *testing.T) {
	e := newEnv(t)
	m1, as1 := e.newMM(base)
	m2, as2 := e.newMM(base)
	obj := NewSharedAnon(e.mf, 2*pg)
	obj.DecMappings() // tests map it through mmapRef
	e.caches = append(e.caches, obj)
	o := MMapOpts{Length: 2 * pg, Mappable: obj, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}
	a1 := mustMMap(t, m1, o)
	a2 := mustMMap(t, m2, o)
	if err := m1.HandleFault(a1, false); err != nil {
		t.Fatal(err)
	}
	if err := m2.HandleFault(a2+pg, false); err != nil {
		t.Fatal(err)
	}
	p1, p2 := mustHostMap(t, as1, a1), mustHostMap(t, as2, a2)
	if p1 != p2 || p1.perms != platform.ReadWrite {
		t.Errorf("shared page maps %+v in one space and %+v in the other; want the same rw- page", p1, p2)
	}
	e.mf.Slice(p1.off, pg)[0] = 42
	if got := readAll(t, m2, a2, 1); got[0] != 42 {
		t.Errorf("write in one address space not seen in the other")
	}
	// Unmapping in one keeps the memory for the other.
	if err := m1.MUnmap(a1, 2*pg); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, m2, a2, 1); got[0] != 42 {
		t.Errorf("shared memory lost after the other address space unmapped it")
	}
	// Beyond the object's size is SIGBUS.
	a3 := mustMMap(t, m2, MMapOpts{Length: 3 * pg, Mappable: obj, Perms: platform.Read, MaxPerms: platform.AnyAccess})
	wantFault(t, m2.HandleFault(a3+2*pg, false), linuxSIGBUS, BUS_ADRERR, a3+2*pg)
	e.check("shared anon")
}

// TestConcurrentAccess runs copies, faults and mapping changes from
// several goroutines; with -race it checks the locking.
func TestConcurrentAccess(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	a := mustMMap(t, m, anon(0, 16*pg, platform.ReadWrite))
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			m.IncUsers()
			defer m.DecUsers()
			p := a + uintptr(g)*4*pg
			for i := 0; i < 200; i++ {
				m.CopyOut(p+uintptr(i%4)*pg, []byte{byte(i)})
				m.CopyIn(p, make([]byte, 3*pg))
				m.HandleFault(p+pg, false)
				m.MProtect(p+2*pg, pg, linux.PROT_READ)
				m.MProtect(p+2*pg, pg, linux.PROT_READ|linux.PROT_WRITE)
				m.Madvise(p+3*pg, pg, linux.MADV_DONTNEED)
				m.VMAs()
			}
		}(g)
	}
	wg.Wait()
	e.check("concurrent")
}
