package mm

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
)

const base = 0x4000_0000 // mmap base used by most tests

// anon returns the options of an anonymous private mapping.
func anon(addr uintptr, length uint64, perms platform.AccessType) MMapOpts {
	return MMapOpts{Addr: addr, Length: length, Fixed: addr != 0, Perms: perms, MaxPerms: platform.AnyAccess, Private: true}
}

// mmapRef calls MMap the way mmap(2) does: with a mapping reference on the
// mappable taken first (ConfigureMMap's job), which MMap consumes.
func mmapRef(m *MemoryManager, o MMapOpts) (uintptr, error) {
	incMappings(o.Mappable)
	return m.MMap(o)
}

func mustMMap(t *testing.T, m *MemoryManager, o MMapOpts) uintptr {
	t.Helper()
	addr, err := mmapRef(m, o)
	if err != nil {
		t.Fatalf("MMap(%+v): %v", o, err)
	}
	return addr
}

// vmaList returns m's areas as [start, end) pairs.
func vmaList(m *MemoryManager) [][2]uintptr {
	var out [][2]uintptr
	for _, v := range m.VMAs() {
		out = append(out, [2]uintptr{v.Start, v.End})
	}
	return out
}

func sameRanges(a, b [][2]uintptr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMMapPlacement(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)

	// Top-down below the mmap base: each new mapping goes right below the
	// lowest one so far.
	a1 := mustMMap(t, m, anon(0, 3*pg, platform.ReadWrite))
	if want := uintptr(base - 3*pg); a1 != want {
		t.Errorf("first mapping at %#x, want %#x (just below the mmap base)", a1, want)
	}
	a2 := mustMMap(t, m, anon(0, 1, platform.Read))
	if want := a1 - pg; a2 != want {
		t.Errorf("second mapping at %#x, want %#x", a2, want)
	}
	// A free hint is honoured (rounded down to a page).
	hint := uintptr(0x1000_0000)
	a3 := mustMMap(t, m, anon(0, 2*pg, platform.ReadWrite))
	m.MUnmap(a3, 2*pg)
	o := anon(0, 2*pg, platform.ReadWrite)
	o.Addr = hint + 123
	if got := mustMMap(t, m, o); got != hint {
		t.Errorf("MMap with free hint %#x = %#x, want %#x", o.Addr, got, hint)
	}
	// An occupied hint is ignored.
	o.Addr = hint + pg
	if got := mustMMap(t, m, o); got == hint+pg || got == hint {
		t.Errorf("MMap with occupied hint returned %#x, overlapping the existing mapping", got)
	} else if got != a2-2*pg {
		t.Errorf("MMap with occupied hint = %#x, want top-down placement at %#x", got, a2-2*pg)
	}
	// A hole between mappings below the base is reused by a mapping that
	// fits, at its top.
	if err := m.MUnmap(a1, pg); err != nil {
		t.Fatal(err)
	}
	if got := mustMMap(t, m, anon(0, pg, platform.Read)); got != a1 {
		t.Errorf("MMap into a one-page hole = %#x, want %#x", got, a1)
	}
	e.check("placement")
}

func TestMMapAboveBaseWhenBelowIsFull(t *testing.T) {
	lo := uintptr(0x100000)
	e := newEnvRange(t, lo, lo+64*pg)
	m, _ := e.newMM(lo + 8*pg)
	// Fill everything below the base.
	mustMMap(t, m, MMapOpts{Addr: lo, Fixed: true, Length: 8 * pg, Perms: platform.NoAccess, Private: true})
	got := mustMMap(t, m, anon(0, 4*pg, platform.Read))
	if want := lo + 8*pg; got != want {
		t.Errorf("MMap with no room below the base = %#x, want %#x (bottom-up above it)", got, want)
	}
	if _, err := mmapRef(m, anon(0, 64*pg, platform.Read)); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("MMap larger than the free space: err = %v, want ENOMEM", err)
	}
	e.check("above base")
}

func TestMMapErrors(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	mustMMap(t, m, anon(0x2000_0000, 4*pg, platform.ReadWrite))
	c, _ := e.newCache(make([]byte, pg))
	for _, tc := range []struct {
		name string
		o    MMapOpts
		want error
	}{
		{"zero length", anon(0, 0, platform.Read), unix.ENOMEM},
		{"length rounds past 2^64", anon(0, ^uint64(0), platform.Read), unix.ENOMEM},
		{"length larger than the address space", anon(0, 1<<63, platform.Read), unix.ENOMEM},
		{"huge length that wraps a bottom-up search", anon(0, ^uint64(0)-0xffff, platform.Read), unix.ENOMEM},
		{"fixed below min address", anon(0x1000, pg, platform.Read), unix.ENOMEM},
		{"fixed beyond max address", anon(testMax-pg, 2*pg, platform.Read), unix.ENOMEM},
		{"fixed wrapping", anon(^uintptr(0)&^linux.PageMask, 2*pg, platform.Read), unix.ENOMEM},
		{"noreplace over a mapping", func() MMapOpts {
			o := anon(0x2000_0000+3*pg, 2*pg, platform.Read)
			o.NoReplace = true
			return o
		}(), unix.EEXIST},
		{"fixed unaligned", anon(0x3000_0000+1, pg, platform.Read), unix.EINVAL},
		{"file offset unaligned", MMapOpts{Length: pg, Mappable: c, Offset: 1, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess}, unix.EINVAL},
		{"file offset overflow", MMapOpts{Length: 2 * pg, Mappable: c, Offset: ^uint64(0) &^ linux.PageMask, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess}, unix.EOVERFLOW},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := vmaList(m)
			addr, err := mmapRef(m, tc.o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("MMap = %#x, %v; want %v", addr, err, tc.want)
			}
			if after := vmaList(m); !sameRanges(before, after) {
				t.Errorf("failed MMap changed the areas: %v -> %v", before, after)
			}
		})
	}
	e.check("errors")
}

func TestMMapFixedReplaces(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	a := uintptr(0x2000_0000)
	mustMMap(t, m, anon(a, 8*pg, platform.ReadWrite))
	data := pattern(8*pg, 1)
	writeAll(t, m, a, data)

	// Replace pages 2-4 with a read-only mapping.
	mustMMap(t, m, anon(a+2*pg, 3*pg, platform.Read))
	want := [][2]uintptr{{a, a + 2*pg}, {a + 2*pg, a + 5*pg}, {a + 5*pg, a + 8*pg}}
	if got := vmaList(m); !sameRanges(got, want) {
		t.Fatalf("areas = %x, want %x", got, want)
	}
	for i := 2; i < 5; i++ {
		if _, ok := as.lookup(a + uintptr(i)*pg); ok {
			t.Errorf("replaced page %d still mapped in the host", i)
		}
	}
	got := readAll(t, m, a, 8*pg)
	if !bytes.Equal(got[:2*pg], data[:2*pg]) || !bytes.Equal(got[5*pg:], data[5*pg:]) {
		t.Errorf("contents outside the replaced range changed")
	}
	if !isZero(got[2*pg : 5*pg]) {
		t.Errorf("replacement mapping is not zero")
	}
	if n, err := m.CopyOut(a+2*pg, []byte{1}); err == nil {
		t.Errorf("CopyOut to replaced read-only range = %d, nil; want EFAULT", n)
	}
	e.check("fixed replace")

	// NoReplace onto free space works.
	o := anon(a+8*pg, pg, platform.Read)
	o.NoReplace = true
	mustMMap(t, m, o)
	e.check("noreplace")
}

func TestMMapMergesNeighbours(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	a := uintptr(0x2000_0000)
	mustMMap(t, m, anon(a, pg, platform.ReadWrite))
	mustMMap(t, m, anon(a+2*pg, pg, platform.ReadWrite))
	mustMMap(t, m, anon(a+pg, pg, platform.ReadWrite))
	if got, want := vmaList(m), [][2]uintptr{{a, a + 3*pg}}; !sameRanges(got, want) {
		t.Errorf("areas = %x, want one merged area %x", got, want)
	}
	// Different permissions don't merge.
	mustMMap(t, m, anon(a+3*pg, pg, platform.Read))
	if got := len(m.VMAs()); got != 2 {
		t.Errorf("%d areas, want 2", got)
	}
	e.check("merge")
}

func TestMMapPopulate(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	o := anon(0, 4*pg, platform.ReadWrite)
	o.Populate = true
	a := mustMMap(t, m, o)
	for i := uintptr(0); i < 4; i++ {
		if pte := mustHostMap(t, as, a+i*pg); pte.perms != platform.ReadWrite {
			t.Errorf("populated page %d mapped %v, want rw-", i, pte.perms)
		}
	}
	inCore, err := m.Mincore(a, 4*pg)
	if err != nil || !bytes.Equal(inCore, []byte{1, 1, 1, 1}) {
		t.Errorf("Mincore = %v, %v; want [1 1 1 1]", inCore, err)
	}
	// PROT_NONE is not populated.
	o = anon(0, pg, platform.NoAccess)
	o.Populate = true
	b := mustMMap(t, m, o)
	if _, ok := as.lookup(b); ok {
		t.Errorf("PROT_NONE mapping was populated")
	}
	e.check("populate")
}

func TestMUnmap(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	a := uintptr(0x2000_0000)
	mustMMap(t, m, anon(a, 6*pg, platform.ReadWrite))
	data := pattern(6*pg, 2)
	writeAll(t, m, a, data)
	usedBefore := e.mf.InUse()

	if err := m.MUnmap(a+2*pg, 2*pg-100); err != nil { // rounds up to 2 pages
		t.Fatalf("MUnmap: %v", err)
	}
	if got, want := vmaList(m), [][2]uintptr{{a, a + 2*pg}, {a + 4*pg, a + 6*pg}}; !sameRanges(got, want) {
		t.Fatalf("areas after splitting munmap = %x, want %x", got, want)
	}
	if got := e.mf.InUse(); got != usedBefore-2*pg {
		t.Errorf("memory in use %#x after munmap, want %#x (two pages freed)", got, usedBefore-2*pg)
	}
	for _, p := range []uintptr{a + 2*pg, a + 3*pg} {
		if _, ok := as.lookup(p); ok {
			t.Errorf("unmapped page %#x still mapped in the host", p)
		}
		if n, err := m.CopyIn(p, make([]byte, 1)); !errors.Is(err, unix.EFAULT) {
			t.Errorf("CopyIn(%#x) after munmap = %d, %v; want EFAULT", p, n, err)
		}
	}
	if got := readAll(t, m, a, 2*pg); !bytes.Equal(got, data[:2*pg]) {
		t.Errorf("left part lost its contents")
	}
	if got := readAll(t, m, a+4*pg, 2*pg); !bytes.Equal(got, data[4*pg:]) {
		t.Errorf("right part lost its contents")
	}
	// Unmapping nothing is fine.
	if err := m.MUnmap(0x3000_0000, pg); err != nil {
		t.Errorf("MUnmap of an empty range: %v", err)
	}
	for _, tc := range []struct {
		name   string
		addr   uintptr
		length uint64
	}{
		{"unaligned", a + 1, pg},
		{"zero length", a, 0},
		{"wraps", a, ^uint64(0) - pg},
		{"beyond max", testMax - pg, 2 * pg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.MUnmap(tc.addr, tc.length); !errors.Is(err, unix.EINVAL) {
				t.Errorf("MUnmap(%#x, %#x) = %v, want EINVAL", tc.addr, tc.length, err)
			}
		})
	}
	e.check("munmap")
}

func TestMProtect(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	a := uintptr(0x2000_0000)
	mustMMap(t, m, anon(a, 6*pg, platform.ReadWrite))
	data := pattern(6*pg, 3)
	writeAll(t, m, a, data) // backs and host-maps every page rw

	// Split in three.
	if err := m.MProtect(a+2*pg, 2*pg, linux.PROT_READ); err != nil {
		t.Fatalf("MProtect: %v", err)
	}
	if got, want := vmaList(m), [][2]uintptr{{a, a + 2*pg}, {a + 2*pg, a + 4*pg}, {a + 4*pg, a + 6*pg}}; !sameRanges(got, want) {
		t.Fatalf("areas = %x, want %x", got, want)
	}
	for i := uintptr(0); i < 6; i++ {
		want := platform.ReadWrite
		if i == 2 || i == 3 {
			want = platform.Read
		}
		if pte := mustHostMap(t, as, a+i*pg); pte.perms != want {
			t.Errorf("page %d host perms %v, want %v", i, pte.perms, want)
		}
	}
	if n, err := m.CopyOut(a+2*pg, []byte{1}); !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyOut into the read-only part = %d, %v; want EFAULT", n, err)
	}
	e.check("split")

	// Merge back.
	if err := m.MProtect(a+2*pg, 2*pg, linux.PROT_READ|linux.PROT_WRITE); err != nil {
		t.Fatalf("MProtect: %v", err)
	}
	if got, want := vmaList(m), [][2]uintptr{{a, a + 6*pg}}; !sameRanges(got, want) {
		t.Errorf("areas after restoring permissions = %x, want merged %x", got, want)
	}
	if got := readAll(t, m, a, 6*pg); !bytes.Equal(got, data) {
		t.Errorf("contents changed across mprotect")
	}
	// PROT_NONE: host mappings lose all access.
	if err := m.MProtect(a, pg, linux.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if pte := mustHostMap(t, as, a); pte.perms != platform.NoAccess {
		t.Errorf("PROT_NONE page host perms %v, want ---", pte.perms)
	}
	if n, err := m.CopyIn(a, make([]byte, 1)); !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyIn of PROT_NONE = %d, %v; want EFAULT", n, err)
	}
	e.check("prot none")

	// Errors change nothing.
	restricted := anon(a+8*pg, 2*pg, platform.Read)
	restricted.MaxPerms = platform.AccessType{Read: true, Execute: true}
	mustMMap(t, m, restricted)
	before := m.VMAs()
	for _, tc := range []struct {
		name   string
		addr   uintptr
		length uint64
		prot   int
		want   error
	}{
		{"hole", a + 5*pg, 4 * pg, linux.PROT_READ, unix.ENOMEM},
		{"unmapped", 0x3000_0000, pg, linux.PROT_READ, unix.ENOMEM},
		{"beyond max perms", a + 4*pg, 2*pg + 1, linux.PROT_READ, unix.ENOMEM}, // runs into the hole at 6
		{"write beyond max perms", a + 8*pg, 2 * pg, linux.PROT_READ | linux.PROT_WRITE, unix.EACCES},
		{"max perms in second area", a + 9*pg, pg, linux.PROT_WRITE, unix.EACCES},
		{"unaligned", a + 1, pg, linux.PROT_READ, unix.EINVAL},
		{"unknown bit", a, pg, 0x8, unix.EINVAL},
		{"growsdown and growsup", a, pg, linux.PROT_GROWSDOWN | linux.PROT_GROWSUP, unix.EINVAL},
		{"wraps", a, ^uint64(0), linux.PROT_READ, unix.ENOMEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.MProtect(tc.addr, tc.length, tc.prot); !errors.Is(err, tc.want) {
				t.Fatalf("MProtect(%#x, %#x, %#x) = %v, want %v", tc.addr, tc.length, tc.prot, err, tc.want)
			}
			if after := m.VMAs(); len(after) != len(before) {
				t.Fatalf("failed MProtect changed the areas")
			} else {
				for i := range after {
					if after[i].Start != before[i].Start || after[i].End != before[i].End || after[i].Perms != before[i].Perms {
						t.Fatalf("failed MProtect changed area %d: %+v -> %+v", i, before[i], after[i])
					}
				}
			}
		})
	}
	// EACCES over two areas where only the second lacks the permission
	// changes neither.
	mustMMap(t, m, anon(a+7*pg, pg, platform.Read))
	if err := m.MProtect(a+7*pg, 2*pg, linux.PROT_READ|linux.PROT_WRITE); !errors.Is(err, unix.EACCES) {
		t.Fatalf("MProtect across areas = %v, want EACCES", err)
	}
	if n, err := m.CopyOut(a+7*pg, []byte{1}); !errors.Is(err, unix.EFAULT) {
		t.Errorf("first area became writable after a failed MProtect (CopyOut = %d, %v)", n, err)
	}
	if err := m.MProtect(a, 0, linux.PROT_READ); err != nil {
		t.Errorf("MProtect of zero length = %v, want nil", err)
	}
	e.check("errors")
}

func TestMProtectPrivateFileKeepsCOW(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	file := pattern(2*pg, 4)
	c, _ := e.newCache(file)
	a := mustMMap(t, m, MMapOpts{Length: 2 * pg, Mappable: c, Private: true, Perms: platform.Read, MaxPerms: platform.AnyAccess})
	readAll(t, m, a, 2*pg) // borrow both pages read-only
	if err := m.MProtect(a, 2*pg, linux.PROT_READ|linux.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	// The borrowed pages must stay read-only in the host: writing them in
	// place would write the file's cache.
	if pte := mustHostMap(t, as, a); pte.perms != platform.Read {
		t.Errorf("borrowed page mapped %v after mprotect rw, want r--", pte.perms)
	}
	writeAll(t, m, a, []byte("private"))
	if pte := mustHostMap(t, as, a); pte.perms != platform.ReadWrite {
		t.Errorf("copied page mapped %v, want rw-", pte.perms)
	}
	if got := cacheContents(t, c, 0, 7); !bytes.Equal(got, file[:7]) {
		t.Errorf("write to a private mapping reached the page cache: %q", got)
	}
	if err := m.MProtect(a, pg, linux.PROT_READ); err != nil {
		t.Fatal(err)
	}
	if pte := mustHostMap(t, as, a); pte.perms != platform.Read {
		t.Errorf("copied page mapped %v after mprotect r, want r--", pte.perms)
	}
	e.check("cow mprotect")
}

func TestBrk(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	start := uintptr(0x1000_0123)
	m.SetBrkStart(start)
	heap := pageUp(start)

	if got := m.Brk(0); got != start {
		t.Errorf("Brk(0) = %#x, want the current break %#x", got, start)
	}
	if got := m.Brk(start - 1); got != start {
		t.Errorf("Brk below the start = %#x, want %#x", got, start)
	}
	if got := m.Brk(start + 3*pg); got != start+3*pg {
		t.Fatalf("Brk grow = %#x, want %#x", got, start+3*pg)
	}
	vs := m.VMAs()
	if len(vs) != 1 || vs[0].Start != heap || vs[0].End != pageUp(start+3*pg) || vs[0].Hint != "[heap]" || vs[0].Perms != platform.ReadWrite {
		t.Fatalf("areas after brk = %+v, want one rw [heap] [%#x, %#x)", vs, heap, pageUp(start+3*pg))
	}
	// The bytes between the start and the first page boundary are not part
	// of the heap area; the heap itself is writable.
	data := pattern(3*pg, 5)
	writeAll(t, m, heap, data)

	// Shrink by two pages, then grow back: the dropped pages are zero.
	if got := m.Brk(heap + pg); got != heap+pg {
		t.Fatalf("Brk shrink = %#x, want %#x", got, heap+pg)
	}
	if _, ok := as.lookup(heap + 2*pg); ok {
		t.Errorf("page above the shrunk break still mapped in the host")
	}
	if n, err := m.CopyIn(heap+pg, make([]byte, 1)); !errors.Is(err, unix.EFAULT) {
		t.Errorf("CopyIn above the break = %d, %v; want EFAULT", n, err)
	}
	if got := m.Brk(heap + 4*pg); got != heap+4*pg {
		t.Fatalf("Brk regrow = %#x", got)
	}
	got := readAll(t, m, heap, 4*pg)
	if !bytes.Equal(got[:pg], data[:pg]) {
		t.Errorf("heap below the shrink point lost its contents")
	}
	if !isZero(got[pg:]) {
		t.Errorf("heap pages regrown after a shrink are not zero")
	}
	e.check("brk")

	// Growing into another mapping is refused.
	mustMMap(t, m, anon(heap+6*pg, pg, platform.Read))
	if got := m.Brk(heap + 6*pg + 1); got != heap+4*pg {
		t.Errorf("Brk into a mapping = %#x, want the old break %#x", got, heap+4*pg)
	}
	if got := m.Brk(testMax); got != heap+4*pg {
		t.Errorf("Brk(max) = %#x, want the old break", got)
	}
	if got := m.Brk(start + maxBrkSize + pg); got != heap+4*pg {
		t.Errorf("Brk beyond the size limit = %#x, want the old break", got)
	}
	// Growing right up to the mapping works.
	if got := m.Brk(heap + 6*pg); got != heap+6*pg {
		t.Errorf("Brk up to the mapping = %#x, want %#x", got, heap+6*pg)
	}
	// Shrinking to the start removes the heap.
	if got := m.Brk(start); got != start {
		t.Errorf("Brk(start) = %#x", got)
	}
	for _, v := range m.VMAs() {
		if v.Hint == "[heap]" {
			t.Errorf("heap area %#x-%#x left after shrinking to the start", v.Start, v.End)
		}
	}
	e.check("brk end")
}

func TestMRemap(t *testing.T) {
	a := uintptr(0x2000_0000)
	type result struct {
		addr uintptr
		err  error
	}
	for _, tc := range []struct {
		name string
		// setup maps [a, a+4 pages) rw with a pattern, and anything else.
		setup   func(t *testing.T, m *MemoryManager)
		oldAddr uintptr
		oldSize uint64
		newSize uint64
		flags   int
		newAddr uintptr
		want    result
		// areas after, if checked.
		areas [][2]uintptr
	}{
		{name: "shrink", oldAddr: a, oldSize: 4 * pg, newSize: 2 * pg, want: result{addr: a}, areas: [][2]uintptr{{a, a + 2*pg}}},
		{name: "shrink unaligned size", oldAddr: a, oldSize: 4 * pg, newSize: 2*pg - 5, want: result{addr: a}, areas: [][2]uintptr{{a, a + 2*pg}}},
		{name: "same size", oldAddr: a, oldSize: 4 * pg, newSize: 4 * pg, want: result{addr: a}, areas: [][2]uintptr{{a, a + 4*pg}}},
		{name: "grow in place", oldAddr: a, oldSize: 4 * pg, newSize: 6 * pg, want: result{addr: a}, areas: [][2]uintptr{{a, a + 6*pg}}},
		{
			name: "grow in place merges with the next area",
			setup: func(t *testing.T, m *MemoryManager) {
				mustMMap(t, m, anon(a+6*pg, 2*pg, platform.ReadWrite))
			},
			oldAddr: a, oldSize: 4 * pg, newSize: 6 * pg, want: result{addr: a}, areas: [][2]uintptr{{a, a + 8*pg}},
		},
		{
			name: "blocked without maymove",
			setup: func(t *testing.T, m *MemoryManager) {
				mustMMap(t, m, anon(a+5*pg, pg, platform.Read))
			},
			oldAddr: a, oldSize: 4 * pg, newSize: 6 * pg, want: result{err: unix.ENOMEM},
		},
		{
			name: "blocked, maymove moves top-down",
			setup: func(t *testing.T, m *MemoryManager) {
				mustMMap(t, m, anon(a+5*pg, pg, platform.Read))
			},
			oldAddr: a, oldSize: 4 * pg, newSize: 6 * pg, flags: linux.MREMAP_MAYMOVE, want: result{addr: base - 6*pg},
			areas: [][2]uintptr{{a + 5*pg, a + 6*pg}, {base - 6*pg, base}},
		},
		{name: "middle of an area moves", oldAddr: a + pg, oldSize: pg, newSize: 2 * pg, flags: linux.MREMAP_MAYMOVE, want: result{addr: base - 2*pg},
			areas: [][2]uintptr{{a, a + pg}, {a + 2*pg, a + 4*pg}, {base - 2*pg, base}}},
		{name: "middle of an area can't grow in place", oldAddr: a + pg, oldSize: pg, newSize: 2 * pg, want: result{err: unix.ENOMEM}},
		{name: "fixed", oldAddr: a, oldSize: 4 * pg, newSize: 4 * pg, flags: linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, newAddr: a + 16*pg,
			want: result{addr: a + 16*pg}, areas: [][2]uintptr{{a + 16*pg, a + 20*pg}}},
		{name: "fixed shrinking", oldAddr: a, oldSize: 4 * pg, newSize: 2 * pg, flags: linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, newAddr: a + 16*pg,
			want: result{addr: a + 16*pg}, areas: [][2]uintptr{{a + 16*pg, a + 18*pg}}},
		{
			name: "fixed replaces",
			setup: func(t *testing.T, m *MemoryManager) {
				mustMMap(t, m, anon(a+14*pg, 4*pg, platform.Read))
			},
			oldAddr: a, oldSize: 4 * pg, newSize: 2 * pg, flags: linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, newAddr: a + 16*pg,
			want: result{addr: a + 16*pg}, areas: [][2]uintptr{{a + 14*pg, a + 16*pg}, {a + 16*pg, a + 18*pg}},
		},
		{name: "fixed without maymove", oldAddr: a, oldSize: 4 * pg, newSize: 4 * pg, flags: linux.MREMAP_FIXED, newAddr: a + 16*pg, want: result{err: unix.EINVAL}},
		{name: "fixed overlapping", oldAddr: a, oldSize: 4 * pg, newSize: 4 * pg, flags: linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, newAddr: a + 2*pg, want: result{err: unix.EINVAL}},
		{name: "fixed unaligned", oldAddr: a, oldSize: 4 * pg, newSize: 4 * pg, flags: linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, newAddr: a + 16*pg + 1, want: result{err: unix.EINVAL}},
		{name: "fixed beyond max", oldAddr: a, oldSize: 4 * pg, newSize: 4 * pg, flags: linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, newAddr: testMax - pg, want: result{err: unix.EINVAL}},
		{name: "fixed below min", oldAddr: a, oldSize: 4 * pg, newSize: 4 * pg, flags: linux.MREMAP_MAYMOVE | linux.MREMAP_FIXED, newAddr: 0, want: result{err: unix.EINVAL}},
		{name: "unknown flag", oldAddr: a, oldSize: 4 * pg, newSize: 4 * pg, flags: 8, want: result{err: unix.EINVAL}},
		{name: "dontunmap", oldAddr: a, oldSize: 4 * pg, newSize: 4 * pg, flags: linux.MREMAP_MAYMOVE | linux.MREMAP_DONTUNMAP, want: result{err: unix.EINVAL}},
		{name: "unaligned old address", oldAddr: a + 1, oldSize: pg, newSize: pg, want: result{err: unix.EINVAL}},
		{name: "zero new size", oldAddr: a, oldSize: 4 * pg, newSize: 0, want: result{err: unix.EINVAL}},
		{name: "huge new size", oldAddr: a, oldSize: 4 * pg, newSize: 1 << 62, flags: linux.MREMAP_MAYMOVE, want: result{err: unix.EINVAL}},
		{name: "unmapped", oldAddr: a + 8*pg, oldSize: pg, newSize: pg, want: result{err: unix.EFAULT}},
		{name: "old range spans past the area", oldAddr: a, oldSize: 5 * pg, newSize: pg, want: result{err: unix.EFAULT}},
		{name: "old size zero on private mapping", oldAddr: a, oldSize: 0, newSize: pg, flags: linux.MREMAP_MAYMOVE, want: result{err: unix.EINVAL}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			m, as := e.newMM(base)
			mustMMap(t, m, anon(a, 4*pg, platform.ReadWrite))
			data := pattern(4*pg, 6)
			writeAll(t, m, a, data)
			if tc.setup != nil {
				tc.setup(t, m)
			}
			before := vmaList(m)
			got, err := m.MRemap(tc.oldAddr, tc.oldSize, tc.newSize, tc.flags, tc.newAddr)
			if tc.want.err != nil {
				if !errors.Is(err, tc.want.err) {
					t.Fatalf("MRemap = %#x, %v; want %v", got, err, tc.want.err)
				}
				if after := vmaList(m); !sameRanges(before, after) {
					t.Errorf("failed MRemap changed the areas: %x -> %x", before, after)
				}
				if b := readAll(t, m, a, 4*pg); !bytes.Equal(b, data) {
					t.Errorf("failed MRemap changed the contents")
				}
				e.check("failed mremap")
				return
			}
			if err != nil || got != tc.want.addr {
				t.Fatalf("MRemap = %#x, %v; want %#x, nil", got, err, tc.want.addr)
			}
			if tc.areas != nil {
				if after := vmaList(m); !sameRanges(after, tc.areas) {
					t.Errorf("areas = %x, want %x", after, tc.areas)
				}
			}
			e.check("mremap")
			// The moved pages kept their contents, and the new tail is zero.
			oldLen := int(tc.oldSize+linux.PageMask) &^ linux.PageMask
			newLen := int(tc.newSize+linux.PageMask) &^ linux.PageMask
			kept := min(oldLen, newLen)
			off := int(tc.oldAddr - a)
			b := readAll(t, m, got, newLen)
			if !bytes.Equal(b[:kept], data[off:off+kept]) {
				t.Errorf("remapped range lost its contents")
			}
			if !isZero(b[kept:]) {
				t.Errorf("grown part of an anonymous mapping is not zero")
			}
			if got != tc.oldAddr {
				// The source is gone, in the model and in the host.
				for p := tc.oldAddr; p < tc.oldAddr+uintptr(oldLen); p += pg {
					if p >= got && p < got+uintptr(newLen) {
						continue
					}
					if _, ok := as.lookup(p); ok {
						t.Errorf("source page %#x still host-mapped after a move", p)
					}
				}
			}
			e.check("mremap read")
		})
	}
}

func TestMRemapSharedDuplicate(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	obj := NewSharedAnon(e.mf, 4*pg)
	e.caches = append(e.caches, obj)
	a := mustMMap(t, m, MMapOpts{Length: 4 * pg, Mappable: obj, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	writeAll(t, m, a, pattern(4*pg, 7))

	// old_size 0 duplicates the mapping from oldAddr's offset.
	dup, err := m.MRemap(a+pg, 0, 2*pg, linux.MREMAP_MAYMOVE, 0)
	if err != nil {
		t.Fatalf("MRemap dup: %v", err)
	}
	if got, want := readAll(t, m, dup, 2*pg), pattern(4*pg, 7)[pg:3*pg]; !bytes.Equal(got, want) {
		t.Errorf("duplicate mapping shows different contents")
	}
	writeAll(t, m, dup, []byte("shared"))
	if got := readAll(t, m, a+pg, 6); string(got) != "shared" {
		t.Errorf("write through the duplicate not visible in the original: %q", got)
	}
	if _, err := m.MRemap(a, 0, pg, 0, 0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("dup without MAYMOVE: %v, want EINVAL", err)
	}
	// Fixed duplicates are validated like any fixed destination.
	for _, tc := range []struct {
		name    string
		newAddr uintptr
		size    uint64
	}{
		{"unaligned", 0x3000_0001, pg},
		{"wrapping", ^uintptr(0) &^ linux.PageMask, 2 * pg},
		{"beyond max", testMax - pg, 2 * pg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := vmaList(m)
			got, err := m.MRemap(a, 0, tc.size, linux.MREMAP_MAYMOVE|linux.MREMAP_FIXED, tc.newAddr)
			if !errors.Is(err, unix.EINVAL) {
				t.Errorf("MRemap(dup, fixed %#x) = %#x, %v; want EINVAL", tc.newAddr, got, err)
			}
			if after := vmaList(m); !sameRanges(before, after) {
				t.Errorf("areas changed: %x -> %x", before, after)
			}
		})
	}
	fixed, err := m.MRemap(a, 0, pg, linux.MREMAP_MAYMOVE|linux.MREMAP_FIXED, 0x3000_0000)
	if err != nil || fixed != 0x3000_0000 {
		t.Fatalf("fixed dup = %#x, %v", fixed, err)
	}
	if got := readAll(t, m, fixed, 6); !bytes.Equal(got, pattern(4*pg, 7)[:6]) {
		t.Errorf("fixed duplicate shows %q", got)
	}
	e.check("dup")
}

func TestMRemapPrivateFile(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	file := pattern(8*pg, 8)
	c, _ := e.newCache(file)
	a := mustMMap(t, m, MMapOpts{Length: 4 * pg, Mappable: c, Offset: 2 * pg, Private: true, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	readAll(t, m, a, pg)            // borrowed
	writeAll(t, m, a+pg, []byte{9}) // copied
	// Move pages 1-2 and grow to 4 pages: the tail continues the file.
	got, err := m.MRemap(a+pg, 2*pg, 4*pg, linux.MREMAP_MAYMOVE|linux.MREMAP_FIXED, 0x3000_0000)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), file[3*pg:7*pg]...)
	want[0] = 9
	if b := readAll(t, m, got, 4*pg); !bytes.Equal(b, want) {
		t.Errorf("moved private file mapping reads wrong contents")
	}
	vs := m.VMAs()
	for _, v := range vs {
		if v.Start == got && v.Offset != 3*pg {
			t.Errorf("moved area has offset %#x, want %#x", v.Offset, 3*pg)
		}
	}
	if b := cacheContents(t, c, 3*pg, 1); b[0] != file[3*pg] {
		t.Errorf("private write reached the page cache")
	}
	e.check("mremap file")
}

func TestMadvise(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	file := pattern(3*pg, 9)
	c, _ := e.newCache(file)
	shared := NewSharedAnon(e.mf, 2*pg)
	e.caches = append(e.caches, shared)

	anonAddr := mustMMap(t, m, anon(0, 3*pg, platform.ReadWrite))
	fileAddr := mustMMap(t, m, MMapOpts{Length: 3 * pg, Mappable: c, Private: true, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	shAddr := mustMMap(t, m, MMapOpts{Length: 2 * pg, Mappable: shared, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	for _, a := range []uintptr{anonAddr, fileAddr} {
		writeAll(t, m, a, bytes.Repeat([]byte{0xee}, 3*pg))
	}
	writeAll(t, m, shAddr, bytes.Repeat([]byte{0xee}, 2*pg))

	for _, a := range []uintptr{anonAddr, fileAddr} {
		if err := m.Madvise(a+pg, pg+1, linux.MADV_DONTNEED); err != nil {
			t.Fatalf("Madvise: %v", err)
		}
		if _, ok := as.lookup(a + pg); ok {
			t.Errorf("page %#x still host-mapped after MADV_DONTNEED", a+pg)
		}
	}
	if err := m.Madvise(shAddr, 2*pg, linux.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	e.check("dontneed")

	b := readAll(t, m, anonAddr, 3*pg)
	if !bytes.Equal(b[:pg], bytes.Repeat([]byte{0xee}, pg)) || !isZero(b[pg:]) {
		t.Errorf("private anonymous memory after MADV_DONTNEED: want page 0 kept and pages 1-2 zero")
	}
	b = readAll(t, m, fileAddr, 3*pg)
	if !bytes.Equal(b[:pg], bytes.Repeat([]byte{0xee}, pg)) || !bytes.Equal(b[pg:], file[pg:]) {
		t.Errorf("private file memory after MADV_DONTNEED: want page 0 kept and pages 1-2 back to the file")
	}
	if b = readAll(t, m, shAddr, 2*pg); !bytes.Equal(b, bytes.Repeat([]byte{0xee}, 2*pg)) {
		t.Errorf("shared memory lost its contents after MADV_DONTNEED")
	}
	for _, tc := range []struct {
		name   string
		addr   uintptr
		length uint64
		advice int
		want   error
	}{
		{"unaligned", anonAddr + 1, pg, linux.MADV_DONTNEED, unix.EINVAL},
		{"unknown advice", anonAddr, pg, 999, unix.EINVAL},
		{"wraps", anonAddr, ^uint64(0) - 10, linux.MADV_DONTNEED, unix.EINVAL},
		{"hole", anonAddr, 64 * pg, linux.MADV_DONTNEED, unix.ENOMEM},
		{"hint over a hole", 0x1000_0000, pg, linux.MADV_WILLNEED, unix.ENOMEM},
		{"zero length", anonAddr, 0, linux.MADV_DONTNEED, nil},
		{"hint", anonAddr, pg, linux.MADV_SEQUENTIAL, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := m.Madvise(tc.addr, tc.length, tc.advice); !errors.Is(err, tc.want) {
				t.Errorf("Madvise(%#x, %#x, %d) = %v, want %v", tc.addr, tc.length, tc.advice, err, tc.want)
			}
		})
	}
	e.check("madvise")
}

func TestMincoreAndMsync(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	a := mustMMap(t, m, anon(0, 3*pg, platform.ReadWrite))
	// A copy backs only what it touches.
	writeAll(t, m, a+pg, []byte{1})
	got, err := m.Mincore(a, 3*pg)
	if err != nil || !bytes.Equal(got, []byte{0, 1, 0}) {
		t.Errorf("Mincore = %v, %v; want [0 1 0]", got, err)
	}
	// A fault backs the unbacked gap around it within its chunk.
	if err := m.HandleFault(a+2*pg+5, false); err != nil {
		t.Fatal(err)
	}
	if err := m.HandleFault(a, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Mincore(a, 3*pg); !bytes.Equal(got, []byte{1, 1, 1}) {
		t.Errorf("Mincore after faults = %v, want [1 1 1]", got)
	}
	if err := m.Madvise(a, pg, linux.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Mincore(a, 3*pg); !bytes.Equal(got, []byte{0, 1, 1}) {
		t.Errorf("Mincore after MADV_DONTNEED = %v, want [0 1 1]", got)
	}
	if _, err := m.Mincore(a, 4*pg); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("Mincore over a hole: %v, want ENOMEM", err)
	}
	if _, err := m.Mincore(a+1, pg); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Mincore unaligned: %v, want EINVAL", err)
	}
	if err := m.Msync(a, 3*pg, linux.MS_SYNC); err != nil {
		t.Errorf("Msync: %v", err)
	}
	if err := m.Msync(a, 3*pg, linux.MS_SYNC|linux.MS_ASYNC); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Msync with both SYNC and ASYNC: %v, want EINVAL", err)
	}
	if err := m.Msync(a, 4*pg, linux.MS_ASYNC); !errors.Is(err, unix.ENOMEM) {
		t.Errorf("Msync over a hole: %v, want ENOMEM", err)
	}
	e.check("mincore")
}

func TestDecUsersReleasesEverything(t *testing.T) {
	e := newEnv(t)
	m, as := e.newMM(base)
	m.IncUsers()
	a := mustMMap(t, m, anon(0, 4*pg, platform.ReadWrite))
	writeAll(t, m, a, pattern(4*pg, 10))
	m.DecUsers()
	if as.released {
		t.Fatalf("address space released while a user remains")
	}
	if e.mf.InUse() == 0 {
		t.Fatalf("memory freed while a user remains")
	}
	m.DecUsers()
	if !as.released {
		t.Errorf("address space not released by the last user")
	}
	if n := e.mf.InUse(); n != 0 {
		t.Errorf("%#x bytes in use after the last user left, want 0", n)
	}
}

func TestImageInfo(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	argv, envv := Range{0x1000, 0x1010}, Range{0x1010, 0x1020}
	m.SetImageInfo(argv, envv, []uint64{1, 2}, "exe")
	if a, v := m.ArgvEnv(); a != argv || v != envv || a.Len() != 0x10 {
		t.Errorf("ArgvEnv = %v, %v; want %v, %v", a, v, argv, envv)
	}
	if got := m.Auxv(); len(got) != 2 || got[1] != 2 {
		t.Errorf("Auxv = %v", got)
	}
	if got := m.Executable(); got != "exe" {
		t.Errorf("Executable = %v", got)
	}
}

func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max uintptr
	}{
		{"x86-64", testMin, testMax},
		{"small", 0x10000, 0x10000 + 64*pg},
		{"medium", 0x10000, 0x10000 + 1<<30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i < 20; i++ {
				m, err := New(&fakePlatform{min: tc.min, max: tc.max}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if m.stackTop > tc.max || m.stackTop <= tc.min || m.stackTop&linux.PageMask != 0 {
					t.Fatalf("stack top %#x outside (%#x, %#x]", m.stackTop, tc.min, tc.max)
				}
				if m.mmapBase > m.stackTop || m.mmapBase < tc.min || m.mmapBase&linux.PageMask != 0 {
					t.Fatalf("mmap base %#x outside [%#x, stack top %#x]", m.mmapBase, tc.min, m.stackTop)
				}
			}
		})
	}
}
