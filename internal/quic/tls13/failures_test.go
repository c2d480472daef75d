package tls13

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
)

// rewrite returns a mutator applying f to messages of one type from one side.
func rewrite(fromClient bool, typ uint8, f func(msg []byte) []byte) mutator {
	return func(fc bool, _ Level, msg []byte) []byte {
		if fc == fromClient && msg[0] == typ {
			return f(msg)
		}
		return msg
	}
}

// mustBytes unwraps a marshal result; marshal of test messages cannot fail.
func mustBytes(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestHandshakeFailures(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256SPKI, err := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	spki := func(s bool) []byte {
		if s {
			return AppendSPKI(nil, serverSecret.Public())
		}
		return AppendSPKI(nil, clientSecret.Public())
	}
	certWith := func(entries ...[]byte) func([]byte) []byte {
		return func([]byte) []byte {
			b, err := (&certificateMsg{entries: entries}).marshal()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	flipLast := func(msg []byte) []byte { msg[len(msg)-1] ^= 1; return msg }
	other := testKey(200).Public()

	cases := []struct {
		name      string
		ccfg      func(*Config)
		scfg      func(*Config)
		mut       mutator
		clientErr bool // which side detects it
		alert     uint8
		msg       string
	}{
		{
			name:      "server key does not match the SNI",
			ccfg:      func(c *Config) { c.ServerName = other.SNIName() },
			clientErr: true, alert: AlertUnknownCA,
			msg: "server key " + serverSecret.Public().String() + " does not match dialed id " + other.String(),
		},
		{
			name:  "client sends no certificate",
			mut:   rewrite(true, typeCertificate, certWith()),
			alert: AlertCertificateRequired, msg: "client sent no certificate",
		},
		{
			name:      "server sends no certificate",
			mut:       rewrite(false, typeCertificate, certWith()),
			clientErr: true, alert: AlertBadCertificate, msg: "server sent no certificate",
		},
		{
			name:      "server certificate is a P-256 key",
			mut:       rewrite(false, typeCertificate, certWith(p256SPKI)),
			clientErr: true, alert: AlertUnsupportedCertificate, msg: "server certificate is not an Ed25519 SubjectPublicKeyInfo (91 bytes",
		},
		{
			name:  "client certificate is a P-256 key",
			mut:   rewrite(true, typeCertificate, certWith(p256SPKI)),
			alert: AlertUnsupportedCertificate, msg: "client certificate is not an Ed25519",
		},
		{
			name:      "server sends a chain of two",
			mut:       rewrite(false, typeCertificate, certWith(spki(true), spki(true))),
			clientErr: true, alert: AlertBadCertificate, msg: "certificate chain of 2 entries",
		},
		{
			name:  "client sends a chain of two",
			mut:   rewrite(true, typeCertificate, certWith(spki(false), spki(true))),
			alert: AlertBadCertificate, msg: "certificate chain of 2 entries",
		},
		{
			name:      "bad server signature",
			mut:       rewrite(false, typeCertificateVerify, flipLast),
			clientErr: true, alert: AlertDecryptError, msg: "server CertificateVerify signature",
		},
		{
			name:  "bad client signature",
			mut:   rewrite(true, typeCertificateVerify, flipLast),
			alert: AlertDecryptError, msg: "client CertificateVerify signature",
		},
		{
			name: "server signs with another algorithm",
			mut: rewrite(false, typeCertificateVerify, func(m []byte) []byte {
				m[4], m[5] = 0x04, 0x03
				return m
			}),
			clientErr: true, alert: AlertIllegalParameter, msg: "algorithm 0x0403",
		},
		{
			name:      "bad server finished",
			mut:       rewrite(false, typeFinished, flipLast),
			clientErr: true, alert: AlertDecryptError, msg: "server Finished does not match",
		},
		{
			name:  "bad client finished",
			mut:   rewrite(true, typeFinished, flipLast),
			alert: AlertDecryptError, msg: "client Finished does not match",
		},
		{
			name:  "ALPN mismatch",
			scfg:  func(c *Config) { c.ALPNs = []string{"other/1", "other/2"} },
			alert: AlertNoApplicationProtocol, msg: `no common ALPN: client offers ["iroh-go-test/1"]`,
		},
		{
			name: "client omits transport parameters",
			mut: rewrite(true, typeClientHello, func(m []byte) []byte {
				ch, err := parseClientHello(m)
				if err != nil {
					t.Fatal(err)
				}
				ch.transportParams = nil
				return mustBytes(ch.marshal())
			}),
			alert: AlertMissingExtension, msg: "client sent no quic_transport_parameters",
		},
		{
			name: "server omits transport parameters",
			mut: rewrite(false, typeEncryptedExtensions, func(m []byte) []byte {
				ee, err := parseEncryptedExtensions(m)
				if err != nil {
					t.Fatal(err)
				}
				ee.transportParams = nil
				return mustBytes(ee.marshal())
			}),
			clientErr: true, alert: AlertMissingExtension, msg: "server sent no quic_transport_parameters",
		},
		{
			name: "client offers no raw public key types",
			mut: rewrite(true, typeClientHello, func(m []byte) []byte {
				ch, _ := parseClientHello(m)
				ch.serverCertTypes = []uint8{0}
				return mustBytes(ch.marshal())
			}),
			alert: AlertUnsupportedCertificate, msg: "client does not accept a raw public key server certificate",
		},
		{
			name: "client offers no ed25519",
			mut: rewrite(true, typeClientHello, func(m []byte) []byte {
				ch, _ := parseClientHello(m)
				ch.signatureAlgorithms = []uint16{0x0403}
				return mustBytes(ch.marshal())
			}),
			alert: AlertHandshakeFailure, msg: "ed25519",
		},
		{
			name: "client offers only TLS 1.2",
			mut: rewrite(true, typeClientHello, func(m []byte) []byte {
				ch, _ := parseClientHello(m)
				ch.supportedVersions = []uint16{versionTLS12}
				return mustBytes(ch.marshal())
			}),
			alert: AlertProtocolVersion, msg: "does not offer TLS 1.3",
		},
		{
			name: "server sends a certificate type we did not offer",
			mut: rewrite(false, typeEncryptedExtensions, func(m []byte) []byte {
				ee, _ := parseEncryptedExtensions(m)
				ee.serverCertType = 0 + 1
				return mustBytes(ee.marshal())
			}),
			clientErr: true, alert: AlertUnsupportedCertificate, msg: "server certificate type 1",
		},
		{
			name: "server sends a message after Finished in the same flight",
			mut: rewrite(false, typeFinished, func(m []byte) []byte {
				return append(m, 0x18, 0, 0, 1, 0) // KeyUpdate
			}),
			clientErr: true, alert: AlertUnexpectedMessage, msg: "5 bytes of handshake data at Handshake level after the last message",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := clientConfig(), serverConfig()
			if tc.ccfg != nil {
				tc.ccfg(cc)
			}
			if tc.scfg != nil {
				tc.scfg(sc)
			}
			r := handshake(t, cc, sc, tc.mut, 0)
			err := r.serverErr
			if tc.clientErr {
				err = r.clientErr
			}
			if err == nil {
				t.Fatalf("no error on the expected side: client %v, server %v", r.clientErr, r.serverErr)
			}
			ae := alertOf(t, err)
			if ae.Alert != tc.alert {
				t.Errorf("alert %d, want %d (%v)", ae.Alert, tc.alert, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "tls13: ") {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if ae.QUICCode() != 0x100+uint64(tc.alert) {
				t.Errorf("QUIC code %#x", ae.QUICCode())
			}
			if r.client.done && r.server.done {
				t.Error("both sides completed")
			}
		})
	}
}

func TestNoApplicationProtocolCode(t *testing.T) {
	sc := serverConfig()
	sc.ALPNs = []string{"nope"}
	r := handshake(t, clientConfig(), sc, nil, 0)
	if code := alertOf(t, r.serverErr).QUICCode(); code != 0x178 {
		t.Errorf("QUIC code %#x, want 0x178", code)
	}
}

// TestALPNPreference: the client's order wins among the server's protocols.
func TestALPNPreference(t *testing.T) {
	cc, sc := clientConfig(), serverConfig()
	cc.ALPNs = []string{"v3", "v2", "v1"}
	sc.ALPNs = []string{"v1", "v2"}
	r := handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	if r.client.c.ALPN() != "v2" {
		t.Errorf("ALPN %q, want v2", r.client.c.ALPN())
	}
}

func TestForbiddenMessages(t *testing.T) {
	r := handshake(t, clientConfig(), serverConfig(), nil, 0)
	r.mustSucceed(t)
	err := r.client.c.HandleData(LevelApplication, []byte{typeKeyUpdate, 0, 0, 1, 0})
	if ae := alertOf(t, err); ae.Alert != AlertUnexpectedMessage || !strings.Contains(err.Error(), "KeyUpdate") {
		t.Errorf("KeyUpdate: %v", err)
	}
	if err2 := r.client.c.HandleData(LevelApplication, nil); err2 != err {
		t.Errorf("a failed Conn returns %v, want the first error", err2)
	}
	err = r.server.c.HandleData(LevelApplication, []byte{typeNewSessionTicket, 0, 0, 0})
	if ae := alertOf(t, err); ae.Alert != AlertUnexpectedMessage {
		t.Errorf("server got a ticket: %v", err)
	}

	// EndOfEarlyData where the server waits for the client's Finished.
	cc, sc := clientConfig(), serverConfig()
	s := Server(sc)
	c := Client(cc)
	rr := handshakeConns(t, c, s, rewrite(true, typeCertificate, func([]byte) []byte { return []byte{typeEndOfEarlyData, 0, 0, 0} }), 0)
	if ae := alertOf(t, rr.serverErr); ae.Alert != AlertUnexpectedMessage || !strings.Contains(rr.serverErr.Error(), "EndOfEarlyData") {
		t.Errorf("EndOfEarlyData: %v", rr.serverErr)
	}
}

func TestMessageSizeLimit(t *testing.T) {
	s := Server(serverConfig())
	err := s.HandleData(LevelInitial, []byte{typeClientHello, 0x01, 0x11, 0x70})
	if ae := alertOf(t, err); ae.Alert != AlertDecodeError || !strings.Contains(err.Error(), "70000 bytes exceeds the limit of 65536") {
		t.Errorf("got %v", err)
	}
	cfg := serverConfig()
	cfg.MaxMessageSize = 100
	s = Server(cfg)
	if err := s.HandleData(LevelInitial, []byte{typeClientHello, 0, 0, 101}); err == nil {
		t.Error("101-byte message accepted with a limit of 100")
	}
}

func TestWrongLevel(t *testing.T) {
	s := Server(serverConfig())
	err := s.HandleData(LevelHandshake, []byte{typeFinished, 0, 0, 0})
	if ae := alertOf(t, err); ae.Alert != AlertUnexpectedMessage || !strings.Contains(err.Error(), "at Handshake level while expecting Initial") {
		t.Errorf("got %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]func(*Config){
		"no ALPN":          func(c *Config) { c.ALPNs = nil },
		"bad server name":  func(c *Config) { c.ServerName = "example.com" },
		"unknown suite":    func(c *Config) { c.CipherSuites = []CipherSuite{0x1304} },
		"unknown group":    func(c *Config) { c.Groups = []Group{0x0019} },
		"empty ALPN entry": func(c *Config) { c.ALPNs = []string{""} },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := clientConfig()
			f(cfg)
			err := Client(cfg).Start()
			if ae := alertOf(t, err); ae.Alert != AlertInternalError || !strings.Contains(err.Error(), "config") {
				t.Errorf("got %v", err)
			}
		})
	}
}
