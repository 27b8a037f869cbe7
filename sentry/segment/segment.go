// Package segment provides Set, a sorted set of non-overlapping ranges of
// uint64 keys, each carrying a value. The memory file uses it for reference
// counts, mm for VMAs and PMAs, and page caches for file offsets.
//
// A Set is not safe for concurrent use; its owner locks it.
package segment

import "sort"

// Seg is the range [Start, End) with a value.
type Seg[V any] struct {
	Start, End uint64
	Val        V
}

// Len returns the length of the range.
func (s *Seg[V]) Len() uint64 { return s.End - s.Start }

// Ops tells a Set how to split and merge values.
type Ops[V any] interface {
	// Split returns the values of [s.Start, at) and [at, s.End).
	Split(s Seg[V], at uint64) (V, V)
	// Merge returns the value of a and b joined, where a.End == b.Start,
	// and whether they may be joined at all.
	Merge(a, b Seg[V]) (V, bool)
}

// Set is a sorted set of non-overlapping segments.
type Set[V any, O Ops[V]] struct {
	segs []Seg[V]
	ops  O
}

// Len returns the number of segments.
func (s *Set[V, O]) Len() int { return len(s.segs) }

// At returns the i-th segment. The pointer is valid until the next
// insertion or removal.
func (s *Set[V, O]) At(i int) *Seg[V] { return &s.segs[i] }

// LowerBound returns the index of the first segment that ends after key.
func (s *Set[V, O]) LowerBound(key uint64) int {
	return sort.Search(len(s.segs), func(i int) bool { return s.segs[i].End > key })
}

// Find returns the index of the segment containing key, or the index where
// such a segment would go and false.
func (s *Set[V, O]) Find(key uint64) (int, bool) {
	i := s.LowerBound(key)
	return i, i < len(s.segs) && s.segs[i].Start <= key
}

// Isolate splits segments at start and end and returns the index range
// [i, j) of segments that lie within [start, end).
func (s *Set[V, O]) Isolate(start, end uint64) (int, int) {
	if i, ok := s.Find(start); ok && s.segs[i].Start < start {
		s.splitAt(i, start)
	}
	if i, ok := s.Find(end); ok && s.segs[i].Start < end {
		s.splitAt(i, end)
	}
	i := s.LowerBound(start)
	j := i
	for j < len(s.segs) && s.segs[j].Start < end {
		j++
	}
	return i, j
}

func (s *Set[V, O]) splitAt(i int, at uint64) {
	seg := s.segs[i]
	l, r := s.ops.Split(seg, at)
	s.segs = append(s.segs, Seg[V]{})
	copy(s.segs[i+2:], s.segs[i+1:])
	s.segs[i] = Seg[V]{seg.Start, at, l}
	s.segs[i+1] = Seg[V]{at, seg.End, r}
}

// Remove deletes segments [i, j).
func (s *Set[V, O]) Remove(i, j int) {
	s.segs = append(s.segs[:i], s.segs[j:]...)
}

// Insert adds seg, which must not overlap any segment, and returns its
// index. It does not merge.
func (s *Set[V, O]) Insert(seg Seg[V]) int {
	i := s.LowerBound(seg.Start)
	if (i < len(s.segs) && s.segs[i].Start < seg.End) || seg.Start >= seg.End {
		panic("segment: overlapping or empty insert")
	}
	s.segs = append(s.segs, Seg[V]{})
	copy(s.segs[i+1:], s.segs[i:])
	s.segs[i] = seg
	return i
}

// MergeRange merges adjacent mergeable segments among indices [i-1, j+1).
func (s *Set[V, O]) MergeRange(i, j int) {
	if i > 0 {
		i--
	}
	if j > len(s.segs)-1 {
		j = len(s.segs) - 1
	}
	for k := i; k < j && k < len(s.segs)-1; {
		a, b := s.segs[k], s.segs[k+1]
		if a.End == b.Start {
			if v, ok := s.ops.Merge(a, b); ok {
				s.segs[k] = Seg[V]{a.Start, b.End, v}
				s.segs = append(s.segs[:k+1], s.segs[k+2:]...)
				j--
				continue
			}
		}
		k++
	}
}

// Gap returns the unoccupied range around key, bounded by [lo, hi). ok is
// false if key is inside a segment.
func (s *Set[V, O]) Gap(key, lo, hi uint64) (start, end uint64, ok bool) {
	i, in := s.Find(key)
	if in {
		return 0, 0, false
	}
	start, end = lo, hi
	if i > 0 && s.segs[i-1].End > start {
		start = s.segs[i-1].End
	}
	if i < len(s.segs) && s.segs[i].Start < end {
		end = s.segs[i].Start
	}
	return start, end, true
}

// IsEmptyRange reports whether no segment intersects [start, end).
func (s *Set[V, O]) IsEmptyRange(start, end uint64) bool {
	if start >= end {
		return true
	}
	i := s.LowerBound(start)
	return i == len(s.segs) || s.segs[i].Start >= end
}

// Clone returns a copy of the set. Values are copied by assignment.
func (s *Set[V, O]) Clone() Set[V, O] {
	return Set[V, O]{segs: append([]Seg[V](nil), s.segs...), ops: s.ops}
}
