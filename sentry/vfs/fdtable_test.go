package vfs

import (
	"reflect"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func newCounted() (*FileDescription, *countingFile) {
	impl := &countingFile{}
	return NewFileDescription(impl, VirtualDentry{}, unix.O_RDONLY), impl
}

func mustNewFD(t *testing.T, tab *FDTable, minFD int, f *FileDescription, cloexec bool, limit int) int {
	t.Helper()
	fd, err := tab.NewFD(minFD, f, cloexec, limit)
	if err != nil {
		t.Fatalf("NewFD(%d): %v", minFD, err)
	}
	return fd
}

func TestFDTableAllocation(t *testing.T) {
	tab := NewFDTable()
	f, impl := newCounted()
	const limit = 8
	for want := 0; want < 4; want++ {
		if fd := mustNewFD(t, tab, 0, f, false, limit); fd != want {
			t.Fatalf("NewFD #%d: got fd %d, want %d", want, fd, want)
		}
	}
	// Lowest free after a hole.
	tab.Remove(1).DecRef()
	if fd := mustNewFD(t, tab, 0, f, false, limit); fd != 1 {
		t.Errorf("NewFD after closing 1: got %d, want 1", fd)
	}
	// minFD skips lower free slots, and doesn't lose them.
	tab.Remove(2).DecRef()
	if fd := mustNewFD(t, tab, 5, f, false, limit); fd != 5 {
		t.Errorf("NewFD(min 5): got %d, want 5", fd)
	}
	if fd := mustNewFD(t, tab, 0, f, false, limit); fd != 2 {
		t.Errorf("NewFD after NewFD(min 5): got %d, want 2", fd)
	}
	if fd := mustNewFD(t, tab, 3, f, false, limit); fd != 4 {
		t.Errorf("NewFD(min 3) with 3 used: got %d, want 4", fd)
	}
	if fd := mustNewFD(t, tab, -3, f, false, limit); fd != 6 {
		t.Errorf("NewFD(min -3): got %d, want 6", fd)
	}
	if got, want := tab.FDs(), []int{0, 1, 2, 3, 4, 5, 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("FDs: got %v, want %v", got, want)
	}
	if fd := mustNewFD(t, tab, 0, f, false, limit); fd != 7 {
		t.Errorf("last NewFD: got %d, want 7", fd)
	}
	if fd, err := tab.NewFD(0, f, false, limit); err != unix.EMFILE || fd != -1 {
		t.Errorf("NewFD at the limit: got %d, %v; want -1, EMFILE", fd, err)
	}
	if _, err := tab.NewFD(limit+2, f, false, limit); err != unix.EMFILE {
		t.Errorf("NewFD(min above limit): got %v, want EMFILE", err)
	}
	// A lower limit (setrlimit) applies to new descriptors only.
	tab.Remove(3).DecRef()
	if _, err := tab.NewFD(0, f, false, 3); err != unix.EMFILE {
		t.Errorf("NewFD with free fd 3 and limit 3: got %v, want EMFILE", err)
	}
	if fd := mustNewFD(t, tab, 0, f, false, 4); fd != 3 {
		t.Errorf("NewFD with limit 4: got %d, want 3", fd)
	}
	tab.RemoveAll()
	if got := impl.released.Load(); got != 0 {
		t.Errorf("released %d times while the test holds a reference, want 0", got)
	}
	f.DecRef()
	if got := impl.released.Load(); got != 1 {
		t.Errorf("released %d times after the last reference, want 1", got)
	}
	if got := tab.FDs(); len(got) != 0 {
		t.Errorf("FDs after RemoveAll: got %v, want none", got)
	}
	if fd := mustNewFD(t, tab, 0, f, false, limit); fd != 0 {
		t.Errorf("NewFD after RemoveAll: got %d, want 0", fd)
	}
}

func TestFDTableNewFDAt(t *testing.T) {
	tab := NewFDTable()
	f1, impl1 := newCounted()
	f2, impl2 := newCounted()
	mustNewFD(t, tab, 0, f1, false, 10)
	if old, err := tab.NewFDAt(0, f2, true, 10); err != nil || old != f1 {
		t.Fatalf("NewFDAt(0) over f1: got %p, %v; want f1 (%p)", old, err, f1)
	}
	if impl1.released.Load() != 0 {
		t.Fatalf("f1 released while the replaced reference is still the caller's")
	}
	f1.DecRef() // the table's reference, returned by NewFDAt
	f1.DecRef() // ours
	if got := impl1.released.Load(); got != 1 {
		t.Errorf("f1 released %d times, want 1", got)
	}
	if got, cloexec := tab.Get(0); got != f2 || !cloexec {
		t.Errorf("Get(0): got %p, %v; want f2 (%p), cloexec", got, cloexec, f2)
	} else {
		got.DecRef()
	}
	// Above the current end, then allocation still finds the hole.
	if old, err := tab.NewFDAt(5, f2, false, 10); err != nil || old != nil {
		t.Errorf("NewFDAt(5): got %v, %v; want nil, nil", old, err)
	}
	if fd := mustNewFD(t, tab, 0, f2, false, 10); fd != 1 {
		t.Errorf("NewFD after NewFDAt(5): got %d, want 1", fd)
	}
	// NewFDAt on the lowest free descriptor.
	if _, err := tab.NewFDAt(2, f2, false, 10); err != nil {
		t.Fatal(err)
	}
	if fd := mustNewFD(t, tab, 0, f2, false, 10); fd != 3 {
		t.Errorf("NewFD after NewFDAt(2): got %d, want 3", fd)
	}
	for _, fd := range []int{-1, 10, 11} {
		if _, err := tab.NewFDAt(fd, f2, false, 10); err != unix.EBADF {
			t.Errorf("NewFDAt(%d) with limit 10: got %v, want EBADF", fd, err)
		}
	}
	tab.RemoveAll()
	f2.DecRef()
	if got := impl2.released.Load(); got != 1 {
		t.Errorf("f2 released %d times, want 1", got)
	}
}

func TestFDTableRemoveAndGet(t *testing.T) {
	tab := NewFDTable()
	f, impl := newCounted()
	mustNewFD(t, tab, 0, f, false, 10)
	for _, fd := range []int{-1, 1, 100} {
		if got := tab.Remove(fd); got != nil {
			t.Errorf("Remove(%d): got %p, want nil", fd, got)
		}
		if got, _ := tab.Get(fd); got != nil {
			t.Errorf("Get(%d): got %p, want nil", fd, got)
		}
		if err := tab.SetCloexec(fd, true); err != unix.EBADF {
			t.Errorf("SetCloexec(%d): got %v, want EBADF", fd, err)
		}
	}
	if err := tab.SetCloexec(0, true); err != nil {
		t.Fatal(err)
	}
	g, cloexec := tab.Get(0)
	if g != f || !cloexec {
		t.Fatalf("Get(0): got %p, %v; want f, cloexec", g, cloexec)
	}
	g.DecRef()
	if got := tab.Remove(0); got != f {
		t.Fatalf("Remove(0): got %p, want f", got)
	}
	if got := tab.Remove(0); got != nil {
		t.Errorf("second Remove(0): got %p, want nil", got)
	}
	f.DecRef() // the table's
	if impl.released.Load() != 0 {
		t.Fatal("released while the test holds a reference")
	}
	f.DecRef()
	if got := impl.released.Load(); got != 1 {
		t.Errorf("released %d times, want 1", got)
	}
}

func TestFDTableRemoveCloexec(t *testing.T) {
	tab := NewFDTable()
	keep, keepImpl := newCounted()
	drop, dropImpl := newCounted()
	mustNewFD(t, tab, 0, keep, false, 10) // 0
	mustNewFD(t, tab, 0, drop, true, 10)  // 1
	mustNewFD(t, tab, 0, keep, false, 10) // 2
	mustNewFD(t, tab, 0, drop, true, 10)  // 3
	keep.DecRef()
	drop.DecRef()
	tab.RemoveCloexec()
	if got := dropImpl.released.Load(); got != 1 {
		t.Errorf("close-on-exec file released %d times, want 1", got)
	}
	if got := keepImpl.released.Load(); got != 0 {
		t.Errorf("kept file released %d times, want 0", got)
	}
	if got, want := tab.FDs(), []int{0, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("FDs after RemoveCloexec: got %v, want %v", got, want)
	}
	if fd := mustNewFD(t, tab, 0, keep, false, 10); fd != 1 {
		t.Errorf("NewFD after RemoveCloexec: got %d, want 1", fd)
	}
	tab.RemoveAll()
	if got := keepImpl.released.Load(); got != 1 {
		t.Errorf("kept file released %d times after RemoveAll, want 1", got)
	}
}

func TestFDTableFork(t *testing.T) {
	tab := NewFDTable()
	f, impl := newCounted()
	mustNewFD(t, tab, 0, f, false, 10)
	mustNewFD(t, tab, 0, f, true, 10)
	mustNewFD(t, tab, 0, f, false, 10)
	tab.Remove(1).DecRef()
	f.DecRef()
	child := tab.Fork()
	if got, want := child.FDs(), []int{0, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("child FDs: got %v, want %v", got, want)
	}
	g, _ := child.Get(2)
	if g != f {
		t.Errorf("child Get(2): got %p, want the parent's description %p", g, f)
	}
	g.DecRef()
	// The child keeps the parent's free slots.
	if fd := mustNewFD(t, child, 0, f, false, 10); fd != 1 {
		t.Errorf("child NewFD: got %d, want 1", fd)
	}
	// Cloexec flags are copied.
	tab.SetCloexec(0, true)
	child2 := tab.Fork()
	if g, cloexec := child2.Get(0); !cloexec {
		t.Error("Fork lost fd 0's close-on-exec flag")
	} else {
		g.DecRef()
	}
	// Closing in one table doesn't affect the other.
	tab.RemoveAll()
	if impl.released.Load() != 0 {
		t.Fatal("released while children hold references")
	}
	if got, want := child.FDs(), []int{0, 1, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("child FDs after the parent closed everything: got %v, want %v", got, want)
	}
	child.RemoveAll()
	child2.RemoveCloexec()
	if impl.released.Load() != 0 {
		t.Fatal("released while child2 holds a reference")
	}
	child2.RemoveAll()
	if got := impl.released.Load(); got != 1 {
		t.Errorf("released %d times, want 1", got)
	}
}

// TestFDTableConcurrent runs allocations and closes in parallel (for the
// race detector) and checks every reference is accounted for.
func TestFDTableConcurrent(t *testing.T) {
	tab := NewFDTable()
	f, impl := newCounted()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				fd, err := tab.NewFD(0, f, i%2 == 0, 4096)
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if old := tab.Remove(fd); old != nil {
						old.DecRef()
					}
				}
			}
		}()
	}
	wg.Wait()
	fds := tab.FDs()
	seen := map[int]bool{}
	for _, fd := range fds {
		if seen[fd] {
			t.Fatalf("fd %d listed twice", fd)
		}
		seen[fd] = true
	}
	// Each goroutine kept 200 - 67 descriptors.
	if want := 8 * (200 - 67); len(fds) != want {
		t.Errorf("open descriptors: got %d, want %d", len(fds), want)
	}
	child := tab.Fork()
	tab.RemoveAll()
	child.RemoveAll()
	f.DecRef()
	if got := impl.released.Load(); got != 1 {
		t.Errorf("released %d times, want 1", got)
	}
}
