package bao

import (
	"fmt"
	"iter"
	"math"

	"github.com/iroh-go/iroh/internal/postcard"
)

// SeqEntry is one entry of a ChunkRangesSeq: Ranges applies to every index
// from Offset up to the next entry's Offset (the last entry applies forever).
type SeqEntry struct {
	Offset uint64
	Ranges ChunkRanges
}

// ChunkRangesSeq selects chunks from a sequence of blobs (spec §4.3): in a Get
// request, index 0 is the requested blob and index k >= 1 is child k-1 of its
// hash sequence; in GetMany, index i is hashes[i]. Indices before the first
// entry select nothing and the last entry's ranges repeat forever, so a finite
// sequence ends with an empty entry.
//
// A ChunkRangesSeq is an immutable value kept in canonical form (strictly
// increasing offsets, no two consecutive equal ranges, no leading empty
// entry). The zero value selects nothing.
type ChunkRangesSeq struct {
	e []SeqEntry
}

// SeqFromRanges returns the sequence selecting rs[i] at index i and nothing
// after the last element (0.103 ChunkRangesSeq::from_ranges).
func SeqFromRanges(rs []ChunkRanges) ChunkRangesSeq {
	e := make([]SeqEntry, 0, len(rs)+1)
	for i, r := range rs {
		e = append(e, SeqEntry{Offset: uint64(i), Ranges: r})
	}
	e = append(e, SeqEntry{Offset: uint64(len(rs))})
	return canonicalSeq(e)
}

// SeqFromRangesInfinite is like SeqFromRanges, but the last element of rs
// repeats forever. It returns the empty sequence if rs is empty.
func SeqFromRangesInfinite(rs []ChunkRanges) ChunkRangesSeq {
	e := make([]SeqEntry, 0, len(rs))
	for i, r := range rs {
		e = append(e, SeqEntry{Offset: uint64(i), Ranges: r})
	}
	return canonicalSeq(e)
}

// SeqBlob returns the sequence selecting r of index 0 only (Rust
// GetRequest::blob / 0.35 single: wire form 02 00 <r> 01 00).
func SeqBlob(r ChunkRanges) ChunkRangesSeq {
	return SeqFromRanges([]ChunkRanges{r})
}

// SeqAll returns the sequence selecting every chunk of every index
// (GetRequest::all: a hash sequence and all its children).
func SeqAll() ChunkRangesSeq {
	return ChunkRangesSeq{e: []SeqEntry{{Offset: 0, Ranges: All()}}}
}

// canonicalSeq sorts nothing: it expects increasing offsets, lets a later
// entry at the same offset replace an earlier one, and drops entries equal to
// their predecessor (the implicit predecessor of the first entry is empty).
func canonicalSeq(in []SeqEntry) ChunkRangesSeq {
	out := in[:0]
	for _, x := range in {
		if len(out) > 0 && out[len(out)-1].Offset == x.Offset {
			out = out[:len(out)-1]
		}
		prev := ChunkRanges{}
		if len(out) > 0 {
			prev = out[len(out)-1].Ranges
		}
		if prev.Equal(x.Ranges) {
			continue
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return ChunkRangesSeq{}
	}
	return ChunkRangesSeq{e: out}
}

// Entries returns a copy of the canonical entries.
func (s ChunkRangesSeq) Entries() []SeqEntry { return append([]SeqEntry(nil), s.e...) }

// At returns the ranges selected for index i.
func (s ChunkRangesSeq) At(i uint64) ChunkRanges {
	var r ChunkRanges
	for _, x := range s.e {
		if x.Offset > i {
			break
		}
		r = x.Ranges
	}
	return r
}

// IsEmpty reports whether s selects nothing at any index.
func (s ChunkRangesSeq) IsEmpty() bool { return len(s.e) == 0 }

// IsInfinite reports whether the last entry is non-empty, i.e. s selects
// something at every index from some point on.
func (s ChunkRangesSeq) IsInfinite() bool {
	return len(s.e) > 0 && !s.e[len(s.e)-1].Ranges.IsEmpty()
}

// IsBlob reports whether s selects (non-empty) ranges of index 0 only, i.e.
// it is exactly the entries (0, r), (1, empty).
func (s ChunkRangesSeq) IsBlob() bool {
	return len(s.e) == 2 && s.e[0].Offset == 0 && s.e[1].Offset == 1 && s.e[1].Ranges.IsEmpty()
}

// NonEmpty iterates over the indices with a non-empty selection, in
// increasing order. For an infinite sequence it never ends on its own: the
// caller stops (break) when it runs out of blobs.
func (s ChunkRangesSeq) NonEmpty() iter.Seq2[uint64, ChunkRanges] {
	return func(yield func(uint64, ChunkRanges) bool) {
		for k, x := range s.e {
			if x.Ranges.IsEmpty() {
				continue
			}
			end := uint64(math.MaxUint64)
			last := k+1 == len(s.e)
			if !last {
				end = s.e[k+1].Offset
			}
			for i := x.Offset; i < end || last; i++ {
				if !yield(i, x.Ranges) {
					return
				}
				if i == math.MaxUint64 {
					return
				}
			}
		}
	}
}

// Append appends the wire form of s (spec §4.3): a postcard
// Vec<(u64 offset delta, RangeSpec)>.
func (s ChunkRangesSeq) Append(b []byte) []byte {
	b = postcard.AppendUvarint(b, uint64(len(s.e)))
	var prev uint64
	for _, x := range s.e {
		b = postcard.AppendUvarint(b, x.Offset-prev)
		prev = x.Offset
		b = x.Ranges.AppendRangeSpec(b)
	}
	return b
}

// EncodedLen returns the length of s's wire form.
func (s ChunkRangesSeq) EncodedLen() int {
	n := postcard.UvarintLen(uint64(len(s.e)))
	var prev uint64
	for _, x := range s.e {
		n += postcard.UvarintLen(x.Offset-prev) + x.Ranges.RangeSpecLen()
		prev = x.Offset
	}
	return n
}

// String formats s as "[0: 0.., 1: empty]".
func (s ChunkRangesSeq) String() string {
	out := "["
	for k, x := range s.e {
		if k > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%d: %s", x.Offset, x.Ranges)
	}
	return out + "]"
}

// ParseChunkRangesSeq decodes a ChunkRangesSeq (spec §4.3) from the start of
// b and returns it in canonical form with the number of bytes consumed. A
// later entry at the same offset (delta 0) replaces the earlier one.
func ParseChunkRangesSeq(b []byte) (ChunkRangesSeq, int, error) {
	count, n, err := readUvarint(b, 0)
	if err != nil {
		return ChunkRangesSeq{}, 0, fmt.Errorf("bao: range spec seq: count: %w", err)
	}
	if count > uint64(len(b)-n)/2 {
		return ChunkRangesSeq{}, 0, fmt.Errorf("bao: range spec seq: count %d exceeds the %d remaining bytes", count, len(b)-n)
	}
	e := make([]SeqEntry, 0, count)
	var off uint64
	for i := range count {
		d, m, err := readUvarint(b, n)
		if err != nil {
			return ChunkRangesSeq{}, 0, fmt.Errorf("bao: range spec seq: entry %d offset: %w", i, err)
		}
		if off+d < off {
			return ChunkRangesSeq{}, 0, fmt.Errorf("bao: range spec seq: entry %d offset at byte %d overflows u64", i, n)
		}
		off += d
		r, k, err := ParseRangeSpec(b[m:])
		if err != nil {
			return ChunkRangesSeq{}, 0, fmt.Errorf("bao: range spec seq: entry %d at byte %d: %w", i, m, err)
		}
		n = m + k
		e = append(e, SeqEntry{Offset: off, Ranges: r})
	}
	return canonicalSeq(e), n, nil
}

// readUvarint decodes a postcard u64 varint at b[off:] and returns the value
// and the offset after it, or an error naming the byte offset.
func readUvarint(b []byte, off int) (uint64, int, error) {
	if off > len(b) {
		off = len(b)
	}
	x, n, err := postcard.Uvarint(b[off:])
	if err != nil {
		return 0, 0, fmt.Errorf("varint at byte %d: %w", off, err)
	}
	return x, off + n, nil
}
