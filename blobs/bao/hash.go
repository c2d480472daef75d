package bao

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"sync"

	zeebo "github.com/zeebo/blake3"
	"lukechampine.com/blake3/guts"
)

// Sizes of the tree (spec §1, §7).
const (
	// ChunkSize is the BLAKE3 chunk size; ranges are counted in chunks.
	ChunkSize = 1024
	// ChunkLog is log2 of the chunks per chunk group (iroh's IROH_BLOCK_SIZE).
	ChunkLog = 4
	// GroupChunks is the number of chunks in a chunk group.
	GroupChunks = 1 << ChunkLog
	// GroupSize is the chunk group size in bytes: the unit of data that is
	// sent, verified and yielded without inner parent nodes.
	GroupSize = GroupChunks * ChunkSize
	// HashSize is the size of a BLAKE3 hash / chaining value.
	HashSize = 32
	// PairSize is the size of one parent node on the wire and in an
	// outboard: left CV || right CV.
	PairSize = 2 * HashSize
	// HeaderSize is the size of the u64 little-endian size header that
	// precedes every blob's encoding in a response.
	HeaderSize = 8
)

// EmptyHash is the BLAKE3 hash of the empty blob.
var EmptyHash = [32]byte{
	0xaf, 0x13, 0x49, 0xb9, 0xf5, 0xf9, 0xa1, 0xa6, 0xa0, 0x40, 0x4d, 0xea, 0x36, 0xdc, 0xc9, 0x49,
	0x9b, 0xcb, 0x25, 0xc9, 0xad, 0xc1, 0x12, 0xb7, 0xcc, 0x9a, 0x93, 0xca, 0xe4, 0x1f, 0x32, 0x62,
}

// Sum returns the BLAKE3 hash of data: the blob hash. It equals the root of
// ComputeOutboard and is computed with zeebo/blake3 (AVX2, one core).
func Sum(data []byte) [32]byte { return zeebo.Sum256(data) }

// HashReader returns the BLAKE3 hash of everything read from r until EOF and
// the number of bytes read.
func HashReader(r io.Reader) ([32]byte, int64, error) {
	h := zeebo.New()
	n, err := io.CopyBuffer(h, r, make([]byte, 256<<10))
	var out [32]byte
	if err != nil {
		return out, n, fmt.Errorf("bao: hash: %w", err)
	}
	h.Sum(out[:0])
	return out, n, nil
}

// OutboardSize returns the length in bytes of the pre-order outboard of a blob
// of size bytes: one PairSize pair per tree node covering more than one chunk
// group, (max(1, ceil(size/16384)) - 1) * 64. Blobs of at most 16 KiB have an
// empty outboard.
func OutboardSize(size uint64) uint64 { return pairsIn(numChunks(size)) * PairSize }

// groupsIn returns the number of chunk groups of a subtree of m chunks.
func groupsIn(m uint64) uint64 { return (m + GroupChunks - 1) / GroupChunks }

// pairsIn returns the number of outboard pairs of a subtree of m chunks.
func pairsIn(m uint64) uint64 { return max(groupsIn(m), 1) - 1 }

// leftChunks returns the chunk count of the left child of a node of m >= 2
// chunks: the largest power of two strictly below m.
func leftChunks(m uint64) uint64 { return 1 << (bits.Len64(m-1) - 1) }

// ---- chaining values ----

func wordsToBytes(dst []byte, cv *[8]uint32) {
	_ = dst[31]
	for i, w := range cv {
		binary.LittleEndian.PutUint32(dst[4*i:], w)
	}
}

func bytesToWords(b []byte) (cv [8]uint32) {
	_ = b[31]
	for i := range cv {
		cv[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return cv
}

// groupCV returns the chaining value of the subtree over buf[:n] (n <=
// GroupSize) whose first chunk has counter counter; with root it is the blob
// hash. buf must be a full GroupSize array: the SIMD code reads all of it.
func groupCV(buf *[GroupSize]byte, n int, counter uint64, root bool) [8]uint32 {
	node := guts.CompressBuffer(buf, n, &guts.IV, counter, 0)
	if root {
		node.Flags |= guts.FlagRoot
	}
	return guts.ChainingValue(node)
}

// parentCV returns the chaining value of a parent node.
func parentCV(l, r *[8]uint32, root bool) [8]uint32 {
	var flags uint32
	if root {
		flags = guts.FlagRoot
	}
	return guts.ChainingValue(guts.ParentNode(*l, *r, &guts.IV, flags))
}

// pairCV returns the chaining value of the parent whose 64-byte pair is p.
func pairCV(p []byte, root bool) [8]uint32 {
	l, r := bytesToWords(p[:32]), bytesToWords(p[32:64])
	return parentCV(&l, &r, root)
}

// dataCV returns the CV of the subtree over p (at most GroupSize bytes)
// starting at chunk counter, using scratch when p is not a full group.
func dataCV(scratch *[GroupSize]byte, p []byte, counter uint64, root bool) [8]uint32 {
	if len(p) == GroupSize {
		return groupCV((*[GroupSize]byte)(p), GroupSize, counter, root)
	}
	copy(scratch[:], p)
	return groupCV(scratch, len(p), counter, root)
}

// subtreeHasher computes CVs and pre-order outboard pairs of in-memory
// subtrees. Not safe for concurrent use; one per worker.
type subtreeHasher struct {
	scratch [GroupSize]byte
}

// subtree hashes p, the data of the subtree starting at chunk start, writing
// the pre-order pairs of its nodes above the group level into ob (exactly
// pairsIn(chunks) * 64 bytes), and returns its CV.
func (h *subtreeHasher) subtree(p []byte, start uint64, root bool, ob []byte) [8]uint32 {
	m := numChunks(uint64(len(p)))
	if m <= GroupChunks {
		return dataCV(&h.scratch, p, start, root)
	}
	l := leftChunks(m)
	lb := l * ChunkSize
	lp := pairsIn(l) * PairSize
	lcv := h.subtree(p[:lb], start, false, ob[PairSize:PairSize+lp])
	rcv := h.subtree(p[lb:], start+l, false, ob[PairSize+lp:])
	wordsToBytes(ob[:32], &lcv)
	wordsToBytes(ob[32:64], &rcv)
	return parentCV(&lcv, &rcv, root)
}

// ---- outboard computation ----

// taskChunks is the subtree size hashed by one worker step: 1 MiB, 64 groups.
const taskChunks = 1024

const taskBytes = taskChunks * ChunkSize

// OutboardBytes returns the hash and the pre-order outboard of data held in
// memory, using all cores (GOMAXPROCS) for large inputs.
func OutboardBytes(data []byte) ([32]byte, []byte) {
	ob := make([]byte, OutboardSize(uint64(len(data))))
	w := sliceWriterAt(ob)
	root, err := computeOutboard(context.Background(), uint64(len(data)), w, 0, func(k uint64, n int, _ []byte) ([]byte, error) {
		off := k * taskBytes
		return data[off : off+uint64(n)], nil
	}, false)
	if err != nil {
		panic("bao: in-memory outboard: " + err.Error()) // cannot happen: no I/O
	}
	return root, ob
}

// ComputeOutboard reads the size bytes of a blob from data (ReadAt, 1 MiB at
// a time, sequentially) and writes its pre-order outboard (OutboardSize(size)
// bytes, spec §7.1) to ob, returning the blob hash. It uses up to workers
// goroutines (0 means GOMAXPROCS), each hashing 1 MiB subtrees, so a large
// file is hashed on all cores; memory use is about (workers+2) MiB plus 40
// bytes per MiB of blob.
//
// ob.WriteAt is called concurrently from several goroutines at disjoint
// offsets (an *os.File is fine). ComputeOutboard returns ctx.Err() promptly
// after ctx is cancelled; it never returns before its goroutines have ended.
func ComputeOutboard(ctx context.Context, data io.ReaderAt, size uint64, ob io.WriterAt, workers int) ([32]byte, error) {
	return computeOutboard(ctx, size, ob, workers, func(k uint64, n int, buf []byte) ([]byte, error) {
		off := int64(k * taskBytes)
		m, err := data.ReadAt(buf[:n], off)
		if m == n {
			return buf[:n], nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("bao: outboard: read data at offset %d: %w", off+int64(m), err)
	}, true)
}

// OutboardFromReader is ComputeOutboard for a sequential reader: it reads
// exactly size bytes from r (a short read is an error) and does not read
// beyond them.
func OutboardFromReader(ctx context.Context, r io.Reader, size uint64, ob io.WriterAt, workers int) ([32]byte, error) {
	return computeOutboard(ctx, size, ob, workers, func(k uint64, n int, buf []byte) ([]byte, error) {
		m, err := io.ReadFull(r, buf[:n])
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("bao: outboard: read data at offset %d: %w", k*taskBytes+uint64(m), err)
		}
		return buf[:n], nil
	}, true)
}

// sliceWriterAt is an io.WriterAt over a fixed byte slice.
type sliceWriterAt []byte

func (s sliceWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(s)) || int64(len(p)) > int64(len(s))-off {
		return 0, fmt.Errorf("bao: write of %d bytes at offset %d beyond %d", len(p), off, len(s))
	}
	return copy(s[off:], p), nil
}

// getTask returns the n bytes of task k, either by filling buf (when the
// source needs buffers) or as a slice of its own.
type getTask func(k uint64, n int, buf []byte) ([]byte, error)

func computeOutboard(ctx context.Context, size uint64, ob io.WriterAt, workers int, get getTask, needBuf bool) ([32]byte, error) {
	var root [32]byte
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	n := numChunks(size)
	var h subtreeHasher
	if n <= taskChunks {
		var buf []byte
		if needBuf {
			buf = make([]byte, size)
		}
		p, err := get(0, int(size), buf)
		if err != nil {
			return root, err
		}
		pairs := make([]byte, pairsIn(n)*PairSize)
		cv := h.subtree(p, 0, true, pairs)
		if len(pairs) > 0 {
			if _, err := ob.WriteAt(pairs, 0); err != nil {
				return root, fmt.Errorf("bao: outboard: write: %w", err)
			}
		}
		wordsToBytes(root[:], &cv)
		return root, nil
	}

	tasks := (n + taskChunks - 1) / taskChunks
	taskIdx := make([]uint64, tasks) // pre-order pair index of each task's subtree
	preorderTasks(0, n, 0, taskIdx)
	cvs := make([][8]uint32, tasks)

	type job struct {
		k   uint64
		buf []byte // what to hash
		own []byte // buffer to recycle (nil when the source owns the data)
	}
	jobs := make(chan job, workers)
	free := make(chan []byte, workers+1)
	if needBuf {
		for range workers + 1 {
			free <- make([]byte, taskBytes)
		}
	}
	failed := make(chan struct{})
	var failOnce sync.Once
	var failErr error
	fail := func(err error) {
		failOnce.Do(func() { failErr = err; close(failed) })
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h subtreeHasher
			pairs := make([]byte, pairsIn(taskChunks)*PairSize)
			for j := range jobs {
				m := numChunks(uint64(len(j.buf)))
				pp := pairs[:pairsIn(m)*PairSize]
				cvs[j.k] = h.subtree(j.buf, j.k*taskChunks, false, pp)
				if len(pp) > 0 {
					if _, err := ob.WriteAt(pp, int64(taskIdx[j.k]*PairSize)); err != nil {
						fail(fmt.Errorf("bao: outboard: write: %w", err))
					}
				}
				if j.own != nil {
					free <- j.own
				}
			}
		}()
	}

	produce := func() error {
		for k := uint64(0); k < tasks; k++ {
			var buf []byte
			if needBuf {
				select {
				case buf = <-free:
				case <-failed:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			} else if err := ctx.Err(); err != nil {
				return err
			}
			ln := int(min(taskBytes, size-k*taskBytes))
			p, err := get(k, ln, buf)
			if err != nil {
				return err
			}
			select {
			case jobs <- job{k: k, buf: p, own: buf}:
			case <-failed:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	perr := produce()
	close(jobs)
	wg.Wait()
	if perr != nil {
		return root, perr
	}
	select {
	case <-failed:
		return root, failErr
	default:
	}

	// The nodes above the tasks, from the task CVs.
	var upper func(s, m, idx uint64, isRoot bool) ([8]uint32, error)
	var pair [PairSize]byte
	upper = func(s, m, idx uint64, isRoot bool) ([8]uint32, error) {
		if m <= taskChunks {
			return cvs[s/taskChunks], nil
		}
		l := leftChunks(m)
		lcv, err := upper(s, l, idx+1, false)
		if err != nil {
			return lcv, err
		}
		rcv, err := upper(s+l, m-l, idx+1+pairsIn(l), false)
		if err != nil {
			return rcv, err
		}
		wordsToBytes(pair[:32], &lcv)
		wordsToBytes(pair[32:], &rcv)
		if _, err := ob.WriteAt(pair[:], int64(idx*PairSize)); err != nil {
			return lcv, fmt.Errorf("bao: outboard: write: %w", err)
		}
		return parentCV(&lcv, &rcv, isRoot), nil
	}
	cv, err := upper(0, n, 0, true)
	if err != nil {
		return root, err
	}
	wordsToBytes(root[:], &cv)
	return root, nil
}

// preorderTasks records the pre-order pair index of every task subtree below
// the node (s, m) whose own index is idx.
func preorderTasks(s, m, idx uint64, out []uint64) {
	if m <= taskChunks {
		out[s/taskChunks] = idx
		return
	}
	l := leftChunks(m)
	preorderTasks(s, l, idx+1, out)
	preorderTasks(s+l, m-l, idx+1+pairsIn(l), out)
}
