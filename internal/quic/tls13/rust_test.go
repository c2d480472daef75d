package tls13

import (
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"testing"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

// rustHello is the decrypted ClientHello of a real Rust iroh 1.0 endpoint
// (vectors/core.json, relay.client_initial.client_hello).
type rustHello struct {
	CipherSuites []string `json:"cipher_suites"`
	Extensions   struct {
		ServerCertType  []uint8  `json:"server_certificate_type"`
		ClientCertType  []uint8  `json:"client_certificate_type"`
		SupportedGroups []string `json:"supported_groups"`
		ALPN            []string `json:"alpn"`
		Versions        []string `json:"supported_versions"`
		PSKModes        []uint8  `json:"psk_key_exchange_modes"`
		ServerName      string   `json:"server_name"`
		TransportParams []struct {
			ID    string `json:"id"`
			Value string `json:"value_hex"`
		} `json:"quic_transport_parameters"`
		KeyShare []struct {
			Group  string `json:"group"`
			KeyLen int    `json:"key_len"`
		} `json:"key_share"`
		SigAlgs []string `json:"signature_algorithms"`
		Order   []uint16 `json:"extension_order"`
	} `json:"extensions"`
}

func loadRustHello(t *testing.T) *rustHello {
	t.Helper()
	var v struct {
		Relay struct {
			ClientInitial struct {
				ClientHello rustHello `json:"client_hello"`
			} `json:"client_initial"`
		} `json:"relay"`
	}
	testutil.LoadVectors(t, "core.json", &v)
	rh := &v.Relay.ClientInitial.ClientHello
	if len(rh.CipherSuites) == 0 || len(rh.Extensions.Order) == 0 {
		t.Fatal("vector has no client hello")
	}
	return rh
}

func hexU16s(t *testing.T, ss []string) []uint16 {
	t.Helper()
	var out []uint16
	for _, s := range ss {
		v, err := strconv.ParseUint(s, 0, 16)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, uint16(v))
	}
	return out
}

func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x80000000)
	}
	return binary.BigEndian.AppendUint64(b, v|0xc000000000000000)
}

// transportParams re-encodes the vector's transport parameters.
func (rh *rustHello) transportParams(t *testing.T) []byte {
	var b []byte
	for _, p := range rh.Extensions.TransportParams {
		id, err := strconv.ParseUint(p.ID, 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		val := unhex(t, p.Value)
		b = appendVarint(b, id)
		b = appendVarint(b, uint64(len(val)))
		b = append(b, val...)
	}
	return b
}

// TestClientHelloLikeRust compares our ClientHello with Rust iroh's: the
// same suites in the same order, certificate types, signature algorithms,
// PSK modes, SNI form, versions; and a key share Rust can use.
func TestClientHelloLikeRust(t *testing.T) {
	rh := loadRustHello(t)
	c := Client(clientConfig())
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	ch, err := parseClientHello(c.NextEvent().Data)
	if err != nil {
		t.Fatal(err)
	}
	var suites []uint16
	for _, s := range ch.cipherSuites {
		suites = append(suites, uint16(s))
	}
	if want := hexU16s(t, rh.CipherSuites); !slices.Equal(suites, want) {
		t.Errorf("cipher suites %x, Rust sends %x", suites, want)
	}
	e := rh.Extensions
	if !slices.Equal(ch.serverCertTypes, e.ServerCertType) || !slices.Equal(ch.clientCertTypes, e.ClientCertType) {
		t.Errorf("cert types %v/%v, Rust %v/%v", ch.serverCertTypes, ch.clientCertTypes, e.ServerCertType, e.ClientCertType)
	}
	if want := hexU16s(t, e.SigAlgs); !slices.Equal(ch.signatureAlgorithms, want) {
		t.Errorf("signature algorithms %x, Rust %x", ch.signatureAlgorithms, want)
	}
	if !slices.Equal(ch.pskModes, e.PSKModes) {
		t.Errorf("psk modes %v, Rust %v", ch.pskModes, e.PSKModes)
	}
	if want := hexU16s(t, e.Versions); !slices.Equal(ch.supportedVersions, want) {
		t.Errorf("versions %x, Rust %x", ch.supportedVersions, want)
	}
	if _, err := key.ParseSNIName(e.ServerName); err != nil {
		t.Errorf("Rust SNI %q: %v", e.ServerName, err)
	}
	if k, err := key.ParseSNIName(ch.serverName); err != nil || k != serverSecret.Public() || len(ch.serverName) != len(e.ServerName) {
		t.Errorf("our SNI %q", ch.serverName)
	}
	if len(ch.alpn) != 1 || ch.alpn[0] != testALPN || len(e.ALPN) != 1 {
		t.Errorf("ALPN %q (Rust sends one: %q)", ch.alpn, e.ALPN)
	}
	if ch.transportParams == nil || len(ch.sessionID) != 0 {
		t.Error("transport parameters missing or a session id sent")
	}
	// Rust's groups all are ours; our shares include one Rust selects (x25519).
	rustGroups := hexU16s(t, e.SupportedGroups)
	for _, g := range rustGroups {
		if !slices.Contains(ch.supportedGroups, Group(g)) {
			t.Errorf("we do not offer Rust's group %#04x", g)
		}
	}
	if !slices.ContainsFunc(ch.keyShares, func(k keyShareEntry) bool { return uint16(k.group) == rustGroups[0] }) {
		t.Errorf("no key share for Rust's first group %#04x", rustGroups[0])
	}
}

// TestServerAcceptsRustShapedClientHello runs our server against a client
// whose ClientHello has Rust iroh's exact shape: its extension order,
// status_request, extended_master_secret and ec_point_formats, groups
// x25519/P-256/P-384 with one x25519 share, its SNI, ALPN and transport
// parameters. The server must answer x25519 without a HelloRetryRequest.
func TestServerAcceptsRustShapedClientHello(t *testing.T) {
	rh := loadRustHello(t)
	e := rh.Extensions
	zero := key.SecretKey{} // the vector's SNI is the id of the all-zero secret
	if zero.Public().SNIName() != e.ServerName {
		t.Fatalf("vector SNI %q is not the zero key's %q", e.ServerName, zero.Public().SNIName())
	}
	var groups []Group
	for _, g := range hexU16s(t, e.SupportedGroups) {
		groups = append(groups, Group(g))
	}
	var suites []CipherSuite
	for _, s := range hexU16s(t, rh.CipherSuites) {
		suites = append(suites, CipherSuite(s))
	}
	cc := &Config{
		SecretKey:           clientSecret,
		ALPNs:               e.ALPN,
		ServerName:          e.ServerName,
		TransportParameters: rh.transportParams(t),
		CipherSuites:        suites,
		Groups:              groups,
		KeyShares:           []Group{X25519},
	}
	sc := serverConfig()
	sc.SecretKey = zero
	sc.ALPNs = []string{"other/1", e.ALPN[0]}
	c := Client(cc)
	c.testHello = func(ch *clientHello) {
		ch.order = e.Order
		ch.extra = []rawExt{
			{extStatusRequest, unhex(t, "0100000000")}, // OCSP, no responders, no extensions
			{extExtendedMasterSec, nil},
			{extECPointFormats, unhex(t, "0100")}, // uncompressed
		}
	}
	r := handshakeConns(t, c, Server(sc), nil, 0)
	r.mustSucceed(t)
	hello, err := parseClientHello(r.client.sentByLvl[LevelInitial][0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hello.extensions, e.Order) {
		t.Errorf("extension order %v, want Rust's %v", hello.extensions, e.Order)
	}
	if len(hello.keyShares) != 1 || len(hello.keyShares[0].data) != e.KeyShare[0].KeyLen {
		t.Errorf("key shares %+v", hello.keyShares)
	}
	s := r.server.c
	if s.Group() != X25519 || s.DidHelloRetryRequest() || s.CipherSuite() != TLS_AES_256_GCM_SHA384 || s.ALPN() != e.ALPN[0] {
		t.Errorf("server chose %v hrr=%v %v %q", s.Group(), s.DidHelloRetryRequest(), s.CipherSuite(), s.ALPN())
	}
	if s.ServerName() != e.ServerName || s.PeerKey() != clientSecret.Public() {
		t.Errorf("server saw SNI %q peer %v", s.ServerName(), s.PeerKey())
	}
	if hex.EncodeToString(r.server.peerTP) != hex.EncodeToString(rh.transportParams(t)) {
		t.Error("transport parameters changed in transit")
	}
}
