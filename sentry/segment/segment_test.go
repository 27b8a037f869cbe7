package segment

import "testing"

type intOps struct{}

func (intOps) Split(s Seg[int], at uint64) (int, int) { return s.Val, s.Val }
func (intOps) Merge(a, b Seg[int]) (int, bool)        { return a.Val, a.Val == b.Val }

func dump(s *Set[int, intOps]) [][3]uint64 {
	var out [][3]uint64
	for i := 0; i < s.Len(); i++ {
		g := s.At(i)
		out = append(out, [3]uint64{g.Start, g.End, uint64(g.Val)})
	}
	return out
}

func TestIsolateMerge(t *testing.T) {
	var s Set[int, intOps]
	s.Insert(Seg[int]{0, 100, 1})
	s.Insert(Seg[int]{200, 300, 1})
	i, j := s.Isolate(50, 250)
	if i != 1 || j != 3 {
		t.Fatalf("Isolate = %d,%d want 1,3; set %v", i, j, dump(&s))
	}
	for k := i; k < j; k++ {
		s.At(k).Val = 2
	}
	want := [][3]uint64{{0, 50, 1}, {50, 100, 2}, {200, 250, 2}, {250, 300, 1}}
	if got := dump(&s); len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for k := range want {
		if dump(&s)[k] != want[k] {
			t.Fatalf("got %v want %v", dump(&s), want)
		}
	}
	for k := i; k < j; k++ {
		s.At(k).Val = 1
	}
	s.MergeRange(0, s.Len())
	if got := dump(&s); len(got) != 2 {
		t.Fatalf("after merge got %v, want two segments", got)
	}
}

func TestGap(t *testing.T) {
	var s Set[int, intOps]
	s.Insert(Seg[int]{10, 20, 0})
	s.Insert(Seg[int]{40, 50, 0})
	if a, b, ok := s.Gap(30, 0, 100); !ok || a != 20 || b != 40 {
		t.Fatalf("Gap(30) = %d,%d,%v want 20,40,true", a, b, ok)
	}
	if _, _, ok := s.Gap(15, 0, 100); ok {
		t.Fatalf("Gap(15) found a gap inside a segment")
	}
	if a, b, ok := s.Gap(5, 0, 100); !ok || a != 0 || b != 10 {
		t.Fatalf("Gap(5) = %d,%d,%v want 0,10,true", a, b, ok)
	}
	if !s.IsEmptyRange(20, 40) || s.IsEmptyRange(19, 40) || s.IsEmptyRange(20, 41) || !s.IsEmptyRange(15, 15) {
		t.Fatalf("IsEmptyRange wrong")
	}
}
