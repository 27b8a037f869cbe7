package vfs

import (
	"math"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Advisory file locks: fcntl's record locks (classic POSIX locks, owned by
// an FD table, and open file description locks, owned by a description,
// which share one lock space per file) and flock(2)'s whole-file locks
// (owned by a description, a separate space). Locks belong to the dentry
// a file was opened through; two hard links of one gofer file reached by
// different names are different dentries and don't see each other's
// locks.

// LockType is a lock's kind.
type LockType int

// Lock kinds.
const (
	ReadLock LockType = iota
	WriteLock
	Unlock
)

// LockEOF is the end of a range that reaches to the end of the file and
// beyond.
const LockEOF = math.MaxUint64

// LockRange is the byte range [Start, End).
type LockRange struct{ Start, End uint64 }

func (r LockRange) overlaps(o LockRange) bool { return r.Start < o.End && o.Start < r.End }

// Blocker waits for ch to close, or fails (interrupted by a signal).
type Blocker func(ch <-chan struct{}) error

// recordLock is one held record lock.
type recordLock struct {
	owner any
	pid   int32 // the holder's PID for F_GETLK; -1 for description locks
	typ   LockType
	r     LockRange
}

// fileLocks is the lock state of one file.
type fileLocks struct {
	records []recordLock // disjoint for one owner, sorted by Start per owner
	flocks  map[*FileDescription]LockType
	// changed is closed and replaced whenever a lock goes or shrinks.
	changed chan struct{}
}

var locks struct {
	mu    sync.Mutex
	files map[Dentry]*fileLocks
	// waitingOn says whose record lock each blocked POSIX owner waits
	// for, for deadlock detection.
	waitingOn map[any]any
	// any is set once a lock was ever taken, so that closing files
	// costs nothing in programs that never lock.
	any atomic.Bool
}

func lockState(d Dentry) *fileLocks {
	if locks.files == nil {
		locks.files = make(map[Dentry]*fileLocks)
		locks.waitingOn = make(map[any]any)
	}
	fl := locks.files[d]
	if fl == nil {
		fl = &fileLocks{flocks: make(map[*FileDescription]LockType), changed: make(chan struct{})}
		locks.files[d] = fl
	}
	return fl
}

// wake tells waiters that locks went, and forgets an empty state.
func (fl *fileLocks) wake(d Dentry) {
	close(fl.changed)
	fl.changed = make(chan struct{})
	if len(fl.records) == 0 && len(fl.flocks) == 0 {
		delete(locks.files, d)
	}
}

func conflicts(a, b LockType) bool { return a == WriteLock || b == WriteLock }

// conflict returns a record lock of another owner that keeps owner from
// locking r with typ.
func (fl *fileLocks) conflict(owner any, typ LockType, r LockRange) (recordLock, bool) {
	for _, l := range fl.records {
		if l.owner != owner && l.r.overlaps(r) && conflicts(l.typ, typ) {
			return l, true
		}
	}
	return recordLock{}, false
}

// set gives owner typ (or Unlock) over r, splitting and merging its own
// locks as POSIX says. It reports whether any lock was removed or
// weakened, which may let waiters in.
func (fl *fileLocks) set(owner any, pid int32, typ LockType, r LockRange) bool {
	released := false
	var out []recordLock
	for _, l := range fl.records {
		if l.owner != owner {
			out = append(out, l)
			continue
		}
		if typ != Unlock && l.typ == typ && l.r.Start <= r.End && r.Start <= l.r.End {
			// Same type, overlapping or adjacent: absorb it. An owner's
			// locks are disjoint, so the union overlaps nothing new.
			r.Start, r.End = min(r.Start, l.r.Start), max(r.End, l.r.End)
			continue
		}
		if !l.r.overlaps(r) {
			out = append(out, l)
			continue
		}
		if l.r.Start < r.Start {
			out = append(out, recordLock{owner, l.pid, l.typ, LockRange{l.r.Start, r.Start}})
		}
		if l.r.End > r.End {
			out = append(out, recordLock{owner, l.pid, l.typ, LockRange{r.End, l.r.End}})
		}
		if typ == Unlock || l.typ == WriteLock {
			released = true
		}
	}
	if typ != Unlock {
		out = append(out, recordLock{owner, pid, typ, r})
	}
	fl.records = out
	return released
}

// RecordLock is a held lock as F_GETLK reports it.
type RecordLock struct {
	Type  LockType
	Range LockRange
	PID   int32
}

// TestRecordLock implements F_GETLK and F_OFD_GETLK: the first lock of
// another owner that would keep owner from taking typ over r, if any.
func TestRecordLock(d Dentry, owner any, typ LockType, r LockRange) (RecordLock, bool) {
	locks.mu.Lock()
	defer locks.mu.Unlock()
	fl := locks.files[d]
	if fl == nil {
		return RecordLock{}, false
	}
	l, ok := fl.conflict(owner, typ, r)
	return RecordLock{l.typ, l.r, l.pid}, ok
}

// SetRecordLock implements F_SETLK(W) and F_OFD_SETLK(W). owner is the FD
// table for POSIX locks (pid the caller's PID) or the description for
// description locks (pid -1). With a nil block it fails with EAGAIN
// rather than wait; a waiting POSIX owner that would deadlock gets
// EDEADLK.
func SetRecordLock(d Dentry, f *FileDescription, owner any, pid int32, typ LockType, r LockRange, block Blocker) error {
	locks.mu.Lock()
	if typ != Unlock {
		locks.any.Store(true)
		if owner == any(f) {
			f.ofdLocked.Store(true)
		}
	}
	for {
		fl := lockState(d)
		if typ == Unlock {
			if fl.set(owner, pid, Unlock, r) {
				fl.wake(d)
			} else if len(fl.records) == 0 && len(fl.flocks) == 0 {
				delete(locks.files, d)
			}
			locks.mu.Unlock()
			return nil
		}
		l, busy := fl.conflict(owner, typ, r)
		if !busy {
			if fl.set(owner, pid, typ, r) {
				fl.wake(d)
			}
			locks.mu.Unlock()
			return nil
		}
		if block == nil {
			if len(fl.records) == 0 && len(fl.flocks) == 0 {
				delete(locks.files, d)
			}
			locks.mu.Unlock()
			return unix.EAGAIN
		}
		if l.pid >= 0 && pid >= 0 && wouldDeadlock(owner, l.owner) {
			locks.mu.Unlock()
			return unix.EDEADLK
		}
		ch := fl.changed
		if pid >= 0 {
			locks.waitingOn[owner] = l.owner
		}
		locks.mu.Unlock()
		err := block(ch)
		locks.mu.Lock()
		delete(locks.waitingOn, owner)
		if err != nil {
			if fl := locks.files[d]; fl != nil && len(fl.records) == 0 && len(fl.flocks) == 0 {
				delete(locks.files, d)
			}
			locks.mu.Unlock()
			return err
		}
	}
}

// wouldDeadlock reports whether owner waiting for holder closes a cycle
// of waiting POSIX owners.
func wouldDeadlock(owner, holder any) bool {
	for i := 0; i < 64 && holder != nil; i++ {
		if holder == owner {
			return true
		}
		holder = locks.waitingOn[holder]
	}
	return false
}

// ReleaseRecordLocks drops every record lock owner holds on d (a POSIX
// owner closing any descriptor of the file, or a description going).
func ReleaseRecordLocks(d Dentry, owner any) {
	if !locks.any.Load() {
		return
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	fl := locks.files[d]
	if fl == nil {
		return
	}
	if fl.set(owner, 0, Unlock, LockRange{0, LockEOF}) {
		fl.wake(d)
	}
}

// Flock implements flock(2) for description f: typ is ReadLock (LOCK_SH),
// WriteLock (LOCK_EX) or Unlock. With a nil block it fails with
// EWOULDBLOCK rather than wait. Converting a held lock first drops it,
// as Linux does.
func Flock(d Dentry, f *FileDescription, typ LockType, block Blocker) error {
	locks.mu.Lock()
	if typ != Unlock {
		locks.any.Store(true)
		f.flocked.Store(true)
	}
	fl := lockState(d)
	if old, ok := fl.flocks[f]; ok {
		if old == typ {
			locks.mu.Unlock()
			return nil
		}
		delete(fl.flocks, f)
		fl.wake(d)
		fl = lockState(d)
	}
	if typ == Unlock {
		if len(fl.records) == 0 && len(fl.flocks) == 0 {
			delete(locks.files, d)
		}
		locks.mu.Unlock()
		return nil
	}
	for {
		busy := false
		for other, t := range fl.flocks {
			if other != f && conflicts(t, typ) {
				busy = true
				break
			}
		}
		if !busy {
			fl.flocks[f] = typ
			locks.mu.Unlock()
			return nil
		}
		if block == nil {
			if len(fl.records) == 0 && len(fl.flocks) == 0 {
				delete(locks.files, d)
			}
			locks.mu.Unlock()
			return unix.EWOULDBLOCK
		}
		ch := fl.changed
		locks.mu.Unlock()
		err := block(ch)
		locks.mu.Lock()
		fl = lockState(d)
		if err != nil {
			if len(fl.records) == 0 && len(fl.flocks) == 0 {
				delete(locks.files, d)
			}
			locks.mu.Unlock()
			return err
		}
	}
}

// releaseDescriptionLocks drops the flock and description record locks of
// f when its last reference goes.
func releaseDescriptionLocks(f *FileDescription) {
	locks.mu.Lock()
	defer locks.mu.Unlock()
	d := f.vd.Dentry
	fl := locks.files[d]
	if fl == nil {
		return
	}
	changed := false
	if _, ok := fl.flocks[f]; ok {
		delete(fl.flocks, f)
		changed = true
	}
	if fl.set(f, 0, Unlock, LockRange{0, LockEOF}) {
		changed = true
	}
	if changed {
		fl.wake(d)
	} else if len(fl.records) == 0 && len(fl.flocks) == 0 {
		delete(locks.files, d)
	}
}
