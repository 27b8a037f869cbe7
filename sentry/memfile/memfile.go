// Package memfile owns the memory file: one host memfd that backs all
// application memory in a sandbox. The sentry maps the whole file once into
// its own address space to read and write application memory; platforms map
// ranges of the same file into application address spaces.
//
// Pages are allocated in page-aligned ranges and reference counted. A range
// whose count drops to zero is punched out of the file (so its host memory
// is released and it reads as zeros when allocated again) and returned to
// the free list.
//
// Lock order: MemoryFile.mu is a leaf lock.
package memfile

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/segment"
)

// reservation is the size of the file and of the sentry's mapping of it.
// Both are sparse: only pages in use occupy host memory.
const reservation = 1 << 40

type refOps struct{}

func (refOps) Split(s segment.Seg[int32], at uint64) (int32, int32) { return s.Val, s.Val }
func (refOps) Merge(a, b segment.Seg[int32]) (int32, bool)          { return a.Val, a.Val == b.Val }

type freeOps struct{}

func (freeOps) Split(s segment.Seg[struct{}], at uint64) (struct{}, struct{}) {
	return struct{}{}, struct{}{}
}
func (freeOps) Merge(a, b segment.Seg[struct{}]) (struct{}, bool) { return struct{}{}, true }

// MemoryFile is the memory file.
type MemoryFile struct {
	fd      int
	mapping []byte

	mu    sync.Mutex
	refs  segment.Set[int32, refOps]     // allocated ranges and their counts
	free  segment.Set[struct{}, freeOps] // freed ranges below top
	top   uint64                         // everything at or above is free
	inUse uint64                         // bytes allocated
}

// New creates a memory file.
func New(name string) (*MemoryFile, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, reservation); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("size memory file: %w", err)
	}
	m, err := unix.Mmap(fd, 0, reservation, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("map memory file: %w", err)
	}
	return &MemoryFile{fd: fd, mapping: m}, nil
}

// FD returns the host file descriptor of the memory file.
func (f *MemoryFile) FD() int { return f.fd }

// Slice returns the sentry's view of [off, off+length) of the file.
func (f *MemoryFile) Slice(off, length uint64) []byte {
	return f.mapping[off : off+length : off+length]
}

// Allocate returns the offset of length bytes (page-aligned) of zeroed
// memory with a reference count of one.
func (f *MemoryFile) Allocate(length uint64) (uint64, error) {
	if length == 0 || length&linux.PageMask != 0 {
		panic(fmt.Sprintf("memfile: bad allocation length %#x", length))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	off, ok := f.takeFree(length)
	if !ok {
		if f.top+length > reservation {
			return 0, unix.ENOMEM
		}
		off = f.top
		f.top += length
	}
	f.refs.Insert(segment.Seg[int32]{Start: off, End: off + length, Val: 1})
	i, _ := f.refs.Find(off)
	f.refs.MergeRange(i, i+1)
	f.inUse += length
	return off, nil
}

// takeFree carves length bytes out of the first free range that fits.
func (f *MemoryFile) takeFree(length uint64) (uint64, bool) {
	for i := 0; i < f.free.Len(); i++ {
		s := f.free.At(i)
		if s.Len() < length {
			continue
		}
		off := s.Start
		if s.Len() == length {
			f.free.Remove(i, i+1)
		} else {
			s.Start += length
		}
		return off, true
	}
	return 0, false
}

// IncRef takes a reference on every page of [off, off+length), which must
// be allocated.
func (f *MemoryFile) IncRef(off, length uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, j := f.refs.Isolate(off, off+length)
	var covered uint64
	for k := i; k < j; k++ {
		s := f.refs.At(k)
		s.Val++
		covered += s.Len()
	}
	if covered != length {
		panic(fmt.Sprintf("memfile: IncRef of unallocated memory [%#x, %#x)", off, off+length))
	}
	f.refs.MergeRange(i, j)
}

// DecRef drops a reference on every page of [off, off+length) and frees
// the pages whose count reaches zero.
func (f *MemoryFile) DecRef(off, length uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, j := f.refs.Isolate(off, off+length)
	var covered uint64
	for k := i; k < j; {
		s := f.refs.At(k)
		covered += s.Len()
		s.Val--
		if s.Val > 0 {
			k++
			continue
		}
		start, end := s.Start, s.End
		f.refs.Remove(k, k+1)
		j--
		f.release(start, end)
	}
	if covered != length {
		panic(fmt.Sprintf("memfile: DecRef of unallocated memory [%#x, %#x)", off, off+length))
	}
	f.refs.MergeRange(i, j)
}

// release returns [start, end) to the free pool and its host memory to the
// host.
func (f *MemoryFile) release(start, end uint64) {
	f.inUse -= end - start
	// Punching the hole makes the range read as zeros when reused.
	if err := unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(start), int64(end-start)); err != nil {
		// Without a hole the pages would not be zero: zero them by hand.
		clear(f.mapping[start:end])
	}
	if end == f.top {
		f.top = start
		// Absorb a free range that now touches the top.
		if n := f.free.Len(); n > 0 && f.free.At(n-1).End == f.top {
			f.top = f.free.At(n - 1).Start
			f.free.Remove(n-1, n)
		}
		return
	}
	i := f.free.Insert(segment.Seg[struct{}]{Start: start, End: end})
	f.free.MergeRange(i, i+1)
}

// MaxRefs returns the highest reference count among the pages of
// [off, off+length), or 0 if none is allocated.
func (f *MemoryFile) MaxRefs(off, length uint64) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m int32
	for i := f.refs.LowerBound(off); i < f.refs.Len() && f.refs.At(i).Start < off+length; i++ {
		m = max(m, f.refs.At(i).Val)
	}
	return m
}

// InUse returns the number of bytes allocated.
func (f *MemoryFile) InUse() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inUse
}
