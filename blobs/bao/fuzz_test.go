package bao

import (
	"bytes"
	"io"
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

// fuzzBlob is the blob whose hash the decoder fuzz target verifies against:
// 3 chunk groups, so parents above and inside groups are exercised.
var fuzzBlob = pattern(40960)

// FuzzDecoder feeds arbitrary streams (input = RangeSpec || stream) to the
// Decoder: it must not panic, must terminate, and may only ever yield the
// real blob's bytes.
func FuzzDecoder(f *testing.F) {
	for _, r := range []ChunkRanges{All(), LastChunk(), Range(3, 5), Range(15, 18).Union(From(39)), Range(0, 1)} {
		resp := encodeBlob(f, fuzzBlob, r)
		f.Add(append(r.AppendRangeSpec(nil), resp...))
		bad := bytes.Clone(resp)
		bad[len(bad)/2] ^= 0x40
		f.Add(append(r.AppendRangeSpec(nil), bad...))
	}
	f.Add(append(All().AppendRangeSpec(nil), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))
	root := Sum(fuzzBlob)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := ParseRangeSpec(b)
		if err != nil {
			return
		}
		d := NewDecoder(bytes.NewReader(b[n:]), root, r)
		for steps := 0; ; steps++ {
			if steps > len(b)+2 {
				t.Fatalf("no progress after %d steps", steps)
			}
			it, err := d.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				return
			}
			if it.Kind == ItemLeaf {
				if it.Offset+it.Len > uint64(len(fuzzBlob)) || !bytes.Equal(it.Data, fuzzBlob[it.Offset:it.Offset+it.Len]) {
					t.Fatalf("forged leaf at %d (%d bytes)", it.Offset, it.Len)
				}
			}
		}
	})
}

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
