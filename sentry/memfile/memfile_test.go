package memfile

import (
	"testing"
)

func TestAllocateRefcountFree(t *testing.T) {
	f, err := New("test")
	if err != nil {
		t.Fatal(err)
	}
	a, err := f.Allocate(4 << 12)
	if err != nil {
		t.Fatal(err)
	}
	s := f.Slice(a, 4<<12)
	for i := range s {
		if s[i] != 0 {
			t.Fatalf("fresh memory not zero at %d", i)
		}
	}
	for i := range s {
		s[i] = 0xaa
	}
	// Hold an extra ref on the middle two pages, then drop the original.
	f.IncRef(a+1<<12, 2<<12)
	f.DecRef(a, 4<<12)
	if got := f.InUse(); got != 2<<12 {
		t.Fatalf("InUse = %d, want %d", got, 2<<12)
	}
	if s[1<<12] != 0xaa {
		t.Fatalf("still-referenced page lost its data")
	}
	f.DecRef(a+1<<12, 2<<12)
	if got := f.InUse(); got != 0 {
		t.Fatalf("InUse = %d, want 0", got)
	}
	// Reallocated memory reads as zero again.
	b, err := f.Allocate(4 << 12)
	if err != nil {
		t.Fatal(err)
	}
	if b != a {
		t.Errorf("reallocation at %#x, want reuse of %#x", b, a)
	}
	for i, c := range f.Slice(b, 4<<12) {
		if c != 0 {
			t.Fatalf("reused memory not zero at %d", i)
		}
	}
}

func TestFreeListReuse(t *testing.T) {
	f, err := New("test")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Allocate(1 << 12)
	b, _ := f.Allocate(1 << 12)
	c, _ := f.Allocate(1 << 12)
	f.DecRef(a, 1<<12)
	f.DecRef(b, 1<<12)
	d, _ := f.Allocate(2 << 12)
	if d != a {
		t.Fatalf("2-page allocation at %#x, want the coalesced hole at %#x", d, a)
	}
	_ = c
}
