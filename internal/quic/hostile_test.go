package quic

import (
	"errors"
	"testing"

	"github.com/iroh-go/iroh/internal/quic/wire"
)

// TestHostilePeer: frames that would make us grow without bound close
// the connection with the right code instead.
func TestHostilePeer(t *testing.T) {
	manyCIDs := func() []byte {
		var b []byte
		for seq := uint64(100); seq <= 110; seq++ {
			b = (&wire.NewConnectionIDFrame{Seq: seq, CID: []byte{byte(seq), 2, 3, 4, 5, 6, 7, 8}, ResetToken: [16]byte{byte(seq)}}).Append(b)
		}
		return b
	}
	for _, c := range []struct {
		name    string
		payload []byte
		want    TransportErrorCode
	}{
		{"stream beyond MAX_STREAMS", (&wire.StreamFrame{StreamID: 4*1000 + 1, Data: []byte("x")}).Append(nil), StreamLimitError},
		{"data beyond the stream window", (&wire.StreamFrame{StreamID: 1, Offset: DefaultInitialStreamWindow, Data: []byte("x")}).Append(nil), FlowControlError},
		{"more connection ids than our limit", manyCIDs(), ConnectionIDLimitError},
		{"CRYPTO far ahead", (&wire.CryptoFrame{Offset: 1 << 20, Data: []byte("x")}).Append(nil), CryptoBufferExceeded},
		{"ACK of a packet never sent", (&wire.AckFrame{Ranges: []wire.AckRange{{Smallest: 0, Largest: 1 << 40}}}).Append(nil), ProtocolViolation},
		{"HANDSHAKE_DONE from a client", nil, ProtocolViolation},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := handshake(t, nil)
			if c.payload == nil {
				// The server is the victim: build the packet the other way.
				p.client, p.server = p.server, p.client
				c.payload = []byte{byte(wire.FrameHandshakeDone)}
			}
			p.client.Receive(p.now, sealFromServer(p, c.payload), serverAddr, 0)
			var te *TransportError
			if err := p.client.Err(); !errors.As(err, &te) || te.Code != c.want || te.Remote {
				t.Fatalf("error %v, want local %v", err, c.want)
			}
		})
	}
}
