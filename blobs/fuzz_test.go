package blobs_test

import (
	"bytes"
	"context"
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

// FuzzResponse feeds arbitrary bytes to the downloader's response decoding
// for a real blob (mode 0) or a collection get-all (mode 1): it must never
// panic, and whatever it stores as complete must be the true content.
func FuzzResponse(f *testing.F) {
	v := loadVectors(f)
	for _, c := range v.BlobTransfers {
		if c.Blob == "16KiB+1" && c.ResponseHex != "" {
			r := unhex(f, c.ResponseHex)
			f.Add(byte(0), r)
			bad := bytes.Clone(r)
			bad[len(bad)/2] ^= 1
			f.Add(byte(0), bad)
			f.Add(byte(0), r[:len(r)/3])
		}
	}
	f.Add(byte(1), unhex(f, v.Collection.GetAllResponseHex))
	data := vectorData(f, "pattern(16385)")
	blobHash := blobs.ComputeHash(data)
	truth := map[blobs.Hash][]byte{blobHash: data}
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
	f.Fuzz(func(t *testing.T, mode byte, resp []byte) {
		s := mem.New()
		var req *blobs.GetRequest
		var hashes []blobs.Hash
		if mode%2 == 0 {
			req, hashes = blobs.NewGetBlob(blobHash), []blobs.Hash{blobHash}
		} else {
			req = blobs.NewGetAll(seq.Hash())
			hashes = append([]blobs.Hash{seq.Hash()}, seq...)
		}
		_ = blobs.ReceiveResponseForTest(s, req, hashes, bytes.NewReader(resp))
		infos, _ := s.List(context.Background())
		for _, bi := range infos {
			if !bi.Complete {
				continue
			}
			r, err := s.OpenReader(context.Background(), bi.Hash)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, r.Size())
			r.Data().ReadAt(b, 0)
			if !bytes.Equal(b, truth[bi.Hash]) {
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
	data := vectorData(f, "pattern(40000)")
	tt, _ := s.AddBytes(ctx, data)
	defer tt.Close()
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
	good := blobs.NewGetBlob(tt.Hash()).AppendBinary(nil)
	exchange := func(req []byte) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		st, err := conn.OpenStream(ctx)
		if err != nil {
			return nil, err
		}
		d := 5 * time.Second
		if len(req) > 0 && req[0] == byte(blobs.RequestObserve) {
			d = 300 * time.Millisecond
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
		if err != nil || uint64(len(b)) != bao.EncodedLen(uint64(len(data)), bao.All()) {
			t.Fatalf("after %x: good request got %d bytes, %v", req, len(b), err)
		}
	})
}
