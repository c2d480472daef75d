package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVarintRFC9000 decodes the examples of RFC 9000 A.1.
func TestVarintRFC9000(t *testing.T) {
	for _, c := range []struct {
		hex  string
		v    uint64
		minm bool
	}{
		{"c2197c5eff14e88c", 151288809941952652, true},
		{"9d7f3e7d", 494878333, true},
		{"7bbd", 15293, true},
		{"25", 37, true},
		{"4025", 37, false},
	} {
		b := unhex(t, c.hex)
		v, n, err := ParseVarint(b)
		if err != nil || v != c.v || n != len(b) {
			t.Errorf("ParseVarint(%s) = %d, %d, %v; want %d", c.hex, v, n, err, c.v)
		}
		if c.minm {
			if got := AppendVarint(nil, c.v); !bytes.Equal(got, b) {
				t.Errorf("AppendVarint(%d) = %x, want %s", c.v, got, c.hex)
			}
			if VarintLen(c.v) != len(b) {
				t.Errorf("VarintLen(%d) = %d", c.v, VarintLen(c.v))
			}
		}
		if got := AppendVarintN(nil, c.v, len(b)); !bytes.Equal(got, b) {
			t.Errorf("AppendVarintN(%d, %d) = %x", c.v, len(b), got)
		}
		if _, _, err := ParseVarint(b[:len(b)-1]); !errors.Is(err, ErrTruncated) {
			t.Errorf("truncated %s: err %v", c.hex, err)
		}
	}
	for _, v := range []uint64{0, 63, 64, 16383, 16384, 1<<30 - 1, 1 << 30, MaxVarint} {
		b := AppendVarint(nil, v)
		got, n, err := ParseVarint(b)
		if err != nil || got != v || n != VarintLen(v) {
			t.Errorf("round trip %d: %d %d %v", v, got, n, err)
		}
	}
	b := AppendVarintN(nil, 0, 2)
	PutVarint2(b, 1182)
	if !bytes.Equal(b, []byte{0x44, 0x9e}) {
		t.Errorf("PutVarint2(1182) = %x", b)
	}
}

// TestPacketNumberRFC9000 checks the examples of RFC 9000 A.2 and A.3 and
// a randomized round trip of truncation and recovery.
func TestPacketNumberRFC9000(t *testing.T) {
	if n := PacketNumberLen(0xac5c02, 0xabe8b3); n != 2 {
		t.Errorf("A.2 first example: %d bytes, want 2", n)
	}
	if n := PacketNumberLen(0xace8fe, 0xabe8b3); n != 3 {
		t.Errorf("A.2 second example: %d bytes, want 3", n)
	}
	if pn := DecodePacketNumber(0xa82f30ea, 0x9b32, 2); pn != 0xa82f9b32 {
		t.Errorf("A.3 example: %#x, want 0xa82f9b32", pn)
	}
	if n := PacketNumberLen(0, NoPacketNumber); n != 1 {
		t.Errorf("first packet: %d bytes", n)
	}
	if pn := DecodePacketNumber(NoPacketNumber, 0, 1); pn != 0 {
		t.Errorf("first packet decodes to %d", pn)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		acked := r.Uint64N(1 << 40)
		pn := acked + 1 + r.Uint64N(1<<uint(r.IntN(30)))
		n := PacketNumberLen(pn, acked)
		// The receiver has seen at least acked and at most pn-1.
		largest := acked + r.Uint64N(pn-acked)
		trunc := ReadPacketNumber(AppendPacketNumber(nil, pn, n), n)
		if got := DecodePacketNumber(largest, trunc, n); got != pn {
			t.Fatalf("pn %d acked %d largest %d len %d: decoded %d", pn, acked, largest, n, got)
		}
	}
}

// TestHeaderRFC9001 parses the headers of the RFC 9001 Appendix A packets.
func TestHeaderRFC9001(t *testing.T) {
	// A.2: the client Initial's unprotected header, padded to 1200.
	hdr := unhex(t, "c300000001088394c8f03e5157080000449e00000002")
	pkt := append(hdr, make([]byte, 1200-len(hdr))...)
	h, err := ParseHeader(pkt, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := h.String(); s != "Initial dcid=8394c8f03e515708 scid= len=1200 token=0" {
		t.Errorf("String: %q", s)
	}
	if h.Type != PacketInitial || h.Version != Version1 || hex.EncodeToString(h.DstCID) != "8394c8f03e515708" ||
		len(h.SrcCID) != 0 || len(h.Token) != 0 || h.PNOffset != 18 || h.Len != 1200 {
		t.Errorf("A.2 header: %+v", h)
	}
	lh := LongHeader{Type: PacketInitial, Version: Version1, DstCID: h.DstCID}
	out, lenOff := lh.Append(nil, 2, 4)
	PutVarint2(out[lenOff:], 1182)
	if !bytes.Equal(out, hdr) {
		t.Errorf("LongHeader.Append = %x, want %x", out, hdr)
	}
	if lh.Len(4) != len(hdr) {
		t.Errorf("LongHeader.Len = %d, want %d", lh.Len(4), len(hdr))
	}
	// A.4: Retry.
	retry := unhex(t, "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba")
	h, err = ParseHeader(retry, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.Type != PacketRetry || string(h.Token) != "token" || hex.EncodeToString(h.SrcCID) != "f067a5502a4262b5" ||
		hex.EncodeToString(h.RetryTag) != "04a265ba2eff4d829058fb3f0f2496ba" {
		t.Errorf("A.4 header: %+v", h)
	}
	if got := AppendRetry(nil, Version1, nil, h.SrcCID, h.Token, 0xf); !bytes.Equal(got, retry[:len(retry)-16]) {
		t.Errorf("AppendRetry = %x", got)
	}
	// A.5: ChaCha20 short header, unprotected: 4200bff4 with no DCID.
	h, err = ParseHeader(unhex(t, "4200bff401"), 0)
	if err != nil || h.Type != Packet1RTT || h.PNOffset != 1 {
		t.Errorf("A.5 header: %+v %v", h, err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	dcid := bytes.Repeat([]byte{0xd}, 20)
	scid := bytes.Repeat([]byte{0x5}, 8)
	var d []byte
	// Initial with token, then Handshake, then 1-RTT: one datagram.
	for _, typ := range []PacketType{PacketInitial, Packet0RTT, PacketHandshake} {
		lh := LongHeader{Type: typ, Version: Version1, DstCID: dcid, SrcCID: scid, Token: []byte("tok")}
		start := len(d)
		var lenOff int
		d, lenOff = lh.Append(d, 77, 2)
		d = append(d, bytes.Repeat([]byte{0xaa}, 40)...)
		PutVarint2(d[lenOff:], uint64(len(d)-lenOff-2))
		h, err := ParseHeader(d[start:], 8)
		if err != nil {
			t.Fatalf("%v: %v", typ, err)
		}
		if h.Type != typ || !bytes.Equal(h.DstCID, dcid) || !bytes.Equal(h.SrcCID, scid) || h.Len != len(d)-start {
			t.Errorf("%v: %+v", typ, h)
		}
		if typ == PacketInitial && string(h.Token) != "tok" {
			t.Errorf("token %q", h.Token)
		}
		if ReadPacketNumber(d[start+h.PNOffset:], 2) != 77 {
			t.Errorf("%v: pn", typ)
		}
	}
	short := len(d)
	d = AppendShortHeader(d, scid, 1000, 2, true, false)
	d = append(d, make([]byte, 30)...)
	pkts, err := SplitCoalesced(nil, d, 8)
	if err != nil || len(pkts) != 4 {
		t.Fatalf("SplitCoalesced: %d packets, %v", len(pkts), err)
	}
	if len(pkts[3]) != len(d)-short || !KeyPhase(pkts[3][0]) {
		t.Errorf("short packet %x", pkts[3][:4])
	}
	if cid, err := ParseDstCID(pkts[3], 8); err != nil || !bytes.Equal(cid, scid) {
		t.Errorf("ParseDstCID short: %x %v", cid, err)
	}
	if cid, err := ParseDstCID(pkts[0], 8); err != nil || !bytes.Equal(cid, dcid) {
		t.Errorf("ParseDstCID long: %x %v", cid, err)
	}
	// Version negotiation and an unknown version.
	vn := AppendVersionNegotiation(nil, dcid, scid, []uint32{Version1, 0x1a2a3a4a}, 0x3f)
	h, err := ParseHeader(vn, 8)
	if err != nil || h.Type != PacketVersionNegotiation || !bytes.Equal(h.DstCID, scid) {
		t.Fatalf("VN: %+v %v", h, err)
	}
	var vs []uint32
	h.Versions(func(v uint32) { vs = append(vs, v) })
	if len(vs) != 2 || vs[0] != Version1 {
		t.Errorf("versions %x", vs)
	}
	unk := append([]byte{0xc0, 0xde, 0xad, 0xbe, 0xef, 30}, make([]byte, 31+2)...)
	unk[6+30] = 0
	if h, err := ParseHeader(unk, 8); err != nil || h.Type != PacketUnknownVersion || len(h.DstCID) != 30 {
		t.Errorf("unknown version: %+v %v", h, err)
	}
}

func TestHeaderErrors(t *testing.T) {
	lh := LongHeader{Type: PacketInitial, Version: Version1, DstCID: make([]byte, 8), SrcCID: make([]byte, 8)}
	pkt, lenOff := lh.Append(nil, 0, 1)
	pkt = append(pkt, make([]byte, 10)...)
	PutVarint2(pkt[lenOff:], 11)
	if _, err := ParseHeader(pkt, 0); err != nil {
		t.Fatal(err)
	}
	for i := range len(pkt) - 1 {
		if _, err := ParseHeader(pkt[:i], 0); err == nil {
			t.Errorf("truncated to %d: no error", i)
		}
	}
	bad := bytes.Clone(pkt)
	bad[5] = 21
	if _, err := ParseHeader(bad, 0); err == nil {
		t.Error("21-byte DCID accepted")
	}
	PutVarint2(bad[lenOff:], 12)
	bad[5] = 8
	var he *HeaderError
	if _, err := ParseHeader(bad, 0); !errors.As(err, &he) || he.Field != "length" {
		t.Errorf("long Length: %v", err)
	}
}

func BenchmarkDecodePacketNumber(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		_ = DecodePacketNumber(uint64(i), uint64(i+1)&0xffff, 2)
	}
}

var _ = strconv.Itoa

func TestStatelessReset(t *testing.T) {
	tok := [16]byte{1, 2, 3}
	if _, err := AppendStatelessReset(nil, tok, 20); err == nil {
		t.Error("20-byte reset accepted")
	}
	for _, size := range []int{21, 43, 1200} {
		b, err := AppendStatelessReset([]byte{9}, tok, size)
		if err != nil || len(b) != size+1 {
			t.Fatalf("size %d: %d bytes, %v", size, len(b), err)
		}
		d := b[1:]
		got, ok := StatelessResetToken(d)
		if !ok || got != tok || d[0]&0xc0 != 0x40 {
			t.Errorf("size %d: token %x %v, first byte %#x", size, got, ok, d[0])
		}
		if h, err := ParseHeader(d, 8); err != nil || h.Type != Packet1RTT {
			t.Errorf("a reset does not parse as a short header: %v", err)
		}
	}
	if _, ok := StatelessResetToken(make([]byte, 20)); ok {
		t.Error("20-byte datagram taken for a reset")
	}
}

func TestPaddingLen(t *testing.T) {
	for n := range 40 {
		for tail := range 3 {
			b := make([]byte, n+tail)
			if tail > 0 {
				b[n] = 1
			}
			if got := PaddingLen(b); got != n {
				t.Fatalf("PaddingLen of %d zeros then %d bytes = %d", n, tail, got)
			}
		}
	}
}

func BenchmarkPaddingLen(b *testing.B) {
	p := make([]byte, 917)
	for b.Loop() {
		PaddingLen(p)
	}
}

func TestHeaderNoAllocs(t *testing.T) {
	lh := LongHeader{Type: PacketInitial, Version: Version1, DstCID: make([]byte, 20), SrcCID: make([]byte, 8)}
	d, off := lh.Append(nil, 0, 2)
	d = append(d, make([]byte, 1200-len(d))...)
	PutVarint2(d[off:], uint64(len(d)-off-2))
	d = AppendShortHeader(d, make([]byte, 8), 5, 2, false, false)
	d = append(d, make([]byte, 40)...)
	dst := make([][]byte, 0, 4)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseDstCID(d, 8); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseHeader(d, 8); err != nil {
			t.Fatal(err)
		}
		if p, err := SplitCoalesced(dst[:0], d, 8); err != nil || len(p) != 2 {
			t.Fatal(len(p), err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs per datagram", allocs)
	}
}

func BenchmarkParseHeader(b *testing.B) {
	d := AppendShortHeader(nil, make([]byte, 8), 5, 2, false, false)
	d = append(d, make([]byte, 1400)...)
	b.ReportAllocs()
	for b.Loop() {
		ParseHeader(d, 8)
	}
}
