package blobs

import (
	"fmt"

	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/internal/postcard"
)

// ChunkSize is the BLAKE3 chunk size: ranges are expressed in chunks.
const ChunkSize = 1024

// GroupChunks is the chunk group size iroh uses (16 chunks = 16 KiB).
const GroupChunks = 16

// Bitfield is what a store holds of one blob: its size and the chunks whose
// data is verified and stored. Once the last chunk is present the size is
// validated (spec §6.4, §7.2). The zero Bitfield means nothing is known.
type Bitfield struct {
	// Size is the blob size in bytes; meaningful only when Known.
	Size uint64
	// Known reports whether a size header has been seen.
	Known bool
	// ranges holds verified chunks as half-open [start,end) pairs, sorted and
	// disjoint, flattened: ranges[2i], ranges[2i+1].
	ranges []uint64
}

// Chunks returns the number of chunks of a blob of the given size (at least
// one: the empty blob has one empty chunk).
func Chunks(size uint64) uint64 {
	n := (size + ChunkSize - 1) / ChunkSize
	if n == 0 {
		n = 1
	}
	return n
}

// NewCompleteBitfield returns the bitfield of a complete blob of size bytes.
func NewCompleteBitfield(size uint64) Bitfield {
	return Bitfield{Size: size, Known: true, ranges: []uint64{0, Chunks(size)}}
}

// Complete reports whether every chunk is present.
func (b Bitfield) Complete() bool {
	return b.Known && len(b.ranges) == 2 && b.ranges[0] == 0 && b.ranges[1] >= Chunks(b.Size)
}

// SizeValidated reports whether the last chunk, and so the size, is verified.
func (b Bitfield) SizeValidated() bool {
	return b.Known && b.Has(Chunks(b.Size)-1)
}

// IsEmpty reports whether no chunk is present.
func (b Bitfield) IsEmpty() bool { return len(b.ranges) == 0 }

// Has reports whether chunk c is present.
func (b Bitfield) Has(c uint64) bool {
	for i := 0; i < len(b.ranges); i += 2 {
		if c >= b.ranges[i] && c < b.ranges[i+1] {
			return true
		}
	}
	return false
}

// Ranges returns the present chunks as [start,end) pairs. The slice must not
// be modified.
func (b Bitfield) Ranges() [][2]uint64 {
	out := make([][2]uint64, 0, len(b.ranges)/2)
	for i := 0; i < len(b.ranges); i += 2 {
		out = append(out, [2]uint64{b.ranges[i], b.ranges[i+1]})
	}
	return out
}

// VerifiedBytes returns how many bytes of the blob are present.
func (b Bitfield) VerifiedBytes() uint64 {
	if !b.Known {
		return 0
	}
	var n uint64
	for i := 0; i < len(b.ranges); i += 2 {
		s, e := b.ranges[i]*ChunkSize, b.ranges[i+1]*ChunkSize
		if e > b.Size {
			e = b.Size
		}
		if s < e {
			n += e - s
		}
	}
	return n
}

// Add returns b with chunks [start,end) marked present. Chunks beyond the
// end are clamped to the chunk count when the size is known.
func (b Bitfield) Add(start, end uint64) Bitfield {
	if b.Known {
		if n := Chunks(b.Size); end > n {
			end = n
		}
	}
	if start >= end {
		return b
	}
	out := make([]uint64, 0, len(b.ranges)+2)
	i := 0
	for ; i < len(b.ranges) && b.ranges[i+1] < start; i += 2 {
		out = append(out, b.ranges[i], b.ranges[i+1])
	}
	for ; i < len(b.ranges) && b.ranges[i] <= end; i += 2 {
		start = min(start, b.ranges[i])
		end = max(end, b.ranges[i+1])
	}
	out = append(out, start, end)
	out = append(out, b.ranges[i:]...)
	b.ranges = out
	return b
}

// Missing returns the chunk ranges of [0, Chunks(size)) not present, as
// [start,end) pairs. b must have a known size.
func (b Bitfield) Missing() [][2]uint64 {
	n := Chunks(b.Size)
	var out [][2]uint64
	var at uint64
	for i := 0; i < len(b.ranges); i += 2 {
		if b.ranges[i] > at {
			out = append(out, [2]uint64{at, min(b.ranges[i], n)})
		}
		at = b.ranges[i+1]
	}
	if at < n {
		out = append(out, [2]uint64{at, n})
	}
	return out
}

// AppendBinary appends the store's persistent form: flags byte (bit 0 =
// Known), size varint, pair count varint, then the boundaries as varints.
func (b Bitfield) AppendBinary(out []byte) []byte {
	var flags byte
	if b.Known {
		flags = 1
	}
	out = append(out, flags)
	out = postcard.AppendUvarint(out, b.Size)
	out = postcard.AppendUvarint(out, uint64(len(b.ranges)/2))
	for _, v := range b.ranges {
		out = postcard.AppendUvarint(out, v)
	}
	return out
}

// ParseBitfield decodes AppendBinary output.
func ParseBitfield(in []byte) (Bitfield, int, error) {
	var b Bitfield
	if len(in) < 1 {
		return b, 0, fmt.Errorf("bitfield: %w", postcard.ErrTruncated)
	}
	b.Known = in[0]&1 != 0
	off := 1
	v, n, err := postcard.Uvarint(in[off:])
	if err != nil {
		return b, 0, fmt.Errorf("bitfield: size at offset %d: %w", off, err)
	}
	b.Size, off = v, off+n
	pairs, n, err := postcard.Uvarint(in[off:])
	if err != nil {
		return b, 0, fmt.Errorf("bitfield: count at offset %d: %w", off, err)
	}
	off += n
	if pairs > uint64(len(in)-off)/2 {
		return b, 0, fmt.Errorf("bitfield: %d ranges cannot fit in %d bytes", pairs, len(in)-off)
	}
	b.ranges = make([]uint64, 0, 2*pairs)
	var prev uint64
	for i := uint64(0); i < 2*pairs; i++ {
		v, n, err := postcard.Uvarint(in[off:])
		if err != nil {
			return b, 0, fmt.Errorf("bitfield: boundary %d at offset %d: %w", i, off, err)
		}
		if i > 0 && v <= prev {
			return b, 0, fmt.Errorf("bitfield: boundary %d at offset %d not increasing", i, off)
		}
		prev = v
		b.ranges = append(b.ranges, v)
		off += n
	}
	return b, off, nil
}

// ChunkRanges returns the present chunks in iroh's canonical form (spec
// §7.2): a complete blob is 0.., and once the last chunk is present the
// final run is open-ended (the size is validated).
func (b Bitfield) ChunkRanges() bao.ChunkRanges {
	if b.Complete() {
		return bao.All()
	}
	var r bao.ChunkRanges
	last := Chunks(b.Size) - 1
	for i := 0; i < len(b.ranges); i += 2 {
		if b.Known && b.ranges[i+1] > last {
			r = r.Union(bao.From(b.ranges[i]))
			continue
		}
		r = r.Union(bao.Range(b.ranges[i], b.ranges[i+1]))
	}
	return r
}

// MissingRanges returns the chunks of want not present: what a getter still
// has to request. With an unknown size all of want is missing.
func (b Bitfield) MissingRanges(want bao.ChunkRanges) bao.ChunkRanges {
	if !b.Known {
		return want
	}
	return want.Truncate(b.Size).Difference(b.ChunkRanges())
}
