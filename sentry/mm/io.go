package mm

import (
	"bytes"
	"encoding/binary"
	"unsafe"

	"palisade.dev/abi/linux"
)

// IOOpts control how the sentry accesses application memory.
type IOOpts struct {
	// IgnorePermissions lets the sentry write read-only private mappings
	// (the loader zeroing a partial bss page does).
	IgnorePermissions bool
}

// forBlocks calls fn on consecutive slices of the sentry's view of
// [addr, addr+n), backing and copying pages as needed. It stops at the
// first address the application may not access that way and returns the
// number of bytes handled and EFAULT.
func (mm *MemoryManager) forBlocks(addr uintptr, n int, write bool, opts IOOpts, fn func(b []byte)) (int, error) {
	if n == 0 {
		return 0, nil
	}
	if addr+uintptr(n) < addr {
		return 0, errFault
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	done := 0
	for done < n {
		a := addr + uintptr(done)
		vi, ok := mm.findVMALocked(a)
		if !ok {
			return done, errFault
		}
		v := mm.vmas.At(vi)
		if opts.IgnorePermissions {
			// As Linux's FOLL_FORCE: a private area is written through
			// private copies whatever its permissions, a shared one only
			// if it could be made writable.
			if write && !v.Val.private && !v.Val.maxPerms.Write {
				return done, errFault
			}
		} else if (write && !v.Val.perms.Write) || !v.Val.perms.Any() {
			return done, errFault
		}
		segEnd := min(uintptr(v.End), addr+uintptr(n))
		pi, ok := mm.pmas.Find(uint64(a))
		if !ok || (write && needsCopy(&v.Val, &mm.pmas.At(pi).Val)) {
			// Whatever is backed before a failure can still be used, as
			// long as it is not a page that a write must not touch.
			mm.populateLocked(a&^linux.PageMask, pageUp(segEnd), write)
			pi, ok = mm.pmas.Find(uint64(a))
			if !ok || (write && needsCopy(&v.Val, &mm.pmas.At(pi).Val)) {
				return done, errFault
			}
		}
		p := mm.pmas.At(pi)
		pe := min(uintptr(p.End), segEnd)
		fn(mm.mf.Slice(p.Val.memOff+uint64(a)-p.Start, uint64(pe-a)))
		done += int(pe - a)
	}
	return done, nil
}

// CopyOut copies src to application memory at addr.
func (mm *MemoryManager) CopyOut(addr uintptr, src []byte) (int, error) {
	return mm.CopyOutOpts(addr, src, IOOpts{})
}

// CopyOutOpts is CopyOut with options.
func (mm *MemoryManager) CopyOutOpts(addr uintptr, src []byte, opts IOOpts) (int, error) {
	done := 0
	return mm.forBlocks(addr, len(src), true, opts, func(b []byte) {
		done += copy(b, src[done:])
	})
}

// CopyIn copies application memory at addr into dst.
func (mm *MemoryManager) CopyIn(addr uintptr, dst []byte) (int, error) {
	done := 0
	return mm.forBlocks(addr, len(dst), false, IOOpts{}, func(b []byte) {
		done += copy(dst[done:], b)
	})
}

// ZeroOut writes n zero bytes to application memory at addr.
func (mm *MemoryManager) ZeroOut(addr uintptr, n int, opts IOOpts) (int, error) {
	return mm.forBlocks(addr, n, true, opts, func(b []byte) { clear(b) })
}

// CopyInString copies a NUL-terminated string of at most maxLen bytes
// (not counting the NUL) from addr. It fails with ENAMETOOLONG if there is
// no NUL within maxLen+1 bytes.
func (mm *MemoryManager) CopyInString(addr uintptr, maxLen int) (string, error) {
	var buf []byte
	for len(buf) <= maxLen {
		// Read up to the end of the page so that a string ending just
		// before an unmapped page works.
		chunk := int(linux.PageSize - (addr+uintptr(len(buf)))&linux.PageMask)
		chunk = min(chunk, maxLen+1-len(buf))
		b := make([]byte, chunk)
		n, err := mm.CopyIn(addr+uintptr(len(buf)), b)
		if i := bytes.IndexByte(b[:n], 0); i >= 0 {
			return string(append(buf, b[:i]...)), nil
		}
		if err != nil {
			return "", err
		}
		buf = append(buf, b...)
	}
	return "", linux.Errno(36) // ENAMETOOLONG
}

// CopyInUint64 reads a little-endian 64-bit value.
func (mm *MemoryManager) CopyInUint64(addr uintptr) (uint64, error) {
	var b [8]byte
	if _, err := mm.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// CopyOutUint64 writes a little-endian 64-bit value.
func (mm *MemoryManager) CopyOutUint64(addr uintptr, v uint64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	_, err := mm.CopyOut(addr, b[:])
	return err
}

// CopyOutUint32 writes a little-endian 32-bit value.
func (mm *MemoryManager) CopyOutUint32(addr uintptr, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	_, err := mm.CopyOut(addr, b[:])
	return err
}

// CopyInUint32 reads a little-endian 32-bit value.
func (mm *MemoryManager) CopyInUint32(addr uintptr) (uint32, error) {
	var b [4]byte
	if _, err := mm.CopyIn(addr, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// IOVec is one element of an iovec array.
type IOVec struct {
	Base uintptr
	Len  uint64
}

// MaxIOVecs is UIO_MAXIOV.
const MaxIOVecs = 1024

// CopyInIOVecs reads an array of n struct iovec. It fails with EINVAL for
// more than UIO_MAXIOV entries or a total length that overflows ssize_t.
func (mm *MemoryManager) CopyInIOVecs(addr uintptr, n int) ([]IOVec, error) {
	if n < 0 || n > MaxIOVecs {
		return nil, errInval
	}
	b := make([]byte, 16*n)
	if _, err := mm.CopyIn(addr, b); err != nil {
		return nil, err
	}
	out := make([]IOVec, n)
	var total uint64
	for i := range out {
		out[i].Base = uintptr(binary.LittleEndian.Uint64(b[16*i:]))
		out[i].Len = binary.LittleEndian.Uint64(b[16*i+8:])
		if int64(out[i].Len) < 0 {
			return nil, errInval
		}
		total += out[i].Len
		if int64(total) < 0 {
			return nil, errInval
		}
	}
	return out, nil
}

// Uint32Ptr returns a pointer, in the sentry's mapping of the memory
// file, to the aligned 32-bit word at addr, for atomic operations
// (futexes). With write, the page is made writable first (copy-on-write
// broken) and the area must be writable.
func (mm *MemoryManager) Uint32Ptr(addr uintptr, write bool) (*uint32, error) {
	if addr&3 != 0 {
		return nil, errInval
	}
	var b []byte
	_, err := mm.forBlocks(addr, 4, write, IOOpts{}, func(s []byte) { b = s })
	if err != nil || len(b) < 4 {
		return nil, errFault
	}
	return (*uint32)(unsafe.Pointer(&b[0])), nil
}

// FutexKey returns what identifies the futex word at addr: for a private
// futex, or any futex in private memory, the address itself within this
// address space (shared false); for a futex in shared memory, the memory
// file offset backing it, the same for every process mapping it.
func (mm *MemoryManager) FutexKey(addr uintptr, private bool) (shared bool, key uint64, err error) {
	if addr&3 != 0 {
		return false, 0, errInval
	}
	if private {
		return false, uint64(addr), nil
	}
	mm.mu.Lock()
	vi, ok := mm.vmas.Find(uint64(addr))
	isPrivate := ok && mm.vmas.At(vi).Val.private
	mm.mu.Unlock()
	if !ok {
		return false, 0, errFault
	}
	if isPrivate {
		return false, uint64(addr), nil
	}
	var off uint64
	_, err = mm.forBlocks(addr, 4, false, IOOpts{}, func(s []byte) {
		off = uint64(uintptr(unsafe.Pointer(&s[0])) - uintptr(unsafe.Pointer(&mm.mf.Slice(0, 1)[0])))
	})
	if err != nil {
		return false, 0, errFault
	}
	return true, off, nil
}
