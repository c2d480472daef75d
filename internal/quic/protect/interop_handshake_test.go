package protect

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"github.com/iroh-go/iroh/endpointaddr"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/wire"
	"github.com/iroh-go/iroh/key"
)

// TestRustIrohHandshake completes a QUIC handshake with a real Rust iroh
// 1.0 listener, driving TLS 1.3 by hand in the test (raw public keys,
// Ed25519, as core.md §6.1 describes) so that only this package and wire
// touch the packets: Initial and Handshake keys, then the 1-RTT keys from
// the application traffic secret. Rust's 1-RTT packets must open and all
// their frames parse: HANDSHAKE_DONE, PATH_NEW_CONNECTION_ID for paths
// 1..7 (our transport parameters negotiated multipath), ADD_ADDRESS with
// the listener's address (and NAT traversal). A STREAM frame in our first
// sealed 1-RTT packet comes back from the echo protocol, and so does a
// DATAGRAM; after a key
// update of ours (Keys.Next), a second stream comes back in key phase 1.
// Then path 1 of multipath opens from a second socket (secondPath), and a
// REACH_OUT makes Rust probe a third one (reachOut); last, a packet with
// PATH_ACK, ACK_FREQUENCY, PATH_STATUS_AVAILABLE and IMMEDIATE_ACK of ours
// is acknowledged.
// Once per cipher suite: AES-128-GCM, AES-256-GCM (SHA-384 key
// schedule) and ChaCha20-Poly1305 (ChaCha20 header protection).
func TestRustIrohHandshake(t *testing.T) {
	if os.Getenv(interopChildEnv) != "" {
		rustHandshakeChild(t)
		return
	}
	runInNamespace(t, "TestRustIrohHandshake")
}

func rustHandshakeChild(t *testing.T) {
	addr := startRustListener(t)
	for _, s := range suites {
		t.Run(s.String(), func(t *testing.T) { rustHandshake(t, addr, s) })
	}
}

func rustHandshake(t *testing.T, addr endpointaddr.Addr, suite tls13.CipherSuite) {
	server := addr.Direct[0]
	ours := key.NewSecretKey()

	dcid, scid := make([]byte, 20), make([]byte, 8)
	rand.Read(dcid)
	rand.Read(scid)
	ch, priv := clientHelloSuite(t, addr.ID, scid, nil, suite)
	initSeal, initOpen := InitialKeys(dcid, true)

	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keyPhase := false
	send := func(typ wire.PacketType, k *Keys, dst []byte, pn uint64, crypto []byte, frames ...wire.Frame) {
		t.Helper()
		var b wire.Builder
		b.Reset(make([]byte, 0, 1500), 1452)
		if typ == wire.Packet1RTT {
			b.StartShort(dst, pn, 2, keyPhase, false, TagLen)
		} else {
			h := wire.LongHeader{Type: typ, Version: wire.Version1, DstCID: dst, SrcCID: scid}
			b.StartLong(&h, pn, 2, TagLen)
		}
		for i := range frames {
			b.AddFrame(&frames[i])
		}
		if crypto != nil && b.AddCrypto(0, crypto) != len(crypto) {
			t.Fatalf("%d bytes of CRYPTO do not fit one packet", len(crypto))
		}
		pad := 0
		if typ == wire.PacketInitial {
			pad = wire.MinInitialDatagramSize
		}
		p, _ := b.Finish(pad)
		if _, err := k.SealPacket(p.Plain, p.PNOffset, p.PNLen, pn); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(b.Datagram()); err != nil {
			t.Fatal(err)
		}
	}
	send(wire.PacketInitial, initSeal, dcid, 0, ch)

	var (
		sh, serverCID []byte
		hsSecret      []byte
		hsCrypto      []byte
		hsPending     [][]byte // Handshake packets before the keys
		appPending    [][]byte // 1-RTT packets before the keys
		sHS, sAP, cHS *Keys
		transcript    []byte
		hsLargest     = wire.NoPacketNumber
		appLargest    = wire.NoPacketNumber
		sentFinished  bool
		handshakeDone bool
		seen          = map[string]int{}
		deadline      = time.Now().Add(20 * time.Second)
		advertised    []netip.AddrPort
		echo          []byte
		echoFin       bool
		sAPNext       *Keys
		cAP           *Keys
		updated       bool
		echo2         []byte
		echo2Fin      bool
		cAPNext       *Keys
		rustPath1CID  []byte
		datagrams     []string
		ackedByRust   int64    = -1
		received      []uint64 // 1-RTT packet numbers of path 0
	)
	const hello = "hello from Go, over wire and protect"
	const hello2 = "and again after a key update"
	const helloDatagram = "a datagram, echoed too"
	buf := make([]byte, 65536)
	openHandshake := func(pkt []byte) {
		h, _ := wire.ParseHeader(pkt, len(scid))
		pn, payload, err := sHS.OpenPacket(pkt, h.PNOffset, hsLargest)
		if err != nil {
			t.Fatalf("open a Handshake packet: %v", err)
		}
		hsLargest = max(hsLargest+1, pn+1) - 1
		it := wire.NewFrameIter(payload)
		for it.Next() {
			if f := it.Frame(); f.Type == wire.FrameCrypto && f.Crypto.Offset == uint64(len(hsCrypto)) {
				hsCrypto = append(hsCrypto, f.Crypto.Data...)
			}
		}
		if it.Err() != nil {
			t.Fatalf("Handshake frames: %v", it.Err())
		}
	}
	openApp := func(pkt []byte) {
		h, err := wire.ParseHeader(pkt, len(scid))
		if err != nil {
			t.Fatal(err)
		}
		pnLen, err := sAP.UnprotectHeader(pkt, h.PNOffset)
		if err != nil {
			t.Fatal(err)
		}
		keys := sAP
		phase := wire.KeyPhase(pkt[0])
		if phase {
			if sAPNext == nil {
				t.Fatal("Rust updated the keys first")
			}
			keys = sAPNext
		}
		pn := wire.DecodePacketNumber(appLargest, wire.ReadPacketNumber(pkt[h.PNOffset:], pnLen), pnLen)
		payload, err := keys.Open(pkt, h.PNOffset+pnLen, pn)
		if err != nil {
			t.Fatalf("open a 1-RTT packet (pn %d): %v", pn, err)
		}
		appLargest = max(appLargest+1, pn+1) - 1
		received = append(received, pn)
		it := wire.NewFrameIter(payload)
		for it.Next() {
			f := it.Frame()
			if !f.Type.Allowed(wire.Packet1RTT) {
				t.Errorf("%v not allowed in 1-RTT", f.Type)
			}
			if seen[f.Type.String()] == 0 {
				t.Logf("1-RTT pn %d: %v", pn, f)
			}
			seen[f.Type.String()]++
			switch f.Type {
			case wire.FrameDatagram:
				datagrams = append(datagrams, string(f.Datagram.Data))
			case wire.FrameAck, wire.FrameAckECN, wire.FramePathAck, wire.FramePathAckECN:
				if f.Ack.PathID == 0 {
					ackedByRust = max(ackedByRust, int64(f.Ack.Largest()))
				}
			case wire.FramePathNewConnectionID:
				if n := &f.NewConnectionID; n.PathID == 1 && n.Seq == 0 {
					rustPath1CID = bytes.Clone(n.CID)
				}
			case wire.FrameAddAddressIPv4, wire.FrameAddAddressIPv6:
				advertised = append(advertised, f.Address.Addr)
			case wire.FrameStream:
				switch f.Stream.StreamID {
				case 0:
					echo = append(echo, f.Stream.Data...)
					echoFin = echoFin || f.Stream.Fin
				case 4:
					if !phase {
						t.Error("stream 4 echoed in key phase 0, after our key update")
					}
					echo2 = append(echo2, f.Stream.Data...)
					echo2Fin = echo2Fin || f.Stream.Fin
				}
			}
			if f.Type == wire.FrameHandshakeDone {
				handshakeDone = true
			}
			if f.Type == wire.FrameConnectionClose || f.Type == wire.FrameApplicationClose {
				t.Fatalf("Rust iroh closed the connection: %v", f)
			}
		}
		if it.Err() != nil {
			t.Fatalf("1-RTT frames of pn %d: %v (frames so far %v)", pn, it.Err(), seen)
		}
	}

	for !echo2Fin || len(datagrams) == 0 {
		if handshakeDone && echoFin && !updated {
			// Handshake confirmed: update our keys (RFC 9001 §6) and send
			// a second stream in key phase 1; Rust must follow.
			updated, keyPhase = true, true
			sAPNext = sAP.Next()
			stream := wire.Frame{Type: wire.FrameStream, Stream: wire.StreamFrame{StreamID: 4, Data: []byte(hello2), Fin: true}}
			cAPNext = cAP.Next()
			send(wire.Packet1RTT, cAPNext, serverCID, 1, nil, stream)
			t.Log("sent stream 4 in key phase 1")
		}
		conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("with Rust iroh: ServerHello %v, %d bytes of handshake data, Finished sent %v, HANDSHAKE_DONE %v, echo %q (fin %v), after key update %q (fin %v): %v",
				sh != nil, len(hsCrypto), sentFinished, handshakeDone, echo, echoFin, echo2, echo2Fin, err)
		}
		pkts, err := wire.SplitCoalesced(nil, bytes.Clone(buf[:n]), len(scid))
		if err != nil {
			t.Fatalf("split: %v", err)
		}
		for _, pkt := range pkts {
			h, err := wire.ParseHeader(pkt, len(scid))
			if err != nil {
				t.Fatal(err)
			}
			switch h.Type {
			case wire.PacketInitial:
				_, payload, err := initOpen.OpenPacket(pkt, h.PNOffset, wire.NoPacketNumber)
				if err != nil {
					t.Fatalf("open the server Initial: %v", err)
				}
				it := wire.NewFrameIter(payload)
				for it.Next() {
					if f := it.Frame(); f.Type == wire.FrameCrypto && f.Crypto.Offset == 0 && sh == nil {
						sh = bytes.Clone(f.Crypto.Data)
						serverCID = bytes.Clone(h.SrcCID)
					}
				}
				if sh != nil && sHS == nil {
					var cSecret, sSecret []byte
					hsSecret, cSecret, sSecret = handshakeSecrets(t, suite, priv, ch, sh)
					if sHS, err = NewKeys(suite, sSecret); err != nil {
						t.Fatal(err)
					}
					cHS, _ = NewKeys(suite, cSecret)
					transcript = append(append([]byte(nil), ch...), sh...)
					for _, p := range hsPending {
						openHandshake(p)
					}
					hsPending = nil
				}
			case wire.PacketHandshake:
				if sHS == nil {
					hsPending = append(hsPending, pkt)
				} else {
					openHandshake(pkt)
				}
			case wire.Packet1RTT:
				if sAP == nil {
					appPending = append(appPending, pkt)
				} else {
					openApp(pkt)
				}
			}
		}
		if sHS != nil && !sentFinished {
			msgs, done := serverFlight(t, hsCrypto)
			if !done {
				continue
			}
			transcript = append(transcript, msgs.all...)
			sSecret, cSecret := appSecrets(suite, hsSecret, transcript)
			if sAP, err = NewKeys(suite, sSecret); err != nil {
				t.Fatal(err)
			}
			cAP, err = NewKeys(suite, cSecret)
			if err != nil {
				t.Fatal(err)
			}
			flight := clientFlight(t, suite, ours, msgs.certRequestContext, transcript, cHS)
			ack := wire.Frame{Type: wire.FrameAck, Ack: wire.AckFrame{Ranges: []wire.AckRange{{Smallest: 0, Largest: hsLargest}}}}
			send(wire.PacketHandshake, cHS, serverCID, 0, flight, ack)
			sentFinished = true
			t.Logf("sent our Certificate, CertificateVerify and Finished (%d bytes)", len(flight))
			// A stream for the echo protocol, in our first 1-RTT packet.
			stream := wire.Frame{Type: wire.FrameStream, Stream: wire.StreamFrame{StreamID: 0, Data: []byte(hello), Fin: true}}
			dgram := wire.Frame{Type: wire.FrameDatagram, Datagram: wire.DatagramFrame{Data: []byte(helloDatagram)}}
			send(wire.Packet1RTT, cAP, serverCID, 0, nil, stream, dgram)
			for _, p := range appPending {
				openApp(p)
			}
			appPending = nil
		}
	}
	secondPath(t, server, rustPath1CID, serverCID, scid, cAPNext, sAPNext, send)
	reachOut(t, server, serverCID, scid, cAPNext, sAPNext, send, appLargest)

	// The ack-frequency and multipath frames of ours that are safe to
	// send now: Rust must acknowledge the packet, not close.
	// Only what arrived: noq skips packet numbers to catch optimistic
	// acknowledgements (acking one is "unsent packet acked").
	ackUs := wire.Frame{Type: wire.FramePathAck, Ack: wire.AckFrame{Multipath: true, PathID: 0, Ranges: ackRanges(received)}}
	freq := wire.Frame{Type: wire.FrameAckFrequency, AckFrequency: wire.AckFrequencyFrame{
		Seq: 0, AckElicitingThreshold: 2, RequestMaxAckDelay: 25000, ReorderingThreshold: 1}}
	status := wire.Frame{Type: wire.FramePathStatusAvailable, PathStatus: wire.PathStatusFrame{Available: true, PathID: 0, Seq: 1}}
	send(wire.Packet1RTT, cAPNext, serverCID, 4, nil, ackUs, freq, status,
		wire.Frame{Type: wire.FrameImmediateAck}, wire.Frame{Type: wire.FramePing})
	for ackedByRust < 4 {
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("Rust did not acknowledge our PATH_ACK, ACK_FREQUENCY, PATH_STATUS_AVAILABLE, IMMEDIATE_ACK packet (acked up to %d): %v", ackedByRust, err)
		}
		pkts, err := wire.SplitCoalesced(nil, bytes.Clone(buf[:n]), len(scid))
		if err != nil {
			t.Fatal(err)
		}
		for _, pkt := range pkts {
			if h, _ := wire.ParseHeader(pkt, len(scid)); h.Type == wire.Packet1RTT {
				openApp(pkt)
			}
		}
	}
	if len(datagrams) != 1 || datagrams[0] != helloDatagram {
		t.Errorf("datagrams back %q, want %q", datagrams, helloDatagram)
	}
	if string(echo) != hello || string(echo2) != hello2 {
		t.Errorf("echo %q and %q, want %q and %q", echo, echo2, hello, hello2)
	}
	// Our transport parameters negotiated multipath and NAT traversal:
	// Rust issues connection IDs for paths 1..7 and advertises addresses.
	if seen["PATH_NEW_CONNECTION_ID"] == 0 {
		t.Error("no PATH_NEW_CONNECTION_ID: multipath not negotiated")
	}
	if !slices.Contains(advertised, server) {
		t.Errorf("ADD_ADDRESS frames %v do not include the listener's %v: NAT traversal not negotiated", advertised, server)
	}
	t.Logf("1-RTT frames from Rust iroh: %v", seen)
}

// handshakeSecrets derives the handshake secret and the client and server
// handshake traffic secrets from the ServerHello (RFC 8446 §7.1).
func handshakeSecrets(t *testing.T, suite tls13.CipherSuite, priv *ecdh.PrivateKey, ch, sh []byte) (hs, client, server []byte) {
	m := sh[4:]
	sidLen := int(m[2+32])
	if got := tls13.CipherSuite(binary.BigEndian.Uint16(m[2+32+1+sidLen:])); got != suite {
		t.Fatalf("server chose %v, we offered only %v", got, suite)
	}
	m = m[2+32+1+sidLen+2+1+2:]
	var share []byte
	for len(m) >= 4 {
		typ, n := binary.BigEndian.Uint16(m), int(binary.BigEndian.Uint16(m[2:]))
		if typ == 51 {
			share = m[4+4 : 4+n]
		}
		m = m[4+n:]
	}
	peer, err := ecdh.X25519().NewPublicKey(share)
	if err != nil {
		t.Fatalf("server key share: %v", err)
	}
	shared, err := priv.ECDH(peer)
	if err != nil {
		t.Fatal(err)
	}
	h, size := suite.NewHash(), suite.Hash().Size()
	early, _ := hkdf.Extract(h, make([]byte, size), nil)
	hs, _ = hkdf.Extract(h, shared, tls13.ExpandLabel(h, early, "derived", sum(suite, nil), size))
	th := sum(suite, ch, sh)
	return hs, tls13.ExpandLabel(h, hs, "c hs traffic", th, size), tls13.ExpandLabel(h, hs, "s hs traffic", th, size)
}

// sum hashes the concatenation of parts with the suite's hash.
func sum(suite tls13.CipherSuite, parts ...[]byte) []byte {
	h := suite.NewHash()()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// appSecrets derives the server and client application traffic secrets
// from the handshake secret and the transcript through the server's
// Finished.
func appSecrets(suite tls13.CipherSuite, hs, transcript []byte) (server, client []byte) {
	h, size := suite.NewHash(), suite.Hash().Size()
	ms, _ := hkdf.Extract(h, make([]byte, size), tls13.ExpandLabel(h, hs, "derived", sum(suite, nil), size))
	th := sum(suite, transcript)
	return tls13.ExpandLabel(h, ms, "s ap traffic", th, size), tls13.ExpandLabel(h, ms, "c ap traffic", th, size)
}

type serverMsgs struct {
	all                []byte
	certRequestContext []byte
}

// serverFlight splits the server's handshake messages; done once its
// Finished arrived.
func serverFlight(t *testing.T, b []byte) (serverMsgs, bool) {
	var m serverMsgs
	off := 0
	for off+4 <= len(b) {
		typ := b[off]
		l := int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		if off+4+l > len(b) {
			return m, false
		}
		body := b[off+4 : off+4+l]
		if typ == 13 && len(body) > 0 {
			m.certRequestContext = body[1 : 1+int(body[0])]
		}
		off += 4 + l
		if typ == 20 {
			m.all = b[:off]
			return m, true
		}
	}
	return m, false
}

// clientFlight is our Certificate (the raw Ed25519 key as a
// SubjectPublicKeyInfo), CertificateVerify and Finished; it extends
// transcript.
func clientFlight(t *testing.T, suite tls13.CipherSuite, sk key.SecretKey, ctx, transcript []byte, cHS *Keys) []byte {
	msg := func(typ byte, body []byte) []byte {
		return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	}
	pub := sk.Public()
	spki := append([]byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}, pub[:]...)
	entry := append([]byte{0, 0, byte(len(spki))}, spki...)
	entry = append(entry, 0, 0) // no extensions
	cert := append([]byte{byte(len(ctx))}, ctx...)
	cert = append(cert, byte(len(entry)>>16), byte(len(entry)>>8), byte(len(entry)))
	cert = msg(11, append(cert, entry...))
	transcript = append(transcript, cert...)

	content := append(bytes.Repeat([]byte{0x20}, 64), "TLS 1.3, client CertificateVerify\x00"...)
	sig := ed25519.Sign(sk.Ed25519(), append(content, sum(suite, transcript)...))
	cv := msg(15, append([]byte{0x08, 0x07, byte(len(sig) >> 8), byte(len(sig))}, sig...))
	transcript = append(transcript, cv...)

	finishedKey := tls13.ExpandLabel(suite.NewHash(), cHS.secret, "finished", nil, suite.Hash().Size())
	mac := hmac.New(suite.NewHash(), finishedKey)
	mac.Write(sum(suite, transcript))
	fin := msg(20, mac.Sum(nil))
	return append(append(cert, cv...), fin...)
}

// secondPath opens multipath path 1 from a second UDP socket: our
// connection IDs for path 1 go to Rust on path 0 (PATH_NEW_CONNECTION_ID),
// then a PATH_CHALLENGE sealed with path ID 1 in the nonce
// (SealPacketForPath) goes to Rust's path-1 connection ID; Rust's answer
// on path 1 opens with OpenForPath and carries our PATH_RESPONSE.
func secondPath(t *testing.T, server netip.AddrPort, rustCID, serverCID, scid []byte, seal, open *Keys,
	send func(wire.PacketType, *Keys, []byte, uint64, []byte, ...wire.Frame)) {
	t.Helper()
	if rustCID == nil {
		t.Fatal("Rust sent no connection ID for path 1")
	}
	ourCID := make([]byte, 8)
	rand.Read(ourCID)
	var tok [16]byte
	rand.Read(tok[:])
	ncid := wire.Frame{Type: wire.FramePathNewConnectionID, NewConnectionID: wire.NewConnectionIDFrame{
		Multipath: true, PathID: 1, Seq: 0, CID: ourCID, ResetToken: tok}}
	send(wire.Packet1RTT, seal, serverCID, 2, nil, ncid)

	conn2, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	var challenge [8]byte
	rand.Read(challenge[:])
	probe := func(pn uint64) {
		var b wire.Builder
		b.Reset(make([]byte, 0, 1500), 1452)
		b.StartShort(rustCID, pn, 1, true, false, TagLen)
		b.AddFrame(&wire.Frame{Type: wire.FramePathChallenge, PathChallenge: wire.PathChallengeFrame{Data: challenge}})
		p, _ := b.Finish(wire.MinInitialDatagramSize) // probes are padded to 1200
		if _, err := seal.SealPacketForPath(p.Plain, p.PNOffset, p.PNLen, 1, pn); err != nil {
			t.Fatal(err)
		}
		if _, err := conn2.Write(b.Datagram()); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 65536)
	largest := wire.NoPacketNumber
	// Probe again every 300 ms, in case the probe overtook our connection
	// IDs for path 1 (they travel on path 0).
	var sent uint64
	for {
		if largest == wire.NoPacketNumber {
			if sent == 30 {
				t.Fatal("no answer on path 1 to 30 probes")
			}
			probe(sent)
			sent++
			conn2.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		} else {
			conn2.SetReadDeadline(time.Now().Add(10 * time.Second))
		}
		n, err := conn2.Read(buf)
		if ne, ok := err.(net.Error); ok && ne.Timeout() && largest == wire.NoPacketNumber {
			continue
		}
		if err != nil {
			t.Fatalf("no answer on path 1: %v", err)
		}
		pkt := buf[:n]
		h, err := wire.ParseHeader(pkt, len(ourCID))
		if err != nil || h.Type != wire.Packet1RTT || !bytes.Equal(h.DstCID, ourCID) {
			t.Fatalf("path 1 answer: %v %v to %x, want our path-1 CID %x", h.Type, err, h.DstCID, ourCID)
		}
		pnLen, err := open.UnprotectHeader(pkt, h.PNOffset)
		if err != nil {
			t.Fatal(err)
		}
		if !wire.KeyPhase(pkt[0]) {
			t.Fatal("path 1 answer in key phase 0")
		}
		pn := wire.DecodePacketNumber(largest, wire.ReadPacketNumber(pkt[h.PNOffset:], pnLen), pnLen)
		payload, err := open.OpenForPath(pkt, h.PNOffset+pnLen, 1, pn)
		if err != nil {
			t.Fatalf("open Rust's path-1 packet pn %d with path ID 1 in the nonce: %v", pn, err)
		}
		largest = pn
		it := wire.NewFrameIter(payload)
		for it.Next() {
			f := it.Frame()
			if f.Type != wire.FramePadding {
				t.Logf("path 1 pn %d: %v", pn, f)
			}
			if f.Type == wire.FramePathResponse && f.PathChallenge.Data == challenge {
				return
			}
		}
		if it.Err() != nil {
			t.Fatalf("path 1 frames: %v", it.Err())
		}
	}
}

// reachOut sends the QNT frame REACH_OUT (round 1) naming a third socket
// of ours; Rust, the server side of NAT traversal, probes that address
// off-path: a PATH_CHALLENGE in a path-0 packet to our connection ID,
// which opens with our keys.
func reachOut(t *testing.T, server netip.AddrPort, serverCID, scid []byte, seal, open *Keys,
	send func(wire.PacketType, *Keys, []byte, uint64, []byte, ...wire.Frame), largest uint64) {
	t.Helper()
	conn3, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn3.Close()
	candidate := conn3.LocalAddr().(*net.UDPAddr).AddrPort()
	ro := wire.Frame{Type: wire.FrameReachOutIPv4, Address: wire.AddressFrame{Kind: wire.FrameReachOutIPv4, Seq: 1, Addr: candidate}}
	send(wire.Packet1RTT, seal, serverCID, 3, nil, ro)
	buf := make([]byte, 65536)
	conn3.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, from, err := conn3.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("no NAT traversal probe at %v after REACH_OUT: %v", candidate, err)
		}
		pkt := buf[:n]
		h, err := wire.ParseHeader(pkt, len(scid))
		if err != nil || h.Type != wire.Packet1RTT || !bytes.Equal(h.DstCID, scid) {
			t.Fatalf("probe: %v %v to %x", h.Type, err, h.DstCID)
		}
		pnLen, err := open.UnprotectHeader(pkt, h.PNOffset)
		if err != nil {
			t.Fatal(err)
		}
		pn := wire.DecodePacketNumber(largest, wire.ReadPacketNumber(pkt[h.PNOffset:], pnLen), pnLen)
		payload, err := open.Open(pkt, h.PNOffset+pnLen, pn)
		if err != nil {
			t.Fatalf("open the probe (pn %d): %v", pn, err)
		}
		it := wire.NewFrameIter(payload)
		for it.Next() {
			if f := it.Frame(); f.Type == wire.FramePathChallenge {
				t.Logf("NAT traversal probe from %v: %v (%d bytes, not padded)", from, f, n)
				return
			}
		}
		if it.Err() != nil {
			t.Fatalf("probe frames: %v", it.Err())
		}
	}
}

// ackRanges turns packet numbers into descending ACK ranges.
func ackRanges(pns []uint64) []wire.AckRange {
	pns = slices.Clone(pns)
	slices.Sort(pns)
	pns = slices.Compact(pns)
	var r []wire.AckRange
	for i := len(pns) - 1; i >= 0; i-- {
		if n := len(r); n > 0 && r[n-1].Smallest == pns[i]+1 {
			r[n-1].Smallest = pns[i]
		} else {
			r = append(r, wire.AckRange{Smallest: pns[i], Largest: pns[i]})
		}
	}
	return r
}
