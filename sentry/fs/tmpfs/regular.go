package tmpfs

import (
	"context"
	"strconv"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/segment"
	"palisade.dev/sentry/vfs"
)

// fallocate(2) modes.
const (
	FALLOC_FL_KEEP_SIZE  = 0x1
	FALLOC_FL_PUNCH_HOLE = 0x2
)

// pageOps lets a Set map file offsets to memory-file offsets.
type pageOps struct{}

func (pageOps) Split(s segment.Seg[uint64], at uint64) (uint64, uint64) {
	return s.Val, s.Val + (at - s.Start)
}

func (pageOps) Merge(a, b segment.Seg[uint64]) (uint64, bool) {
	return a.Val, a.Val+a.Len() == b.Val
}

func pageDown(x uint64) uint64 { return linux.PageRoundDown(x) }

// pageUp rounds x up to a page boundary (offsets are below 2^63, so this
// never overflows).
func pageUp(x uint64) uint64 {
	r, _ := linux.PageRoundUp(x)
	return r
}

// allocatedLocked returns the bytes of memory the file's data occupy.
//
// Preconditions: i.mu is held.
func (i *inode) allocatedLocked() uint64 { return i.allocated }

// freePagesLocked frees the pages of [start, end).
//
// Preconditions: i.mu is held; start and end are page-aligned.
func (i *inode) freePagesLocked(start, end uint64) {
	if i.pages.IsEmptyRange(start, end) {
		return
	}
	a, b := i.pages.Isolate(start, end)
	var n uint64
	for k := a; k < b; k++ {
		s := i.pages.At(k)
		i.fs.mf.DecRef(s.Val, s.Len())
		n += s.Len()
	}
	i.pages.Remove(a, b)
	i.allocated -= n
	i.fs.unreservePages(n / linux.PageSize)
}

// forEachPageLocked calls fn with the sentry's view of each allocated
// piece of [start, end), and the piece's file offset.
//
// Preconditions: i.mu is held.
func (i *inode) forEachPageLocked(start, end uint64, fn func(off uint64, b []byte)) {
	for k := i.pages.LowerBound(start); k < i.pages.Len() && i.pages.At(k).Start < end; k++ {
		s := i.pages.At(k)
		ps, pe := max(s.Start, start), min(s.End, end)
		fn(ps, i.fs.mf.Slice(s.Val+(ps-s.Start), pe-ps))
	}
}

// zeroRangeLocked zeroes the allocated bytes of [start, end).
//
// Preconditions: i.mu is held.
func (i *inode) zeroRangeLocked(start, end uint64) {
	if start < end {
		i.forEachPageLocked(start, end, func(_ uint64, b []byte) { clear(b) })
	}
}

// discardLocked makes the whole pages of [start, end) read as zeros: it
// frees them, or zeroes them while the file is mapped (mappings keep the
// pages they map).
//
// Preconditions: i.mu is held; start and end are page-aligned.
func (i *inode) discardLocked(start, end uint64) {
	if i.mappings > 0 {
		i.zeroRangeLocked(start, end)
	} else {
		i.freePagesLocked(start, end)
	}
}

// fillLocked allocates the holes of the page-aligned range [start, end),
// in order. With partial set, it allocates as much as the size limit
// allows and returns where the allocated prefix of the range ends;
// otherwise it allocates all holes or (for ENOSPC) none. The error says
// why it stopped short (ENOSPC, or the memory file's ENOMEM).
//
// Preconditions: i.mu is held.
func (i *inode) fillLocked(start, end uint64, partial bool) (uint64, error) {
	// budget is what was reserved in advance, in all-or-nothing mode.
	var budget uint64
	if !partial {
		holes := i.holesLocked(start, end)
		if holes == 0 {
			return end, nil
		}
		if i.fs.reservePages(holes, false) == 0 {
			return start, unix.ENOSPC
		}
		budget = holes
		defer func() { i.fs.unreservePages(budget) }()
	}
	pos := start
	for pos < end {
		k, ok := i.pages.Find(pos)
		if ok {
			pos = min(i.pages.At(k).End, end)
			continue
		}
		ge := end
		if k < i.pages.Len() && i.pages.At(k).Start < ge {
			ge = i.pages.At(k).Start
		}
		want := (ge - pos) / linux.PageSize
		got := want
		if partial {
			if got = i.fs.reservePages(want, true); got == 0 {
				return pos, unix.ENOSPC
			}
		} else {
			budget -= want
		}
		mem, err := i.fs.mf.Allocate(got * linux.PageSize)
		if err != nil {
			i.fs.unreservePages(got)
			return pos, err
		}
		n := i.pages.Insert(segment.Seg[uint64]{Start: pos, End: pos + got*linux.PageSize, Val: mem})
		i.pages.MergeRange(n, n+1)
		i.allocated += got * linux.PageSize
		pos += got * linux.PageSize
		if got < want {
			return pos, unix.ENOSPC
		}
	}
	return end, nil
}

// holesLocked returns the number of unallocated pages in the page-aligned
// range [start, end).
//
// Preconditions: i.mu is held.
func (i *inode) holesLocked(start, end uint64) uint64 {
	if start >= end {
		return 0
	}
	n := (end - start) / linux.PageSize
	i.forEachPageLocked(start, end, func(_ uint64, b []byte) { n -= uint64(len(b)) / linux.PageSize })
	return n
}

// setSizeLocked changes a regular file's size: bytes past a new, smaller
// size are discarded, and a larger size reads as zeros up to the old end.
//
// Preconditions: i.mu is held.
func (i *inode) setSizeLocked(size uint64) {
	old := i.size
	switch {
	case size < old:
		// The rest of the new last page must read as zeros if the file
		// grows again.
		i.zeroRangeLocked(size, pageUp(size))
		if i.mappings > 0 {
			i.zeroRangeLocked(pageUp(size), noTrim)
			i.trimFrom = min(i.trimFrom, pageUp(size))
		} else {
			i.freePagesLocked(pageUp(size), noTrim)
		}
	case size > old:
		// Pages past the old end (kept for mappings, or preallocated)
		// may hold bytes written through a mapping.
		i.zeroRangeLocked(old, size)
	}
	i.size = size
}

// readLocked copies the file's bytes at off into dst and returns how many
// it copied (short at the end of file).
//
// Preconditions: i.mu is held.
func (i *inode) readLocked(dst []byte, off uint64) int {
	if off >= i.size {
		return 0
	}
	n := min(uint64(len(dst)), i.size-off)
	dst = dst[:n]
	done := uint64(0)
	i.forEachPageLocked(off, off+n, func(pos uint64, b []byte) {
		// Holes before this piece read as zeros.
		clear(dst[done : pos-off])
		done = pos - off + uint64(copy(dst[pos-off:], b))
	})
	clear(dst[done:])
	return int(n)
}

// writeLocked copies src into the file at off, allocating pages as
// needed, and returns how many bytes it wrote: fewer than len(src) if the
// size limit was reached, and an error only if it wrote nothing.
//
// Preconditions: i.mu is held.
func (i *inode) writeLocked(src []byte, off uint64) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	if off >= maxFileSize {
		return 0, unix.EFBIG
	}
	end := off + uint64(len(src))
	if end > maxFileSize || end < off {
		end = maxFileSize
	}
	filled, err := i.fillLocked(pageDown(off), pageUp(end), true)
	if filled < end {
		if filled <= off {
			return 0, err
		}
		end = filled
	}
	if end > i.size {
		i.zeroRangeLocked(i.size, off)
	}
	i.forEachPageLocked(off, end, func(pos uint64, b []byte) {
		copy(b, src[pos-off:])
	})
	if end > i.size {
		i.size = end
	}
	return int(end - off), nil
}

// openRegular opens a regular file.
func (d *Dentry) openRegular(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	i := d.inode
	i.mu.Lock()
	if i.released {
		// Unlinked and closed: its data are gone (only an O_PATH
		// description, which holds no reference, could lead here).
		i.mu.Unlock()
		return nil, unix.ENOENT
	}
	if flags&unix.O_TRUNC != 0 {
		if err := i.sealsAllowSizeLocked(0); err != nil {
			i.mu.Unlock()
			return nil, err
		}
		i.setSizeLocked(0)
		i.touchLocked()
		i.killPrivsLocked(credsFrom(ctx))
	}
	i.refs++
	i.mu.Unlock()
	f := &regularFile{d: d, i: i}
	f.fd = vfs.NewFileDescription(f, vd, flags)
	return f.fd, nil
}

// Tmpfile makes an unnamed regular file in directory d and opens it, as
// open(2) with O_TMPFILE does; mnt is the mount d was reached through.
// Unless flags include O_EXCL, linkat(2) may give the file a name.
func (d *Dentry) Tmpfile(ctx context.Context, mnt *vfs.Mount, flags uint32, o vfs.CreateOptions) (*vfs.FileDescription, error) {
	if d.dir == nil {
		return nil, unix.ENOTDIR
	}
	d.dir.mu.Lock()
	if d.dir.dead {
		d.dir.mu.Unlock()
		return nil, unix.ENOENT
	}
	if err := d.fs.reserveInode(); err != nil {
		d.dir.mu.Unlock()
		return nil, err
	}
	i := d.newChildInode(o, vfs.S_IFREG|o.Mode&0o7777)
	d.dir.mu.Unlock()
	i.nlink = 0
	i.linkable = flags&unix.O_EXCL == 0
	c := d.fs.newDentry(i, "#"+strconv.FormatUint(i.ino, 10), d)
	c.deleted.Store(true)
	return c.openRegular(ctx, vfs.VirtualDentry{Mount: mnt, Dentry: c}, flags&^(unix.O_TRUNC|unix.O_CREAT|unix.O_EXCL))
}

// regularFile is an open regular file.
type regularFile struct {
	vfs.FileDefaults
	d *Dentry
	i *inode
	// fd is the description, whose status flags (O_APPEND, O_NOATIME)
	// fcntl may change.
	fd *vfs.FileDescription
	// off is the file offset, protected by the description's lock.
	off int64
}

// regularFile has tmpfs's optional operations.
var (
	_ interface {
		Allocate(ctx context.Context, mode uint32, off, length int64) error
	} = (*regularFile)(nil)
	_ interface {
		Sync(ctx context.Context) error
	} = (*regularFile)(nil)
)

// Release implements vfs.FileImpl.Release.
func (f *regularFile) Release() { f.i.decRef() }

// PRead implements vfs.FileImpl.PRead.
func (f *regularFile) PRead(_ context.Context, dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if len(dst) == 0 {
		return 0, nil
	}
	i := f.i
	i.mu.Lock()
	defer i.mu.Unlock()
	n := i.readLocked(dst, uint64(off))
	if f.fd.Flags()&unix.O_NOATIME == 0 {
		i.accessedLocked()
	}
	return n, nil
}

// Read implements vfs.FileImpl.Read.
func (f *regularFile) Read(ctx context.Context, dst []byte) (int, error) {
	n, err := f.PRead(ctx, dst, f.off)
	f.off += int64(n)
	return n, err
}

// write writes at off, or at the end of file with O_APPEND, and returns
// the count and the offset after the last byte written.
func (f *regularFile) write(ctx context.Context, src []byte, off int64) (int, int64, error) {
	if off < 0 {
		return 0, off, unix.EINVAL
	}
	if len(src) == 0 {
		return 0, off, nil
	}
	i := f.i
	i.mu.Lock()
	defer i.mu.Unlock()
	if f.fd.Flags()&unix.O_APPEND != 0 {
		off = int64(i.size)
	}
	if err := i.sealsAllowWriteLocked(uint64(off), uint64(len(src))); err != nil {
		return 0, off, err
	}
	n, err := i.writeLocked(src, uint64(off))
	if n > 0 {
		i.touchLocked()
		i.killPrivsLocked(credsFrom(ctx))
	}
	return n, off + int64(n), err
}

// PWrite implements vfs.FileImpl.PWrite. As in Linux, a description with
// O_APPEND writes at the end of file whatever off says.
func (f *regularFile) PWrite(ctx context.Context, src []byte, off int64) (int, error) {
	n, _, err := f.write(ctx, src, off)
	return n, err
}

// Write implements vfs.FileImpl.Write.
func (f *regularFile) Write(ctx context.Context, src []byte) (int, error) {
	n, end, err := f.write(ctx, src, f.off)
	if n > 0 {
		f.off = end
	}
	return n, err
}

// Seek implements vfs.FileImpl.Seek. SEEK_DATA and SEEK_HOLE find the
// file's allocated pages and holes.
func (f *regularFile) Seek(_ context.Context, off int64, whence int) (int64, error) {
	i := f.i
	i.mu.Lock()
	size := int64(i.size)
	var r int64
	var err error
	switch whence {
	case unix.SEEK_DATA, unix.SEEK_HOLE:
		if off < 0 || off >= size {
			i.mu.Unlock()
			return 0, unix.ENXIO
		}
		r, err = i.seekDataLocked(uint64(off), whence == unix.SEEK_DATA)
	default:
		r, err = vfs.SeekRegular(f.off, size, off, whence)
	}
	i.mu.Unlock()
	if err == nil {
		f.off = r
	}
	return r, err
}

// seekDataLocked returns the first offset at or after off, which is below
// the size, that is data (allocated), or with data false a hole (the end
// of file counts as a hole).
//
// Preconditions: i.mu is held.
func (i *inode) seekDataLocked(off uint64, data bool) (int64, error) {
	k, in := i.pages.Find(off)
	if data {
		if in {
			return int64(off), nil
		}
		if k < i.pages.Len() && i.pages.At(k).Start < i.size {
			return int64(i.pages.At(k).Start), nil
		}
		return 0, unix.ENXIO
	}
	if !in {
		return int64(off), nil
	}
	// Runs of adjacent segments are all data.
	end := i.pages.At(k).End
	for k++; k < i.pages.Len() && i.pages.At(k).Start == end; k++ {
		end = i.pages.At(k).End
	}
	return int64(min(end, i.size)), nil
}

// Allocate implements fallocate(2) for modes 0 and FALLOC_FL_KEEP_SIZE
// (allocate, all or nothing: ENOSPC leaves the file as it was) and
// FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE (deallocate; partial pages are
// zeroed). Other modes are EOPNOTSUPP, as tmpfs's are.
func (f *regularFile) Allocate(_ context.Context, mode uint32, off, length int64) error {
	if off < 0 || length <= 0 {
		return unix.EINVAL
	}
	switch mode {
	case 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	default:
		return unix.EOPNOTSUPP
	}
	if uint64(off)+uint64(length) > maxFileSize {
		return unix.EFBIG
	}
	start, end := uint64(off), uint64(off)+uint64(length)
	i := f.i
	i.mu.Lock()
	defer i.mu.Unlock()
	if err := i.sealsAllowAllocateLocked(mode, end); err != nil {
		return err
	}
	if mode&FALLOC_FL_PUNCH_HOLE != 0 {
		ps, pe := pageUp(start), pageDown(end)
		if ps >= pe {
			i.zeroRangeLocked(start, end)
		} else {
			i.zeroRangeLocked(start, ps)
			i.zeroRangeLocked(pe, end)
			i.discardLocked(ps, pe)
		}
		i.touchLocked()
		return nil
	}
	if _, err := i.fillLocked(pageDown(start), pageUp(end), false); err != nil {
		return err
	}
	if mode&FALLOC_FL_KEEP_SIZE == 0 && end > i.size {
		i.setSizeLocked(end)
	}
	i.touchLocked()
	return nil
}

// Sync implements fsync(2): memory is as durable as tmpfs gets.
func (f *regularFile) Sync(context.Context) error { return nil }

// ConfigureMMap implements vfs.FileImpl.ConfigureMMap: the mapping maps
// the file's own pages (a private mapping copies them on write, as mm
// does for any mappable). The caller gets a mapping reference, which
// MMap takes over.
func (f *regularFile) ConfigureMMap(_ context.Context, opts *mm.MMapOpts) error {
	i := f.i
	if !opts.Private && opts.MaxPerms.Write {
		i.mu.Lock()
		if i.seals&(F_SEAL_WRITE|F_SEAL_FUTURE_WRITE) != 0 {
			// A sealed file may be mapped shared only read-only, and the
			// mapping can't become writable later.
			if opts.Perms.Write {
				i.mu.Unlock()
				return unix.EPERM
			}
			opts.MaxPerms.Write = false
		}
		i.mu.Unlock()
	}
	if !opts.Private && opts.MaxPerms.Write {
		(*writableMappable)(i).IncMappings()
		opts.Mappable = (*writableMappable)(i)
	} else {
		i.IncMappings()
		opts.Mappable = (*mappable)(i)
	}
	if f.fd.Flags()&unix.O_NOATIME == 0 {
		i.mu.Lock()
		i.accessedLocked()
		i.mu.Unlock()
	}
	return nil
}

// mappable is a regular file as mm maps it.
type mappable inode

var (
	_ mm.Mappable    = (*mappable)(nil)
	_ mm.MappingRefs = (*mappable)(nil)
)

// Translate implements mm.Mappable.Translate. It allocates the holes it
// is asked for (a fault beyond the size limit is SIGBUS, as in Linux).
func (m *mappable) Translate(start, end, required uint64) ([]mm.Translation, error) {
	i := (*inode)(m)
	i.mu.Lock()
	defer i.mu.Unlock()
	size := pageUp(i.size)
	if required >= size {
		return nil, mm.ErrBusError
	}
	end = min(end, size)
	filled, err := i.fillLocked(start, end, true)
	if filled <= required {
		return nil, err
	}
	var out []mm.Translation
	for k := i.pages.LowerBound(start); k < i.pages.Len() && i.pages.At(k).Start < filled; k++ {
		s := i.pages.At(k)
		ps, pe := max(s.Start, start), min(s.End, filled)
		mem := s.Val + (ps - s.Start)
		i.fs.mf.IncRef(mem, pe-ps)
		out = append(out, mm.Translation{Start: ps, End: pe, MemOff: mem})
	}
	return out, nil
}

// IncMappings implements mm.MappingRefs.IncMappings.
func (m *mappable) IncMappings() { (*inode)(m).IncMappings() }

// DecMappings implements mm.MappingRefs.DecMappings: with the last
// mapping go the pages a truncation kept for it, and the whole file if it
// has no name and no open description.
func (m *mappable) DecMappings() {
	i := (*inode)(m)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.mappings--
	if i.mappings < 0 {
		panic("tmpfs: mapping count below zero")
	}
	if i.mappings > 0 {
		return
	}
	if i.trimFrom != noTrim {
		i.freePagesLocked(max(i.trimFrom, pageUp(i.size)), noTrim)
		i.trimFrom = noTrim
	}
	i.releaseIfUnusedLocked()
}

// IncMappings takes a mapping reference on a regular file.
func (i *inode) IncMappings() {
	i.mu.Lock()
	i.mappings++
	i.mu.Unlock()
}
