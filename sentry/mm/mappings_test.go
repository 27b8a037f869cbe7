package mm

import (
	"testing"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
)

// TestMappingCounts checks that a mappable's mapping count follows its
// areas through splits, merges, moves and unmaps, and that shared
// anonymous memory is freed when the last mapping goes.
func TestMappingCounts(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	obj := NewSharedAnon(e.mf, 4*pg)
	if got := obj.Mappings(); got != 1 {
		t.Fatalf("new shared object: %d mapping references, want the caller's 1", got)
	}
	// MMap consumes the creation reference.
	a, err := m.MMap(MMapOpts{Length: 4 * pg, Mappable: obj, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	if err != nil {
		t.Fatal(err)
	}
	want := func(step string, n int) {
		t.Helper()
		if got := obj.Mappings(); got != n {
			t.Fatalf("after %s: %d mappings, want %d", step, got, n)
		}
		e.check(step)
	}
	want("mmap", 1)
	if _, err := m.CopyOut(a, make([]byte, 4*pg)); err != nil {
		t.Fatal(err)
	}
	if e.mf.InUse() == 0 {
		t.Fatal("writing shared memory allocated nothing")
	}
	if err := m.MProtect(a+pg, pg, linux.PROT_READ); err != nil {
		t.Fatal(err)
	}
	want("mprotect splitting into three areas", 3)
	if err := m.MProtect(a+pg, pg, linux.PROT_READ|linux.PROT_WRITE); err != nil {
		t.Fatal(err)
	}
	want("mprotect merging back", 1)
	b, err := m.MRemap(a, 4*pg, 4*pg, linux.MREMAP_MAYMOVE|linux.MREMAP_FIXED, a+16*pg)
	if err != nil || b != a+16*pg {
		t.Fatalf("mremap: %#x %v", b, err)
	}
	want("mremap move", 1)
	if err := m.MUnmap(b+pg, pg); err != nil {
		t.Fatal(err)
	}
	want("munmap of a middle page", 2)
	if err := m.MUnmap(b, 4*pg); err != nil {
		t.Fatal(err)
	}
	want("munmap of everything", 0)
	if got := e.mf.InUse(); got != 0 {
		t.Errorf("shared memory not freed with its last mapping: %d bytes in use", got)
	}

	// A failed MMap consumes the reference too.
	obj2 := NewSharedAnon(e.mf, pg)
	if _, err := m.MMap(MMapOpts{Length: pg, Addr: 1, Fixed: true, Mappable: obj2, Perms: platform.Read, MaxPerms: platform.AnyAccess}); err == nil {
		t.Fatal("MMap at an unaligned fixed address succeeded")
	}
	if got := obj2.Mappings(); got != 0 {
		t.Errorf("failed MMap left %d mapping references, want 0", got)
	}
}

// TestStackGrowsDown checks MAP_GROWSDOWN areas grow on faults and kernel
// accesses below them, within the stack limit and the guard gap.
func TestStackGrowsDown(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	m.SetStackLimit(16 * pg)
	top := uintptr(base + 1024*pg)
	stack, err := m.MMap(MMapOpts{Length: 2 * pg, Addr: top - 2*pg, Fixed: true, Private: true, GrowsDown: true,
		Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	if err != nil {
		t.Fatal(err)
	}
	// A fault one page below grows the area by a page.
	if err := m.HandleFault(stack-pg+8, false); err != nil {
		t.Fatalf("fault just below a growsdown area: %v", err)
	}
	if v := m.VMAs(); len(v) != 1 || v[0].Start != stack-pg {
		t.Fatalf("after growth: %+v, want one area from %#x", v, stack-pg)
	}
	// A kernel write further down grows it too.
	if _, err := m.CopyOut(stack-4*pg, []byte{1}); err != nil {
		t.Fatalf("CopyOut below the stack: %v", err)
	}
	// Beyond the limit: SIGSEGV.
	if err := m.HandleFault(top-17*pg, false); err == nil {
		t.Fatalf("stack grew beyond its 16-page limit")
	}
	// An area below within the guard gap stops growth.
	if _, err := m.MMap(MMapOpts{Length: pg, Addr: top - 300*pg, Fixed: true, Private: true,
		Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess}); err != nil {
		t.Fatal(err)
	}
	m.SetStackLimit(1024 * pg)
	if err := m.HandleFault(top-100*pg, false); err == nil {
		t.Fatalf("stack grew into the guard gap above another area")
	}
	if err := m.HandleFault(top-20*pg, false); err != nil {
		t.Fatalf("growth clear of the guard gap failed: %v", err)
	}
	e.check("stack growth")
}

type countedRef struct{ refs int }

func (c *countedRef) DecRef() { c.refs-- }

// TestExecutableReference checks the address space drops its reference on
// the executable when it is replaced and when the address space goes.
func TestExecutableReference(t *testing.T) {
	e := newEnv(t)
	m, _ := e.newMM(base)
	a, b := &countedRef{1}, &countedRef{1}
	m.SetImageInfo(Range{}, Range{}, nil, a)
	m.SetImageInfo(Range{}, Range{}, nil, a)
	if a.refs != 1 {
		t.Fatalf("re-recording the same executable dropped its reference")
	}
	m.SetImageInfo(Range{}, Range{}, nil, b)
	if a.refs != 0 || b.refs != 1 {
		t.Fatalf("replacing the executable: refs %d, %d; want 0, 1", a.refs, b.refs)
	}
	m.DecUsers()
	if b.refs != 0 {
		t.Fatalf("last user gone: executable still holds %d references", b.refs)
	}
}

// TestForkCopyOnWrite checks fork semantics: private memory is copied on
// write by either side, shared memory stays shared, and all memory is
// freed when both are gone.
func TestForkCopyOnWrite(t *testing.T) {
	e := newEnv(t)
	parent, pas := e.newMM(base)
	priv := mustMMap(t, parent, anon(0, 4*pg, platform.ReadWrite))
	obj := NewSharedAnon(e.mf, pg)
	shared, err := parent.MMap(MMapOpts{Length: pg, Mappable: obj, Perms: platform.ReadWrite, MaxPerms: platform.AnyAccess})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parent.CopyOut(priv, []byte("parent")); err != nil {
		t.Fatal(err)
	}
	if _, err := parent.CopyOut(shared, []byte("shared")); err != nil {
		t.Fatal(err)
	}
	child, err := parent.Fork()
	if err != nil {
		t.Fatal(err)
	}
	e.mms = append(e.mms, child)
	if p := mustHostMap(t, pas, priv); p.perms.Write {
		t.Errorf("parent's private page still writable on the host after fork: %+v", p)
	}
	e.check("fork")
	if got := string(readAll(t, child, priv, 6)); got != "parent" {
		t.Fatalf("child reads %q from private memory, want the parent's data", got)
	}
	// A write fault in the child copies the page.
	if err := child.HandleFault(priv, false); err != nil {
		t.Fatal(err)
	}
	if err := child.HandleFault(priv, true); err != nil {
		t.Fatal(err)
	}
	if _, err := child.CopyOut(priv, []byte("child!")); err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(t, parent, priv, 6)); got != "parent" {
		t.Errorf("child's write visible to the parent: %q", got)
	}
	// The parent's page now has one owner: its write needs no copy.
	before := e.mf.InUse()
	if err := parent.HandleFault(priv, true); err != nil {
		t.Fatal(err)
	}
	if e.mf.InUse() != before {
		t.Errorf("parent's write to a page only it holds copied it (%d -> %d bytes in use)", before, e.mf.InUse())
	}
	if _, err := parent.CopyOut(priv+pg, []byte("second")); err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(t, child, priv+pg, 6)); got == "second" {
		t.Errorf("parent's write to page 2 visible to the child")
	}
	// Shared memory is shared.
	if _, err := child.CopyOut(shared, []byte("SHARED")); err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(t, parent, shared, 6)); got != "SHARED" {
		t.Errorf("shared mapping not shared across fork: parent reads %q", got)
	}
	if got := obj.Mappings(); got != 2 {
		t.Errorf("shared object has %d mappings after fork, want 2", got)
	}
	e.check("after writes")
}
