package wire_test

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/iroh-go/iroh/internal/quic/protect"
	"github.com/iroh-go/iroh/internal/quic/wire"
)

// TestBuilderRFC9001Initial builds the client Initial of RFC 9001 A.2 with
// the Builder (CRYPTO frame, padding to 1200) and seals it: the same
// 1200 bytes as the RFC.
func TestBuilderRFC9001Initial(t *testing.T) {
	crypto, _ := hex.DecodeString("010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868" +
		"04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578" +
		"616d706c652e636f6dff01000100000a00080006001d00170018001000070005" +
		"04616c706e000500050100000000003300260024001d00209370b2c9caa47fba" +
		"baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400" +
		"0d0010000e0403050306030203080408050806002d00020101001c0002400100" +
		"3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000" +
		"75300901100f088394c8f03e51570806048000ffff")
	want, _ := hex.DecodeString("c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11")
	dcid, _ := hex.DecodeString("8394c8f03e515708")
	seal, _ := protect.InitialKeys(dcid, true)
	var b wire.Builder
	b.Reset(make([]byte, 0, 1500), 1452)
	h := wire.LongHeader{Type: wire.PacketInitial, Version: wire.Version1, DstCID: dcid}
	if !b.StartLong(&h, 2, 4, protect.TagLen) {
		t.Fatal("no room")
	}
	// The RFC encodes the CRYPTO length in 2 bytes (0x40f1): so do we.
	if n := b.AddCrypto(0, crypto); n != len(crypto) {
		t.Fatalf("AddCrypto wrote %d of %d", n, len(crypto))
	}
	p, ok := b.Finish(wire.MinInitialDatagramSize)
	if !ok || p.Size != 1200 || len(b.Datagram()) != 1200 || !p.AckEliciting {
		t.Fatalf("finished %+v, datagram %d", p, len(b.Datagram()))
	}
	if _, err := seal.SealPacket(p.Plain, p.PNOffset, p.PNLen, 2); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Datagram(), want) {
		t.Fatalf("datagram starts %x, want %x", b.Datagram()[:32], want)
	}
}

// TestBuilderCoalesced fills datagrams of Initial, Handshake and 1-RTT
// packets with random frames and parses them back.
func TestBuilderCoalesced(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i)
	}
	dcid, scid := bytes.Repeat([]byte{1}, 8), bytes.Repeat([]byte{2}, 8)
	buf := make([]byte, 0, 1500)
	var b wire.Builder
	for i := range 2000 {
		max := 1200 + r.IntN(300)
		b.Reset(buf, max)
		type sent struct {
			typ   wire.PacketType
			data  int
			dgram bool
		}
		var want []sent
		for _, typ := range []wire.PacketType{wire.PacketInitial, wire.PacketHandshake, wire.Packet1RTT} {
			if r.IntN(3) == 0 {
				continue
			}
			pnLen := 1 + r.IntN(4)
			var ok bool
			if typ == wire.Packet1RTT {
				ok = b.StartShort(dcid, uint64(i), pnLen, false, false, protect.TagLen)
			} else {
				h := wire.LongHeader{Type: typ, Version: wire.Version1, DstCID: dcid, SrcCID: scid}
				ok = b.StartLong(&h, uint64(i), pnLen, protect.TagLen)
			}
			if !ok {
				continue
			}
			s := sent{typ: typ}
			if r.IntN(2) == 0 {
				b.AddFrame(&wire.Frame{Type: wire.FrameAck, Ack: wire.AckFrame{Ranges: []wire.AckRange{{Smallest: 1, Largest: 9}}}})
			}
			n := r.IntN(len(data))
			if typ == wire.Packet1RTT {
				if r.IntN(4) == 0 {
					if b.AddDatagram(data[:n%200], r.IntN(2) == 0) {
						s.dgram = true
						s.data = n % 200
					}
				} else {
					s.data = b.AddStream(4, uint64(n), data[:n], true)
				}
			} else {
				s.data = b.AddCrypto(uint64(n), data[:n])
			}
			minSize := 0
			if typ == wire.Packet1RTT || r.IntN(2) == 0 {
				minSize = 1200
			}
			p, ok := b.Finish(minSize)
			if !ok {
				continue
			}
			if len(b.Datagram()) > max {
				t.Fatalf("datagram %d over budget %d", len(b.Datagram()), max)
			}
			if minSize > 0 && len(b.Datagram()) < 1200 {
				t.Fatalf("padded datagram has %d bytes", len(b.Datagram()))
			}
			if p.PNLen+len(p.Plain)-p.PNOffset-p.PNLen < wire.MinPayloadForSample {
				t.Fatalf("no room for the sample")
			}
			want = append(want, s)
		}
		pkts, err := wire.SplitCoalesced(nil, b.Datagram(), len(dcid))
		if err != nil || len(pkts) != len(want) {
			t.Fatalf("round %d: split %d packets of %d: %v", i, len(pkts), len(want), err)
		}
		for j, pkt := range pkts {
			h, err := wire.ParseHeader(pkt, len(dcid))
			if err != nil || h.Type != want[j].typ {
				t.Fatalf("packet %d: %v %v", j, h.Type, err)
			}
			pnLen := int(pkt[0]&3) + 1
			it := wire.NewFrameIter(pkt[h.PNOffset+pnLen : len(pkt)-protect.TagLen])
			got := 0
			for it.Next() {
				f := it.Frame()
				switch f.Type {
				case wire.FrameStream:
					got += len(f.Stream.Data)
				case wire.FrameCrypto:
					got += len(f.Crypto.Data)
				case wire.FrameDatagram:
					got += len(f.Datagram.Data)
				}
			}
			if it.Err() != nil || got != want[j].data {
				t.Fatalf("round %d packet %d (%v): %d data bytes, want %d: %v", i, j, h.Type, got, want[j].data, it.Err())
			}
		}
	}
}

func TestBuilderNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 1500)
	data := make([]byte, 3000)
	dcid := make([]byte, 8)
	ack := wire.Frame{Type: wire.FrameAck, Ack: wire.AckFrame{Ranges: []wire.AckRange{{Smallest: 1, Largest: 9}}}}
	var b wire.Builder
	allocs := testing.AllocsPerRun(100, func() {
		b.Reset(buf, 1452)
		b.StartShort(dcid, 7, 2, false, false, protect.TagLen)
		b.AddFrame(&ack)
		b.AddStream(0, 100, data[:10], false)
		b.Finish(1200) // padding too
	})
	if allocs != 0 {
		t.Errorf("%v allocs per packet", allocs)
	}
}

// TestBuilderLengthCap pads a long header packet in a budget larger than
// its 2-byte Length field allows: the packet stops at 16383 bytes of
// Length instead of overflowing it.
func TestBuilderLengthCap(t *testing.T) {
	var b wire.Builder
	b.Reset(make([]byte, 0, 70000), 65000)
	h := wire.LongHeader{Type: wire.PacketHandshake, Version: wire.Version1, DstCID: make([]byte, 8), SrcCID: make([]byte, 8)}
	b.StartLong(&h, 0, 2, 16)
	b.AddCrypto(0, make([]byte, 100000))
	if _, ok := b.Finish(65000); !ok {
		t.Fatal("no packet")
	}
	got, err := wire.ParseHeader(b.Datagram(), 8)
	if err != nil || got.Len != len(b.Datagram()) || got.Len-got.PNOffset > 1<<14-1 {
		t.Fatalf("header %+v of a %d-byte datagram: %v", got, len(b.Datagram()), err)
	}
}
