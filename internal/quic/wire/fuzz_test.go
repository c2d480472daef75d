package wire

import (
	"bytes"
	"reflect"
	"testing"
)

func FuzzVarint(f *testing.F) {
	for _, s := range []string{"c2197c5eff14e88c", "9d7f3e7d", "7bbd", "25", "4025", ""} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := ParseVarint(b)
		if err != nil {
			return
		}
		if n > len(b) || v > MaxVarint {
			t.Fatalf("ParseVarint(%x) = %d, %d", b, v, n)
		}
		if v2, _, _ := ParseVarint(AppendVarint(nil, v)); v2 != v {
			t.Fatalf("round trip %d -> %d", v, v2)
		}
	})
}

// FuzzFrame parses one frame, appends it and parses it again: the second
// parse gives the same frame and the same bytes.
func FuzzFrame(f *testing.F) {
	for _, fr := range sampleFrames() {
		f.Add(AppendFrame(nil, &fr))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var f1 Frame
		n, err := ParseFrame(b, &f1)
		if len(b) > 0 && FrameType(b[0]).IsStream() {
			// The fast path agrees with the checked parser.
			s, sn, serr := ParseStream(b)
			if (serr == nil) != (err == nil) || (err == nil && (sn != n || !reflect.DeepEqual(s, f1.Stream))) {
				t.Fatalf("STREAM fast path %+v %d %v, checked %+v %d %v", f1.Stream, n, err, s, sn, serr)
			}
		}
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		enc := AppendFrame(nil, &f1)
		var f2 Frame
		n2, err := ParseFrame(enc, &f2)
		if err != nil {
			t.Fatalf("re-parse of %x (from %x): %v", enc, b[:n], err)
		}
		if n2 != len(enc) {
			t.Fatalf("re-parse consumed %d of %d", n2, len(enc))
		}
		f1.ackBuf, f2.ackBuf = nil, nil
		if !reflect.DeepEqual(f1, f2) {
			t.Fatalf("frame changed:\n%+v\n%+v", f1, f2)
		}
		if enc2 := AppendFrame(nil, &f2); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding changed: %x %x", enc, enc2)
		}
		_ = f1.String() // never panics
		if f1.Len() != len(enc) {
			t.Fatalf("Len %d, encoded %d", f1.Len(), len(enc))
		}
	})
}

// FuzzFrameIter walks arbitrary payloads: no panic, offsets advance.
func FuzzFrameIter(f *testing.F) {
	f.Add(packetOfStreamsAndAcks())
	var all []byte
	for _, fr := range sampleFrames() {
		all = AppendFrame(all, &fr)
	}
	f.Add(all)
	it := NewFrameIter(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		it.Reset(b)
		last := 0
		for it.Next() {
			if raw := it.Bytes(); len(raw) != it.Offset()-last {
				t.Fatalf("Bytes %d, frame spans %d", len(raw), it.Offset()-last)
			}
			if it.Offset() <= last || it.Offset() > len(b) {
				t.Fatalf("offset %d after %d of %d", it.Offset(), last, len(b))
			}
			last = it.Offset()
		}
		if it.Err() == nil && last != len(b) {
			t.Fatalf("stopped at %d of %d without error", last, len(b))
		}
	})
}

func headerSeeds(f *testing.F) {
	hdr := unhex(f, "c300000001088394c8f03e5157080000449e00000002")
	f.Add(append(hdr, make([]byte, 1200-len(hdr))...), 0)
	f.Add(unhex(f, "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba"), 0)
	f.Add(unhex(f, "4cfe4189655e5cd55c41f69080575d7999c25a5bfb"), 0)
	f.Add(AppendVersionNegotiation(nil, []byte{1, 2}, []byte{3}, []uint32{1}, 0), 8)
	lh := LongHeader{Type: PacketHandshake, Version: Version1, DstCID: make([]byte, 8), SrcCID: make([]byte, 8)}
	p, off := lh.Append(nil, 1, 2)
	p = append(p, make([]byte, 20)...)
	PutVarint2(p[off:], 22)
	f.Add(append(p, AppendShortHeader(nil, make([]byte, 8), 9, 1, false, false)...), 8)
}

// FuzzHeader parses arbitrary headers: no panic, offsets within the input.
func FuzzHeader(f *testing.F) {
	headerSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte, cidLen int) {
		cidLen = int(uint(cidLen) % 21)
		h, err := ParseHeader(b, cidLen)
		if err != nil {
			return
		}
		if h.Len > len(b) || h.PNOffset > h.Len || h.Len <= 0 {
			t.Fatalf("header %+v of %d bytes", h, len(b))
		}
		if h.Type != Packet1RTT && h.Type != PacketRetry && h.Type != PacketVersionNegotiation && h.Type != PacketUnknownVersion && h.PNOffset >= h.Len {
			t.Fatalf("no packet number: %+v", h)
		}
		cid, err := ParseDstCID(b, cidLen)
		if err != nil || !bytes.Equal(cid, h.DstCID) {
			t.Fatalf("ParseDstCID %x %v, header %x", cid, err, h.DstCID)
		}
	})
}

// FuzzSplitCoalesced splits arbitrary datagrams: the packets tile a prefix.
func FuzzSplitCoalesced(f *testing.F) {
	headerSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte, cidLen int) {
		cidLen = int(uint(cidLen) % 21)
		pkts, err := SplitCoalesced(nil, b, cidLen)
		total := 0
		for _, p := range pkts {
			if len(p) == 0 || !bytes.Equal(p, b[total:total+len(p)]) {
				t.Fatalf("packet at %d does not tile", total)
			}
			total += len(p)
		}
		if err == nil && total != len(b) {
			t.Fatalf("split %d of %d bytes", total, len(b))
		}
	})
}

// FuzzTransportParameters decodes arbitrary parameters; what decodes
// re-encodes (plainly and randomized) to the same values.
func FuzzTransportParameters(f *testing.F) {
	f.Add(rustClientParams(f), false)
	p := NewTransportParameters()
	cid := MustConnID([]byte{1, 2, 3})
	p.OriginalDestinationCID = &cid
	p.PreferredAddress = &PreferredAddress{CID: cid}
	f.Add(p.Append(nil), true)
	f.Fuzz(func(t *testing.T, b []byte, fromServer bool) {
		p, err := ParseTransportParameters(b, fromServer)
		if err != nil {
			return
		}
		for _, enc := range [][]byte{p.Append(nil), p.AppendRandomized(nil, nil)} {
			p2, err := ParseTransportParameters(enc, fromServer)
			if err != nil {
				t.Fatalf("re-parse: %v", err)
			}
			if !reflect.DeepEqual(p, p2) {
				t.Fatalf("changed:\n%+v\n%+v", p, p2)
			}
		}
	})
}
