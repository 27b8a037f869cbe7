package mm

import (
	"io"
	"sync"

	"palisade.dev/abi/linux"
	"palisade.dev/sentry/memfile"
	"palisade.dev/sentry/segment"
)

// CacheSource supplies the contents of a PageCache.
type CacheSource interface {
	// ReadAt fills dst from the object at off. Bytes it does not fill
	// (end of file) read as zeros; a short read may return io.EOF, as
	// io.ReaderAt does.
	ReadAt(dst []byte, off int64) (int, error)
	// Size returns the object's size in bytes.
	Size() uint64
}

type cacheOps struct{}

func (cacheOps) Split(s segment.Seg[uint64], at uint64) (uint64, uint64) {
	return s.Val, s.Val + (at - s.Start)
}
func (cacheOps) Merge(a, b segment.Seg[uint64]) (uint64, bool) {
	return a.Val, a.Val+a.Len() == b.Val
}

// PageCache keeps the pages of an object in the memory file so that every
// mapping of the object shares them. It implements Mappable.
type PageCache struct {
	mf  *memfile.MemoryFile
	src CacheSource

	mu       sync.Mutex
	pages    segment.Set[uint64, cacheOps] // object offsets -> memory-file offsets
	mappings int
	// onUnmapped, if set, runs (without c.mu held) when the last mapping
	// of the cache goes.
	onUnmapped func(*PageCache)
}

// NewPageCache returns an empty cache over src.
func NewPageCache(mf *memfile.MemoryFile, src CacheSource) *PageCache {
	return &PageCache{mf: mf, src: src}
}

// SetOnUnmapped sets what to do when the last mapping goes (typically,
// Release).
func (c *PageCache) SetOnUnmapped(fn func(*PageCache)) {
	c.mu.Lock()
	c.onUnmapped = fn
	c.mu.Unlock()
}

// IncMappings implements MappingRefs.IncMappings.
func (c *PageCache) IncMappings() {
	c.mu.Lock()
	c.mappings++
	c.mu.Unlock()
}

// DecMappings implements MappingRefs.DecMappings.
func (c *PageCache) DecMappings() {
	c.mu.Lock()
	c.mappings--
	if c.mappings < 0 {
		panic("mm: PageCache mapping count below zero")
	}
	fn := c.onUnmapped
	last := c.mappings == 0
	c.mu.Unlock()
	if last && fn != nil {
		fn(c)
	}
}

// Mappings returns the number of areas mapping the cache.
func (c *PageCache) Mappings() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mappings
}

// Translate implements Mappable.Translate.
func (c *PageCache) Translate(start, end, required uint64) ([]Translation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	size, _ := linux.PageRoundUp(c.src.Size())
	if required >= size {
		return nil, ErrBusError
	}
	end = min(end, size)
	var out []Translation
	for pos := start; pos < end; {
		i, ok := c.pages.Find(pos)
		if ok {
			s := c.pages.At(i)
			e := min(s.End, end)
			mem := s.Val + (pos - s.Start)
			c.mf.IncRef(mem, e-pos)
			out = append(out, Translation{Start: pos, End: e, MemOff: mem})
			pos = e
			continue
		}
		e := end
		if i < c.pages.Len() && c.pages.At(i).Start < e {
			e = c.pages.At(i).Start
		}
		mem, err := c.mf.Allocate(e - pos)
		if err != nil {
			return c.fail(out, err)
		}
		// io.EOF after a short read is how io.ReaderAt reports the end of
		// the object: the rest of the page stays zero.
		if _, err := c.src.ReadAt(c.mf.Slice(mem, e-pos), int64(pos)); err != nil && err != io.EOF {
			c.mf.DecRef(mem, e-pos)
			return c.fail(out, err)
		}
		// The cache keeps the allocation's reference; the caller gets one.
		idx := c.pages.Insert(segment.Seg[uint64]{Start: pos, End: e, Val: mem})
		c.pages.MergeRange(idx, idx+1)
		c.mf.IncRef(mem, e-pos)
		out = append(out, Translation{Start: pos, End: e, MemOff: mem})
		pos = e
	}
	return out, nil
}

func (c *PageCache) fail(out []Translation, err error) ([]Translation, error) {
	for _, t := range out {
		c.mf.DecRef(t.MemOff, t.End-t.Start)
	}
	return nil, err
}

// Release drops the cache's pages. Mappings still using them keep their
// own references.
func (c *PageCache) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < c.pages.Len(); i++ {
		s := c.pages.At(i)
		c.mf.DecRef(s.Val, s.Len())
	}
	c.pages = segment.Set[uint64, cacheOps]{}
}

// zeroSource is the source of shared anonymous memory.
type zeroSource struct{ size uint64 }

func (z zeroSource) ReadAt(dst []byte, off int64) (int, error) { return 0, nil }
func (z zeroSource) Size() uint64                              { return z.size }

// NewSharedAnon returns the object behind a MAP_SHARED|MAP_ANONYMOUS
// mapping of size bytes, with one mapping reference for the caller to
// pass to MMap. Its memory is freed when the last mapping goes.
func NewSharedAnon(mf *memfile.MemoryFile, size uint64) *PageCache {
	c := NewPageCache(mf, zeroSource{size})
	c.mappings = 1
	c.onUnmapped = (*PageCache).Release
	return c
}
