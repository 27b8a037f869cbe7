package vfs

import (
	"reflect"
	"testing"
)

func ranges(fl *fileLocks, owner any) map[LockRange]LockType {
	out := map[LockRange]LockType{}
	for _, l := range fl.records {
		if l.owner == owner {
			out[l.r] = l.typ
		}
	}
	return out
}

func TestRecordLockSplitMerge(t *testing.T) {
	fl := &fileLocks{}
	a, b := "a", "b"
	fl.set(a, 1, WriteLock, LockRange{0, 100})
	fl.set(a, 1, ReadLock, LockRange{40, 60})
	want := map[LockRange]LockType{{0, 40}: WriteLock, {40, 60}: ReadLock, {60, 100}: WriteLock}
	if got := ranges(fl, a); !reflect.DeepEqual(got, want) {
		t.Fatalf("downgrade middle: %v, want %v", got, want)
	}
	if !fl.set(a, 1, Unlock, LockRange{30, 70}) {
		t.Errorf("unlocking part of a write lock should report a release")
	}
	want = map[LockRange]LockType{{0, 30}: WriteLock, {70, 100}: WriteLock}
	if got := ranges(fl, a); !reflect.DeepEqual(got, want) {
		t.Fatalf("unlock middle: %v, want %v", got, want)
	}
	fl.set(a, 1, WriteLock, LockRange{30, 70})
	want = map[LockRange]LockType{{0, 100}: WriteLock}
	if got := ranges(fl, a); !reflect.DeepEqual(got, want) {
		t.Fatalf("fill the hole merges: %v, want %v", got, want)
	}
	fl.set(b, 2, ReadLock, LockRange{200, LockEOF})
	if _, busy := fl.conflict(b, ReadLock, LockRange{50, 51}); !busy {
		t.Errorf("b's read lock inside a's write lock should conflict")
	}
	if _, busy := fl.conflict(a, ReadLock, LockRange{300, 301}); busy {
		t.Errorf("two read locks don't conflict")
	}
	if l, busy := fl.conflict(a, WriteLock, LockRange{150, 250}); !busy || l.owner != b {
		t.Errorf("a's write lock over b's read lock should conflict with b, got %v %v", l, busy)
	}
	if fl.set(b, 2, Unlock, LockRange{0, 10}) {
		t.Errorf("unlocking nothing reported a release")
	}
}
