package ring

import "testing"

func TestRing(t *testing.T) {
	var r Ring[int]
	next, want := 0, 0
	for round := range 50 {
		for range round % 23 {
			r.Push(next)
			next++
		}
		for range round % 17 {
			v, ok := r.Pop()
			if !ok {
				if r.Len() != 0 {
					t.Fatal("Pop failed on a non-empty ring")
				}
				break
			}
			if v != want {
				t.Fatalf("popped %d, want %d", v, want)
			}
			want++
		}
		if r.Len() != next-want {
			t.Fatalf("Len %d, want %d", r.Len(), next-want)
		}
		if v, ok := r.Peek(); ok && v != want {
			t.Fatalf("Peek %d, want %d", v, want)
		}
	}
	for r.Len() > 0 {
		r.Pop()
	}
	if r.buf != nil && len(r.buf) > minCap {
		t.Fatal("empty ring kept a large buffer")
	}
}
