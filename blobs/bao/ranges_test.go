package bao

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randRanges returns a random set with boundaries below 40.
func randRanges(rng *rand.Rand) ChunkRanges {
	var b []uint64
	x := uint64(0)
	for range rng.IntN(6) {
		x += uint64(rng.IntN(8))
		if len(b) > 0 && x == b[len(b)-1] {
			x++
		}
		b = append(b, x)
	}
	r, err := FromBoundaries(b)
	if err != nil {
		panic(err)
	}
	return r
}

func canonical(t *testing.T, r ChunkRanges) {
	t.Helper()
	for i := 1; i < len(r.b); i++ {
		if r.b[i] <= r.b[i-1] {
			t.Fatalf("not canonical: %v", r.b)
		}
	}
	if r.b != nil && len(r.b) == 0 {
		t.Fatalf("non-nil empty boundaries")
	}
}

func TestChunkRangesModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		a, b := randRanges(rng), randRanges(rng)
		u, in, d := a.Union(b), a.Intersect(b), a.Difference(b)
		for _, r := range []ChunkRanges{u, in, d} {
			canonical(t, r)
		}
		for c := uint64(0); c < 60; c++ {
			x, y := a.Contains(c), b.Contains(c)
			if u.Contains(c) != (x || y) || in.Contains(c) != (x && y) || d.Contains(c) != (x && !y) {
				t.Fatalf("a=%v b=%v c=%d: union %v inter %v diff %v", a, b, c, u, in, d)
			}
		}
		for s := uint64(0); s < 45; s++ {
			for e := s; e < 48; e++ {
				any, all := false, true
				for c := s; c < e; c++ {
					any = any || a.Contains(c)
					all = all && a.Contains(c)
				}
				if a.IntersectsRange(s, e) != any || a.ContainsRange(s, e) != all {
					t.Fatalf("%v [%d,%d): intersects %v contains %v", a, s, e, a.IntersectsRange(s, e), a.ContainsRange(s, e))
				}
			}
		}
		for _, size := range []uint64{0, 1, 1024, 1025, 5000, 16 * 1024, 30 * 1024} {
			tr := a.Truncate(size)
			canonical(t, tr)
			lc := numChunks(size) - 1
			anyAbove := a.IntersectsRange(lc, math.MaxUint64)
			for c := uint64(0); c < 60; c++ {
				want := (c < lc && a.Contains(c)) || (c == lc && anyAbove)
				if tr.Contains(c) != want {
					t.Fatalf("%v.Truncate(%d) = %v at %d", a, size, tr, c)
				}
			}
		}
		spec := a.AppendRangeSpec(nil)
		p, n, err := ParseRangeSpec(spec)
		if err != nil || n != len(spec) || !p.Equal(a) || a.RangeSpecLen() != len(spec) {
			t.Fatalf("range spec round trip %v: %v %d %v", a, p, n, err)
		}
		bb := a.AppendBoundaries(nil)
		p, n, err = ParseBoundaries(bb)
		if err != nil || n != len(bb) || !p.Equal(a) {
			t.Fatalf("boundaries round trip %v: %v %d %v", a, p, n, err)
		}
		if !slices.Equal(a.Boundaries(), a.b) {
			t.Fatal("Boundaries")
		}
	}
}

func TestChunkRangesBasics(t *testing.T) {
	cases := []struct {
		name string
		r    ChunkRanges
		str  string
	}{
		{"empty", Empty(), "empty"},
		{"all", All(), "0.."},
		{"last", LastChunk(), "18446744073709551615.."},
		{"range", Range(3, 9), "3..9"},
		{"bytes", FromByteRange(1000, 2049), "0..3"},
		{"bytes exact", FromByteRange(1024, 2048), "1..2"},
		{"empty bytes", FromByteRange(5, 5), "empty"},
		{"union", Range(1, 3).Union(From(9)), "1..3 | 9.."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.r.String() != c.str {
				t.Fatalf("String = %q, want %q", c.r.String(), c.str)
			}
		})
	}
	if !All().IsAll() || !Empty().IsEmpty() || All().IsEmpty() || !LastChunk().Contains(math.MaxUint64) {
		t.Fatal("predicates")
	}
	if _, err := FromBoundaries([]uint64{3, 3}); err == nil {
		t.Fatal("FromBoundaries accepted equal boundaries")
	}
	if !LastChunk().Truncate(1<<20).Equal(Range(1023, 1024)) || !All().Truncate(0).Equal(Range(0, 1)) {
		t.Fatal("truncate")
	}
	if !Range(7, 10).Truncate(7 * 1024).Equal(Range(6, 7)) {
		t.Fatalf("spec §6.2 example: %v", Range(7, 10).Truncate(7*1024))
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		seq  bool
	}{
		{"truncated count", "", false},
		{"count too big", "05 01", false},
		{"truncated delta", "01 80", false},
		{"overflow", "02 ffffffffffffffffff01 01", false},
		{"varint too long", "01 ffffffffffffffffff02", false},
		{"seq count too big", "05 00 00", true},
		{"seq bad spec", "01 00 03 01", true},
		{"seq offset overflow", "02 ffffffffffffffffff01 00 01 00", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := unhexSpaced(t, c.in)
			var err error
			if c.seq {
				_, _, err = ParseChunkRangesSeq(b)
			} else {
				_, _, err = ParseRangeSpec(b)
			}
			if err == nil {
				t.Fatalf("accepted %q", c.in)
			}
			t.Log(err)
		})
	}
	if _, _, err := ParseBoundaries(unhexSpaced(t, "02 05 05")); err == nil {
		t.Fatal("ParseBoundaries accepted equal boundaries")
	}
}

func unhexSpaced(t testing.TB, s string) []byte {
	return unhex(t, string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)))
}

func TestRangeSpecZeroDeltas(t *testing.T) {
	// Each delta toggles; zero-width spans cancel, as in Rust.
	for _, c := range []struct {
		in   string
		want ChunkRanges
	}{
		{"03 05 00 00", From(5)},
		{"02 00 00", Empty()},
		{"03 00 00 00", All()},
		{"04 01 02 00 03", Range(1, 6)},
	} {
		r, _, err := ParseRangeSpec(unhexSpaced(t, c.in))
		if err != nil || !r.Equal(c.want) {
			t.Errorf("%s: %v %v, want %v", c.in, r, err, c.want)
		}
	}
}

func TestChunkRangesSeq(t *testing.T) {
	s := SeqFromRanges([]ChunkRanges{Range(1, 3), {}, All()})
	if !s.At(0).Equal(Range(1, 3)) || !s.At(1).IsEmpty() || !s.At(2).IsAll() || !s.At(3).IsEmpty() || s.IsInfinite() {
		t.Fatalf("At: %v", s)
	}
	var idx []uint64
	for i := range s.NonEmpty() {
		idx = append(idx, i)
	}
	if !slices.Equal(idx, []uint64{0, 2}) {
		t.Fatalf("NonEmpty = %v", idx)
	}
	idx = idx[:0]
	for i := range SeqAll().NonEmpty() {
		if i == 4 {
			break
		}
		idx = append(idx, i)
	}
	if !slices.Equal(idx, []uint64{0, 1, 2, 3}) {
		t.Fatalf("infinite NonEmpty = %v", idx)
	}
	// A later entry at the same offset replaces the earlier one; equal
	// neighbours merge.
	p, _, err := ParseChunkRangesSeq(unhexSpaced(t, "04 00 0100 00 0101 01 0101 01 00"))
	if err != nil || p.String() != "[0: 1.., 2: empty]" {
		t.Fatalf("canonical: %v %v", p, err)
	}
	if len(p.Entries()) != 2 {
		t.Fatal("Entries")
	}
}
