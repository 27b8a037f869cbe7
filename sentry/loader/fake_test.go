package loader

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"palisade.dev/abi/linux"
	"palisade.dev/platform"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/mm"
	"palisade.dev/sentry/vfs"
)

// fakePlatform makes address spaces that only record what is mapped; the
// sentry's own view of the memory file is all the tests read.
type fakePlatform struct{}

func (fakePlatform) NewAddressSpace() (platform.AddressSpace, error) { return &fakeAS{}, nil }
func (fakePlatform) NewContext() platform.Context                    { panic("no contexts in tests") }
func (fakePlatform) MinUserAddress() uintptr                         { return 0x10000 }
func (fakePlatform) MaxUserAddress() uintptr                         { return 0x7ffffffff000 }
func (fakePlatform) FPStateSize() int                                { return 512 }

type fakeAS struct {
	mu       sync.Mutex
	maps     int
	released bool
}

func (as *fakeAS) MapFile(addr uintptr, off uint64, length uintptr, at platform.AccessType) error {
	if addr&linux.PageMask != 0 || off&linux.PageMask != 0 || length&linux.PageMask != 0 {
		panic("unaligned MapFile")
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	as.maps++
	return nil
}
func (as *fakeAS) Protect(addr, length uintptr, at platform.AccessType) error { return nil }
func (as *fakeAS) Unmap(addr, length uintptr)                                 {}
func (as *fakeAS) Release() {
	as.mu.Lock()
	defer as.mu.Unlock()
	as.released = true
}

var (
	mfOnce sync.Once
	testMF *memfile.MemoryFile
	mfErr  error
)

// newMM returns an address space over the fake platform, released at the
// end of the test.
func newMM(t *testing.T) *mm.MemoryManager {
	t.Helper()
	mfOnce.Do(func() { testMF, mfErr = memfile.New("loader-test") })
	if mfErr != nil {
		t.Fatalf("memfile.New: %v", mfErr)
	}
	m, err := mm.New(fakePlatform{}, testMF)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.DecUsers)
	return m
}

// memFile is an open file over bytes. Its mappings share one page cache
// per file.
type memFile struct {
	vfs.FileDefaults
	file     *fileData
	released *atomic.Int32
}

type fileData struct {
	data  []byte
	once  sync.Once
	cache *mm.PageCache
}

func (d *fileData) ReadAt(dst []byte, off int64) (int, error) {
	if off >= int64(len(d.data)) {
		return 0, nil
	}
	return copy(dst, d.data[off:]), nil
}
func (d *fileData) Size() uint64 { return uint64(len(d.data)) }

func (f *memFile) Release() { f.released.Add(1) }
func (f *memFile) PRead(_ context.Context, dst []byte, off int64) (int, error) {
	return f.file.ReadAt(dst, off)
}
func (f *memFile) ConfigureMMap(_ context.Context, o *mm.MMapOpts) error {
	f.file.once.Do(func() { f.file.cache = mm.NewPageCache(testMF, f.file) })
	o.Mappable = f.file.cache
	// A mapping reference for MMap to take over, as real files give.
	if r, ok := any(f.file.cache).(interface{ IncMappings() }); ok {
		r.IncMappings()
	}
	return nil
}

// files is a set of named files and an Opener over them that counts opens
// and releases.
type files struct {
	m        map[string]*fileData
	opens    atomic.Int32
	released atomic.Int32
}

func newFiles(m map[string][]byte) *files {
	fs := &files{m: map[string]*fileData{}}
	for name, data := range m {
		fs.m[name] = &fileData{data: data}
	}
	return fs
}

func (fs *files) open(_ context.Context, path string) (*vfs.FileDescription, error) {
	d, ok := fs.m[path]
	if !ok {
		return nil, unix.ENOENT
	}
	fs.opens.Add(1)
	return vfs.NewFileDescription(&memFile{file: d, released: &fs.released}, vfs.VirtualDentry{}, unix.O_RDONLY), nil
}

func (fs *files) fd(t *testing.T, path string) *vfs.FileDescription {
	t.Helper()
	f, err := fs.open(context.Background(), path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return f
}

// seg is a program header and the bytes at its file offset.
type seg struct {
	ph   progHeader
	data []byte
}

// buildELF returns an ELF64 x86-64 file of type typ with the program
// headers of segs at offset 64, and each segment's data at its offset.
// Data placed at offsets below the headers' end is overwritten by them.
func buildELF(typ uint16, entry uint64, segs []seg) []byte {
	le := binary.LittleEndian
	size := 64 + 56*len(segs)
	for _, s := range segs {
		size = max(size, int(s.ph.off)+len(s.data))
	}
	b := make([]byte, size)
	for _, s := range segs {
		copy(b[s.ph.off:], s.data)
	}
	copy(b, "\x7fELF\x02\x01\x01")
	le.PutUint16(b[16:], typ)
	le.PutUint16(b[18:], emX86_64)
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], entry)
	le.PutUint64(b[32:], 64) // e_phoff
	le.PutUint16(b[52:], 64) // e_ehsize
	le.PutUint16(b[54:], 56)
	le.PutUint16(b[56:], uint16(len(segs)))
	for i, s := range segs {
		p := b[64+56*i:]
		le.PutUint32(p[0:], s.ph.typ)
		le.PutUint32(p[4:], s.ph.flags)
		le.PutUint64(p[8:], s.ph.off)
		le.PutUint64(p[16:], s.ph.vaddr)
		le.PutUint64(p[24:], s.ph.vaddr) // p_paddr
		le.PutUint64(p[32:], s.ph.filesz)
		le.PutUint64(p[40:], s.ph.memsz)
		le.PutUint64(p[48:], linux.PageSize)
	}
	return b
}

// pattern returns n bytes of a recognisable non-zero pattern.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) ^ seed | 1
	}
	return b
}
