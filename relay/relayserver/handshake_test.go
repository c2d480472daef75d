package relayserver_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
	"github.com/iroh-go/iroh/relay/relayserver"
	"github.com/iroh-go/iroh/relay/relaytest"
)

func TestHandshakeBadSignature(t *testing.T) {
	r := relaytest.Start(t, nil)
	m := r.Server.Metrics()
	sk := key.NewSecretKey()
	cases := []struct {
		name string
		make func(ch [16]byte) relay.Frame
	}{
		{"flipped bit", func(ch [16]byte) relay.Frame {
			f := relay.SignChallenge(sk, ch)
			f.Signature[5] ^= 1
			return f
		}},
		{"other challenge", func(ch [16]byte) relay.Frame {
			ch[0] ^= 0xff
			return relay.SignChallenge(sk, ch)
		}},
		{"other key", func(ch [16]byte) relay.Frame {
			f := relay.SignChallenge(sk, ch)
			f.Key = key.NewSecretKey().Public()
			return f
		}},
		{"not a point", func(ch [16]byte) relay.Frame {
			f := relay.SignChallenge(sk, ch)
			for i := range f.Key {
				f.Key[i] = 0xff
			}
			return f
		}},
		{"raw message signed", func(ch [16]byte) relay.Frame {
			// Signing the challenge itself instead of its BLAKE3 derive_key.
			return relay.Frame{Type: relay.FrameClientAuth, Key: sk.Public(), Signature: sk.Sign(ch[:])}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := testutil.MetricValue(m.Handshakes.WithLabelValues(relayserver.HandshakeBadSignature))
			rc, _ := dialRaw(t, r.Addr, relay.ProtocolV2, nil, nil)
			ch := rc.read()
			a := c.make(ch.Challenge)
			rc.send(&a)
			f := rc.read()
			if f.Type != relay.FrameServerDeniesAuth || string(f.Text) != relay.DenySignatureInvalid {
				t.Fatalf("got %s %q, want ServerDeniesAuth %q", f.Type, f.Text, relay.DenySignatureInvalid)
			}
			rc.expectClosed()
			if got := testutil.MetricValue(m.Handshakes.WithLabelValues(relayserver.HandshakeBadSignature)) - before; got != 1 {
				t.Fatalf("bad_signature counted %v", got)
			}
		})
	}
	t.Run("datagram before auth", func(t *testing.T) {
		rc, _ := dialRaw(t, r.Addr, relay.ProtocolV2, nil, nil)
		rc.read()
		d, _ := relay.DatagramFrame(sk.Public(), 0, 0, []byte("x"))
		rc.send(&d)
		rc.expectClosed()
	})
	// A good signature still works afterwards.
	rc, _ := dialRaw(t, r.Addr, relay.ProtocolV2, nil, nil)
	if f := rc.auth(sk); f.Type != relay.FrameServerConfirmsAuth {
		t.Fatalf("good signature: got %s", f.Type)
	}
}

func TestAccessControl(t *testing.T) {
	allowed, denied := key.NewSecretKey(), key.NewSecretKey()

	// The HTTP check service (a real HTTP server on loopback).
	checks := make(chan string, 16)
	check := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Iroh-NodeId")
		checks <- r.Method + " " + id + " " + r.Header.Get("Authorization")
		switch id {
		case allowed.Public().String():
			io.WriteString(w, "true")
		case "":
			w.WriteHeader(500)
		default:
			io.WriteString(w, "false")
		}
	})}
	cl := listen(t)
	go check.Serve(cl)
	t.Cleanup(func() { check.Close() })

	cases := []struct {
		name   string
		access relayserver.AccessFunc
		token  string // sent as Bearer
		query  string // appended to the URL
	}{
		{name: "allowlist", access: relayserver.AllowList(allowed.Public())},
		{name: "denylist", access: relayserver.DenyList(denied.Public())},
		{name: "shared token header", access: relayserver.SharedTokens("t1", "t2")},
		{name: "shared token query", access: relayserver.SharedTokens("t1", "t2")},
		{name: "http check", access: relayserver.HTTPCheck("http://"+cl.Addr().String()+"/check", "svc-token", nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := relaytest.Start(t, &relayserver.Options{Access: c.access})
			m := r.Server.Metrics()
			badHdr, goodHdr := map[string]string{}, map[string]string{}
			badPath, goodPath := "/relay", "/relay"
			switch c.name {
			case "shared token header":
				badHdr["Authorization"] = "Bearer wrong"
				goodHdr["Authorization"] = "bearer t2"
			case "shared token query":
				badPath, goodPath = "/relay?token=wrong", "/relay?token=t2"
			}
			// Denied: ServerDeniesAuth "not authorized", then close.
			rc, _ := dialRawPath(t, r.Addr, badPath, relay.ProtocolV2, badHdr, nil)
			f := rc.auth(denied)
			if f.Type != relay.FrameServerDeniesAuth || string(f.Text) != relay.DenyNotAuthorized {
				t.Fatalf("denied client got %s %q", f.Type, f.Text)
			}
			rc.expectClosed()
			if testutil.MetricValue(m.Handshakes.WithLabelValues(relayserver.HandshakeDenied)) != 1 {
				t.Fatal("denial not counted")
			}
			// Allowed.
			rc, _ = dialRawPath(t, r.Addr, goodPath, relay.ProtocolV2, goodHdr, nil)
			if f := rc.auth(allowed); f.Type != relay.FrameServerConfirmsAuth {
				t.Fatalf("allowed client got %s %q", f.Type, f.Text)
			}
			if c.name == "http check" {
				want := "POST " + allowed.Public().String() + " Bearer svc-token"
				var got []string
				for len(checks) > 0 {
					got = append(got, <-checks)
				}
				if len(got) != 2 || got[1] != want {
					t.Fatalf("check requests %q, want second %q", got, want)
				}
			}
			// The Go client reports a denial in its state and retries only
			// after a long backoff (not within seconds, as after a network
			// error): one denied handshake from it, and the next attempt is
			// at least 15 s away.
			dc := newTestClient(t, r.URL, func(o *relay.ClientOptions) { o.SecretKey = denied; o.Token = "wrong" })
			var st relay.ClientState
			eventually(t, "denial in client state", func() bool {
				st = dc.State()
				var de *relay.DeniedError
				return errors.As(st.LastError, &de) && de.Reason == relay.DenyNotAuthorized && !st.RetryAt.IsZero()
			})
			// (The backoff is at least 15 s from when it was set: allow
			// for the time since.)
			if wait := time.Until(st.RetryAt); wait < 14*time.Second {
				t.Fatalf("denied client retries in %v, want a backoff of at least 15 s", wait)
			}
			if got := testutil.MetricValue(m.Handshakes.WithLabelValues(relayserver.HandshakeDenied)); got != 2 {
				t.Fatalf("denied handshakes %v, want 2 (the raw client and one attempt of ours)", got)
			}
			if c.name != "shared token query" {
				ac := newTestClient(t, r.URL, func(o *relay.ClientOptions) { o.SecretKey = allowed; o.Token = "t2" })
				waitConnected(t, ac)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	conf, pool, err := relayserver.SelfSignedTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	r := relaytest.Start(t, &relayserver.Options{TLSConfig: conf})
	if !strings.HasPrefix(r.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s", r.URL)
	}
	m := r.Server.Metrics()
	clientTLS := &tls.Config{RootCAs: pool}

	// Go clients use the TLS-exporter header and skip the challenge.
	a := newTestClient(t, r.URL, func(o *relay.ClientOptions) { o.TLSConfig = clientTLS })
	b := newTestClient(t, r.URL, func(o *relay.ClientOptions) { o.TLSConfig = clientTLS })
	waitConnected(t, a, b)
	if got := testutil.MetricValue(m.Handshakes.WithLabelValues(relayserver.HandshakeOKKeyingMat)); got != 2 {
		t.Fatalf("tls exporter handshakes %v, want 2", got)
	}
	a.Send(b.id(), 0, 0, []byte("over tls"))
	if got := b.expect(t, 5*time.Second); string(got.contents) != "over tls" || got.src != a.id() {
		t.Fatalf("got %+v", got)
	}

	// Without the header: the challenge.
	rc, _ := dialRaw(t, r.Addr, relay.ProtocolV2, nil, clientTLS.Clone())
	if f := rc.auth(key.NewSecretKey()); f.Type != relay.FrameServerConfirmsAuth {
		t.Fatalf("challenge over TLS: %s", f.Type)
	}
	if got := testutil.MetricValue(m.Handshakes.WithLabelValues(relayserver.HandshakeOK)); got != 1 {
		t.Fatalf("challenge handshakes %v, want 1", got)
	}

	// A header whose signature is bad, or made for another TLS session,
	// falls back to the challenge.
	sk := key.NewSecretKey()
	other := relay.KeyMaterialAuth{Key: sk.Public(), Signature: sk.Sign(make([]byte, 16))}
	for _, hv := range []string{other.HeaderValue(), "garbage"} {
		rc, _ := dialRaw(t, r.Addr, relay.ProtocolV2, map[string]string{relay.ClientAuthHeader: hv}, clientTLS.Clone())
		if f := rc.auth(sk); f.Type != relay.FrameServerConfirmsAuth {
			t.Fatalf("fallback: %s", f.Type)
		}
	}
	if got := testutil.MetricValue(m.Handshakes.WithLabelValues(relayserver.HandshakeOK)); got != 3 {
		t.Fatalf("challenge handshakes %v, want 3", got)
	}

	// A valid header made on this very TLS session: confirmed at once, no challenge.
	rc = dialRawTLSExporter(t, r.Addr, sk, clientTLS.Clone())
	if f := rc.read(); f.Type != relay.FrameServerConfirmsAuth {
		t.Fatalf("exporter handshake: first frame %s", f.Type)
	}

	// Plain HTTP on the TLS port fails; the client with no trust fails.
	u := newTestClient(t, r.URL, nil)
	eventually(t, "certificate error", func() bool {
		err := u.State().LastError
		return err != nil && strings.Contains(err.Error(), "certificate")
	})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := u.WaitConnected(ctx); err == nil {
		t.Fatal("untrusted client connected")
	}
}
