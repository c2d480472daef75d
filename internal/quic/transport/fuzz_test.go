package transport

import (
	"testing"

	"github.com/iroh-go/iroh/internal/quic/wire"
)

// FuzzPeekDCID checks the read loop's routing peek against the full
// header parser: whenever wire parses a header, the peek finds the same
// destination connection id.
func FuzzPeekDCID(f *testing.F) {
	f.Add([]byte{0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(append([]byte{0xc0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x41, 0}, make([]byte, 30)...))
	f.Add([]byte{0x80, 0, 0, 0, 0, 25})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, long, ok := peekDCID(b, cidLen)
		h, err := wire.ParseHeader(b, cidLen)
		if err != nil || h.Type == wire.PacketVersionNegotiation || h.Type == wire.PacketUnknownVersion {
			return
		}
		if !ok || long != h.Type.IsLong() || string(id.Bytes()) != string(h.DstCID) {
			t.Fatalf("peek %x long %v ok %v, header %v dcid %x", id.Bytes(), long, ok, h.Type, h.DstCID)
		}
	})
}
