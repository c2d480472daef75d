package bao

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var codecSizes = []int{0, 1, 1023, 1024, 1025, 2048, 16383, 16384, 16385, 32768, 40960, 49153, 100000, 1 << 20, 1<<20 + 1, 2<<20 + 12345}

// randSel returns a random selection relevant for a blob of size bytes.
func randSel(rng *rand.Rand, size int) ChunkRanges {
	n := uint64(numChunks(uint64(size)))
	switch rng.IntN(6) {
	case 0:
		return All()
	case 1:
		return LastChunk()
	case 2:
		return From(rng.Uint64N(n + 3))
	}
	var r ChunkRanges
	for range 1 + rng.IntN(4) {
		s := rng.Uint64N(n + 2)
		r = r.Union(Range(s, s+1+rng.Uint64N(40)))
	}
	return r
}

func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range codecSizes {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		root := Sum(data)
		for range 12 {
			sel := randSel(rng, size)
			resp := encodeBlob(t, data, sel)
			checkDecode(t, resp, data, root, sel)
		}
	}
}

func TestDecodeTampered(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{1, 1025, 16384, 16385, 40960, 100000, 300000} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		root := Sum(data)
		for range 40 {
			sel := randSel(rng, size)
			resp := encodeBlob(t, data, sel)
			if len(resp) <= HeaderSize {
				continue
			}
			bad := bytes.Clone(resp)
			pos := HeaderSize + rng.IntN(len(resp)-HeaderSize)
			bad[pos] ^= 1 << rng.IntN(8)
			d := NewDecoder(bytes.NewReader(bad), root, sel)
			var err error
			for {
				var it Item
				it, err = d.Next()
				if err != nil {
					break
				}
				if it.Kind == ItemLeaf && !bytes.Equal(it.Data, data[it.Offset:it.Offset+it.Len]) {
					t.Fatalf("size %d: unverified leaf at %d yielded", size, it.Offset)
				}
			}
			var ve *VerifyError
			if !errors.Is(err, ErrHashMismatch) || !errors.As(err, &ve) {
				t.Fatalf("size %d sel %v flip at %d: err %v", size, sel, pos, err)
			}
			if _, err2 := d.Next(); err2 != err {
				t.Fatalf("error not sticky: %v", err2)
			}
		}
	}
}

func TestDecodeWrongSizeHeader(t *testing.T) {
	data := pattern(100000)
	root := Sum(data)
	for _, sel := range []ChunkRanges{All(), LastChunk(), From(50)} {
		resp := encodeBlob(t, data, sel)
		for _, size := range []uint64{99999, 100001, 90000, 1 << 40, 0} {
			bad := bytes.Clone(resp)
			binary.LittleEndian.PutUint64(bad, size)
			_, err := Decode(bytes.NewReader(bad), root, sel, make(sliceWriterAt, 100000), nil)
			if err == nil {
				t.Fatalf("sel %v: size %d accepted", sel, size)
			}
		}
	}
	// A selection not reaching the end does not prove the size.
	resp := encodeBlob(t, data, Range(0, 1))
	d := NewDecoder(bytes.NewReader(resp), root, Range(0, 1))
	for {
		if _, err := d.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if d.SizeVerified() {
		t.Fatal("size verified without the last chunk")
	}
}

func TestDecodeTruncated(t *testing.T) {
	data := pattern(70000)
	root := Sum(data)
	resp := encodeBlob(t, data, All())
	for _, n := range []int{0, 3, 8, 40, 72, 200, len(resp) - 1} {
		_, err := Decode(bytes.NewReader(resp[:n]), root, All(), make(sliceWriterAt, len(data)), nil)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("truncated at %d: %v", n, err)
		}
	}
	// Empty selection: nothing is read.
	if size, err := Decode(bytes.NewReader(nil), root, Empty(), nil, nil); err != nil || size != 0 {
		t.Fatalf("empty selection: %d %v", size, err)
	}
}

func TestDecodeBuildsOutboard(t *testing.T) {
	data := pattern(3<<20 + 777)
	root, ob := OutboardBytes(data)
	resp := encodeBlob(t, data, All())
	gotData := make(sliceWriterAt, len(data))
	gotOb := make(sliceWriterAt, len(ob))
	size, err := Decode(bytes.NewReader(resp), root, All(), gotData, gotOb)
	if err != nil || size != uint64(len(data)) || !bytes.Equal(gotData, data) || !bytes.Equal(gotOb, ob) {
		t.Fatalf("decode: %v", err)
	}
}

func TestComputeOutboardSources(t *testing.T) {
	for _, size := range []int{0, 5000, 1 << 20, 1<<20 + 1, 5<<20 + 3, 8 << 20} {
		data := pattern(size)
		root, ob := OutboardBytes(data)
		if root != Sum(data) {
			t.Fatalf("size %d: root", size)
		}
		for _, workers := range []int{0, 1, 3} {
			out := make(sliceWriterAt, len(ob))
			r, err := ComputeOutboard(t.Context(), bytes.NewReader(data), uint64(size), out, workers)
			if err != nil || r != root || !bytes.Equal(out, ob) {
				t.Fatalf("ComputeOutboard size %d workers %d: %v", size, workers, err)
			}
			out = make(sliceWriterAt, len(ob))
			rd := bytes.NewReader(append(bytes.Clone(data), "trailing"...))
			r, err = OutboardFromReader(t.Context(), rd, uint64(size), out, workers)
			if err != nil || r != root || !bytes.Equal(out, ob) || rd.Len() != len("trailing") {
				t.Fatalf("OutboardFromReader size %d workers %d: %v", size, workers, err)
			}
		}
	}
}

type failWriterAt struct{}

func (failWriterAt) WriteAt(p []byte, off int64) (int, error) { return 0, errors.New("disk full") }

func TestComputeOutboardErrors(t *testing.T) {
	data := pattern(6 << 20)
	if _, err := ComputeOutboard(t.Context(), bytes.NewReader(data[:3<<20]), uint64(len(data)), make(sliceWriterAt, OutboardSize(uint64(len(data)))), 2); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short data: %v", err)
	}
	if _, err := OutboardFromReader(t.Context(), bytes.NewReader(data[:100]), uint64(len(data)), make(sliceWriterAt, OutboardSize(uint64(len(data)))), 2); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short reader: %v", err)
	}
	if _, err := ComputeOutboard(t.Context(), bytes.NewReader(data), uint64(len(data)), failWriterAt{}, 2); err == nil {
		t.Fatal("write error ignored")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := ComputeOutboard(ctx, bytes.NewReader(data), uint64(len(data)), make(sliceWriterAt, OutboardSize(uint64(len(data)))), 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	data := pattern(100000)
	_, ob := OutboardBytes(data)
	var buf bytes.Buffer
	if err := Encode(&buf, bytes.NewReader(data[:50000]), uint64(len(data)), bytes.NewReader(ob), All()); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short data: %v", err)
	}
	if err := Encode(&buf, bytes.NewReader(data), uint64(len(data)), bytes.NewReader(ob[:64]), All()); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short outboard: %v", err)
	}
	if err := Encode(&buf, bytes.NewReader(data), uint64(len(data)), nil, All()); err == nil {
		t.Fatal("nil outboard accepted")
	}
	if err := Encode(errWriter{}, bytes.NewReader(data), uint64(len(data)), bytes.NewReader(ob), All()); err == nil {
		t.Fatal("write error ignored")
	}
}

type errWriter struct{}

func (errWriter) Write(p []byte) (int, error) { return 0, errors.New("stream reset") }

func TestAllocs(t *testing.T) {
	data := pattern(4 << 20)
	root, ob := OutboardBytes(data)
	resp := encodeBlob(t, data, All())
	e := NewEncoder()
	dr, obr := bytes.NewReader(data), bytes.NewReader(ob)
	// Per call: the truncated selection; nothing per chunk group.
	if a := testing.AllocsPerRun(5, func() {
		if err := e.Encode(io.Discard, dr, uint64(len(data)), obr, All()); err != nil {
			t.Fatal(err)
		}
	}); a > 8 {
		t.Fatalf("Encode: %v allocs per 4 MiB blob", a)
	}
	d := NewDecoder(nil, root, All())
	rr := bytes.NewReader(resp)
	if a := testing.AllocsPerRun(5, func() {
		rr.Reset(resp)
		d.Reset(rr, root, All())
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}); a > 8 {
		t.Fatalf("Decoder: %v allocs per 4 MiB blob", a)
	}
}

// partialReaderAt serves only the first n bytes, like a partial blob's file.
type partialReaderAt struct {
	b []byte
	n int
}

func (p partialReaderAt) ReadAt(b []byte, off int64) (int, error) {
	if off >= int64(p.n) {
		return 0, io.EOF
	}
	k := copy(b, p.b[off:p.n])
	if k < len(b) {
		return k, io.EOF
	}
	return k, nil
}

func TestEncodePartialBlob(t *testing.T) {
	// A provider holding only the first 6 chunk groups (and the outboard pairs
	// up to there) can serve ranges inside them. A partially selected group
	// needs the whole group's data for its inner parents.
	data := pattern(3 << 20)
	root, ob := OutboardBytes(data)
	have := 96 << 10
	for _, sel := range []ChunkRanges{Range(0, 96), Range(10, 20), Range(95, 96), Range(33, 34)} {
		var buf bytes.Buffer
		err := Encode(&buf, partialReaderAt{data, have}, uint64(len(data)), partialReaderAt{ob, 64 * 20}, sel)
		if err != nil {
			t.Fatalf("%v: %v", sel, err)
		}
		if !bytes.Equal(buf.Bytes(), encodeBlob(t, data, sel)) {
			t.Fatalf("%v: differs from the full encoding", sel)
		}
		checkDecode(t, buf.Bytes(), data, root, sel)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, partialReaderAt{data, have}, uint64(len(data)), bytes.NewReader(ob), Range(95, 97)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("range past the partial data: %v", err)
	}
}

func TestItemChunks(t *testing.T) {
	for _, c := range []struct {
		it   Item
		want ChunkRanges
	}{
		{Item{Kind: ItemLeaf, Offset: 0, Len: 0}, Range(0, 1)},
		{Item{Kind: ItemLeaf, Offset: 16384, Len: 16384}, Range(16, 32)},
		{Item{Kind: ItemLeaf, Offset: 1024 * 39, Len: 5}, Range(39, 40)},
		{Item{Kind: ItemParent, Offset: 0, Len: 40960}, Range(0, 40)},
	} {
		if got := c.it.Chunks(); !got.Equal(c.want) {
			t.Errorf("%+v: %v, want %v", c.it, got, c.want)
		}
	}
}

// TestDecodeHugeSize checks a forged tree for a 2^64-1 byte blob: anyone can
// build such a root from made-up CVs, so the decoder must walk it without
// overflow and verify the last chunk (a size proof for that size).
func TestDecodeHugeSize(t *testing.T) {
	const size = ^uint64(0)
	n := numChunks(size)
	last := make([]byte, size-(n-1)*ChunkSize)
	for i := range last {
		last[i] = byte(i)
	}
	// The path from the root to the last chunk always goes right.
	type node struct{ s, m uint64 }
	var path []node
	for s, m := uint64(0), n; m > 1; {
		path = append(path, node{s, m})
		l := leftChunks(m)
		s, m = s+l, m-l
	}
	var scratch [GroupSize]byte
	cv := dataCV(&scratch, last, n-1, false)
	pairs := make([][PairSize]byte, len(path))
	for i := len(path) - 1; i >= 0; i-- {
		var left [8]uint32
		left[0] = uint32(i) // made up
		wordsToBytes(pairs[i][:32], &left)
		wordsToBytes(pairs[i][32:], &cv)
		cv = parentCV(&left, &cv, i == 0)
	}
	var root [32]byte
	wordsToBytes(root[:], &cv)
	stream := binary.LittleEndian.AppendUint64(nil, size)
	for _, p := range pairs {
		stream = append(stream, p[:]...)
	}
	stream = append(stream, last...)
	d := NewDecoder(bytes.NewReader(stream), root, LastChunk())
	var leaves int
	for {
		it, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if it.Kind == ItemLeaf {
			leaves++
			if it.Offset != (n-1)*ChunkSize || !bytes.Equal(it.Data, last) {
				t.Fatalf("leaf at %d, %d bytes", it.Offset, it.Len)
			}
		}
	}
	if leaves != 1 || !d.SizeVerified() || len(path) != 54 {
		t.Fatalf("leaves %d, size verified %v, depth %d", leaves, d.SizeVerified(), len(path))
	}
	if got := EncodedLen(size, LastChunk()); got != uint64(len(stream)) {
		t.Fatalf("EncodedLen = %d, want %d", got, len(stream))
	}
}

type countWriter struct{ writes, bytes int }

func (c *countWriter) Write(p []byte) (int, error) { c.writes++; c.bytes += len(p); return len(p), nil }

func TestEncodeLargeWrites(t *testing.T) {
	data := pattern(8 << 20)
	_, ob := OutboardBytes(data)
	var w countWriter
	if err := Encode(&w, bytes.NewReader(data), uint64(len(data)), bytes.NewReader(ob), All()); err != nil {
		t.Fatal(err)
	}
	if w.writes > 9 || uint64(w.bytes) != EncodedLen(uint64(len(data)), All()) {
		t.Fatalf("%d writes for %d bytes", w.writes, w.bytes)
	}
}

// TestEncodeFromFile covers the vectored read from an *os.File: the same
// bytes as from memory for full and partial selections, and a clear error
// naming the offset when the file is shorter than the selection needs.
func TestEncodeFromFile(t *testing.T) {
	data := pattern(3<<20 + 5000)
	_, ob := OutboardBytes(data)
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, sel := range []ChunkRanges{All(), Range(0, 96), Range(10, 2000), From(100), Range(33, 34).Union(Range(1000, 1100))} {
		var buf bytes.Buffer
		if err := Encode(&buf, f, uint64(len(data)), bytes.NewReader(ob), sel); err != nil {
			t.Fatalf("%v: %v", sel, err)
		}
		if !bytes.Equal(buf.Bytes(), encodeBlob(t, data, sel)) {
			t.Fatalf("%v: differs from the encoding from memory", sel)
		}
	}
	if err := os.Truncate(path, 1<<20+100); err != nil {
		t.Fatal(err)
	}
	err = Encode(io.Discard, f, uint64(len(data)), bytes.NewReader(ob), All())
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "offset 1048676") {
		t.Fatalf("truncated file: %v", err)
	}
}
