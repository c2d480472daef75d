package blobs_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/iroh-go/iroh"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/blobs/store/mem"
)

func requestSeeds(t testing.TB) [][]byte {
	v := loadVectors(t)
	var out [][]byte
	add := func(h string) { out = append(out, unhex(t, h)) }
	for _, e := range v.BlobRequests.Examples {
		add(e.Hex)
	}
	for _, e := range v.BlobRequests.V0103 {
		add(e.Hex)
	}
	for _, c := range v.BlobTransfers {
		add(c.RequestHex)
	}
	add(v.Collection.GetAllRequestHex)
	var h blobs.Hash
	out = append(out,
		(&blobs.GetManyRequest{Hashes: []blobs.Hash{h, blobs.EmptyHash}, Ranges: bao.SeqFromRanges([]bao.ChunkRanges{bao.All(), bao.LastChunk()})}).AppendBinary(nil),
		(&blobs.ObserveRequest{Hash: h, Ranges: bao.Range(3, 9)}).AppendBinary(nil),
		(&blobs.PushRequest{GetRequest: *blobs.NewGetAll(h)}).AppendBinary(nil),
		[]byte{}, []byte{2}, []byte{9, 0xff, 0xff, 0xff, 0xff, 0x0f}, []byte{8, 0x80},
	)
	return out
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range requestSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := blobs.ParseRequest(b)
		if err != nil {
			return
		}
		if n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		enc := r.AppendBinary(nil)
		r2, n2, err := blobs.ParseRequest(enc)
		if err != nil || n2 != len(enc) {
			t.Fatalf("re-parse of %x: %d %v", enc, n2, err)
		}
		if enc2 := r2.AppendBinary(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip %x -> %x", enc, enc2)
		}
	})
}

func FuzzParseBlobTicket(f *testing.F) {
	for _, c := range loadVectors(f).BlobTickets {
		f.Add(unhex(f, c.TicketBytes))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, n, err := blobs.ParseBlobTicketBinary(b)
		if err != nil {
			return
		}
		enc := tk.AppendBinary(nil)
		tk2, n2, err := blobs.ParseBlobTicketBinary(enc)
		if err != nil || n2 != len(enc) || tk2.Hash != tk.Hash || tk2.Format != tk.Format || tk2.Addr.ID != tk.Addr.ID {
			t.Fatalf("round trip of %x (n=%d): %x %v", b, n, enc, err)
		}
		if s := tk.String(); s != tk2.String() {
			t.Fatal("text form differs")
		}
	})
}

func FuzzCollectionMeta(f *testing.F) {
	f.Add(unhex(f, loadVectors(f).Collection.MetaBlobHex))
	f.Add(blobs.Collection{}.MetaBlob())
	f.Fuzz(func(t *testing.T, b []byte) {
		// A few names exercise the parser as well as many: parsing at most
		// 256 bytes keeps the fuzzer from growing inputs of many KB, each
		// of which took up to a minute to minimize (375 execs/s over a
		// CPU-minute).
		b = b[:min(len(b), 256)]
		names, err := blobs.ParseCollectionMeta(b)
		if err != nil {
			return
		}
		c := make(blobs.Collection, len(names))
		for i, n := range names {
			c[i].Name = n
		}
		names2, err := blobs.ParseCollectionMeta(c.MetaBlob())
		if err != nil || len(names2) != len(names) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzObserveFrame(f *testing.F) {
	f.Add(unhex(f, "058108020002"))
	f.Add(blobs.ObserveItem{Size: 1 << 40, Ranges: bao.LastChunk()}.AppendFrame(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, _, err := blobs.ParseObserveFrame(b)
		if err != nil {
			return
		}
		enc := it.AppendFrame(nil)
		it2, n, err := blobs.ParseObserveFrame(enc)
		if err != nil || n != len(enc) || it2.Size != it.Size || !it2.Ranges.Equal(it.Ranges) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseBitfield(f *testing.F) {
	f.Add(blobs.NewCompleteBitfield(12345).AppendBinary(nil))
	f.Add(blobs.Bitfield{Size: 1 << 30, Known: true}.Add(3, 70).Add(100, 200).AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		bf, _, err := blobs.ParseBitfield(b)
		if err != nil {
			return
		}
		enc := bf.AppendBinary(nil)
		bf2, n, err := blobs.ParseBitfield(enc)
		if err != nil || n != len(enc) || !bytes.Equal(bf2.AppendBinary(nil), enc) {
			t.Fatalf("round trip: %v", err)
		}
		_ = bf.ChunkRanges()
		_ = bf.Missing()
	})
}

// fuzzBlobMax bounds the blobs FuzzResponse makes: one chunk group and a bit
// (16 KiB + 1 KiB + 1), so parents inside and above a group both occur.
const fuzzBlobMax = 16384 + 1025

// fuzzPattern holds the bytes of every blob FuzzResponse makes: the blob of
// size n is its first n bytes, the "pattern(n)" of the spec vectors.
var fuzzPattern = func() []byte {
	b := make([]byte, fuzzBlobMax)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

// fuzzRanges are the ranges FuzzResponse asks for, picked by the input.
var fuzzRanges = []bao.ChunkRanges{bao.All(), bao.LastChunk(), bao.Range(1, 3), bao.Range(0, 1).Union(bao.From(12))}

// FuzzResponse feeds damaged responses to the downloader's decoding into a
// real (memory) store: it must never panic, and whatever it stores as
// complete must be the true content. Everything is sized from the input, so
// inputs stay small and the fuzzer runs thousands of cases a second (a fixed
// 16 KiB response in the corpus made it crawl: each new input took up to a
// minute to minimize). Bit 0 of mode picks a blob of size bytes (modulo
// fuzzBlobMax) or the spec's collection get-all; bits 1-2 the ranges asked
// for (blob only); with bit 3 the response is flips itself instead of the
// honest response. Otherwise each 3 bytes of flips are a big-endian position
// and an XOR mask applied to the honest response, and cut bytes are cut off
// its end.
func FuzzResponse(f *testing.F) {
	v := loadVectors(f)
	collResp := unhex(f, v.Collection.GetAllResponseHex)
	truth := map[blobs.Hash][]byte{}
	var coll blobs.Collection
	for _, it := range v.Collection.Items {
		d := vectorData(f, it.Data)
		h := blobs.ComputeHash(d)
		truth[h] = d
		coll = append(coll, blobs.CollectionEntry{Name: it.Name, Hash: h})
	}
	meta := coll.MetaBlob()
	truth[blobs.ComputeHash(meta)] = meta
	seq := coll.HashSeq()
	truth[seq.Hash()] = seq.Bytes()
	collHashes := append([]blobs.Hash{seq.Hash()}, seq...)

	for _, size := range []uint16{0, 1, 1024, 1025, 3000, 16385, fuzzBlobMax - 1} {
		for mode := range byte(len(fuzzRanges)) {
			f.Add(mode<<1, size, []byte{}, uint16(0))
		}
		f.Add(byte(0), size, []byte{0x00, 0x10, 0x01}, uint16(0))
		f.Add(byte(0), size, []byte{}, uint16(100))
	}
	f.Add(byte(1), uint16(0), []byte{}, uint16(0))
	f.Add(byte(1), uint16(0), []byte{0x02, 0x00, 0x80}, uint16(0))
	f.Add(byte(1), uint16(0), []byte{}, uint16(len(collResp)/2))
	f.Add(byte(8), uint16(5000), []byte{0x88, 0x13, 0, 0, 0, 0, 0, 0}, uint16(0))
	f.Add(byte(9), uint16(0), collResp[:80], uint16(0))

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, mode byte, size uint16, flips []byte, cut uint16) {
		var (
			req    *blobs.GetRequest
			hashes []blobs.Hash
			resp   []byte
			blob   []byte
			blobH  blobs.Hash
		)
		if mode&1 == 0 {
			blob = fuzzPattern[:int(size)%fuzzBlobMax]
			var ob []byte
			blobH, ob = blobs.ComputeOutboard(blob)
			ranges := fuzzRanges[int(mode>>1)%len(fuzzRanges)]
			req, hashes = &blobs.GetRequest{Hash: blobH, Ranges: bao.SeqBlob(ranges)}, []blobs.Hash{blobH}
			if mode&8 == 0 {
				var buf bytes.Buffer
				if err := bao.Encode(&buf, bytes.NewReader(blob), uint64(len(blob)), bytes.NewReader(ob), ranges); err != nil {
					t.Fatal(err)
				}
				resp = buf.Bytes()
			}
		} else {
			req, hashes = blobs.NewGetAll(seq.Hash()), collHashes
			if mode&8 == 0 {
				resp = bytes.Clone(collResp)
			}
		}
		if mode&8 != 0 {
			resp = flips
		} else {
			for i := 0; i+2 < len(flips) && len(resp) > 0; i += 3 {
				resp[int(binary.BigEndian.Uint16(flips[i:]))%len(resp)] ^= flips[i+2]
			}
			if int(cut) < len(resp) {
				resp = resp[:len(resp)-int(cut)]
			}
		}

		s := mem.New()
		defer s.Close()
		_ = blobs.ReceiveResponseForTest(s, req, hashes, bytes.NewReader(resp))
		infos, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, bi := range infos {
			if !bi.Complete {
				continue
			}
			want, ok := truth[bi.Hash]
			if bi.Hash == blobH && blob != nil {
				want, ok = blob, true
			}
			if !ok {
				t.Fatalf("stored %s, which was not asked for", bi.Hash.ShortString())
			}
			r, err := s.OpenReader(ctx, bi.Hash)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, r.Size())
			r.Data().ReadAt(b, 0)
			r.Close()
			if !bytes.Equal(b, want) {
				t.Fatalf("stored %s differs from the truth (%s)", bi.Hash.ShortString(), hex.EncodeToString(b[:min(16, len(b))]))
			}
		}
	})
}

// FuzzProviderRequest sends arbitrary request bytes to a real provider over
// loopback: every input gets either a reset stream or a response, the
// provider never crashes, and a good request still works afterwards.
func FuzzProviderRequest(f *testing.F) {
	for _, s := range requestSeeds(f) {
		f.Add(s)
	}
	ctx := context.Background()
	s := mem.New()
	// Blobs stay small: every valid request for one is answered, and a
	// fixed 40 KB blob made each such execution (and each check after an
	// input) move 40 KB. This one is just over one chunk group.
	data := fuzzPattern[:fuzzBlobMax]
	tt, _ := s.AddBytes(ctx, data)
	defer tt.Close()
	small := fuzzPattern[:1500]
	tsm, _ := s.AddBytes(ctx, small)
	defer tsm.Close()
	seq := blobs.HashSeq{tt.Hash(), blobs.EmptyHash}
	s.AddBytes(ctx, nil)
	ts, _ := s.AddBytes(ctx, seq.Bytes())
	defer ts.Close()
	for _, h := range []blobs.Hash{tt.Hash(), ts.Hash()} {
		f.Add(blobs.NewGetAll(h).AppendBinary(nil))
		f.Add((&blobs.GetManyRequest{Hashes: []blobs.Hash{h, h}, Ranges: bao.SeqFromRangesInfinite([]bao.ChunkRanges{bao.Range(1, 5)})}).AppendBinary(nil))
	}
	p := startProvider(f, s, nil)
	ep := bind(f)
	conn, err := ep.Connect(ctx, p.addr(), blobs.ALPN)
	if err != nil {
		f.Fatal(err)
	}
	defer conn.Close(0, "")
	good := blobs.NewGetBlob(tsm.Hash()).AppendBinary(nil)
	exchange := func(req []byte) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := conn.OpenStream(ctx)
		if err != nil {
			return nil, err
		}
		d := 5 * time.Second
		if len(req) > 0 && req[0] == byte(blobs.RequestObserve) {
			d = 50 * time.Millisecond // a valid Observe never ends
		}
		st.SetDeadline(time.Now().Add(d))
		st.Write(req)
		st.Close()
		b, err := io.ReadAll(io.LimitReader(st, 1<<20))
		st.CancelRead(0)
		return b, err
	}
	f.Fuzz(func(t *testing.T, req []byte) {
		if _, err := exchange(req); err != nil {
			var se *iroh.StreamError
			var ne interface{ Timeout() bool }
			observe := len(req) > 0 && req[0] == byte(blobs.RequestObserve)
			if observe && errors.As(err, &ne) && ne.Timeout() {
				return // a valid Observe streams until the getter stops reading
			}
			if !errors.As(err, &se) {
				t.Fatalf("request %x: %v (want a response or a stream reset)", req, err)
			}
		}
		b, err := exchange(good)
		if err != nil || uint64(len(b)) != bao.EncodedLen(uint64(len(small)), bao.All()) {
			t.Fatalf("after %x: good request got %d bytes, %v", req, len(b), err)
		}
	})
}
