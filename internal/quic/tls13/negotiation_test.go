package tls13

import (
	"strings"
	"testing"
)

// TestClientChecksServerHello: a server answering with what the client did
// not offer fails the handshake on the client with the right alert.
func TestClientChecksServerHello(t *testing.T) {
	editSH := func(f func(*serverHello)) mutator {
		return rewrite(false, typeServerHello, func(m []byte) []byte {
			sh, err := parseServerHello(m)
			if err != nil {
				panic(err)
			}
			f(sh)
			return mustBytes(sh.marshal())
		})
	}
	cases := []struct {
		name  string
		ccfg  func(*Config)
		scfg  func(*Config)
		mut   mutator
		alert uint8
		msg   string
	}{
		{"suite not offered", func(c *Config) { c.CipherSuites = []CipherSuite{TLS_AES_128_GCM_SHA256} }, nil,
			editSH(func(sh *serverHello) { sh.suite = TLS_AES_256_GCM_SHA384 }), AlertIllegalParameter, "which we did not offer"},
		{"TLS 1.2", nil, nil, editSH(func(sh *serverHello) { sh.supportedVersion = versionTLS12 }), AlertProtocolVersion, "want TLS 1.3"},
		{"session id echoed", nil, nil, editSH(func(sh *serverHello) { sh.sessionID = []byte{1} }), AlertIllegalParameter, "session id"},
		{"key share for another group", nil, nil, editSH(func(sh *serverHello) { sh.keyShare.group = P384 }), AlertIllegalParameter, "which we did not send"},
		{"bad key share", nil, nil, editSH(func(sh *serverHello) { sh.keyShare.data = sh.keyShare.data[:10] }), AlertIllegalParameter, "server key share"},
		{"PSK not offered", nil, nil, editSH(func(sh *serverHello) { sh.hasPSK = true }), AlertIllegalParameter, "which we did not offer"},
		{"HRR for a group we sent", func(c *Config) { c.Groups, c.KeyShares = []Group{X25519, P256}, []Group{X25519} }, func(c *Config) { c.Groups = []Group{P256} },
			editSH(func(sh *serverHello) { sh.selectedGroup = X25519 }), AlertIllegalParameter, "already sent a share"},
		{"HRR for a group we did not offer", func(c *Config) { c.Groups, c.KeyShares = []Group{X25519, P256}, []Group{X25519} }, func(c *Config) { c.Groups = []Group{P256} },
			editSH(func(sh *serverHello) { sh.selectedGroup = P384 }), AlertIllegalParameter, "which we did not offer"},
		{"unknown extension", nil, nil, rewrite(false, typeServerHello, func(m []byte) []byte {
			// Append an extension of type 0x00ff to the block.
			m = append(m, 0x00, 0xff, 0x00, 0x00)
			n := len(m) - 4
			m[1], m[2], m[3] = byte(n>>16), byte(n>>8), byte(n)
			extLenPos := 4 + 2 + 32 + 1 + 2 + 1
			l := int(m[extLenPos])<<8 | int(m[extLenPos+1]) + 4
			m[extLenPos], m[extLenPos+1] = byte(l>>8), byte(l)
			return m
		}), AlertIllegalParameter, "unexpected extension 255"},
		{"EE: ALPN not offered", nil, nil, rewrite(false, typeEncryptedExtensions, func(m []byte) []byte {
			ee, _ := parseEncryptedExtensions(m)
			ee.alpn = "other"
			return mustBytes(ee.marshal())
		}), AlertIllegalParameter, `ALPN "other"`},
		{"EE: no ALPN", nil, nil, rewrite(false, typeEncryptedExtensions, func(m []byte) []byte {
			ee, _ := parseEncryptedExtensions(m)
			ee.alpn = ""
			return mustBytes(ee.marshal())
		}), AlertNoApplicationProtocol, "selected no ALPN"},
		{"EE: early data not offered", nil, nil, rewrite(false, typeEncryptedExtensions, func(m []byte) []byte {
			ee, _ := parseEncryptedExtensions(m)
			ee.earlyData = true
			return mustBytes(ee.marshal())
		}), AlertUnsupportedExtension, "early data we did not offer"},
		{"certificate request without ed25519", nil, nil, rewrite(false, typeCertificateRequest, func(m []byte) []byte {
			return mustBytes((&certificateRequest{signatureAlgorithms: []uint16{0x0403}}).marshal())
		}), AlertHandshakeFailure, "ed25519"},
		{"certificate request with a context", nil, nil, rewrite(false, typeCertificateRequest, func(m []byte) []byte {
			return mustBytes((&certificateRequest{context: []byte{1}, signatureAlgorithms: []uint16{sigEd25519}}).marshal())
		}), AlertIllegalParameter, "context"},
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
			if r.clientErr == nil {
				t.Fatalf("client accepted it (server error %v)", r.serverErr)
			}
			if ae := alertOf(t, r.clientErr); ae.Alert != tc.alert || !strings.Contains(r.clientErr.Error(), tc.msg) {
				t.Errorf("got alert %d %q, want %d containing %q", ae.Alert, r.clientErr, tc.alert, tc.msg)
			}
		})
	}
}

// TestServerChecksClientHello: malformed or inconsistent ClientHellos.
func TestServerChecksClientHello(t *testing.T) {
	editCH := func(f func(*clientHello)) mutator {
		return rewrite(true, typeClientHello, func(m []byte) []byte {
			ch, err := parseClientHello(m)
			if err != nil {
				panic(err)
			}
			f(ch)
			return mustBytes(ch.marshal())
		})
	}
	cases := []struct {
		name  string
		scfg  func(*Config)
		mut   mutator
		alert uint8
		msg   string
	}{
		{"session id", nil, editCH(func(ch *clientHello) { ch.sessionID = []byte{1, 2} }), AlertIllegalParameter, "RFC 9001"},
		{"compression", nil, editCH(func(ch *clientHello) { ch.compression = []byte{1, 0} }), AlertIllegalParameter, "compression"},
		{"no common suite", func(c *Config) { c.CipherSuites = []CipherSuite{TLS_CHACHA20_POLY1305_SHA256} },
			editCH(func(ch *clientHello) { ch.cipherSuites = []CipherSuite{TLS_AES_128_GCM_SHA256} }), AlertHandshakeFailure, "no common cipher suite"},
		{"no common group", func(c *Config) { c.Groups = []Group{P384} },
			editCH(func(ch *clientHello) { ch.supportedGroups = []Group{X25519} }), AlertHandshakeFailure, "no common key exchange group"},
		{"two shares for one group", nil, editCH(func(ch *clientHello) {
			ch.keyShares = append(ch.keyShares, ch.keyShares[len(ch.keyShares)-1])
		}), AlertIllegalParameter, "two key shares"},
		{"no key share extension", nil, editCH(func(ch *clientHello) { ch.keyShares = nil }), AlertMissingExtension, "key_share"},
		{"no signature algorithms", nil, editCH(func(ch *clientHello) { ch.signatureAlgorithms = nil }), AlertMissingExtension, "signature_algorithms"},
		{"no client certificate type", nil, editCH(func(ch *clientHello) { ch.clientCertTypes = nil }), AlertUnsupportedCertificate, "client_certificate_type"},
		{"no ALPN", nil, editCH(func(ch *clientHello) { ch.alpn = nil }), AlertNoApplicationProtocol, "no common ALPN"},
		{"bad key share", nil, editCH(func(ch *clientHello) {
			for i := range ch.keyShares {
				ch.keyShares[i].data = []byte{1, 2, 3}
			}
		}), AlertIllegalParameter, "client key share"},
		{"pre_shared_key not last", nil, editCH(func(ch *clientHello) {
			psk := append([]byte{0, 7, 0, 1, 1, 0, 0, 0, 0, 0, 33, 32}, make([]byte, 32)...)
			ch.extra = []rawExt{{extPreSharedKey, psk}, {0x00ff, nil}}
		}), AlertIllegalParameter, "not the last extension"},
		{"duplicate extension", nil, editCH(func(ch *clientHello) {
			ch.extra = []rawExt{{extEarlyData, nil}, {extEarlyData, nil}}
		}), AlertIllegalParameter, "duplicate extension 42"},
		{"second hello changes the suite", func(c *Config) { c.Groups = []Group{P256} }, func() mutator {
			n := 0
			return rewrite(true, typeClientHello, func(m []byte) []byte {
				n++
				if n == 1 {
					return m
				}
				ch, _ := parseClientHello(m)
				ch.cipherSuites = ch.cipherSuites[1:]
				return mustBytes(ch.marshal())
			})
		}(), AlertIllegalParameter, "changes the cipher suite"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := serverConfig()
			if tc.scfg != nil {
				tc.scfg(sc)
			}
			r := handshake(t, clientConfig(), sc, tc.mut, 0)
			if r.serverErr == nil {
				t.Fatalf("server accepted it (client error %v)", r.clientErr)
			}
			if ae := alertOf(t, r.serverErr); ae.Alert != tc.alert || !strings.Contains(r.serverErr.Error(), tc.msg) {
				t.Errorf("got alert %d %q, want %d containing %q", ae.Alert, r.serverErr, tc.alert, tc.msg)
			}
		})
	}
}

// TestEmptyKeyShareGetsHelloRetryRequest: a client may send an empty
// key_share list to learn the server's group.
func TestEmptyKeyShareGetsHelloRetryRequest(t *testing.T) {
	cc, sc := clientConfig(), serverConfig()
	cc.KeyShares = []Group{}
	c := Client(cc)
	c.testHello = func(ch *clientHello) {
		ch.keyShares = []keyShareEntry{}
		c.shares = nil
	}
	r := handshakeConns(t, c, Server(sc), nil, 0)
	r.mustSucceed(t)
	if !r.server.c.DidHelloRetryRequest() || r.server.c.Group() != X25519MLKEM768 {
		t.Errorf("hrr %v group %v", r.server.c.DidHelloRetryRequest(), r.server.c.Group())
	}
}

// TestServerEarlyEventsAfterHRR: one EarlyDataRejected per handshake.
func TestServerEarlyEventsAfterHRR(t *testing.T) {
	rs := newResumption(t, true)
	rs.first(t, 1)
	cc, sc := rs.configs()
	sc.Groups = []Group{P256}
	r := handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	for _, e := range []*endpoint{r.client, r.server} {
		n := 0
		for _, k := range e.kinds {
			if k == EventEarlyDataRejected {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d EarlyDataRejected events: %v", n, e.kinds)
		}
	}
}
