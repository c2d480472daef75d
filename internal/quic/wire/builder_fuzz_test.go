package wire

import (
	"bytes"
	"testing"
)

// FuzzBuilder drives the Builder with operations decoded from the input
// and checks its invariants: the datagram never exceeds the budget, every
// packet parses (header, Length, frames), the data put in comes out, and
// padded datagrams reach their minimum.
func FuzzBuilder(f *testing.F) {
	f.Add([]byte{0, 200, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(bytes.Repeat([]byte{0x55, 0xaa, 3, 200}, 20))
	f.Add([]byte{255, 255, 0, 0, 0, 0})
	data := make([]byte, 70000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	dcid, scid := bytes.Repeat([]byte{1}, 8), bytes.Repeat([]byte{2}, 5)
	f.Fuzz(func(t *testing.T, ops []byte) {
		next := func() int {
			if len(ops) == 0 {
				return 0
			}
			v := int(ops[0])
			ops = ops[1:]
			return v
		}
		budget := 20 + next()*8
		var b Builder
		b.Reset(make([]byte, 0, budget), budget)
		type want struct {
			typ   PacketType
			bytes int
		}
		var wants []want
		for range 4 {
			if len(ops) == 0 {
				break
			}
			typ := []PacketType{PacketInitial, PacketHandshake, Packet0RTT, Packet1RTT}[next()%4]
			pnLen := 1 + next()%4
			var ok bool
			if typ == Packet1RTT {
				ok = b.StartShort(dcid, uint64(next()), pnLen, next()%2 == 0, false, 16)
			} else {
				h := LongHeader{Type: typ, Version: Version1, DstCID: dcid, SrcCID: scid, Token: data[:next()%4]}
				ok = b.StartLong(&h, uint64(next()), pnLen, 16)
			}
			if !ok {
				continue
			}
			w := want{typ: typ}
			for range next() % 4 {
				n := next() * 300 % len(data)
				switch op := next() % 4; {
				case op == 0 && typ != Packet0RTT:
					ack := AckFrame{Ranges: []AckRange{{Smallest: uint64(next()), Largest: uint64(next()) + 300}}}
					b.AddAck(&ack)
				case op == 1 && typ != Packet1RTT && typ != Packet0RTT:
					w.bytes += b.AddCrypto(uint64(next()), data[:n])
				case op == 2 && (typ == Packet1RTT || typ == Packet0RTT):
					w.bytes += b.AddStream(uint64(next()), uint64(next()), data[:n], next()%2 == 0)
				case op == 3 && (typ == Packet1RTT || typ == Packet0RTT):
					if b.AddDatagram(data[:n%2000], next()%2 == 0) {
						w.bytes += n % 2000
					}
				}
			}
			minSize := 0
			if next()%2 == 0 {
				minSize = 1200
			}
			if _, ok := b.Finish(minSize); ok {
				wants = append(wants, w)
				if minSize > 0 && len(b.Datagram()) < min(1200, budget) {
					t.Fatalf("padded datagram %d bytes, budget %d", len(b.Datagram()), budget)
				}
			}
			if len(b.Datagram()) > budget {
				t.Fatalf("datagram %d bytes over budget %d", len(b.Datagram()), budget)
			}
		}
		pkts, err := SplitCoalesced(nil, b.Datagram(), len(dcid))
		if err != nil || len(pkts) != len(wants) {
			t.Fatalf("split: %d packets, want %d: %v", len(pkts), len(wants), err)
		}
		for i, pkt := range pkts {
			h, err := ParseHeader(pkt, len(dcid))
			if err != nil || h.Type != wants[i].typ {
				t.Fatalf("packet %d: %v %v", i, h.Type, err)
			}
			pnLen := int(pkt[0]&3) + 1
			if len(pkt)-h.PNOffset < 4+16 {
				t.Fatalf("packet %d too short for the sample", i)
			}
			it := NewFrameIter(pkt[h.PNOffset+pnLen : len(pkt)-16])
			got := 0
			for it.Next() {
				fr := it.Frame()
				if !fr.Type.Allowed(h.Type) {
					t.Fatalf("%v in %v", fr.Type, h.Type)
				}
				switch fr.Type {
				case FrameStream:
					got += len(fr.Stream.Data)
				case FrameCrypto:
					got += len(fr.Crypto.Data)
				case FrameDatagram:
					got += len(fr.Datagram.Data)
				}
			}
			if it.Err() != nil || got != wants[i].bytes {
				t.Fatalf("packet %d (%v): %d data bytes, want %d: %v", i, h.Type, got, wants[i].bytes, it.Err())
			}
		}
	})
}
