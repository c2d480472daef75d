package bao

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// Buffer sizes of the Encoder.
const (
	// encOutSize is the output buffer: the writer sees writes of about this
	// size (the last one of a blob may be shorter).
	encOutSize = 1 << 20
	// encDataWindow is how much blob data is read with one ReadAt.
	encDataWindow = 1 << 20
	// encPairWindow is how many outboard pairs are read with one ReadAt.
	encPairWindow = 1024
)

// Encoder writes the response encoding of blobs (spec §6). It holds about
// 2 MiB of buffers, reused across calls, so a provider keeps one per stream
// or uses the package-level Encode, which pools them. An Encoder is not safe
// for concurrent use.
type Encoder struct {
	out     []byte // pending output, cap encOutSize
	win     []byte // data window buffer, cap encDataWindow
	winOff  uint64 // blob offset of win[0]
	winLen  int    // valid bytes in win
	obBuf   []byte // outboard window, cap encPairWindow*PairSize
	obFirst uint64 // pair index of obBuf[0]
	obCount uint64 // valid pairs in obBuf
	scratch [GroupSize]byte
	holes   []hole   // whole groups in out still to be read from data
	iov     [][]byte // readVec scratch

	// Set per Encode call.
	w      io.Writer
	data   io.ReaderAt
	ob     io.ReaderAt
	size   uint64
	pairs  uint64 // pairs in the outboard
	sel    ChunkRanges
	err    error
	hasWin bool
}

// NewEncoder returns an Encoder with its buffers allocated.
func NewEncoder() *Encoder {
	return &Encoder{
		out:   make([]byte, 0, encOutSize),
		win:   make([]byte, encDataWindow),
		obBuf: make([]byte, encPairWindow*PairSize),
	}
}

var encoderPool = sync.Pool{New: func() any { return NewEncoder() }}

// Encode writes the response for one blob to w using a pooled Encoder; see
// (*Encoder).Encode.
func Encode(w io.Writer, data io.ReaderAt, size uint64, outboard io.ReaderAt, ranges ChunkRanges) error {
	e := encoderPool.Get().(*Encoder)
	err := e.Encode(w, data, size, outboard, ranges)
	encoderPool.Put(e)
	return err
}

// Encode writes the response for one blob: the u64 little-endian size header,
// then the pre-order interleaving of parent pairs and data for the effective
// selection ranges.Truncate(size) (spec §6.2, §6.3). data holds the blob's
// size bytes; outboard its pre-order outboard (OutboardSize(size) bytes; may
// be nil if that is 0). Parent pairs inside a partially selected chunk group
// are recomputed from the data, so every touched group's data must be
// readable. For a partial blob, data and outboard may be shorter than size
// (ReadAt returning io.EOF) as long as they hold what the selection touches.
//
// Encode reads whole chunk groups of data straight into its output buffer
// (on Linux, for an *os.File, with one preadv per 1 MiB of output), other
// data and the outboard with ReadAt about 1 MiB at a time, all in
// increasing order, and writes w in about 1 MiB pieces; it does not
// allocate per chunk group. Like a provider, which skips blobs with an empty selection,
// it writes nothing at all when ranges is empty (and a Decoder reads
// nothing). Errors name the offset that failed.
func (e *Encoder) Encode(w io.Writer, data io.ReaderAt, size uint64, outboard io.ReaderAt, ranges ChunkRanges) error {
	if ranges.IsEmpty() {
		return nil
	}
	if size > math.MaxInt64 {
		return fmt.Errorf("bao: encode: size %d too large", size)
	}
	n := numChunks(size)
	e.w, e.data, e.ob, e.size, e.pairs = w, data, outboard, size, pairsIn(n)
	e.sel, e.err, e.hasWin, e.obCount = ranges.Truncate(size), nil, false, 0
	e.out = binary.LittleEndian.AppendUint64(e.out[:0], size)
	e.holes = e.holes[:0]
	e.visit(0, n, 0)
	if e.err == nil {
		e.flush()
	}
	err := e.err
	e.w, e.data, e.ob, e.sel, e.err = nil, nil, nil, ChunkRanges{}, nil
	e.out, e.holes = e.out[:0], e.holes[:0]
	return err
}

// hole is a whole chunk group of data that the output buffer has room for
// at out[pos:pos+n]: it is read straight from the data at flush time, so
// the bulk of a response is copied once, from the data into the output
// (with a vectored read where the platform has one), not twice.
type hole struct {
	pos int
	off uint64
	n   int
}

// emitData reserves room in the output for the n data bytes at blob offset
// off, which are read in before the next flush.
func (e *Encoder) emitData(off uint64, n int) {
	if len(e.out)+n > cap(e.out) {
		e.flush()
		if e.err != nil {
			return
		}
	}
	e.holes = append(e.holes, hole{pos: len(e.out), off: off, n: n})
	e.out = e.out[:len(e.out)+n]
}

// fillHoles reads the reserved data: one vectored read per run of holes
// that is contiguous in the data.
func (e *Encoder) fillHoles() {
	for i := 0; i < len(e.holes) && e.err == nil; {
		j := i + 1
		end := e.holes[i].off + uint64(e.holes[i].n)
		for j < len(e.holes) && e.holes[j].off == end {
			end += uint64(e.holes[j].n)
			j++
		}
		e.iov = e.iov[:0]
		for _, h := range e.holes[i:j] {
			e.iov = append(e.iov, e.out[h.pos:h.pos+h.n])
		}
		// A vectored read fills what it can; the rest (also after a short
		// read) goes through ReadAt, which reports the failing offset.
		k := readVec(e.data, e.iov, int64(e.holes[i].off))
		for _, h := range e.holes[i:j] {
			if k >= h.n {
				k -= h.n
				continue
			}
			buf, off := e.out[h.pos+k:h.pos+h.n], h.off+uint64(k)
			k = 0
			if m, err := e.data.ReadAt(buf, int64(off)); m < len(buf) {
				if err == nil || errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				e.err = fmt.Errorf("bao: encode: read data at offset %d: %w", off+uint64(m), err)
				break
			}
		}
		i = j
	}
	e.holes = e.holes[:0]
}

func (e *Encoder) flush() {
	if len(e.holes) > 0 && e.err == nil {
		e.fillHoles()
	}
	if e.err != nil || len(e.out) == 0 {
		return
	}
	if _, err := e.w.Write(e.out); err != nil {
		e.err = fmt.Errorf("bao: encode: write: %w", err)
	}
	e.out = e.out[:0]
}

// emit appends p to the output, flushing first if it does not fit.
func (e *Encoder) emit(p []byte) {
	if len(e.out)+len(p) > cap(e.out) {
		e.flush()
		if e.err != nil {
			return
		}
	}
	e.out = append(e.out, p...)
}

// visit walks the node covering chunks [s, s+m) whose outboard pair (if m >
// one group) has index idx.
func (e *Encoder) visit(s, m, idx uint64) {
	if e.err != nil || !e.sel.IntersectsRange(s, s+m) {
		return
	}
	if m <= GroupChunks {
		if e.sel.ContainsRange(s, s+m) {
			off := s * ChunkSize
			e.emitData(off, int(byteEnd(s+m, e.size)-off))
			return
		}
		// Partial group: make the whole group resident, then descend.
		if e.bytes(s, s+m) == nil {
			return
		}
		e.visitGroup(s, m)
		return
	}
	p := e.pair(idx)
	if p == nil {
		return
	}
	e.emit(p)
	l := leftChunks(m)
	e.visit(s, l, idx+1)
	e.visit(s+l, m-l, idx+1+pairsIn(l))
}

// visitGroup walks a node inside a chunk group whose data is resident.
func (e *Encoder) visitGroup(s, m uint64) {
	if e.err != nil || !e.sel.IntersectsRange(s, s+m) {
		return
	}
	if e.sel.ContainsRange(s, s+m) {
		e.emit(e.bytes(s, s+m))
		return
	}
	l := leftChunks(m)
	lcv := dataCV(&e.scratch, e.bytes(s, s+l), s, false)
	rcv := dataCV(&e.scratch, e.bytes(s+l, s+m), s+l, false)
	var pair [PairSize]byte
	wordsToBytes(pair[:32], &lcv)
	wordsToBytes(pair[32:], &rcv)
	e.emit(pair[:])
	e.visitGroup(s, l)
	e.visitGroup(s+l, m-l)
}

// bytes returns the blob data of chunks [s, e) (clipped to the size) from the
// data window, refilling it when needed. It returns nil after an error.
func (e *Encoder) bytes(s, end uint64) []byte {
	if e.err != nil {
		return nil
	}
	from := s * ChunkSize
	to := byteEnd(end, e.size)
	if from >= to {
		return e.win[:0]
	}
	if !e.hasWin || from < e.winOff || to > e.winOff+uint64(e.winLen) {
		// Start the window at the group boundary so a partial group's later
		// (backward) accesses stay inside it.
		// Only the bytes up to the end of this group are required: a
		// partial blob's data may end right after the selected part.
		start := from &^ (GroupSize - 1)
		ln := int(min(uint64(len(e.win)), e.size-start))
		need := int(min(start+GroupSize, e.size) - start)
		k, err := e.data.ReadAt(e.win[:ln], int64(start))
		if k < need {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			e.err = fmt.Errorf("bao: encode: read data at offset %d: %w", start+uint64(k), err)
			return nil
		}
		e.winOff, e.winLen, e.hasWin = start, k, true
	}
	return e.win[from-e.winOff : to-e.winOff]
}

// pair returns outboard pair idx from the outboard window.
func (e *Encoder) pair(idx uint64) []byte {
	if idx >= e.pairs {
		e.err = fmt.Errorf("bao: encode: outboard pair %d beyond the %d pairs of size %d", idx, e.pairs, e.size)
		return nil
	}
	if e.obCount == 0 || idx < e.obFirst || idx >= e.obFirst+e.obCount {
		if e.ob == nil {
			e.err = fmt.Errorf("bao: encode: no outboard for size %d", e.size)
			return nil
		}
		cnt := min(uint64(encPairWindow), e.pairs-idx)
		ln := int(cnt * PairSize)
		k, err := e.ob.ReadAt(e.obBuf[:ln], int64(idx*PairSize))
		if k < PairSize {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			e.err = fmt.Errorf("bao: encode: read outboard at offset %d: %w", idx*PairSize+uint64(k), err)
			return nil
		}
		// A partial blob's outboard may be shorter: keep the pairs read.
		e.obFirst, e.obCount = idx, uint64(k/PairSize)
	}
	o := (idx - e.obFirst) * PairSize
	return e.obBuf[o : o+PairSize]
}

// EncodedLen returns the number of bytes Encode writes for a blob of size
// bytes and the given ranges, including the 8-byte header (0 for empty
// ranges).
func EncodedLen(size uint64, ranges ChunkRanges) uint64 {
	if ranges.IsEmpty() {
		return 0
	}
	sel := ranges.Truncate(size)
	return HeaderSize + encodedLen(sel, size, 0, numChunks(size))
}

func encodedLen(sel ChunkRanges, size, s, m uint64) uint64 {
	if !sel.IntersectsRange(s, s+m) {
		return 0
	}
	if sel.ContainsRange(s, s+m) {
		if m <= GroupChunks {
			return byteEnd(s+m, size) - s*ChunkSize
		}
		return pairsIn(m)*PairSize + byteEnd(s+m, size) - s*ChunkSize
	}
	l := leftChunks(m)
	return PairSize + encodedLen(sel, size, s, l) + encodedLen(sel, size, s+l, m-l)
}
