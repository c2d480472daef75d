package quic

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/wire"
)

// sealFromServer builds a 1-RTT packet carrying payload from the server
// of p to its client, protected with the server's current keys, so the
// fuzzer reaches frame handling rather than failing authentication.
func sealFromServer(p *pair, payload []byte) []byte {
	s := p.server
	sp := &s.paths[0].app
	pn := sp.nextPN
	sp.nextPN++
	dcid := s.paths[0].remoteCIDs.current()
	b := wire.AppendShortHeader(nil, dcid.Bytes(), pn, 4, s.keys.keyPhaseBit(), false)
	hdrLen := len(b)
	b = append(b, payload...)
	for len(b)-hdrLen < 4 {
		b = append(b, 0)
	}
	b = append(b, make([]byte, 16)...)[:len(b)]
	pkt := s.keys.write[levelApp].Seal(b, hdrLen, pn)
	s.keys.write[levelApp].ProtectHeader(pkt, hdrLen-4)
	return pkt
}

// fuzzHandshake is the handshake every execution of the Conn fuzz targets
// starts with: X25519 alone, as the hybrid ML-KEM key share took a large
// part of each execution and the key exchange is not what they fuzz.
func fuzzHandshake(t *testing.T) *pair {
	return handshake(t, func(c, s *Config) {
		c.TLS.Groups = []tls13.Group{tls13.X25519}
		s.TLS.Groups = []tls13.Group{tls13.X25519}
	})
}

// FuzzConnFrames feeds sequences of authenticated 1-RTT packets with
// arbitrary frames to an established client: nothing may panic, and the
// connection either survives or closes with a transport error.
func FuzzConnFrames(f *testing.F) {
	seed := func(frames ...[]byte) {
		var in []byte
		for _, fr := range frames {
			in = binary.BigEndian.AppendUint16(in, uint16(len(fr)))
			in = append(in, fr...)
		}
		f.Add(in)
	}
	stream := (&wire.StreamFrame{StreamID: 1, Offset: 0, Data: []byte("hello"), Fin: true}).Append(nil)
	ack := (&wire.AckFrame{Ranges: []wire.AckRange{{Smallest: 0, Largest: 3}}}).Append(nil)
	maxData := (&wire.MaxDataFrame{Max: 1 << 30}).Append(nil)
	ncid := (&wire.NewConnectionIDFrame{Seq: 1, CID: []byte{1, 2, 3, 4, 5, 6, 7, 8}}).Append(nil)
	reset := (&wire.ResetStreamFrame{StreamID: 5, Code: 3, FinalSize: 100}).Append(nil)
	dgram := (&wire.DatagramFrame{Data: []byte("dg")}).Append(nil)
	closeF := (&wire.ConnectionCloseFrame{Application: true, Code: 9, Reason: []byte("x")}).Append(nil)
	seed(stream)
	seed(stream, ack, maxData)
	seed(ncid, reset, dgram)
	seed(append(stream, closeF...))
	seed([]byte{0x1f}, (&wire.AckFrequencyFrame{Seq: 1, AckElicitingThreshold: 10, RequestMaxAckDelay: 5000}).Append(nil))
	seed((&wire.StreamFrame{StreamID: 1 << 40, Offset: 1 << 61, Data: []byte("x")}).Append(nil))

	// One handshake, then every input runs on a copy-free fresh pair
	// would be too slow; instead each input gets its own handshake with
	// fixed seeds (cheap: about a millisecond).
	f.Fuzz(func(t *testing.T, in []byte) {
		p := fuzzHandshake(t)
		for len(in) >= 2 {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			if n > len(in) {
				n = len(in)
			}
			payload := in[:n]
			in = in[n:]
			p.client.Receive(p.now, sealFromServer(p, payload), serverAddr, 0)
			p.now = p.now.Add(time.Millisecond)
			buf := make([]byte, 64*1500)
			for range 100 {
				if m, _, _ := p.client.Send(p.now, buf, 64); m == 0 {
					break
				}
			}
			if to := p.client.Timeout(); !to.IsZero() && !to.After(p.now) {
				p.client.HandleTimeout(p.now)
			}
			for {
				if _, ok := p.client.PollEvent(); !ok {
					break
				}
			}
		}
		if err := p.client.Err(); err != nil {
			switch err.(type) {
			case *TransportError, *ApplicationError, *IdleTimeoutError, *StatelessResetError:
			default:
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
		}
	})
}

// FuzzConnDatagrams feeds raw datagrams to both sides of an established
// connection (headers, coalescing, protection and reset checks on bytes
// that mostly fail authentication) and to a fresh server.
func FuzzConnDatagrams(f *testing.F) {
	f.Add([]byte{0x40, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add(append([]byte{0xc0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x41, 0}, make([]byte, 1200)...))
	f.Add(append([]byte{0x80, 0, 0, 0, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0, 1}, make([]byte, 20)...))
	f.Add(append([]byte{0xf0, 0, 0, 0, 1, 0, 0, 1, 2}, make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, d []byte) {
		p := fuzzHandshake(t)
		p.client.Receive(p.now, append([]byte(nil), d...), serverAddr, 0)
		p.server.Receive(p.now, append([]byte(nil), d...), clientAddr, 0)
		srv, err := NewServer(&Config{CIDs: mapCIDs{}}, p.now, clientAddr, MakeConnectionID([]byte{1, 2, 3, 4, 5, 6, 7, 8}))
		if err == nil {
			srv.Receive(p.now, d, clientAddr, 0)
			buf := make([]byte, 1500)
			srv.Send(p.now, buf, 1)
		}
		p.run(time.Second, func() bool { return true })
	})
}
