package protect_test

import (
	"fmt"

	"github.com/iroh-go/iroh/internal/quic/protect"
	"github.com/iroh-go/iroh/internal/quic/wire"
)

// A client Initial from layout to sealing, and the server opening it:
// the send and receive paths of wire and protect together.
func Example() {
	dcid := []byte{0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08}
	scid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	clientSeal, _ := protect.InitialKeys(dcid, true)
	_, serverOpen := protect.InitialKeys(dcid, false)

	// Client: lay out the datagram, seal the packet in place.
	var b wire.Builder
	b.Reset(make([]byte, 0, 1500), 1452)
	h := wire.LongHeader{Type: wire.PacketInitial, Version: wire.Version1, DstCID: dcid, SrcCID: scid}
	b.StartLong(&h, 0, wire.PacketNumberLen(0, wire.NoPacketNumber), protect.TagLen)
	b.AddCrypto(0, []byte("ClientHello would go here"))
	p, _ := b.Finish(wire.MinInitialDatagramSize)
	if _, err := clientSeal.SealPacket(p.Plain, p.PNOffset, p.PNLen, 0); err != nil {
		panic(err)
	}
	datagram := b.Datagram()

	// Server: route by DCID, parse the header, open, walk the frames.
	hdr, err := wire.ParseHeader(datagram, 8)
	if err != nil {
		panic(err)
	}
	pn, payload, err := serverOpen.OpenPacket(datagram[:hdr.Len], hdr.PNOffset, wire.NoPacketNumber)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v packet %d in a %d-byte datagram\n", hdr.Type, pn, len(datagram))
	it := wire.NewFrameIter(payload)
	for it.Next() {
		fmt.Println(it.Frame())
	}
	// Output:
	// Initial packet 0 in a 1200-byte datagram
	// CRYPTO off=0 len=25
	// PADDING len=1129
}
