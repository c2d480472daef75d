package bao

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrHashMismatch is matched (errors.Is) by every *VerifyError.
var ErrHashMismatch = errors.New("bao: hash mismatch")

// VerifyError reports the first piece of a response that did not verify
// against the expected hash. Nothing at or after it was yielded.
type VerifyError struct {
	// Offset and Len are the byte range of the blob covered by the failed
	// piece: the data itself, or for a parent node the bytes of its subtree.
	Offset, Len uint64
	// Parent is true when a parent pair failed, false for data.
	Parent bool
}

func (e *VerifyError) Error() string {
	what := "data"
	if e.Parent {
		what = "parent node over"
	}
	return fmt.Sprintf("bao: hash mismatch: %s bytes %d..%d", what, e.Offset, e.Offset+e.Len)
}

// Is makes errors.Is(err, ErrHashMismatch) true.
func (e *VerifyError) Is(target error) bool { return target == ErrHashMismatch }

// ItemKind says what a decoded Item carries.
type ItemKind uint8

const (
	// ItemParent is a verified parent pair.
	ItemParent ItemKind = iota + 1
	// ItemLeaf is verified blob data.
	ItemLeaf
)

// Item is one verified piece of a response, returned by (*Decoder).Next.
type Item struct {
	Kind ItemKind

	// Offset is the blob byte offset of a leaf's Data, or of the first
	// byte covered by a parent's subtree.
	Offset uint64
	// Len is len(Data) for a leaf, or the bytes covered by a parent's
	// subtree (clipped to the blob size).
	Len uint64

	// Data holds a leaf's bytes: a whole chunk group (up to GroupSize bytes)
	// or a single chunk of a partially selected group. It aliases the
	// Decoder's buffer and is valid only until the next call to Next.
	Data []byte

	// Pair is a parent's left CV || right CV.
	Pair [PairSize]byte
	// OutboardIndex is the parent's pair index in the pre-order outboard
	// (spec §7.1): a store writes Pair at OutboardIndex*PairSize. It is -1
	// for a parent inside a chunk group, which is not stored.
	OutboardIndex int64
}

// Chunks returns the chunks an item covers: for a leaf the chunks of its
// data (chunk 0 for the empty blob's empty leaf), for a parent those of its
// subtree. A store adds a leaf's Chunks to its verified set.
func (it Item) Chunks() ChunkRanges {
	s := it.Offset / ChunkSize
	return Range(s, max(chunksFor(it.Offset+it.Len), s+1))
}

// decodeFrame is a node still to be read: chunks [start, start+chunks) with
// the CV it must hash to.
type decodeFrame struct {
	start, chunks uint64
	idx           uint64 // outboard pair index, for nodes above the group level
	cv            [8]uint32
	root          bool
}

// maxDepth bounds the frame stack: a tree over at most 2^54 chunks has 54
// levels and the walk keeps at most one pending right sibling per level.
const maxDepth = 130

// Decoder reads one blob's response (spec §6.4) from a reader and yields
// only verified data and parents, in stream order. It reads exactly the bytes
// of this blob's encoding and never more, so the same reader continues with
// the next blob of a multi-blob response; wrap a network stream in a
// bufio.Reader (shared by all blobs of the response) to avoid small reads.
//
// Nothing is allocated per chunk group. A Decoder is not safe for concurrent
// use; Next blocks in the reader.
type Decoder struct {
	r      io.Reader
	root   [8]uint32
	ranges ChunkRanges

	started      bool
	size         uint64
	sel          ChunkRanges
	last         uint64 // last chunk number
	sizeVerified bool
	err          error

	stack [maxDepth]decodeFrame
	sp    int
	buf   [GroupSize]byte
}

// NewDecoder returns a Decoder for the blob with hash root, as requested with
// ranges (the decoder applies the same truncation to the size as the sender).
// It reads nothing until the first call to Size or Next.
func NewDecoder(r io.Reader, root [32]byte, ranges ChunkRanges) *Decoder {
	d := &Decoder{}
	d.Reset(r, root, ranges)
	return d
}

// Reset makes d decode a new blob, reusing its buffers.
func (d *Decoder) Reset(r io.Reader, root [32]byte, ranges ChunkRanges) {
	d.r, d.root, d.ranges = r, bytesToWords(root[:]), ranges
	d.started, d.size, d.sel, d.last, d.sizeVerified, d.err, d.sp = false, 0, ChunkRanges{}, 0, false, nil, 0
}

// Size reads the size header if it was not read yet and returns it. The size
// is not authenticated by itself (spec §6.4): see SizeVerified.
func (d *Decoder) Size() (uint64, error) {
	if err := d.start(); err != nil {
		return 0, err
	}
	return d.size, nil
}

// SizeVerified reports whether the blob's last chunk has been verified, which
// proves the size header. Requesting LastChunk() is the idiom for a verified
// size.
func (d *Decoder) SizeVerified() bool { return d.sizeVerified }

func (d *Decoder) start() error {
	if d.started {
		return d.err
	}
	d.started = true
	if d.ranges.IsEmpty() {
		// A provider sends nothing at all for an empty selection.
		return nil
	}
	hdr := d.buf[:HeaderSize]
	if _, err := io.ReadFull(d.r, hdr); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.err = fmt.Errorf("bao: decode: read size header: %w", err)
		return d.err
	}
	d.size = binary.LittleEndian.Uint64(hdr)
	n := numChunks(d.size)
	d.last = n - 1
	d.sel = d.ranges.Truncate(d.size)
	d.stack[0] = decodeFrame{start: 0, chunks: n, cv: d.root, root: true}
	d.sp = 1
	return nil
}

// Next returns the next verified item. It returns io.EOF after the last item
// of this blob; a *VerifyError (matching ErrHashMismatch) at the first piece
// that fails verification; a wrapped io.ErrUnexpectedEOF if the stream ends
// early. After an error, Next keeps returning it.
func (d *Decoder) Next() (Item, error) {
	if err := d.start(); err != nil {
		return Item{}, err
	}
	if d.sp == 0 {
		return Item{}, io.EOF
	}
	d.sp--
	f := d.stack[d.sp]
	off := f.start * ChunkSize
	end := byteEnd(f.start+f.chunks, d.size)
	if f.chunks == 1 || (f.chunks <= GroupChunks && d.sel.ContainsRange(f.start, f.start+f.chunks)) {
		p := d.buf[:end-off]
		if err := d.read(p, "data", off); err != nil {
			return Item{}, err
		}
		// groupCV reads the whole buffer; bytes past len(p) do not count.
		if groupCV(&d.buf, len(p), f.start, f.root) != f.cv {
			d.err = &VerifyError{Offset: off, Len: uint64(len(p))}
			d.sp = 0
			return Item{}, d.err
		}
		if f.start+f.chunks > d.last {
			d.sizeVerified = true
		}
		return Item{Kind: ItemLeaf, Offset: off, Len: uint64(len(p)), Data: p}, nil
	}
	// Read into the Decoder's own buffer: reading into it.Pair would move it
	// to the heap (the reader is an interface).
	if err := d.read(d.buf[:PairSize], "parent", off); err != nil {
		return Item{}, err
	}
	it := Item{Kind: ItemParent, Offset: off, Len: end - off, OutboardIndex: -1, Pair: [PairSize]byte(d.buf[:PairSize])}
	if pairCV(it.Pair[:], f.root) != f.cv {
		d.err = &VerifyError{Offset: off, Len: end - off, Parent: true}
		d.sp = 0
		return Item{}, d.err
	}
	l := leftChunks(f.chunks)
	var ridx, lidx uint64
	if f.chunks > GroupChunks {
		it.OutboardIndex = int64(f.idx)
		lidx, ridx = f.idx+1, f.idx+1+pairsIn(l)
	}
	rs, rm := f.start+l, f.chunks-l
	if d.sel.IntersectsRange(rs, rs+rm) {
		d.stack[d.sp] = decodeFrame{start: rs, chunks: rm, idx: ridx, cv: bytesToWords(it.Pair[32:])}
		d.sp++
	}
	if d.sel.IntersectsRange(f.start, f.start+l) {
		d.stack[d.sp] = decodeFrame{start: f.start, chunks: l, idx: lidx, cv: bytesToWords(it.Pair[:32])}
		d.sp++
	}
	return it, nil
}

func (d *Decoder) read(p []byte, what string, off uint64) error {
	if _, err := io.ReadFull(d.r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.err = fmt.Errorf("bao: decode: read %s at blob offset %d: %w", what, off, err)
		d.sp = 0
		return d.err
	}
	return nil
}

// Decode reads one blob's response from r, verifies it against root, and
// writes the verified data to data (at its blob offsets) and, if outboard is
// not nil, the verified parent pairs above the group level to outboard (at
// OutboardIndex*PairSize). It returns the size header. On error, everything
// written so far is verified.
func Decode(r io.Reader, root [32]byte, ranges ChunkRanges, data, outboard io.WriterAt) (uint64, error) {
	d := NewDecoder(r, root, ranges)
	for {
		it, err := d.Next()
		if err == io.EOF {
			return d.size, nil
		}
		if err != nil {
			return d.size, err
		}
		switch {
		case it.Kind == ItemLeaf:
			if _, err := data.WriteAt(it.Data, int64(it.Offset)); err != nil {
				return d.size, fmt.Errorf("bao: decode: write data at %d: %w", it.Offset, err)
			}
		case outboard != nil && it.OutboardIndex >= 0:
			if _, err := outboard.WriteAt(it.Pair[:], it.OutboardIndex*PairSize); err != nil {
				return d.size, fmt.Errorf("bao: decode: write outboard pair %d: %w", it.OutboardIndex, err)
			}
		}
	}
}
