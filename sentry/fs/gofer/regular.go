package gofer

import (
	"context"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/segment"
	"palisade.dev/sentry/vfs"
)

// fallocate(2) modes.
const (
	fallocKeepSize      = 0x1
	fallocPunchHole     = 0x2
	fallocCollapseRange = 0x8
	fallocZeroRange     = 0x10
	fallocInsertRange   = 0x20
)

// openRegular opens a regular file. Its host descriptor is one the inode
// shares among its open files (see fdcache.go), asked of the gofer only if
// the inode has none that fits.
func (d *dentry) openRegular(ctx context.Context, vd vfs.VirtualDentry, flags uint32) (*vfs.FileDescription, error) {
	acc := int(flags & unix.O_ACCMODE)
	trunc := flags&unix.O_TRUNC != 0
	d.mu.Lock()
	pending := d.pendingFD
	d.pendingFD = -1
	// The dentry keeps its FID while a file is open through it, and
	// while one is being opened.
	d.opens++
	d.mu.Unlock()
	in := d.inode()
	hostFD, private, err := in.getFD(d, acc, trunc, pending)
	for tries := 0; err == unix.ESTALE && d.fs.revalidate && d.isFileRoot() && tries < maxReopens; tries++ {
		// The host replaced the file again since Open looked.
		if err = d.revalidateRoot(); err == nil {
			in = d.inode()
			hostFD, private, err = in.getFD(d, acc, trunc, -1)
		}
	}
	if err != nil {
		d.closed()
		return nil, err
	}
	in.incRef()
	f := &regularFile{d: d, in: in, hostFD: hostFD, private: private, writable: acc != unix.O_RDONLY}
	f.fd = vfs.NewFileDescription(f, vd, flags)
	in.mu.Lock()
	if in.files == nil {
		in.files = make(map[*regularFile]struct{})
	}
	in.files[f] = struct{}{}
	if trunc {
		in.resizeLocked(0)
		in.stale = true
	}
	if d.fs.writable || d.fs.revalidate {
		// The host file may have changed through another name, or
		// outside the sandbox: start from what it is now.
		var st unix.Stat_t
		if unix.Fstat(hostFD, &st) == nil {
			in.setAttrLocked(attrOfStat(&st))
		}
	}
	in.mu.Unlock()
	return f.fd, nil
}

// closed records that a file open through d was closed.
func (d *dentry) closed() {
	d.mu.Lock()
	d.opens--
	release := d.opens == 0 && d.deleted.Load()
	d.mu.Unlock()
	if release {
		d.release()
	}
}

// regularFile is an open regular file backed by a host descriptor.
type regularFile struct {
	vfs.FileDefaults
	d  *dentry
	in *inode
	// fd is the description, whose status flags (O_APPEND) fcntl may
	// change.
	fd *vfs.FileDescription
	// hostFD is the host descriptor the file reads and writes with
	// pread and pwrite: one the inode shares, or the file's own if
	// private.
	hostFD  int
	private bool
	// writable is set if the file was opened for writing (hostFD is
	// then open for writing).
	writable bool
	// off is the file offset, protected by the description's lock.
	off int64
}

// regularFile has the optional operations of fsync(2) and fallocate(2).
var (
	_ interface {
		Allocate(ctx context.Context, mode uint32, off, length int64) error
	} = (*regularFile)(nil)
	_ interface {
		Sync(ctx context.Context) error
	} = (*regularFile)(nil)
)

// writableFDOpenLocked returns a writable host descriptor of in that is
// open, or -1.
//
// Preconditions: in.mu is held.
func (in *inode) writableFDOpenLocked() int {
	if in.writeFD >= 0 {
		return in.writeFD
	}
	for f := range in.files {
		if f.writable {
			return f.hostFD
		}
	}
	return -1
}

// Release implements vfs.FileImpl.Release. Closing a file writes back what
// shared mappings changed, as close(2) lets the host see it, and gives its
// host descriptor back to the inode: no round trip to the gofer.
func (f *regularFile) Release() {
	in := f.in
	in.mu.Lock()
	delete(in.files, f)
	in.writebackLocked(0, ^uint64(0))
	in.mu.Unlock()
	if f.private {
		unix.Close(f.hostFD)
	} else {
		in.putFD()
	}
	f.d.closed()
	in.decRef()
}

// PRead implements vfs.FileImpl.PRead.
func (f *regularFile) PRead(ctx context.Context, dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	in := f.in
	if !in.cached.Load() {
		return preadFull(f.hostFD, dst, off)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if f.d.fs.revalidate {
		// The cache reads up to the size it knows: the host's now.
		f.rereadLocked()
	}
	return in.readLocked(f.hostFD, dst, uint64(off))
}

// Read implements vfs.FileImpl.Read.
func (f *regularFile) Read(ctx context.Context, dst []byte) (int, error) {
	n, err := f.PRead(ctx, dst, f.off)
	f.off += int64(n)
	return n, err
}

// write writes src at off, or at the end of file with O_APPEND, and returns
// the count and the offset after the last byte written.
func (f *regularFile) write(src []byte, off int64) (int, int64, error) {
	if off < 0 {
		return 0, off, unix.EINVAL
	}
	if len(src) == 0 {
		return 0, off, nil
	}
	in := f.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if f.fd.Flags()&unix.O_APPEND != 0 {
		// The host's size: the file may have changed outside the
		// sandbox (mappings never change the size).
		var st unix.Stat_t
		if err := unix.Fstat(f.hostFD, &st); err != nil {
			return 0, off, err
		}
		off = st.Size
	}
	n, err := pwriteFull(f.hostFD, src, off)
	if n > 0 {
		in.wroteLocked(src[:n], uint64(off))
	}
	if n > 0 && err != nil {
		err = nil
	}
	return n, off + int64(n), err
}

// PWrite implements vfs.FileImpl.PWrite. As in Linux, a description with
// O_APPEND writes at the end of file whatever off says.
func (f *regularFile) PWrite(ctx context.Context, src []byte, off int64) (int, error) {
	n, _, err := f.write(src, off)
	return n, err
}

// Write implements vfs.FileImpl.Write.
func (f *regularFile) Write(ctx context.Context, src []byte) (int, error) {
	n, end, err := f.write(src, f.off)
	if n > 0 {
		f.off = end
	}
	return n, err
}

// Seek implements vfs.FileImpl.Seek. SEEK_DATA and SEEK_HOLE ask the host
// file, without the cache: a mapping writes only where data already is.
func (f *regularFile) Seek(ctx context.Context, off int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_DATA, unix.SEEK_HOLE:
		if off < 0 {
			return 0, unix.ENXIO
		}
		r, err := unix.Seek(f.hostFD, off, whence)
		if err != nil {
			return 0, err
		}
		f.off = r
		return r, nil
	}
	f.in.mu.Lock()
	if whence == unix.SEEK_END && f.d.fs.revalidate {
		f.rereadLocked()
	}
	size := f.in.attr.Size
	f.in.mu.Unlock()
	n, err := vfs.SeekRegular(f.off, size, off, whence)
	if err == nil {
		f.off = n
	}
	return n, err
}

// Stat implements vfs.Stater. On a revalidating tree the attributes are
// those of the file's own host descriptor: a file the host replaced after
// it was opened still reports the file it reads.
func (f *regularFile) Stat(ctx context.Context) (vfs.Statx, error) {
	if !f.d.fs.revalidate {
		return f.d.Stat(ctx)
	}
	in := f.in
	in.mu.Lock()
	f.rereadLocked()
	a := in.attr
	in.mu.Unlock()
	return f.d.fs.statx(a), nil
}

// rereadLocked reads the attributes of the file from its host descriptor.
//
// Preconditions: f.in.mu is held.
func (f *regularFile) rereadLocked() {
	var st unix.Stat_t
	if unix.Fstat(f.hostFD, &st) == nil {
		f.in.setAttrLocked(attrOfStat(&st))
	}
}

// Allocate implements fallocate(2) on the host file. Modes that move data
// (collapse, insert) are EOPNOTSUPP while the file is mapped.
func (f *regularFile) Allocate(ctx context.Context, mode uint32, off, length int64) error {
	if !f.writable {
		return unix.EBADF
	}
	in := f.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if mode&(fallocCollapseRange|fallocInsertRange) != 0 && in.cacheFD >= 0 {
		return unix.EOPNOTSUPP
	}
	if err := unix.Fallocate(f.hostFD, mode, off, length); err != nil {
		return err
	}
	end := uint64(off) + uint64(length)
	if mode&(fallocPunchHole|fallocZeroRange) != 0 {
		in.zeroCachedLocked(uint64(off), end)
	}
	var st unix.Stat_t
	if err := unix.Fstat(f.hostFD, &st); err == nil {
		in.resizeLocked(uint64(st.Size))
	} else if mode&fallocKeepSize == 0 && int64(end) > in.attr.Size {
		in.resizeLocked(end)
	}
	in.stale = true
	return nil
}

// Sync implements fsync(2): what mappings changed goes to the host file,
// and the host file to the disk.
func (f *regularFile) Sync(ctx context.Context) error {
	in := f.in
	in.mu.Lock()
	err := in.writebackLocked(0, ^uint64(0))
	in.mu.Unlock()
	if err != nil {
		return err
	}
	return unix.Fsync(f.hostFD)
}

// ConfigureMMap implements vfs.FileImpl.ConfigureMMap: the mapping maps the
// inode's page cache. A shared mapping may write only through a file open
// for writing (on a writable tree). On success the caller holds a mapping
// reference, which MMap takes over.
func (f *regularFile) ConfigureMMap(ctx context.Context, opts *mm.MMapOpts) error {
	shared := !opts.Private
	if shared && opts.Perms.Write && !f.writable {
		return unix.EACCES
	}
	in := f.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cacheFD < 0 || (shared && f.writable && !in.cacheWritable) {
		fd, err := unix.FcntlInt(uintptr(f.hostFD), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if in.cacheFD < 0 {
			// The cache's descriptor pins the host inode.
			in.incRef()
		} else {
			unix.Close(in.cacheFD)
		}
		in.cacheFD, in.cacheWritable = fd, f.writable
		in.cached.Store(true)
	}
	if shared {
		if f.writable {
			in.sharedWrite = true
		} else {
			opts.MaxPerms.Write = false
		}
	}
	opts.MaxPerms = opts.MaxPerms.Intersect(platform.AnyAccess)
	in.mappings++
	opts.Mappable = (*mappable)(in)
	return nil
}

// pageOps lets a Set map file offsets to memory-file offsets.
type pageOps struct{}

func (pageOps) Split(s segment.Seg[uint64], at uint64) (uint64, uint64) {
	return s.Val, s.Val + (at - s.Start)
}

func (pageOps) Merge(a, b segment.Seg[uint64]) (uint64, bool) {
	return a.Val, a.Val+a.Len() == b.Val
}

// pageUp rounds x up to a page boundary, saturating.
func pageUp(x uint64) uint64 {
	r, ok := linux.PageRoundUp(x)
	if !ok {
		return ^uint64(0) &^ linux.PageMask
	}
	return r
}

// forEachCachedLocked calls fn with the sentry's view of each cached piece
// of [start, end) and the piece's file offset.
//
// Preconditions: in.mu is held.
func (in *inode) forEachCachedLocked(start, end uint64, fn func(off uint64, b []byte)) {
	for k := in.pages.LowerBound(start); k < in.pages.Len() && in.pages.At(k).Start < end; k++ {
		s := in.pages.At(k)
		ps, pe := max(s.Start, start), min(s.End, end)
		fn(ps, in.fs.mf.Slice(s.Val+(ps-s.Start), pe-ps))
	}
}

// readLocked reads the file at off into dst: cached pieces from the cache,
// the rest from the host through hostFD.
//
// Preconditions: in.mu is held.
func (in *inode) readLocked(hostFD int, dst []byte, off uint64) (int, error) {
	size := uint64(in.attr.Size)
	if off >= size || len(dst) == 0 {
		return 0, nil
	}
	n := min(uint64(len(dst)), size-off)
	dst = dst[:n]
	pos := uint64(0)
	var err error
	in.forEachCachedLocked(off, off+n, func(at uint64, b []byte) {
		if err != nil {
			return
		}
		if gap := at - off; gap > pos {
			var got int
			got, err = preadFull(hostFD, dst[pos:gap], int64(off+pos))
			// Past the host's end, the file reads as zeros (it shrank
			// outside the sandbox, or data is still only cached).
			clear(dst[pos+uint64(got) : gap])
		}
		pos = at - off + uint64(copy(dst[at-off:], b))
	})
	if err == nil && pos < n {
		var got int
		got, err = preadFull(hostFD, dst[pos:], int64(off+pos))
		clear(dst[pos+uint64(got):])
	}
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// wroteLocked records that src was written to the host file at off: the
// cached pages it covers get it too, and the size grows.
//
// Preconditions: in.mu is held.
func (in *inode) wroteLocked(src []byte, off uint64) {
	end := off + uint64(len(src))
	in.forEachCachedLocked(off, end, func(at uint64, b []byte) {
		copy(b, src[at-off:])
	})
	if end > uint64(in.attr.Size) {
		in.attr.Size = int64(end)
	}
	// The host changed the times, and maybe the blocks and set-ID bits.
	in.stale = true
}

// zeroCachedLocked zeroes the cached bytes of [start, end).
//
// Preconditions: in.mu is held.
func (in *inode) zeroCachedLocked(start, end uint64) {
	if start < end {
		in.forEachCachedLocked(start, end, func(_ uint64, b []byte) { clear(b) })
	}
}

// resizeLocked records a new size. Cached bytes past it are zeroed: the
// pages stay while mapped, and must read as zeros if the file grows again.
//
// Preconditions: in.mu is held.
func (in *inode) resizeLocked(size uint64) {
	if size < uint64(in.attr.Size) {
		in.zeroCachedLocked(size, ^uint64(0))
	}
	in.attr.Size = int64(size)
}

// writebackLocked writes the cached pages of [start, end) that lie inside
// the file to the host file, if a shared mapping may have changed them.
//
// Preconditions: in.mu is held.
func (in *inode) writebackLocked(start, end uint64) error {
	if !in.sharedWrite || in.cacheFD < 0 || !in.cacheWritable {
		return nil
	}
	end = min(end, uint64(in.attr.Size))
	var first error
	in.forEachCachedLocked(start, end, func(at uint64, b []byte) {
		if _, err := pwriteFull(in.cacheFD, b, int64(at)); err != nil && first == nil {
			first = err
		}
	})
	if first == nil && start < end {
		in.stale = true
	}
	return first
}

// mappable is a regular file as mm maps it: its page cache.
type mappable inode

var (
	_ mm.Mappable    = (*mappable)(nil)
	_ mm.MappingRefs = (*mappable)(nil)
)

// Translate implements mm.Mappable.Translate. It brings the pages of the
// range into the cache, reading them from the host file; a fault wholly
// beyond the end of file is SIGBUS.
func (m *mappable) Translate(start, end, required uint64) ([]mm.Translation, error) {
	in := (*inode)(m)
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cacheFD < 0 {
		return nil, mm.ErrBusError
	}
	size := pageUp(uint64(in.attr.Size))
	if required >= size {
		return nil, mm.ErrBusError
	}
	end = min(end, size)
	mf := in.fs.mf
	var out []mm.Translation
	fail := func(err error) ([]mm.Translation, error) {
		for _, t := range out {
			mf.DecRef(t.MemOff, t.End-t.Start)
		}
		return nil, err
	}
	for pos := start; pos < end; {
		k, ok := in.pages.Find(pos)
		if ok {
			s := in.pages.At(k)
			e := min(s.End, end)
			mem := s.Val + (pos - s.Start)
			mf.IncRef(mem, e-pos)
			out = append(out, mm.Translation{Start: pos, End: e, MemOff: mem})
			pos = e
			continue
		}
		e := end
		if k < in.pages.Len() && in.pages.At(k).Start < e {
			e = in.pages.At(k).Start
		}
		mem, err := mf.Allocate(e - pos)
		if err != nil {
			return fail(err)
		}
		b := mf.Slice(mem, e-pos)
		// Past the size the sandbox knows, the pages are zeros.
		if pos < uint64(in.attr.Size) {
			if _, err := preadFull(in.cacheFD, b[:min(e, uint64(in.attr.Size))-pos], int64(pos)); err != nil {
				mf.DecRef(mem, e-pos)
				return fail(err)
			}
		}
		// The cache keeps the allocation's reference; the caller gets one.
		n := in.pages.Insert(segment.Seg[uint64]{Start: pos, End: e, Val: mem})
		in.pages.MergeRange(n, n+1)
		mf.IncRef(mem, e-pos)
		out = append(out, mm.Translation{Start: pos, End: e, MemOff: mem})
		pos = e
	}
	return out, nil
}

// IncMappings implements mm.MappingRefs.IncMappings.
func (m *mappable) IncMappings() {
	in := (*inode)(m)
	in.mu.Lock()
	in.mappings++
	in.mu.Unlock()
}

// DecMappings implements mm.MappingRefs.DecMappings. With the last mapping,
// the cache writes back what shared mappings changed and goes.
func (m *mappable) DecMappings() {
	in := (*inode)(m)
	in.mu.Lock()
	in.mappings--
	if in.mappings < 0 {
		panic("gofer: mapping count below zero")
	}
	if in.mappings > 0 {
		in.mu.Unlock()
		return
	}
	in.writebackLocked(0, ^uint64(0))
	mf := in.fs.mf
	for k := 0; k < in.pages.Len(); k++ {
		s := in.pages.At(k)
		mf.DecRef(s.Val, s.Len())
	}
	in.pages = segment.Set[uint64, pageOps]{}
	fd := in.cacheFD
	in.cacheFD, in.cacheWritable, in.sharedWrite = -1, false, false
	in.cached.Store(false)
	in.mu.Unlock()
	if fd >= 0 {
		unix.Close(fd)
		in.decRef()
	}
}

// Sync writes back to the host file the cached pages of [start, end) that
// shared mappings may have changed: what msync(2) on a mapping of the file
// asks for.
func (m *mappable) Sync(start, end uint64) error {
	in := (*inode)(m)
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.writebackLocked(start, end)
}

// preadFull reads from the host descriptor fd at off until dst is full or
// the file ends, and returns how many bytes it read. An error after some
// bytes were read is dropped.
func preadFull(fd int, dst []byte, off int64) (int, error) {
	total := 0
	for total < len(dst) {
		n, err := unix.Pread(fd, dst[total:], off+int64(total))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if total > 0 {
				return total, nil
			}
			return 0, err
		}
		if n == 0 {
			break
		}
		total += n
	}
	return total, nil
}

// pwriteFull writes src to the host descriptor fd at off, and returns how
// many bytes it wrote, with the error that stopped it short.
func pwriteFull(fd int, src []byte, off int64) (int, error) {
	total := 0
	for total < len(src) {
		n, err := unix.Pwrite(fd, src[total:], off+int64(total))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, unix.EIO
		}
		total += n
	}
	return total, nil
}
