package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/kernel"
	. "palisade.dev/sentry/strace"
	"palisade.dev/sentry/vfs"
)

func init() {
	full(unix.SYS_FLOCK, Flock, FD, Hex)
}

// fcntl record-lock commands (F_OFD_* are Linux's open file description
// locks).
const (
	fOFDGetlk  = 36
	fOFDSetlk  = 37
	fOFDSetlkw = 38
)

// blocker waits for a lock as an interruptible sleep.
func blocker(t *kernel.Task) vfs.Blocker {
	return func(ch <-chan struct{}) error {
		if err := t.Block(ch, time.Time{}); err != nil {
			if err == kernel.ErrInterrupted {
				return linux.ERESTARTSYS
			}
			return err
		}
		return nil
	}
}

// flock64 is struct flock on x86-64.
type flock64 struct {
	typ, whence int16
	start, len  int64
	pid         int32
}

func (l *flock64) decode(b []byte) {
	l.typ = int16(binary.LittleEndian.Uint16(b[0:]))
	l.whence = int16(binary.LittleEndian.Uint16(b[2:]))
	l.start = int64(binary.LittleEndian.Uint64(b[8:]))
	l.len = int64(binary.LittleEndian.Uint64(b[16:]))
	l.pid = int32(binary.LittleEndian.Uint32(b[24:]))
}

func (l *flock64) encode(b []byte) {
	binary.LittleEndian.PutUint16(b[0:], uint16(l.typ))
	binary.LittleEndian.PutUint16(b[2:], uint16(l.whence))
	binary.LittleEndian.PutUint64(b[8:], uint64(l.start))
	binary.LittleEndian.PutUint64(b[16:], uint64(l.len))
	binary.LittleEndian.PutUint32(b[24:], uint32(l.pid))
}

// lockRange turns l_whence, l_start and l_len into a byte range.
func lockRange(t *kernel.Task, f *vfs.FileDescription, l *flock64) (vfs.LockRange, error) {
	var base int64
	switch l.whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off, err := f.Seek(t, 0, unix.SEEK_CUR)
		if err != nil {
			return vfs.LockRange{}, err
		}
		base = off
	case unix.SEEK_END:
		st, err := f.Stat(t)
		if err != nil {
			return vfs.LockRange{}, err
		}
		base = int64(st.Size)
	default:
		return vfs.LockRange{}, unix.EINVAL
	}
	start := base + l.start
	if (l.start > 0 && start < base) || (l.start < 0 && start > base) {
		return vfs.LockRange{}, unix.EOVERFLOW
	}
	if start < 0 {
		return vfs.LockRange{}, unix.EINVAL
	}
	switch {
	case l.len == 0:
		return vfs.LockRange{Start: uint64(start), End: vfs.LockEOF}, nil
	case l.len > 0:
		end := start + l.len
		if end < start {
			return vfs.LockRange{}, unix.EOVERFLOW
		}
		return vfs.LockRange{Start: uint64(start), End: uint64(end)}, nil
	default:
		s := start + l.len
		if s < 0 {
			return vfs.LockRange{}, unix.EINVAL
		}
		return vfs.LockRange{Start: uint64(s), End: uint64(start)}, nil
	}
}

// fcntlLock implements F_GETLK, F_SETLK(W) and their F_OFD_ forms.
func fcntlLock(t *kernel.Task, f *vfs.FileDescription, cmd int32, addr uintptr) (uintptr, error) {
	var buf [32]byte
	if _, err := t.CopyIn(addr, buf[:]); err != nil {
		return 0, unix.EFAULT
	}
	var l flock64
	l.decode(buf[:])
	ofd := cmd == fOFDGetlk || cmd == fOFDSetlk || cmd == fOFDSetlkw
	if ofd && l.pid != 0 {
		return 0, unix.EINVAL
	}
	var typ vfs.LockType
	switch l.typ {
	case unix.F_RDLCK:
		typ = vfs.ReadLock
	case unix.F_WRLCK:
		typ = vfs.WriteLock
	case unix.F_UNLCK:
		typ = vfs.Unlock
	default:
		return 0, unix.EINVAL
	}
	r, err := lockRange(t, f, &l)
	if err != nil {
		return 0, err
	}
	var owner any = t.FDTable().FDTable
	pid := t.PID()
	if ofd {
		owner, pid = f, -1
	}
	d := f.Dentry()
	switch cmd {
	case unix.F_GETLK, fOFDGetlk:
		if typ == vfs.Unlock {
			return 0, unix.EINVAL
		}
		held, busy := vfs.TestRecordLock(d, owner, typ, r)
		if !busy {
			l.typ = unix.F_UNLCK
		} else {
			l.typ = unix.F_RDLCK
			if held.Type == vfs.WriteLock {
				l.typ = unix.F_WRLCK
			}
			l.whence = unix.SEEK_SET
			l.start = int64(held.Range.Start)
			l.len = 0
			if held.Range.End != vfs.LockEOF {
				l.len = int64(held.Range.End - held.Range.Start)
			}
			l.pid = held.PID
		}
		l.encode(buf[:])
		if _, err := t.CopyOut(addr, buf[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	if (typ == vfs.ReadLock && !f.Readable()) || (typ == vfs.WriteLock && !f.Writable()) {
		return 0, unix.EBADF
	}
	var block vfs.Blocker
	if cmd == unix.F_SETLKW || cmd == fOFDSetlkw {
		block = blocker(t)
	}
	return 0, vfs.SetRecordLock(d, f, owner, pid, typ, r, block)
}

// Flock implements flock(2).
func Flock(t *kernel.Task, a args) (uintptr, error) {
	f, err := getFile(t, a[0].Int())
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	op := a[1].Int()
	var block vfs.Blocker
	if op&unix.LOCK_NB == 0 {
		block = blocker(t)
	}
	var typ vfs.LockType
	switch op &^ unix.LOCK_NB {
	case unix.LOCK_SH:
		typ = vfs.ReadLock
	case unix.LOCK_EX:
		typ = vfs.WriteLock
	case unix.LOCK_UN:
		typ = vfs.Unlock
	default:
		return 0, unix.EINVAL
	}
	return 0, vfs.Flock(f.Dentry(), f, typ, block)
}

// fcntlOwner implements F_GETOWN, F_SETOWN, F_GETOWN_EX and F_SETOWN_EX:
// the owner the I/O signals of O_ASYNC go to (fasync.go).
func fcntlOwner(t *kernel.Task, f *vfs.FileDescription, cmd int32, arg uintptr) (uintptr, error) {
	const (
		ownerTID  = kernel.OwnerTID
		ownerPID  = kernel.OwnerPID
		ownerPGRP = kernel.OwnerPGRP
	)
	creds := t.Credentials()
	switch cmd {
	case unix.F_GETOWN:
		typ, id := f.Owner()
		if typ == ownerPGRP {
			return uintptr(int64(-id)), nil
		}
		return uintptr(id), nil
	case unix.F_SETOWN:
		id := int32(arg)
		switch {
		case id == 0:
			f.SetOwner(0, 0, creds)
		case id > 0:
			if t.Kernel().ThreadGroupByID(id) == nil {
				return 0, unix.ESRCH
			}
			f.SetOwner(ownerPID, id, creds)
		default:
			f.SetOwner(ownerPGRP, -id, creds)
		}
		return 0, nil
	case unix.F_GETOWN_EX:
		typ, id := f.Owner()
		var b [8]byte
		binary.LittleEndian.PutUint32(b[0:], uint32(typ))
		binary.LittleEndian.PutUint32(b[4:], uint32(id))
		if _, err := t.CopyOut(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.F_SETOWN_EX:
		var b [8]byte
		if _, err := t.CopyIn(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		typ := int32(binary.LittleEndian.Uint32(b[0:]))
		id := int32(binary.LittleEndian.Uint32(b[4:]))
		switch typ {
		case ownerTID:
			if id != 0 && t.Kernel().TaskByTID(id) == nil {
				return 0, unix.ESRCH
			}
		case ownerPID:
			if id != 0 && t.Kernel().ThreadGroupByID(id) == nil {
				return 0, unix.ESRCH
			}
		case ownerPGRP:
		default:
			return 0, unix.EINVAL
		}
		if id < 0 {
			return 0, unix.EINVAL
		}
		f.SetOwner(typ, id, creds)
		return 0, nil
	}
	return 0, unix.EINVAL
}
