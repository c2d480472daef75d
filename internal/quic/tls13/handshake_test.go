package tls13

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestHandshakeSuitesAndGroups(t *testing.T) {
	for _, suite := range DefaultCipherSuites {
		for _, g := range []Group{X25519, X25519MLKEM768, P256, P384} {
			t.Run(suite.String()+"/"+g.String(), func(t *testing.T) {
				cc, sc := clientConfig(), serverConfig()
				cc.CipherSuites = []CipherSuite{suite}
				cc.Groups = []Group{g}
				cc.KeyShares = []Group{g}
				r := handshake(t, cc, sc, nil, 0)
				r.mustSucceed(t)
				for _, c := range []*Conn{r.client.c, r.server.c} {
					if c.CipherSuite() != suite || c.Group() != g {
						t.Errorf("negotiated %v/%v", c.CipherSuite(), c.Group())
					}
					if c.DidHelloRetryRequest() || c.UsedResumption() {
						t.Errorf("hrr %v resumed %v", c.DidHelloRetryRequest(), c.UsedResumption())
					}
				}
				if n := len(r.client.read[LevelApplication]); n != suite.Hash().Size() {
					t.Errorf("secret of %d bytes", n)
				}
			})
		}
	}
}

// TestHandshakeDefaults: our defaults against each other negotiate the
// hybrid group without a HelloRetryRequest and Rust's preferred suite.
func TestHandshakeDefaults(t *testing.T) {
	r := handshake(t, clientConfig(), serverConfig(), nil, 0)
	r.mustSucceed(t)
	if c := r.client.c; c.Group() != X25519MLKEM768 || c.DidHelloRetryRequest() || c.CipherSuite() != TLS_AES_256_GCM_SHA384 {
		t.Errorf("group %v hrr %v suite %v", c.Group(), c.DidHelloRetryRequest(), c.CipherSuite())
	}
	want := []EventKind{EventWriteData, EventSetReadSecret, EventSetWriteSecret, EventPeerTransportParameters,
		EventSetReadSecret, EventWriteData, EventSetWriteSecret, EventHandshakeDone}
	if !slicesEqual(r.client.kinds, want) {
		t.Errorf("client events %v, want %v", r.client.kinds, want)
	}
	if r.client.c.ServerName() != r.server.c.ServerName() || !strings.HasSuffix(r.server.c.ServerName(), ".iroh.invalid") {
		t.Errorf("server name %q / %q", r.client.c.ServerName(), r.server.c.ServerName())
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHandshakeByteByByte feeds every flight one byte at a time.
func TestHandshakeByteByByte(t *testing.T) {
	handshake(t, clientConfig(), serverConfig(), nil, 1).mustSucceed(t)
}

func TestHelloRetryRequest(t *testing.T) {
	cases := []struct {
		name            string
		clientGroups    []Group
		clientShares    []Group
		serverGroups    []Group
		want            Group
		wantHRR         bool
		wantClientHello int
	}{
		{"server wants the hybrid", []Group{X25519MLKEM768, X25519}, []Group{X25519}, nil, X25519MLKEM768, true, 2},
		{"server only P-256", nil, nil, []Group{P256}, P256, true, 2},
		{"server only x25519, share sent", nil, nil, []Group{X25519}, X25519, false, 1},
		{"server prefers P-384", []Group{X25519, P384}, []Group{X25519}, []Group{P384, X25519}, P384, true, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc, sc := clientConfig(), serverConfig()
			cc.Groups, cc.KeyShares, sc.Groups = tc.clientGroups, tc.clientShares, tc.serverGroups
			r := handshake(t, cc, sc, nil, 0)
			r.mustSucceed(t)
			if r.client.c.Group() != tc.want || r.server.c.Group() != tc.want {
				t.Errorf("group %v/%v, want %v", r.client.c.Group(), r.server.c.Group(), tc.want)
			}
			if r.client.c.DidHelloRetryRequest() != tc.wantHRR || r.server.c.DidHelloRetryRequest() != tc.wantHRR {
				t.Errorf("hrr %v", r.client.c.DidHelloRetryRequest())
			}
			if n := len(r.client.sentByLvl[LevelInitial]); n != tc.wantClientHello {
				t.Errorf("client sent %d ClientHellos", n)
			}
		})
	}
}

// TestDeterministicClientHello: a seeded Rand gives the same bytes.
func TestDeterministicClientHello(t *testing.T) {
	hello := func() []byte {
		cfg := clientConfig()
		cfg.Rand = seeded(7)
		c := Client(cfg)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		return c.NextEvent().Data
	}
	a, b := hello(), hello()
	if !bytes.Equal(a, b) {
		t.Error("ClientHello differs with the same seed")
	}
	if len(a) < 1184+32 {
		t.Errorf("ClientHello of %d bytes has no hybrid share", len(a))
	}
}

// TestKeyLog: both sides log the same four secrets, in the NSS format,
// equal to the secrets of the events.
func TestKeyLog(t *testing.T) {
	var cl, sl bytes.Buffer
	cc, sc := clientConfig(), serverConfig()
	cc.KeyLogWriter, sc.KeyLogWriter = &cl, &sl
	r := handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	lines := func(b *bytes.Buffer) []string {
		l := strings.Split(strings.TrimSpace(b.String()), "\n")
		slices.Sort(l)
		return l
	}
	c, s := lines(&cl), lines(&sl)
	if !slices.Equal(c, s) || len(c) != 4 {
		t.Fatalf("client log %q\nserver log %q", c, s)
	}
	want := fmt.Sprintf("CLIENT_HANDSHAKE_TRAFFIC_SECRET %x %x", r.client.c.clientRandom, r.client.write[LevelHandshake])
	if !slices.Contains(c, want) {
		t.Errorf("log %q lacks %q", c, want)
	}
}
