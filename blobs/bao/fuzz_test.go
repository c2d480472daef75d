package bao

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// rangeSeeds are encoder outputs and spec vectors for the range parsers.
func rangeSeeds(tb testing.TB) [][]byte {
	var out [][]byte
	for _, r := range []ChunkRanges{Empty(), All(), From(64), From(10000), Range(0, 64), Range(1, 3).Union(Range(9, 13)), LastChunk()} {
		out = append(out, r.AppendRangeSpec(nil))
	}
	for _, h := range []string{"00", "0100", "0140", "01904e", "020040", "0401020604", "01ffffffffffffffffff01", "03050000", "02ffffffffffffffffff0101"} {
		out = append(out, unhex(tb, h))
	}
	return out
}

func FuzzParseRangeSpec(f *testing.F) {
	for _, s := range rangeSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := ParseRangeSpec(b)
		if err != nil {
			return
		}
		if n > len(b) || len(r.b) > len(b) {
			t.Fatalf("consumed %d of %d, %d boundaries", n, len(b), len(r.b))
		}
		canonical(t, r)
		enc := r.AppendRangeSpec(nil)
		r2, n2, err := ParseRangeSpec(enc)
		if err != nil || n2 != len(enc) || !r2.Equal(r) || len(enc) != r.RangeSpecLen() {
			t.Fatalf("round trip %v: %v %v", r, r2, err)
		}
	})
}

func FuzzParseBoundaries(f *testing.F) {
	for _, r := range []ChunkRanges{Empty(), All(), Range(0, 2), Range(1, 3).Union(From(9)), LastChunk()} {
		f.Add(r.AppendBoundaries(nil))
	}
	f.Add(unhex(f, "020505"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := ParseBoundaries(b)
		if err != nil {
			return
		}
		if n > len(b) || len(r.b) > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		canonical(t, r)
		// Overlong varints are accepted (as postcard does), so compare values.
		enc := r.AppendBoundaries(nil)
		r2, n2, err := ParseBoundaries(enc)
		if err != nil || n2 != len(enc) || !r2.Equal(r) {
			t.Fatalf("round trip %v: %v %v", r, r2, err)
		}
	})
}

func FuzzParseChunkRangesSeq(f *testing.F) {
	for _, s := range []ChunkRangesSeq{{}, SeqAll(), SeqBlob(All()), SeqBlob(LastChunk()),
		SeqFromRanges([]ChunkRanges{Range(1, 3), Range(7, 13)}),
		SeqFromRangesInfinite([]ChunkRanges{{}, {}, {}, From(7), All()})} {
		f.Add(s.Append(nil))
	}
	for _, h := range []string{"00", "01000100", "0300020102010207060100", "02030107010100", "04000100000101010101010100"} {
		f.Add(unhex(f, h))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, n, err := ParseChunkRangesSeq(b)
		if err != nil {
			return
		}
		if n > len(b) || len(s.e) > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		for i, x := range s.e {
			canonical(t, x.Ranges)
			if i > 0 && (x.Offset <= s.e[i-1].Offset || x.Ranges.Equal(s.e[i-1].Ranges)) {
				t.Fatalf("not canonical: %v", s)
			}
		}
		enc := s.Append(nil)
		s2, n2, err := ParseChunkRangesSeq(enc)
		if err != nil || n2 != len(enc) || s2.String() != s.String() || len(enc) != s.EncodedLen() {
			t.Fatalf("round trip %v: %v %v", s, s2, err)
		}
	})
}

// FuzzDecoder drives the Decoder with corrupted encodings of small blobs:
// the input picks the blob size (up to 3 chunk groups plus a bit, so
// parents above and inside groups are exercised), the requested ranges,
// and byte flips and a truncation of the honest response. The decoder must
// not panic, must terminate, and may only ever yield the real blob's
// bytes. Inputs stay small, so the fuzzer runs thousands of cases a second
// (a fixed 40 KiB stream in the corpus made it crawl).
func FuzzDecoder(f *testing.F) {
	for _, r := range []ChunkRanges{All(), LastChunk(), Range(3, 5), Range(15, 18).Union(From(39)), Range(0, 1)} {
		f.Add(uint16(40960), r.AppendRangeSpec(nil), []byte{}, uint16(0))
		f.Add(uint16(40960), r.AppendRangeSpec(nil), []byte{0x10, 0x00, 0x40}, uint16(0))
		f.Add(uint16(16385), r.AppendRangeSpec(nil), []byte{}, uint16(100))
	}
	f.Add(uint16(0), All().AppendRangeSpec(nil), []byte{0x00, 0x00, 0xff}, uint16(0))
	f.Add(uint16(1025), []byte{0xff}, []byte{}, uint16(9))
	f.Fuzz(func(t *testing.T, size uint16, spec, flips []byte, cut uint16) {
		blob := fuzzPattern[:int(size)%len(fuzzPattern)]
		r, _, err := ParseRangeSpec(spec)
		if err != nil {
			r = All()
		}
		resp := encodeBlob(t, blob, r)
		for i := 0; i+2 < len(flips); i += 3 {
			if len(resp) > 0 {
				resp[int(binary.BigEndian.Uint16(flips[i:]))%len(resp)] ^= flips[i+2]
			}
		}
		if cut > 0 && int(cut) < len(resp) {
			resp = resp[:len(resp)-int(cut)]
		}
		d := NewDecoder(bytes.NewReader(resp), Sum(blob), r)
		for steps := 0; ; steps++ {
			if steps > len(resp)+4 {
				t.Fatalf("no progress after %d steps", steps)
			}
			it, err := d.Next()
			if err != nil {
				return
			}
			if it.Kind == ItemLeaf {
				if it.Offset+it.Len > uint64(len(blob)) || !bytes.Equal(it.Data, blob[it.Offset:it.Offset+it.Len]) {
					t.Fatalf("forged leaf at %d (%d bytes)", it.Offset, it.Len)
				}
			}
		}
	})
}

// fuzzPattern holds FuzzDecoder's blobs (the blob of size n is its first n
// bytes, pattern(n)), made once: making it per execution took a third of
// the fuzzer's time.
var fuzzPattern = pattern(3*16384 + 1025)

// fuzzBlob is a blob of 3 chunk groups for the allocation tests.
var fuzzBlob = pattern(40960)

// TestDecodeGarbageAllocs: what the decoder allocates does not depend on the
// size header or the stream, only on the requested ranges.
func TestDecodeGarbageAllocs(t *testing.T) {
	stream := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, make([]byte, 4096)...)
	root := Sum(fuzzBlob)
	d := NewDecoder(nil, root, All())
	r := bytes.NewReader(stream)
	a := testing.AllocsPerRun(20, func() {
		r.Reset(stream)
		d.Reset(r, root, All())
		for {
			if _, err := d.Next(); err != nil {
				break
			}
		}
	})
	if a > 6 {
		t.Fatalf("%v allocations decoding garbage with a 2^63 size header", a)
	}
}

// FuzzRoundTrip encodes arbitrary data (input = RangeSpec || flip position
// u16 || data) for the given ranges, checks the decoder accepts it and yields
// exactly the selection, and that flipping one byte is detected.
func FuzzRoundTrip(f *testing.F) {
	for _, r := range []ChunkRanges{All(), LastChunk(), Range(3, 5), Range(15, 18).Union(From(39)), Empty()} {
		f.Add(append(r.AppendRangeSpec(nil), 0x12, 0x34), uint16(0x1234))
	}
	f.Fuzz(func(t *testing.T, b []byte, flip uint16) {
		r, n, err := ParseRangeSpec(b)
		if err != nil {
			return
		}
		data := bytes.Repeat(b[n:], 1+int(flip%40))
		resp := encodeBlob(t, data, r)
		checkDecode(t, resp, data, Sum(data), r)
		if len(resp) <= HeaderSize {
			return
		}
		bad := bytes.Clone(resp)
		bad[HeaderSize+int(flip)%(len(resp)-HeaderSize)] ^= 0x80
		_, err = Decode(bytes.NewReader(bad), Sum(data), r, make(sliceWriterAt, len(data)), nil)
		if err == nil {
			t.Fatalf("flip accepted")
		}
	})
}
