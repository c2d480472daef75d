package protect

import (
	"fmt"
	"testing"

	"github.com/iroh-go/iroh/internal/quic/wire"
)

// BenchmarkSendPath is the per-packet cost floor of sending bulk data:
// lay out a 1-RTT packet with the Builder (an ACK, then stream data to
// fill the budget), seal it and protect its header.
func BenchmarkSendPath(b *testing.B) {
	for _, s := range suites {
		for _, size := range []int{1200, 1452} {
			b.Run(fmt.Sprintf("%v/%d", s, size), func(b *testing.B) {
				k := testKeys(b, s)
				data := make([]byte, 1<<20)
				buf := make([]byte, 0, size)
				dcid := make([]byte, 8)
				ack := wire.AckFrame{Delay: 10, Ranges: []wire.AckRange{{Smallest: 500, Largest: 600}, {Smallest: 100, Largest: 400}}}
				var bld wire.Builder
				var off uint64
				pn := uint64(0)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					bld.Reset(buf, size)
					bld.StartShort(dcid, pn, 2, false, false, TagLen)
					bld.AddAck(&ack)
					n := bld.AddStream(4, off, data[off%(1<<19):], false)
					off += uint64(n)
					p, _ := bld.Finish(0)
					if _, err := k.SealPacket(p.Plain, p.PNOffset, p.PNLen, pn); err != nil {
						b.Fatal(err)
					}
					pn++
				}
			})
		}
	}
}

// BenchmarkReceivePath is the per-packet cost floor of receiving bulk
// data: parse the header, remove header protection, decode the packet
// number, open, and walk the frames.
func BenchmarkReceivePath(b *testing.B) {
	for _, s := range suites {
		for _, size := range []int{1200, 1452} {
			b.Run(fmt.Sprintf("%v/%d", s, size), func(b *testing.B) {
				k := testKeys(b, s)
				data := make([]byte, 2000)
				dcid := make([]byte, 8)
				var bld wire.Builder
				bld.Reset(make([]byte, 0, size), size)
				bld.StartShort(dcid, 1000, 2, false, false, TagLen)
				bld.AddAck(&wire.AckFrame{Delay: 10, Ranges: []wire.AckRange{{Smallest: 500, Largest: 600}}})
				bld.AddStream(4, 1<<20, data, false)
				p, _ := bld.Finish(0)
				sealed, err := k.SealPacket(p.Plain, p.PNOffset, p.PNLen, 1000)
				if err != nil {
					b.Fatal(err)
				}
				sealed = append([]byte(nil), sealed...)
				pkt := make([]byte, len(sealed))
				it := wire.NewFrameIter(nil)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					copy(pkt, sealed)
					h, err := wire.ParseHeader(pkt, len(dcid))
					if err != nil {
						b.Fatal(err)
					}
					pnLen, err := k.UnprotectHeader(pkt, h.PNOffset)
					if err != nil {
						b.Fatal(err)
					}
					pn := wire.DecodePacketNumber(999, wire.ReadPacketNumber(pkt[h.PNOffset:], pnLen), pnLen)
					payload, err := k.Open(pkt, h.PNOffset+pnLen, pn)
					if err != nil {
						b.Fatal(err)
					}
					it.Reset(payload)
					for it.Next() {
					}
					if it.Err() != nil {
						b.Fatal(it.Err())
					}
				}
			})
		}
	}
}
