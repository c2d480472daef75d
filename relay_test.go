package iroh_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/relay/relaytest"
)

func bindRelay(t testing.TB, url string, relayOnly bool, alpns ...string) *iroh.Endpoint {
	t.Helper()
	u, err := endpointaddr.ParseRelayURL(url)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := iroh.Bind(context.Background(), &iroh.Options{ALPNs: alpns, BindAddrV4: loopback4, DisableIPv6: true, Relays: []iroh.RelayURL{u}, RelayOnly: relayOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ep.Online(ctx); err != nil {
		t.Fatalf("online: %v", err)
	}
	return ep
}

// TestRelayOnly dials an endpoint by id and relay URL only: every packet
// crosses the relay, and the path says so.
func TestRelayOnly(t *testing.T) {
	r := relaytest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := bindRelay(t, r.URL, true, "echo/1")
	b := bindRelay(t, r.URL, true)
	if got := a.Addr().RelayURL(); string(got) != r.URL {
		t.Fatalf("addr relay %q, want %q", got, r.URL)
	}
	done := echoOnce(t, a)
	target := iroh.EndpointAddr{ID: a.ID(), RelayURLs: []iroh.RelayURL{a.HomeRelay()}}
	c, err := b.Connect(ctx, target, "echo/1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bound(s)
	msg := make([]byte, 4<<20)
	rand.Read(msg)
	go func() { s.Write(msg); s.Close() }()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo over relay: %d bytes, %v", len(got), err)
	}
	if p, _ := c.Paths(); p.Kind != iroh.PathRelay || string(p.RelayURL) != r.URL {
		t.Fatalf("path %+v, want relay %s", p, r.URL)
	}
	c.Close(0, "")
	if err := testutil.WaitFor(t, done, 30*time.Second, "echo server end"); err != nil {
		t.Fatal(err)
	}
}

// TestRelayThenDirect starts on the relay (the dialer knows only the relay
// URL) and moves to a direct path found by call-me-maybe, while a transfer
// runs across the switch and loses nothing.
func TestRelayThenDirect(t *testing.T) {
	r := relaytest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := bindRelay(t, r.URL, false, "echo/1")
	b := bindRelay(t, r.URL, false)
	done := echoOnce(t, a)
	// Subscribed before Connect, so the first path is seen too.
	events, stop := b.SubscribePaths(a.ID())
	defer stop()
	c, err := b.Connect(ctx, iroh.EndpointAddr{ID: a.ID(), RelayURLs: []iroh.RelayURL{a.HomeRelay()}}, "echo/1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bound(s)
	msg := make([]byte, 16<<20)
	rand.Read(msg)
	go func() {
		for off := 0; off < len(msg); off += 64 << 10 {
			s.Write(msg[off : off+64<<10])
		}
		s.Close()
	}()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	// The path events: first the relay (the dialer knew nothing else),
	// then direct.
	sawRelay, sawDirect := false, false
	// The path may have gone direct before we subscribed (a ping from the
	// remote is answered at once): look at Paths too, not only events.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.After(10 * time.Second); !sawDirect; {
		select {
		case <-tick.C:
		case ev := <-events:
			switch ev.New.Kind {
			case iroh.PathRelay, iroh.PathMixed:
				sawRelay = sawRelay || ev.New.RelayURL == a.HomeRelay()
			case iroh.PathDirect:
				if !sawRelay {
					t.Fatalf("direct path %+v before any relay path", ev.New)
				}
				sawDirect = true
			}
		case <-deadline:
			p, _ := c.Paths()
			t.Fatalf("no direct path within 10s (relay seen: %v); path %+v", sawRelay, p)
		}
	}
	c.Close(0, "")
	if err := testutil.WaitFor(t, done, 30*time.Second, "echo server end"); err != nil {
		t.Fatal(err)
	}
}
