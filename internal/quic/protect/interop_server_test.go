package protect

import (
	"bufio"
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"github.com/iroh-go/iroh/endpointaddr"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/wire"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/ticket"
)

// TestRustIrohServerInitial sends a client Initial built with this
// package and wire (Builder, transport parameters with GREASE in random
// order, a hand-made TLS 1.3 ClientHello offering raw public keys) to a
// real Rust iroh 1.0 endpoint listening in a loopback-only namespace,
// and opens its answer: the server Initial must decrypt with our keys and
// carry an ACK of our packet and the ServerHello, followed by Handshake
// packets, which open with keys derived from the ServerHello and hold the
// server's transport parameters (server-only ones included); a
// CONNECTION_CLOSE (for instance over our transport parameters) fails the
// test with its code and reason. A packet of an unknown version gets a
// Version Negotiation packet that parses and offers version 1.
func TestRustIrohServerInitial(t *testing.T) {
	if os.Getenv(interopChildEnv) != "" {
		rustServerChild(t)
		return
	}
	runInNamespace(t, "TestRustIrohServerInitial")
}

// startRustListener starts rust-peer.mjs listen on 127.0.0.1 serving the
// echo ALPN and returns its address; the process ends with the test.
func startRustListener(t *testing.T) endpointaddr.Addr {
	peer := exec.Command("node", filepath.Join(testutil.SharedDir(t), "interop", "rust-peer.mjs"),
		"listen", "--bind", "127.0.0.1:0", "--alpn", "iroh-go-interop/echo/0")
	stdout, err := peer.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	peer.Stderr = os.Stderr
	stdin, err := peer.StdinPipe() // the listener serves until its stdin closes
	if err != nil {
		t.Fatal(err)
	}
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		peer.Process.Kill()
		peer.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev struct {
				Event  string `json:"event"`
				Ticket string `json:"ticket"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "ready" {
				ready <- ev.Ticket
			} else {
				os.Stderr.Write(append(sc.Bytes(), '\n'))
			}
		}
		close(ready)
	}()
	var tk string
	select {
	case tk = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("rust-peer listen: not ready in 30 s")
	}
	addr, err := ticket.ParseEndpoint(tk)
	if err != nil || len(addr.Direct) == 0 {
		t.Fatalf("ticket %q: %v", tk, err)
	}
	return addr
}

func rustServerChild(t *testing.T) {
	addr := startRustListener(t)
	server := addr.Direct[0]
	t.Logf("server %v", addr.Direct)

	dcid, scid := make([]byte, 20), make([]byte, 8)
	rand.Read(dcid)
	rand.Read(scid)
	ch, priv := clientHello(t, addr.ID, scid, nil)

	var b wire.Builder
	b.Reset(make([]byte, 0, 1500), 1452)
	h := wire.LongHeader{Type: wire.PacketInitial, Version: wire.Version1, DstCID: dcid, SrcCID: scid}
	if !b.StartLong(&h, 0, 1, TagLen) || b.AddCrypto(0, ch) != len(ch) {
		t.Fatal("ClientHello does not fit one Initial")
	}
	p, ok := b.Finish(wire.MinInitialDatagramSize)
	if !ok {
		t.Fatal("no packet")
	}
	seal, open := InitialKeys(dcid, true)
	if _, err := seal.SealPacket(p.Plain, p.PNOffset, p.PNLen, 0); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(b.Datagram()); err != nil {
		t.Fatal(err)
	}

	buf := make([]byte, 65536)
	versionNegotiation(t, server, buf)
	badTransportParameters(t, server, addr.ID, buf)
	conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	var acked, serverHello, handshake bool
	var sh, serverSCID []byte
	var hsPackets [][]byte
	for !(acked && serverHello && handshake) || !serverParams(t, priv, ch, sh, hsPackets, dcid, serverSCID) {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("answer from Rust iroh: acked %v, ServerHello %v, Handshake %v: %v", acked, serverHello, handshake, err)
		}
		pkts, err := wire.SplitCoalesced(nil, buf[:n], len(scid))
		if err != nil {
			t.Fatalf("split the answer: %v", err)
		}
		for _, pkt := range pkts {
			h, err := wire.ParseHeader(pkt, len(scid))
			if err != nil {
				t.Fatal(err)
			}
			if string(h.DstCID) != string(scid) {
				t.Fatalf("answer to DCID %x, we are %x", h.DstCID, scid)
			}
			switch h.Type {
			case wire.PacketHandshake:
				handshake = true
				hsPackets = append(hsPackets, bytes.Clone(pkt))
				t.Logf("Handshake packet: %d bytes", len(pkt))
				continue
			case wire.PacketInitial:
			default:
				t.Fatalf("unexpected %v packet", h.Type)
			}
			pn, payload, err := open.OpenPacket(pkt, h.PNOffset, wire.NoPacketNumber)
			if err != nil {
				t.Fatalf("open the server Initial: %v", err)
			}
			it := wire.NewFrameIter(payload)
			for it.Next() {
				f := it.Frame()
				switch f.Type {
				case wire.FrameAck, wire.FrameAckECN:
					if f.Ack.Largest() == 0 && f.Ack.Ranges[len(f.Ack.Ranges)-1].Smallest == 0 {
						acked = true
					}
				case wire.FrameCrypto:
					if f.Crypto.Offset == 0 && len(f.Crypto.Data) > 40 && f.Crypto.Data[0] == 2 {
						serverHello = true
						sh = bytes.Clone(f.Crypto.Data)
						serverSCID = bytes.Clone(h.SrcCID)
						suite := binary.BigEndian.Uint16(f.Crypto.Data[4+2+32+1+int(f.Crypto.Data[4+2+32]):])
						t.Logf("ServerHello: cipher suite %#04x, %d bytes", suite, len(f.Crypto.Data))
					}
				case wire.FrameConnectionClose, wire.FrameApplicationClose:
					c := f.ConnectionClose
					t.Fatalf("Rust iroh closed: code %#x frame %v reason %q", c.Code, c.FrameType, c.Reason)
				}
			}
			if it.Err() != nil {
				t.Fatalf("frames of the server Initial: %v", it.Err())
			}
			t.Logf("server Initial pn %d: %d bytes; acked %v, ServerHello %v", pn, len(pkt), acked, serverHello)
		}
	}
}

// clientHello is a TLS 1.3 ClientHello as iroh offers it (core.md §6.1):
// raw public keys both ways, Ed25519, x25519, the SNI of the server's id,
// our transport parameters.
//
// badParams, if not nil, replaces the transport parameters.
func clientHello(t *testing.T, server key.PublicKey, scid []byte, badParams []byte) ([]byte, *ecdh.PrivateKey) {
	return clientHelloSuite(t, server, scid, badParams, tls13.TLS_AES_128_GCM_SHA256)
}

// clientHelloSuite is clientHello offering only suite.
func clientHelloSuite(t *testing.T, server key.PublicKey, scid []byte, badParams []byte, suite tls13.CipherSuite) ([]byte, *ecdh.PrivateKey) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tp := wire.NewTransportParameters()
	cid := wire.MustConnID(scid)
	tp.InitialSourceCID = &cid
	tp.MaxIdleTimeout = 30000
	tp.MaxUDPPayloadSize = 1472
	tp.InitialMaxData = 1 << 24
	tp.InitialMaxStreamDataBidiLocal, tp.InitialMaxStreamDataBidiRemote, tp.InitialMaxStreamDataUni = 1<<20, 1<<20, 1<<20
	tp.InitialMaxStreamsBidi, tp.InitialMaxStreamsUni = 100, 100
	tp.ActiveConnectionIDLimit = 5
	tp.MaxDatagramFrameSize = 65535
	tp.HasMinAckDelay, tp.MinAckDelay = true, 1000
	tp.HasInitialMaxPathID, tp.InitialMaxPathID = true, 7
	tp.NATTraversal = 32

	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	ext := func(b []byte, typ int, body []byte) []byte { return append(u16(u16(b, typ), len(body)), body...) }
	sni := server.SNIName()
	var exts []byte
	exts = ext(exts, 0, append(u16(append(u16(nil, 3+len(sni)), 0), len(sni)), sni...))
	exts = ext(exts, 10, []byte{0, 2, 0x00, 0x1d})
	exts = ext(exts, 13, []byte{0, 2, 0x08, 0x07})
	alpn := "iroh-go-interop/echo/0"
	exts = ext(exts, 16, append(append(u16(nil, 1+len(alpn)), byte(len(alpn))), alpn...))
	exts = ext(exts, 43, []byte{2, 0x03, 0x04})
	exts = ext(exts, 45, []byte{1, 1})
	pub := priv.PublicKey().Bytes()
	exts = ext(exts, 51, append(u16(u16(u16(nil, 4+len(pub)), 0x1d), len(pub)), pub...))
	exts = ext(exts, 19, []byte{1, 2})
	exts = ext(exts, 20, []byte{1, 2})
	if badParams != nil {
		exts = ext(exts, 57, badParams)
	} else {
		exts = ext(exts, 57, tp.AppendRandomized(nil, nil))
	}

	body := []byte{3, 3}
	random := make([]byte, 32)
	rand.Read(random)
	body = append(body, random...)
	body = append(body, 0)                                 // legacy_session_id
	body = append(body, 0, 2, byte(suite>>8), byte(suite)) // cipher_suites
	body = append(body, 1, 0)                              // legacy_compression_methods
	body = append(u16(body, len(exts)), exts...)
	msg := []byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(msg, body...), priv
}

// serverParams derives the server's handshake traffic secret from the
// ServerHello (TLS 1.3 key schedule, RFC 8446 §7.1, SHA-256 suites),
// opens the Handshake packets with NewKeys, and checks the transport
// parameters in EncryptedExtensions: server-only parameters from a real
// Rust server. It returns false while the packets so far do not hold the
// whole EncryptedExtensions.
func serverParams(t *testing.T, priv *ecdh.PrivateKey, ch, sh []byte, pkts [][]byte, odcid, serverSCID []byte) bool {
	t.Helper()
	if sh == nil || len(pkts) == 0 {
		return false
	}
	// ServerHello: type, length, version, random, session id, suite,
	// compression, extensions.
	m := sh[4:]
	sidLen := int(m[2+32])
	m = m[2+32+1+sidLen:]
	suite := tls13.CipherSuite(binary.BigEndian.Uint16(m))
	if suite != tls13.TLS_AES_128_GCM_SHA256 {
		t.Fatalf("server chose %v, we offered only TLS_AES_128_GCM_SHA256", suite)
	}
	m = m[2+1+2:]
	var share []byte
	for len(m) >= 4 {
		typ, n := binary.BigEndian.Uint16(m), int(binary.BigEndian.Uint16(m[2:]))
		if typ == 51 {
			share = m[4+4 : 4+n]
		}
		m = m[4+n:]
	}
	peerPub, err := ecdh.X25519().NewPublicKey(share)
	if err != nil {
		t.Fatalf("server key share: %v", err)
	}
	shared, err := priv.ECDH(peerPub)
	if err != nil {
		t.Fatal(err)
	}
	early, _ := hkdf.Extract(sha256.New, make([]byte, 32), nil)
	empty := sha256.Sum256(nil)
	derived := tls13.ExpandLabel(sha256.New, early, "derived", empty[:], 32)
	hs, _ := hkdf.Extract(sha256.New, shared, derived)
	th := sha256.New()
	th.Write(ch)
	th.Write(sh)
	secret := tls13.ExpandLabel(sha256.New, hs, "s hs traffic", th.Sum(nil), 32)
	keys, err := NewKeys(suite, secret)
	if err != nil {
		t.Fatal(err)
	}
	var crypto []byte
	largest := wire.NoPacketNumber
	for _, pkt := range pkts {
		h, err := wire.ParseHeader(pkt, 0) // long headers only
		if err != nil {
			t.Fatal(err)
		}
		pn, payload, err := keys.OpenPacket(bytes.Clone(pkt), h.PNOffset, largest)
		if err != nil {
			t.Fatalf("open a Handshake packet with keys from the ServerHello: %v", err)
		}
		largest = pn
		it := wire.NewFrameIter(payload)
		for it.Next() {
			if f := it.Frame(); f.Type == wire.FrameCrypto && f.Crypto.Offset == uint64(len(crypto)) {
				crypto = append(crypto, f.Crypto.Data...)
			}
		}
		if it.Err() != nil {
			t.Fatalf("Handshake frames: %v", it.Err())
		}
	}
	if len(crypto) < 6 || crypto[0] != 8 {
		t.Fatalf("first Handshake message is type %x, want EncryptedExtensions", crypto[:1])
	}
	l := int(crypto[1])<<16 | int(crypto[2])<<8 | int(crypto[3])
	if len(crypto) < 4+l {
		return false
	}
	exts := crypto[6 : 4+l]
	for len(exts) >= 4 {
		typ, n := binary.BigEndian.Uint16(exts), int(binary.BigEndian.Uint16(exts[2:]))
		if typ == 57 {
			p, err := wire.ParseTransportParameters(exts[4:4+n], true)
			if err != nil {
				t.Fatalf("Rust server transport parameters: %v", err)
			}
			if p.OriginalDestinationCID == nil || !bytes.Equal(p.OriginalDestinationCID.Bytes(), odcid) ||
				p.InitialSourceCID == nil || !bytes.Equal(p.InitialSourceCID.Bytes(), serverSCID) ||
				!p.HasInitialMaxPathID || p.InitialMaxPathID != 7 || p.NATTraversal != 32 || p.MaxIdleTimeout != 30000 {
				t.Errorf("Rust server transport parameters: %+v", p)
			}
			t.Logf("Rust server transport parameters (%d bytes): %+v", n, p)
			return true
		}
		exts = exts[4+n:]
	}
	t.Fatal("EncryptedExtensions without quic_transport_parameters")
	return false
}

// versionNegotiation sends a 1200-byte Initial of an unknown version
// (0x1a2a3a4a, of the reserved pattern) to the Rust server and parses
// its Version Negotiation answer.
func versionNegotiation(t *testing.T, server netip.AddrPort, buf []byte) {
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dcid, scid := make([]byte, 20), make([]byte, 8)
	rand.Read(dcid)
	rand.Read(scid)
	p := []byte{0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 20}
	p = append(append(p, dcid...), 8)
	p = append(p, scid...)
	p = append(p, make([]byte, wire.MinInitialDatagramSize-len(p))...)
	if h, err := wire.ParseHeader(p, 0); err != nil || h.Type != wire.PacketUnknownVersion {
		t.Fatalf("our unknown-version packet parses as %v, %v", h.Type, err)
	}
	if _, err := conn.Write(p); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no Version Negotiation from Rust iroh: %v", err)
	}
	h, err := wire.ParseHeader(buf[:n], 0)
	if err != nil || h.Type != wire.PacketVersionNegotiation {
		t.Fatalf("answer to an unknown version: %v %v", h.Type, err)
	}
	if !bytes.Equal(h.DstCID, scid) || !bytes.Equal(h.SrcCID, dcid) {
		t.Errorf("Version Negotiation connection IDs %x %x, want %x %x", h.DstCID, h.SrcCID, scid, dcid)
	}
	var versions []uint32
	h.Versions(func(v uint32) { versions = append(versions, v) })
	if !slices.Contains(versions, wire.Version1) {
		t.Errorf("Version Negotiation without version 1: %x", versions)
	}
	t.Logf("Version Negotiation: versions %x", versions)
}

// badTransportParameters is the negative control of the main test: the
// same Initial with active_connection_id_limit 1 (invalid, RFC 9000
// §18.2) must get a CONNECTION_CLOSE with TRANSPORT_PARAMETER_ERROR, so
// the ServerHello we get with our own parameters means Rust accepted them.
func badTransportParameters(t *testing.T, server netip.AddrPort, id key.PublicKey, buf []byte) {
	dcid, scid := make([]byte, 20), make([]byte, 8)
	rand.Read(dcid)
	rand.Read(scid)
	var tp []byte
	tp = wire.AppendVarint(wire.AppendVarint(tp, uint64(wire.TPInitialSourceCID)), 8)
	tp = append(tp, scid...)
	tp = wire.AppendVarint(wire.AppendVarint(tp, uint64(wire.TPActiveConnectionIDLimit)), 1)
	tp = wire.AppendVarint(tp, 1)
	if _, err := wire.ParseTransportParameters(tp, false); err == nil {
		t.Fatal("our own parser accepts active_connection_id_limit 1")
	}
	ch, _ := clientHello(t, id, scid, tp)
	var b wire.Builder
	b.Reset(make([]byte, 0, 1500), 1452)
	h := wire.LongHeader{Type: wire.PacketInitial, Version: wire.Version1, DstCID: dcid, SrcCID: scid}
	b.StartLong(&h, 0, 1, TagLen)
	b.AddCrypto(0, ch)
	p, _ := b.Finish(wire.MinInitialDatagramSize)
	seal, open := InitialKeys(dcid, true)
	if _, err := seal.SealPacket(p.Plain, p.PNOffset, p.PNLen, 0); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(b.Datagram()); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no CONNECTION_CLOSE for invalid transport parameters: %v", err)
		}
		pkts, _ := wire.SplitCoalesced(nil, buf[:n], len(scid))
		for _, pkt := range pkts {
			h, err := wire.ParseHeader(pkt, len(scid))
			if err != nil || h.Type != wire.PacketInitial {
				continue
			}
			_, payload, err := open.OpenPacket(pkt, h.PNOffset, wire.NoPacketNumber)
			if err != nil {
				t.Fatalf("open the server Initial: %v", err)
			}
			it := wire.NewFrameIter(payload)
			for it.Next() {
				f := it.Frame()
				switch f.Type {
				case wire.FrameCrypto:
					t.Fatal("Rust iroh answered invalid transport parameters with handshake data")
				case wire.FrameConnectionClose:
					if f.ConnectionClose.Code != 0x08 {
						t.Fatalf("closed with %v, want TRANSPORT_PARAMETER_ERROR", f)
					}
					t.Logf("invalid transport parameters: %v", f)
					return
				}
			}
		}
	}
}
