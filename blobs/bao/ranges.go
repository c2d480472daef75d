package bao

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/iroh-go/iroh/internal/postcard"
)

// ChunkRanges is a set of chunk numbers (a chunk is ChunkSize bytes),
// represented like range-collections' RangeSet: a strictly increasing list of
// boundaries b0 < b1 < ...; the chunks in [b0,b1), [b2,b3), ... are in the set,
// and an odd-length list ends with the open run [b_last, ∞).
//
// A ChunkRanges is an immutable value: every method returns a new set and
// never modifies its receiver or arguments, so values may be shared between
// goroutines. The zero value is the empty set.
type ChunkRanges struct {
	b []uint64 // boundaries, strictly increasing; never modified after construction
}

// Empty returns the empty set (the zero ChunkRanges).
func Empty() ChunkRanges { return ChunkRanges{} }

// All returns the set of all chunks, 0.. (boundaries [0]).
func All() ChunkRanges { return ChunkRanges{b: []uint64{0}} }

// LastChunk returns the open run starting at chunk math.MaxUint64. Requested
// from a blob, it selects only the blob's last chunk whatever its size, which
// proves the size (spec §4.1, §6.2).
func LastChunk() ChunkRanges { return ChunkRanges{b: []uint64{math.MaxUint64}} }

// From returns the open run start.. of all chunks >= start.
func From(start uint64) ChunkRanges { return ChunkRanges{b: []uint64{start}} }

// Range returns the chunks in [start, end). It returns the empty set if
// end <= start.
func Range(start, end uint64) ChunkRanges {
	if end <= start {
		return ChunkRanges{}
	}
	return ChunkRanges{b: []uint64{start, end}}
}

// FromByteRange returns the chunks touched by the bytes [start, end), rounding
// outward: from floor(start/1024) to ceil(end/1024). It returns the empty set
// if end <= start.
func FromByteRange(start, end uint64) ChunkRanges {
	if end <= start {
		return ChunkRanges{}
	}
	return Range(start/ChunkSize, chunksFor(end))
}

// FromBoundaries returns the set with the given boundary list (see
// ChunkRanges). It returns an error unless b is strictly increasing. b is
// copied.
func FromBoundaries(b []uint64) (ChunkRanges, error) {
	for i := 1; i < len(b); i++ {
		if b[i] <= b[i-1] {
			return ChunkRanges{}, fmt.Errorf("bao: chunk ranges: boundary %d (%d) not above boundary %d (%d)", i, b[i], i-1, b[i-1])
		}
	}
	if len(b) == 0 {
		return ChunkRanges{}, nil
	}
	return ChunkRanges{b: slices.Clone(b)}, nil
}

// Boundaries returns a copy of the boundary list.
func (r ChunkRanges) Boundaries() []uint64 { return slices.Clone(r.b) }

// IsEmpty reports whether r selects no chunk.
func (r ChunkRanges) IsEmpty() bool { return len(r.b) == 0 }

// IsAll reports whether r selects every chunk (0..).
func (r ChunkRanges) IsAll() bool { return len(r.b) == 1 && r.b[0] == 0 }

// Equal reports whether r and o are the same set.
func (r ChunkRanges) Equal(o ChunkRanges) bool { return slices.Equal(r.b, o.b) }

// Contains reports whether chunk c is in r.
func (r ChunkRanges) Contains(c uint64) bool {
	// number of boundaries <= c is odd => inside.
	i, found := slices.BinarySearch(r.b, c)
	if found {
		i++
	}
	return i%2 == 1
}

// Runs calls yield for each run [start, end) of r in increasing order; for an
// open final run, end is math.MaxUint64 and open is true. It stops early if
// yield returns false.
func (r ChunkRanges) Runs(yield func(start, end uint64, open bool) bool) {
	for i := 0; i < len(r.b); i += 2 {
		if i+1 == len(r.b) {
			yield(r.b[i], math.MaxUint64, true)
			return
		}
		if !yield(r.b[i], r.b[i+1], false) {
			return
		}
	}
}

// IntersectsRange reports whether any chunk of [start, end) is in r.
func (r ChunkRanges) IntersectsRange(start, end uint64) bool {
	if end <= start {
		return false
	}
	if r.Contains(start) {
		return true
	}
	// start is outside: is there a run beginning in (start, end)?
	i, _ := slices.BinarySearch(r.b, start+1) // first boundary > start
	return i < len(r.b) && r.b[i] < end
}

// ContainsRange reports whether every chunk of [start, end) is in r. It is
// true for an empty interval.
func (r ChunkRanges) ContainsRange(start, end uint64) bool {
	if end <= start {
		return true
	}
	if !r.Contains(start) {
		return false
	}
	// start is inside: the run containing it must reach end.
	i, _ := slices.BinarySearch(r.b, start+1) // first boundary > start = end of run
	return i >= len(r.b) || r.b[i] >= end
}

// Union returns r ∪ o.
func (r ChunkRanges) Union(o ChunkRanges) ChunkRanges {
	return combine(r, o, func(a, b bool) bool { return a || b })
}

// Intersect returns r ∩ o.
func (r ChunkRanges) Intersect(o ChunkRanges) ChunkRanges {
	return combine(r, o, func(a, b bool) bool { return a && b })
}

// Difference returns r \ o.
func (r ChunkRanges) Difference(o ChunkRanges) ChunkRanges {
	return combine(r, o, func(a, b bool) bool { return a && !b })
}

// combine sweeps both boundary lists and keeps the points where op's result
// changes.
func combine(x, y ChunkRanges, op func(a, b bool) bool) ChunkRanges {
	var out []uint64
	i, j := 0, 0
	inX, inY, inOut := false, false, false
	for i < len(x.b) || j < len(y.b) {
		var p uint64
		switch {
		case j >= len(y.b) || (i < len(x.b) && x.b[i] < y.b[j]):
			p = x.b[i]
		default:
			p = y.b[j]
		}
		if i < len(x.b) && x.b[i] == p {
			inX = !inX
			i++
		}
		if j < len(y.b) && y.b[j] == p {
			inY = !inY
			j++
		}
		if v := op(inX, inY); v != inOut {
			out = append(out, p)
			inOut = v
		}
	}
	return ChunkRanges{b: out}
}

// Truncate returns the effective selection of r for a blob of size bytes
// (spec §6.2, bao-tree truncate_ranges): the chunks of r below the last chunk
// lc = max(1, ceil(size/1024)) - 1, plus lc itself if r contains any chunk
// >= lc. This is what an encoder sends and a decoder expects.
func (r ChunkRanges) Truncate(size uint64) ChunkRanges {
	lc := numChunks(size) - 1
	s := r.Intersect(Range(0, lc))
	if r.IntersectsRange(lc, math.MaxUint64) || r.Contains(math.MaxUint64) {
		s = s.Union(Range(lc, lc+1))
	}
	return s
}

// String formats r like iroh's debug form: runs as "a..b" joined by " | ",
// an open run as "a..", and "empty" for the empty set.
func (r ChunkRanges) String() string {
	if len(r.b) == 0 {
		return "empty"
	}
	var sb strings.Builder
	r.Runs(func(s, e uint64, open bool) bool {
		if sb.Len() > 0 {
			sb.WriteString(" | ")
		}
		if open {
			fmt.Fprintf(&sb, "%d..", s)
		} else {
			fmt.Fprintf(&sb, "%d..%d", s, e)
		}
		return true
	})
	return sb.String()
}

// AppendRangeSpec appends the RangeSpec wire form of r (spec §4.2): a postcard
// Vec<u64> of the boundary deltas.
func (r ChunkRanges) AppendRangeSpec(b []byte) []byte {
	b = postcard.AppendUvarint(b, uint64(len(r.b)))
	var prev uint64
	for _, x := range r.b {
		b = postcard.AppendUvarint(b, x-prev)
		prev = x
	}
	return b
}

// RangeSpecLen returns the length of r's RangeSpec wire form.
func (r ChunkRanges) RangeSpecLen() int {
	n := postcard.UvarintLen(uint64(len(r.b)))
	var prev uint64
	for _, x := range r.b {
		n += postcard.UvarintLen(x - prev)
		prev = x
	}
	return n
}

// ParseRangeSpec decodes a RangeSpec (spec §4.2) from the start of b and
// returns the set and the number of bytes consumed. Like Rust, each delta
// toggles selection, so zero deltas after the first are accepted (two equal
// boundaries cancel). A boundary overflowing u64 is an error.
func ParseRangeSpec(b []byte) (ChunkRanges, int, error) {
	count, n, err := readUvarint(b, 0)
	if err != nil {
		return ChunkRanges{}, 0, fmt.Errorf("bao: range spec: count: %w", err)
	}
	if count > uint64(len(b)-n) {
		return ChunkRanges{}, 0, fmt.Errorf("bao: range spec: count %d exceeds the %d remaining bytes", count, len(b)-n)
	}
	var out []uint64
	if count > 0 {
		out = make([]uint64, 0, count)
	}
	var cur uint64
	for i := range count {
		d, m, err := readUvarint(b, n)
		if err != nil {
			return ChunkRanges{}, 0, fmt.Errorf("bao: range spec: delta %d: %w", i, err)
		}
		n = m
		if cur+d < cur {
			return ChunkRanges{}, 0, fmt.Errorf("bao: range spec: delta %d at byte %d overflows u64", i, n)
		}
		cur += d
		if len(out) > 0 && out[len(out)-1] == cur {
			// A zero-width span toggles twice at the same point: drop both.
			out = out[:len(out)-1]
			continue
		}
		out = append(out, cur)
	}
	if len(out) == 0 {
		out = nil
	}
	return ChunkRanges{b: out}, n, nil
}

// AppendBoundaries appends the serde form of r used inside ObserveItem (spec
// §8): a postcard sequence of absolute boundaries.
func (r ChunkRanges) AppendBoundaries(b []byte) []byte {
	b = postcard.AppendUvarint(b, uint64(len(r.b)))
	for _, x := range r.b {
		b = postcard.AppendUvarint(b, x)
	}
	return b
}

// ParseBoundaries decodes the absolute-boundary form written by
// AppendBoundaries. Boundaries must be strictly increasing.
func ParseBoundaries(b []byte) (ChunkRanges, int, error) {
	count, n, err := readUvarint(b, 0)
	if err != nil {
		return ChunkRanges{}, 0, fmt.Errorf("bao: chunk ranges: count: %w", err)
	}
	if count > uint64(len(b)-n) {
		return ChunkRanges{}, 0, fmt.Errorf("bao: chunk ranges: count %d exceeds the %d remaining bytes", count, len(b)-n)
	}
	if count == 0 {
		return ChunkRanges{}, n, nil
	}
	out := make([]uint64, 0, count)
	for i := range count {
		x, m, err := readUvarint(b, n)
		if err != nil {
			return ChunkRanges{}, 0, fmt.Errorf("bao: chunk ranges: boundary %d: %w", i, err)
		}
		if i > 0 && x <= out[i-1] {
			return ChunkRanges{}, 0, fmt.Errorf("bao: chunk ranges: boundary %d (%d) at byte %d not above %d", i, x, n, out[i-1])
		}
		n = m
		out = append(out, x)
	}
	return ChunkRanges{b: out}, n, nil
}

// chunksFor returns ceil(bytes/ChunkSize) without overflow.
func chunksFor(bytes uint64) uint64 {
	c := bytes / ChunkSize
	if bytes%ChunkSize != 0 {
		c++
	}
	return c
}

// numChunks returns the chunk count of a blob: max(1, ceil(size/1024)).
func numChunks(size uint64) uint64 { return max(1, chunksFor(size)) }

// byteEnd returns the byte offset where chunk c begins, clipped to size,
// without overflowing for blobs near 2^64 bytes.
func byteEnd(c, size uint64) uint64 {
	if c >= chunksFor(size) {
		return size
	}
	return c * ChunkSize
}
