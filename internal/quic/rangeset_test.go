package quic

import (
	"math/rand/v2"
	"testing"
)

// checkRangeSet compares s with a bitmap model and checks the invariants:
// sorted, disjoint, non-adjacent, non-empty ranges.
func checkRangeSet(t *testing.T, s *rangeSet, model []bool) {
	t.Helper()
	for i, r := range s.r {
		if r.start >= r.end {
			t.Fatalf("empty range %d: %v", i, r)
		}
		if i > 0 && s.r[i-1].end >= r.start {
			t.Fatalf("ranges %v and %v overlap or touch", s.r[i-1], r)
		}
	}
	for v := range model {
		if got := s.contains(uint64(v)); got != model[v] {
			t.Fatalf("contains(%d) = %v, want %v; set %v", v, got, model[v], s.r)
		}
	}
}

func TestRangeSetModel(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var s rangeSet
		model := make([]bool, 300)
		for range 200 {
			a := rng.IntN(len(model))
			b := a + rng.IntN(20)
			if b > len(model) {
				b = len(model)
			}
			switch rng.IntN(3) {
			case 0, 1:
				s.add(uint64(a), uint64(b))
				for i := a; i < b; i++ {
					model[i] = true
				}
			case 2:
				s.remove(uint64(a), uint64(b))
				for i := a; i < b; i++ {
					model[i] = false
				}
			}
			checkRangeSet(t, &s, model)
			if rng.IntN(20) == 0 {
				v := rng.IntN(len(model))
				s.removeBelow(uint64(v))
				for i := range v {
					model[i] = false
				}
				checkRangeSet(t, &s, model)
			}
		}
	}
}

func TestRangeSetContainsRange(t *testing.T) {
	var s rangeSet
	s.add(10, 20)
	s.add(30, 40)
	for _, c := range []struct {
		a, b uint64
		want bool
	}{{10, 20, true}, {12, 15, true}, {9, 12, false}, {15, 31, false}, {30, 40, true}, {5, 5, true}} {
		if got := s.containsRange(c.a, c.b); got != c.want {
			t.Errorf("containsRange(%d,%d) = %v", c.a, c.b, got)
		}
	}
}

func TestRangeSetBounded(t *testing.T) {
	s := rangeSet{max: 4}
	for i := uint64(0); i < 100; i += 2 {
		s.add(i, i+1)
	}
	if s.numRanges() != 4 {
		t.Fatalf("%d ranges, want 4", s.numRanges())
	}
	if s.min() != 92 || s.maxEnd() != 99 {
		t.Fatalf("kept %v, want the highest ranges", s.r)
	}
}
