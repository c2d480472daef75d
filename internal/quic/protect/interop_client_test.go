package protect

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/wire"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/ticket"
)

// TestRustIrohClientHandshake is the server side: a real Rust iroh 1.0
// endpoint dials a UDP socket of ours (in a loopback-only namespace) and
// we answer as the server, TLS 1.3 with raw public keys driven by hand in
// the test, packets only through wire and protect: our server Initial
// and Handshake packets coalesced in one datagram, with our server
// transport parameters
// (original_destination_connection_id, stateless_reset_token, multipath,
// QNT), HANDSHAKE_DONE, and the echo of its stream; Rust's connect
// command must report success.
func TestRustIrohClientHandshake(t *testing.T) {
	if os.Getenv(interopChildEnv) != "" {
		rustClientChild(t)
		return
	}
	runInNamespace(t, "TestRustIrohClientHandshake")
}

func rustClientChild(t *testing.T) {
	const suite = tls13.TLS_AES_128_GCM_SHA256
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ours := key.NewSecretKey()
	addr := endpointaddr.Addr{ID: ours.Public(), Direct: []netip.AddrPort{conn.LocalAddr().(*net.UDPAddr).AddrPort()}}
	peer := exec.Command("node", filepath.Join(testutil.SharedDir(t), "interop", "rust-peer.mjs"),
		"connect", ticket.EncodeEndpoint(addr), "--mode", "echo", "--bytes", "1000", "--timeout", "20")
	var peerOut bytes.Buffer
	peer.Stdout, peer.Stderr = &peerOut, &peerOut
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	peerDone := make(chan error, 1)
	go func() { peerDone <- peer.Wait() }()
	defer func() {
		peer.Process.Kill()
		<-peerDone
		if t.Failed() {
			t.Logf("rust-peer:\n%s", peerOut.String())
		}
	}()

	buf := make([]byte, 65536)
	var client netip.AddrPort
	read := func() [][]byte {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("read from Rust: %v", err)
		}
		client = from
		pkts, err := wire.SplitCoalesced(nil, bytes.Clone(buf[:n]), 8)
		if err != nil {
			t.Fatalf("split: %v", err)
		}
		return pkts
	}

	// The client's Initial: ClientHello.
	var odcid, clientCID, ch []byte
	var open, seal *Keys
	for ch == nil {
		for _, pkt := range read() {
			h, err := wire.ParseHeader(pkt, 8)
			if err != nil || h.Type != wire.PacketInitial {
				continue
			}
			if odcid == nil {
				odcid, clientCID = bytes.Clone(h.DstCID), bytes.Clone(h.SrcCID)
				seal, open = InitialKeys(odcid, false)
			}
			_, payload, err := open.OpenPacket(pkt, h.PNOffset, wire.NoPacketNumber)
			if err != nil {
				t.Fatalf("open the client Initial: %v", err)
			}
			var crypto []byte
			it := wire.NewFrameIter(payload)
			for it.Next() {
				if f := it.Frame(); f.Type == wire.FrameCrypto && f.Crypto.Offset == uint64(len(crypto)) {
					crypto = append(crypto, f.Crypto.Data...)
				}
			}
			if len(crypto) >= 4 && len(crypto) >= 4+(int(crypto[1])<<16|int(crypto[2])<<8|int(crypto[3])) {
				ch = crypto
			}
		}
	}
	clientShare := clientHelloShare(t, ch)

	scid := make([]byte, 8)
	rand.Read(scid)
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sh := serverHello(priv.PublicKey().Bytes(), suite)
	peerPub, err := ecdh.X25519().NewPublicKey(clientShare)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := priv.ECDH(peerPub)
	if err != nil {
		t.Fatal(err)
	}
	hs, cSecret, sSecret := scheduleFromShared(suite, shared, ch, sh)
	sHS, _ := NewKeys(suite, sSecret)
	cHS, _ := NewKeys(suite, cSecret)

	// Our flight: EncryptedExtensions (ALPN, certificate types, transport
	// parameters), CertificateRequest, Certificate, CertificateVerify,
	// Finished.
	tp := wire.NewTransportParameters()
	od, is := wire.MustConnID(odcid), wire.MustConnID(scid)
	var tok [16]byte
	rand.Read(tok[:])
	tp.OriginalDestinationCID, tp.InitialSourceCID, tp.StatelessResetToken = &od, &is, &tok
	tp.MaxIdleTimeout, tp.MaxUDPPayloadSize, tp.InitialMaxData = 30000, 1472, 1<<24
	tp.InitialMaxStreamDataBidiLocal, tp.InitialMaxStreamDataBidiRemote, tp.InitialMaxStreamDataUni = 1<<20, 1<<20, 1<<20
	tp.InitialMaxStreamsBidi, tp.InitialMaxStreamsUni, tp.ActiveConnectionIDLimit = 100, 100, 5
	tp.MaxDatagramFrameSize = 65535
	tp.HasMinAckDelay, tp.MinAckDelay = true, 1000
	tp.HasInitialMaxPathID, tp.InitialMaxPathID = true, 7
	tp.NATTraversal = 32
	if err := tp.Validate(true); err != nil {
		t.Fatal(err)
	}
	msg := func(typ byte, body []byte) []byte {
		return append([]byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	}
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	ext := func(b []byte, typ int, body []byte) []byte { return append(u16(u16(b, typ), len(body)), body...) }
	alpn := "iroh-go-interop/echo/0"
	var exts []byte
	exts = ext(exts, 16, append(append(u16(nil, 1+len(alpn)), byte(len(alpn))), alpn...))
	exts = ext(exts, 19, []byte{2})
	exts = ext(exts, 20, []byte{2})
	exts = ext(exts, 57, tp.AppendRandomized(nil, nil))
	flight := msg(8, append(u16(nil, len(exts)), exts...))
	cr := ext(nil, 13, []byte{0, 2, 0x08, 0x07})
	flight = append(flight, msg(13, append([]byte{0}, append(u16(nil, len(cr)), cr...)...))...)
	pub := ours.Public()
	spki := append([]byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}, pub[:]...)
	entry := append(append([]byte{0, 0, byte(len(spki))}, spki...), 0, 0)
	cert := append([]byte{0, byte(len(entry) >> 16), byte(len(entry) >> 8), byte(len(entry))}, entry...)
	flight = append(flight, msg(11, cert)...)
	transcript := append(append(bytes.Clone(ch), sh...), flight...)
	content := append(bytes.Repeat([]byte{0x20}, 64), "TLS 1.3, server CertificateVerify\x00"...)
	sig := ed25519.Sign(ours.Ed25519(), append(content, sum(suite, transcript)...))
	cv := msg(15, append([]byte{0x08, 0x07, byte(len(sig) >> 8), byte(len(sig))}, sig...))
	flight = append(flight, cv...)
	transcript = append(transcript, cv...)
	fk := tls13.ExpandLabel(suite.NewHash(), sSecret, "finished", nil, suite.Hash().Size())
	mac := hmac.New(suite.NewHash(), fk)
	mac.Write(sum(suite, transcript))
	finished := msg(20, mac.Sum(nil))
	flight = append(flight, finished...)
	transcript = append(transcript, finished...)
	sAPSecret, cAPSecret := appSecrets(suite, hs, transcript)
	sAP, _ := NewKeys(suite, sAPSecret)
	cAP, _ := NewKeys(suite, cAPSecret)

	send := func(typ wire.PacketType, k *Keys, pn uint64, crypto []byte, frames ...wire.Frame) {
		t.Helper()
		var b wire.Builder
		b.Reset(make([]byte, 0, 1500), 1452)
		if typ == wire.Packet1RTT {
			b.StartShort(clientCID, pn, 2, false, false, TagLen)
		} else {
			h := wire.LongHeader{Type: typ, Version: wire.Version1, DstCID: clientCID, SrcCID: scid}
			b.StartLong(&h, pn, 2, TagLen)
		}
		for i := range frames {
			b.AddFrame(&frames[i])
		}
		if crypto != nil && b.AddCrypto(0, crypto) != len(crypto) {
			t.Fatalf("%d bytes of CRYPTO do not fit one packet", len(crypto))
		}
		p, _ := b.Finish(0)
		if _, err := k.SealPacket(p.Plain, p.PNOffset, p.PNLen, pn); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteToUDPAddrPort(b.Datagram(), client); err != nil {
			t.Fatal(err)
		}
	}
	// ServerHello in an Initial and our flight in a Handshake packet,
	// coalesced in one datagram (RFC 9000 §12.2), each sealed in place.
	var b wire.Builder
	b.Reset(make([]byte, 0, 1500), 1452)
	ih := wire.LongHeader{Type: wire.PacketInitial, Version: wire.Version1, DstCID: clientCID, SrcCID: scid}
	hh := wire.LongHeader{Type: wire.PacketHandshake, Version: wire.Version1, DstCID: clientCID, SrcCID: scid}
	b.StartLong(&ih, 0, 2, TagLen)
	b.AddAck(&wire.AckFrame{Ranges: []wire.AckRange{{Smallest: 0, Largest: 0}}})
	b.AddCrypto(0, sh)
	pi, _ := b.Finish(0)
	if _, err := seal.SealPacket(pi.Plain, pi.PNOffset, pi.PNLen, 0); err != nil {
		t.Fatal(err)
	}
	b.StartLong(&hh, 0, 2, TagLen)
	if b.AddCrypto(0, flight) != len(flight) {
		t.Fatal("our flight does not fit the datagram")
	}
	ph, _ := b.Finish(wire.MinInitialDatagramSize) // it carries an ack-eliciting Initial (RFC 9000 §14.1)
	if _, err := sHS.SealPacket(ph.Plain, ph.PNOffset, ph.PNLen, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteToUDPAddrPort(b.Datagram(), client); err != nil {
		t.Fatal(err)
	}
	t.Logf("sent ServerHello and our flight (%d bytes) coalesced in one %d-byte datagram", len(flight), len(b.Datagram()))

	// Until Rust's connect reports: its Finished, then 1-RTT stream data
	// to echo.
	var (
		clientFinished bool
		hsLargest      = wire.NoPacketNumber
		appLargest     = wire.NoPacketNumber
		received       []uint64
		data           []byte
		fin            bool
		echoed         bool
		pn             uint64
		closed         bool
	)
	for {
		select {
		case err := <-peerDone:
			peerDone <- err
			out := peerOut.String()
			if !strings.Contains(out, `"ok":true`) {
				t.Fatalf("Rust connect failed (%v): finished %v, %d stream bytes, fin %v, echoed %v", err, clientFinished, len(data), fin, echoed)
			}
			var res struct {
				OK     bool   `json:"ok"`
				Remote string `json:"remote"`
				ALPN   string `json:"alpn"`
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, `{"ok":`) {
					json.Unmarshal([]byte(line), &res)
				}
			}
			if !res.OK || res.Remote != ours.Public().String() || res.ALPN != alpn {
				t.Fatalf("Rust connect result: %+v", res)
			}
			t.Logf("Rust iroh connected to us as %s and got its 1000 bytes echoed", res.Remote[:10])
			return
		default:
		}
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := conn.ReadFromUDPAddrPort(buf)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			continue
		}
		if err != nil {
			t.Fatal(err)
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
			case wire.PacketHandshake:
				p, payload, err := cHS.OpenPacket(pkt, h.PNOffset, hsLargest)
				if err != nil {
					t.Fatalf("open a client Handshake packet: %v", err)
				}
				hsLargest = p
				it := wire.NewFrameIter(payload)
				for it.Next() {
					if f := it.Frame(); f.Type == wire.FrameCrypto && bytes.Contains(f.Crypto.Data, []byte{20, 0, 0, 32}) {
						if !clientFinished {
							clientFinished = true
							done := wire.Frame{Type: wire.FrameHandshakeDone}
							send(wire.Packet1RTT, sAP, pn, nil, done)
							pn++
						}
					}
				}
			case wire.Packet1RTT:
				pnLen, err := cAP.UnprotectHeader(pkt, h.PNOffset)
				if err != nil {
					t.Fatal(err)
				}
				p := wire.DecodePacketNumber(appLargest, wire.ReadPacketNumber(pkt[h.PNOffset:], pnLen), pnLen)
				payload, err := cAP.Open(pkt, h.PNOffset+pnLen, p)
				if err != nil {
					t.Fatalf("open a client 1-RTT packet: %v", err)
				}
				appLargest = max(appLargest+1, p+1) - 1
				received = append(received, p)
				it := wire.NewFrameIter(payload)
				for it.Next() {
					f := it.Frame()
					switch f.Type {
					case wire.FrameStream:
						if f.Stream.StreamID == 0 && f.Stream.Offset <= uint64(len(data)) {
							end := f.Stream.Offset + uint64(len(f.Stream.Data))
							if end > uint64(len(data)) {
								data = append(data, f.Stream.Data[uint64(len(data))-f.Stream.Offset:]...)
							}
							fin = fin || f.Stream.Fin
						}
					case wire.FrameConnectionClose, wire.FrameApplicationClose:
						if !closed {
							t.Logf("Rust closed: %v", f)
						}
						closed = true
					}
				}
				if it.Err() != nil {
					t.Fatalf("client 1-RTT frames: %v", it.Err())
				}
				if closed {
					continue // draining: nothing more to send
				}
				ack := wire.Frame{Type: wire.FramePathAck, Ack: wire.AckFrame{Multipath: true, Ranges: ackRanges(received)}}
				frames := []wire.Frame{ack}
				if fin && !echoed {
					echoed = true
					frames = append(frames, wire.Frame{Type: wire.FrameStream, Stream: wire.StreamFrame{StreamID: 0, Data: data, Fin: true}})
				}
				send(wire.Packet1RTT, sAP, pn, nil, frames...)
				pn++
			}
		}
	}
}

// clientHelloShare returns the x25519 key share of a ClientHello.
func clientHelloShare(t *testing.T, ch []byte) []byte {
	m := ch[4:]
	m = m[2+32:]
	m = m[1+int(m[0]):]                       // session id
	m = m[2+int(binary.BigEndian.Uint16(m)):] // cipher suites
	m = m[1+int(m[0]):]                       // compression
	m = m[2:]                                 // extensions length
	for len(m) >= 4 {
		typ, n := binary.BigEndian.Uint16(m), int(binary.BigEndian.Uint16(m[2:]))
		if typ == 51 {
			s := m[4+2 : 4+n]
			for len(s) >= 4 {
				g, l := binary.BigEndian.Uint16(s), int(binary.BigEndian.Uint16(s[2:]))
				if g == 0x1d {
					return s[4 : 4+l]
				}
				s = s[4+l:]
			}
		}
		m = m[4+n:]
	}
	t.Fatal("ClientHello without an x25519 key share")
	return nil
}

// serverHello is a ServerHello choosing suite and x25519 with pub.
func serverHello(pub []byte, suite tls13.CipherSuite) []byte {
	random := make([]byte, 32)
	rand.Read(random)
	body := append([]byte{3, 3}, random...)
	body = append(body, 0, byte(suite>>8), byte(suite), 0)
	var exts []byte
	exts = append(exts, 0, 43, 0, 2, 3, 4)
	exts = append(exts, 0, 51, 0, byte(4+len(pub)), 0, 0x1d, 0, byte(len(pub)))
	exts = append(exts, pub...)
	body = append(body, byte(len(exts)>>8), byte(len(exts)))
	body = append(body, exts...)
	return append([]byte{2, 0, byte(len(body) >> 8), byte(len(body))}, body...)
}

// scheduleFromShared is the TLS 1.3 handshake key schedule from the ECDH
// secret: the handshake secret and the client and server handshake
// traffic secrets.
func scheduleFromShared(suite tls13.CipherSuite, shared, ch, sh []byte) (hs, client, server []byte) {
	h, size := suite.NewHash(), suite.Hash().Size()
	early, _ := hkdfExtract(suite, make([]byte, size), nil)
	hs, _ = hkdfExtract(suite, shared, tls13.ExpandLabel(h, early, "derived", sum(suite, nil), size))
	th := sum(suite, ch, sh)
	return hs, tls13.ExpandLabel(h, hs, "c hs traffic", th, size), tls13.ExpandLabel(h, hs, "s hs traffic", th, size)
}

func hkdfExtract(suite tls13.CipherSuite, secret, salt []byte) ([]byte, error) {
	return hkdf.Extract(suite.NewHash(), secret, salt)
}
