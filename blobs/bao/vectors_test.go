package bao

import (
	"bytes"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/iroh-go/iroh/internal/postcard"
	"github.com/iroh-go/iroh/internal/testutil"
)

// protocolVectors is the part of shared/spec/vectors/protocols.json this
// package asserts.
type protocolVectors struct {
	PostcardVarint []struct {
		Value string `json:"value"`
		Hex   string `json:"hex"`
	} `json:"postcard_varint"`
	BlobHashes []struct {
		Name           string `json:"name"`
		Size           uint64 `json:"size"`
		Data           string `json:"data"`
		HashHex        string `json:"hash_hex"`
		OutboardPairs  *int   `json:"outboard_pairs"`
		OutboardBlake3 string `json:"outboard_blake3"`
	} `json:"blob_hashes"`
	OutboardExample struct {
		Data     string `json:"data"`
		Size     uint64 `json:"size"`
		RootHex  string `json:"root_hex"`
		Outboard string `json:"pre_order_outboard_hex"`
	} `json:"outboard_example"`
	BlobRequests struct {
		Examples []struct {
			Desc string `json:"desc"`
			Hex  string `json:"hex"`
		} `json:"examples"`
		RangeSpec []struct {
			Ranges string `json:"ranges"`
			Hex    string `json:"hex"`
		} `json:"range_spec"`
		RangeSpecSeq []struct {
			Seq string `json:"seq"`
			Hex string `json:"hex"`
		} `json:"range_spec_seq"`
		V0103Only []struct {
			Desc string `json:"desc"`
			Hex  string `json:"hex"`
		} `json:"v0_103_only"`
	} `json:"blob_requests"`
	BlobTransfers []struct {
		Desc           string `json:"desc"`
		Blob           string `json:"blob"`
		Size           uint64 `json:"size"`
		HashHex        string `json:"hash_hex"`
		RequestHex     string `json:"request_hex"`
		ResponseLen    int    `json:"response_len"`
		ResponseBlake3 string `json:"response_blake3"`
		ResponseHead   string `json:"response_head_hex"`
		ResponseHex    string `json:"response_hex"`
	} `json:"blob_transfers"`
	Collection struct {
		Items []struct {
			Name    string `json:"name"`
			Data    string `json:"data"`
			HashHex string `json:"hash_hex"`
		} `json:"items"`
		RootHashHex      string `json:"root_hash_hex"`
		HashSeqHex       string `json:"hash_seq_hex"`
		MetaBlobHex      string `json:"meta_blob_hex"`
		MetaHashHex      string `json:"meta_hash_hex"`
		GetAllRequest    string `json:"get_all_request_hex"`
		GetAllResponse   string `json:"get_all_response_hex"`
		GetChildRequest  string `json:"get_child_request_hex"`
		GetChildResponse string `json:"get_child_response_hex"`
	} `json:"collection"`
	RustGetter struct {
		RawDownload struct {
			HashHex    string `json:"hash_hex"`
			Data       string `json:"data"`
			RequestHex string `json:"request_hex"`
		} `json:"raw_download"`
	} `json:"rust_getter"`
}

func loadVectors(t testing.TB) *protocolVectors {
	t.Helper()
	var v protocolVectors
	testutil.LoadVectors(t, "protocols.json", &v)
	return &v
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// vectorData decodes the vectors' data descriptions: "pattern(n)" or "utf8:...".
func vectorData(t testing.TB, desc string) []byte {
	t.Helper()
	if s, ok := strings.CutPrefix(desc, "utf8:"); ok {
		return []byte(s)
	}
	if s, ok := strings.CutPrefix(desc, "pattern("); ok {
		n, err := strconv.Atoi(strings.TrimSuffix(s, ")"))
		if err != nil {
			t.Fatalf("bad data %q", desc)
		}
		return pattern(n)
	}
	t.Fatalf("unknown data description %q", desc)
	return nil
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func hash32(t testing.TB, s string) [32]byte {
	t.Helper()
	return [32]byte(unhex(t, s))
}

func TestVectorPostcardVarint(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.PostcardVarint {
		x, err := strconv.ParseUint(c.Value, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(postcard.AppendUvarint(nil, x)); got != c.Hex {
			t.Errorf("varint %d = %s, want %s", x, got, c.Hex)
		}
		if postcard.UvarintLen(x) != len(c.Hex)/2 {
			t.Errorf("uvarintLen(%d) = %d", x, postcard.UvarintLen(x))
		}
		y, n, err := readUvarint(unhex(t, c.Hex), 0)
		if err != nil || y != x || n != len(c.Hex)/2 {
			t.Errorf("readUvarint(%s) = %d, %d, %v", c.Hex, y, n, err)
		}
	}
}

func TestVectorBlobHashes(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.BlobHashes {
		t.Run(c.Name, func(t *testing.T) {
			data := vectorData(t, c.Data)
			want := hash32(t, c.HashHex)
			if got := Sum(data); got != want {
				t.Fatalf("Sum = %x, want %x", got, want)
			}
			root, ob := OutboardBytes(data)
			if root != want {
				t.Fatalf("OutboardBytes root = %x, want %x", root, want)
			}
			if c.OutboardPairs != nil {
				if len(ob) != *c.OutboardPairs*PairSize || OutboardSize(c.Size) != uint64(len(ob)) {
					t.Fatalf("outboard %d bytes, want %d pairs", len(ob), *c.OutboardPairs)
				}
				if got := Sum(ob); got != hash32(t, c.OutboardBlake3) {
					t.Fatalf("outboard blake3 = %x, want %s", got, c.OutboardBlake3)
				}
			}
			h, n, err := HashReader(bytes.NewReader(data))
			if err != nil || h != want || n != int64(len(data)) {
				t.Fatalf("HashReader = %x, %d, %v", h, n, err)
			}
		})
	}
}

func TestVectorOutboardExample(t *testing.T) {
	v := loadVectors(t).OutboardExample
	data := vectorData(t, v.Data)
	root, ob := OutboardBytes(data)
	if root != hash32(t, v.RootHex) {
		t.Fatalf("root %x", root)
	}
	if hex.EncodeToString(ob) != v.Outboard {
		t.Fatalf("outboard\n got %x\nwant %s", ob, v.Outboard)
	}
	// The file-based paths give the same bytes.
	for _, workers := range []int{1, 2} {
		out := make(sliceWriterAt, len(ob))
		r2, err := ComputeOutboard(t.Context(), bytes.NewReader(data), v.Size, out, workers)
		if err != nil || r2 != root || !bytes.Equal(out, ob) {
			t.Fatalf("ComputeOutboard(workers=%d) = %x, %v", workers, r2, err)
		}
	}
}

// rangesByDesc maps the vectors' range descriptions to sets.
var rangesByDesc = map[string]ChunkRanges{
	"empty":                   Empty(),
	"0..":                     All(),
	"64..":                    From(64),
	"10000..":                 From(10000),
	"..64":                    Range(0, 64),
	"1..3 | 9..13":            Range(1, 3).Union(Range(9, 13)),
	"u64::MAX.. (last chunk)": LastChunk(),
}

func TestVectorRangeSpec(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.BlobRequests.RangeSpec {
		r, ok := rangesByDesc[c.Ranges]
		if !ok {
			t.Fatalf("unmapped range vector %q", c.Ranges)
		}
		if got := hex.EncodeToString(r.AppendRangeSpec(nil)); got != c.Hex {
			t.Errorf("%s: encoded %s, want %s", c.Ranges, got, c.Hex)
		}
		if r.RangeSpecLen() != len(c.Hex)/2 {
			t.Errorf("%s: RangeSpecLen %d", c.Ranges, r.RangeSpecLen())
		}
		p, n, err := ParseRangeSpec(unhex(t, c.Hex))
		if err != nil || n != len(c.Hex)/2 || !p.Equal(r) {
			t.Errorf("%s: parsed %v, %d, %v", c.Ranges, p, n, err)
		}
	}
}

func TestVectorRangeSpecSeq(t *testing.T) {
	v := loadVectors(t)
	want := map[string]ChunkRangesSeq{
		"empty":                  {},
		"all forever [(0, 0..)]": SeqAll(),
		"blob 1..3 then child 7..13 then nothing": SeqFromRanges([]ChunkRanges{Range(1, 3), Range(7, 13)}),
		"three empty, then 7.., then all forever": SeqFromRangesInfinite([]ChunkRanges{{}, {}, {}, From(7), All()}),
	}
	for _, c := range v.BlobRequests.RangeSpecSeq {
		s, ok := want[c.Seq]
		if !ok {
			t.Fatalf("unmapped seq vector %q", c.Seq)
		}
		if got := hex.EncodeToString(s.Append(nil)); got != c.Hex {
			t.Errorf("%s: encoded %s, want %s", c.Seq, got, c.Hex)
		}
		if s.EncodedLen() != len(c.Hex)/2 {
			t.Errorf("%s: EncodedLen %d", c.Seq, s.EncodedLen())
		}
		p, n, err := ParseChunkRangesSeq(unhex(t, c.Hex))
		if err != nil || n != len(c.Hex)/2 || p.String() != s.String() {
			t.Errorf("%s: parsed %v, %d, %v", c.Seq, p, n, err)
		}
	}
	// Spec §4.3 table rows not in the JSON.
	if got := hex.EncodeToString(SeqBlob(All()).Append(nil)); got != "020001000100" {
		t.Errorf("SeqBlob(all) = %s", got)
	}
	if !SeqBlob(All()).IsBlob() || SeqAll().IsBlob() || !SeqAll().IsInfinite() || SeqBlob(All()).IsInfinite() {
		t.Error("recognisers")
	}
}

func TestVectorRequests(t *testing.T) {
	v := loadVectors(t)
	want := []ChunkRangesSeq{
		SeqBlob(All()),
		SeqAll(),
		SeqBlob(LastChunk()),
		SeqFromRangesInfinite([]ChunkRanges{All(), LastChunk()}),
		SeqFromRanges([]ChunkRanges{{}, {}, All()}),
	}
	if len(v.BlobRequests.Examples) != len(want) {
		t.Fatalf("%d examples", len(v.BlobRequests.Examples))
	}
	for i, c := range v.BlobRequests.Examples {
		b := unhex(t, c.Hex)
		if b[0] != 0 {
			t.Fatalf("%s: not a Get", c.Desc)
		}
		s, n, err := ParseChunkRangesSeq(b[33:])
		if err != nil || 33+n != len(b) {
			t.Fatalf("%s: %v", c.Desc, err)
		}
		if s.String() != want[i].String() {
			t.Errorf("%s: parsed %v, want %v", c.Desc, s, want[i])
		}
		if got := want[i].Append(append([]byte(nil), b[:33]...)); !bytes.Equal(got, b) {
			t.Errorf("%s: encoded %x", c.Desc, got)
		}
	}
	for _, c := range v.BlobRequests.V0103Only {
		b := unhex(t, c.Hex)
		switch b[0] {
		case 9: // GetMany: Vec<Hash>, ChunkRangesSeq
			cnt := int(b[1])
			s, n, err := ParseChunkRangesSeq(b[2+32*cnt:])
			if err != nil || 2+32*cnt+n != len(b) {
				t.Fatalf("%s: %v", c.Desc, err)
			}
			w := SeqFromRanges([]ChunkRanges{All(), Range(0, 1)})
			if s.String() != w.String() || !bytes.Equal(w.Append(nil), b[2+32*cnt:]) {
				t.Errorf("%s: parsed %v", c.Desc, s)
			}
		case 1: // Observe: hash, RangeSpec
			r, n, err := ParseRangeSpec(b[33:])
			if err != nil || 33+n != len(b) || !r.IsAll() {
				t.Errorf("%s: %v %v", c.Desc, r, err)
			}
		case 8: // Push: type, varint length, GetRequest
			s, _, err := ParseChunkRangesSeq(b[2+32:])
			if err != nil || !s.IsBlob() || !s.At(0).IsAll() {
				t.Errorf("%s: %v %v", c.Desc, s, err)
			}
		case 5: // ObserveItem frame: len, size varint, absolute boundaries
			size, n, err := readUvarint(b, 1)
			if err != nil || size != 1025 {
				t.Fatalf("%s: size %d %v", c.Desc, size, err)
			}
			r, m, err := ParseBoundaries(b[n:])
			if err != nil || n+m != len(b) || !r.Equal(Range(0, 2)) {
				t.Errorf("%s: %v %v", c.Desc, r, err)
			}
			if got := Range(0, 2).AppendBoundaries(nil); !bytes.Equal(got, b[n:]) {
				t.Errorf("%s: AppendBoundaries %x", c.Desc, got)
			}
		default:
			t.Fatalf("unhandled vector %s", c.Desc)
		}
	}
}

// blobData returns the data of a named blob of the vectors.
func blobData(t testing.TB, v *protocolVectors, name string) []byte {
	t.Helper()
	for _, b := range v.BlobHashes {
		if b.Name == name {
			return vectorData(t, b.Data)
		}
	}
	t.Fatalf("unknown blob %q", name)
	return nil
}

// encodeBlob encodes data with a freshly computed outboard.
func encodeBlob(t testing.TB, data []byte, ranges ChunkRanges) []byte {
	t.Helper()
	_, ob := OutboardBytes(data)
	var buf bytes.Buffer
	if err := Encode(&buf, bytes.NewReader(data), uint64(len(data)), bytes.NewReader(ob), ranges); err != nil {
		t.Fatalf("encode: %v", err)
	}
	if got := EncodedLen(uint64(len(data)), ranges); got != uint64(buf.Len()) {
		t.Fatalf("EncodedLen = %d, encoded %d", got, buf.Len())
	}
	return buf.Bytes()
}

// checkDecode decodes resp and checks every verified leaf against data and
// every stored parent against the outboard.
func checkDecode(t testing.TB, resp, data []byte, root [32]byte, ranges ChunkRanges) {
	t.Helper()
	_, ob := OutboardBytes(data)
	r := bytes.NewReader(resp)
	d := NewDecoder(r, root, ranges)
	sel := ranges.Truncate(uint64(len(data)))
	var got ChunkRanges
	for {
		it, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		switch it.Kind {
		case ItemLeaf:
			if !bytes.Equal(it.Data, data[it.Offset:it.Offset+it.Len]) {
				t.Fatalf("leaf at %d differs", it.Offset)
			}
			got = got.Union(it.Chunks())
		case ItemParent:
			if it.OutboardIndex >= 0 && !bytes.Equal(it.Pair[:], ob[it.OutboardIndex*PairSize:][:PairSize]) {
				t.Fatalf("parent %d differs from outboard", it.OutboardIndex)
			}
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes left unread", r.Len())
	}
	if !got.Equal(sel) {
		t.Fatalf("verified chunks %v, want %v", got, sel)
	}
	if d.SizeVerified() != sel.Contains(numChunks(uint64(len(data)))-1) {
		t.Fatalf("SizeVerified = %v", d.SizeVerified())
	}
}

func TestVectorBlobTransfers(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.BlobTransfers {
		t.Run(c.Desc, func(t *testing.T) {
			data := blobData(t, v, c.Blob)
			root := hash32(t, c.HashHex)
			req := unhex(t, c.RequestHex)
			if req[0] != 0 || !bytes.Equal(req[1:33], root[:]) {
				t.Fatalf("request is not a Get for the hash")
			}
			seq, _, err := ParseChunkRangesSeq(req[33:])
			if err != nil || !seq.IsBlob() {
				t.Fatalf("request seq %v, %v", seq, err)
			}
			ranges := seq.At(0)
			resp := encodeBlob(t, data, ranges)
			if len(resp) != c.ResponseLen {
				t.Fatalf("response %d bytes, want %d", len(resp), c.ResponseLen)
			}
			if got := Sum(resp); got != hash32(t, c.ResponseBlake3) {
				t.Fatalf("response blake3 %x, want %s", got, c.ResponseBlake3)
			}
			if !strings.HasPrefix(hex.EncodeToString(resp), c.ResponseHead) {
				t.Fatalf("response head differs")
			}
			if c.ResponseHex != "" && hex.EncodeToString(resp) != c.ResponseHex {
				t.Fatalf("response differs")
			}
			checkDecode(t, resp, data, root, ranges)
		})
	}
}

func TestVectorCollection(t *testing.T) {
	v := loadVectors(t).Collection
	meta := unhex(t, v.MetaBlobHex)
	if Sum(meta) != hash32(t, v.MetaHashHex) {
		t.Fatal("meta hash")
	}
	blobs := [][]byte{unhex(t, v.HashSeqHex), meta}
	for _, it := range v.Items {
		d := vectorData(t, it.Data)
		if Sum(d) != hash32(t, it.HashHex) {
			t.Fatalf("item %s hash", it.Name)
		}
		blobs = append(blobs, d)
	}
	if Sum(blobs[0]) != hash32(t, v.RootHashHex) {
		t.Fatal("root hash")
	}
	// Hash seq = hash(meta) || hash(items)...
	for i, b := range blobs[1:] {
		if h := Sum(b); !bytes.Equal(blobs[0][32*i:32*i+32], h[:]) {
			t.Fatalf("hash seq entry %d", i)
		}
	}
	for _, c := range []struct{ req, resp string }{{v.GetAllRequest, v.GetAllResponse}, {v.GetChildRequest, v.GetChildResponse}} {
		req := unhex(t, c.req)
		seq, _, err := ParseChunkRangesSeq(req[33:])
		if err != nil {
			t.Fatal(err)
		}
		// Provider walk (spec §6.1): index 0 = hash seq, index k = child k-1.
		var resp []byte
		for i, r := range seq.NonEmpty() {
			if i >= uint64(len(blobs)) {
				break
			}
			resp = append(resp, encodeBlob(t, blobs[i], r)...)
		}
		if hex.EncodeToString(resp) != c.resp {
			t.Fatalf("response for %s differs:\n got %x\nwant %s", c.req, resp, c.resp)
		}
		// Getter: one reader for the whole stream.
		rd := bytes.NewReader(resp)
		for i, r := range seq.NonEmpty() {
			if i >= uint64(len(blobs)) {
				break
			}
			out := make(sliceWriterAt, len(blobs[i]))
			size, err := Decode(rd, Sum(blobs[i]), r, out, nil)
			if err != nil || size != uint64(len(blobs[i])) || !bytes.Equal(out, blobs[i]) {
				t.Fatalf("decode blob %d: %v", i, err)
			}
		}
		if rd.Len() != 0 {
			t.Fatalf("%d bytes left", rd.Len())
		}
	}
}

func TestVectorRustGetter(t *testing.T) {
	v := loadVectors(t).RustGetter.RawDownload
	data := make([]byte, 70000)
	for i := range data {
		data[i] = byte((7*i + 3) % 256)
	}
	root := hash32(t, v.HashHex)
	if Sum(data) != root {
		t.Fatal("hash")
	}
	seq, _, err := ParseChunkRangesSeq(unhex(t, v.RequestHex)[33:])
	if err != nil {
		t.Fatal(err)
	}
	checkDecode(t, encodeBlob(t, data, seq.At(0)), data, root, seq.At(0))
}

func TestEmptyHash(t *testing.T) {
	if Sum(nil) != EmptyHash {
		t.Fatalf("EmptyHash %x != %x", EmptyHash, Sum(nil))
	}
}
