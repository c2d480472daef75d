package iroh_test

// Interop of the public API with real Rust iroh 1.0 (npm @number0/iroh
// 1.1.0, driven by shared/interop/rust-peer.mjs). Every test re-runs
// itself in a loopback-only network namespace (the Rust port mapper would
// probe the LAN otherwise), where our endpoints, the Rust peer and the
// in-process relay all live. In CI as root they fail instead of skipping.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/relay/relaytest"
	"github.com/iroh-go/iroh/ticket"
)

// The ALPNs rust-peer.mjs serves and dials.
const (
	rustEchoALPN  = "iroh-go-interop/echo/0"
	rustSinkALPN  = "iroh-go-interop/sink/0"
	rustCloseALPN = "iroh-go-interop/close/0"
)

// rustTicketAddr parses the Rust listener's ticket with our ticket package.
func rustTicketAddr(t *testing.T, peer *testutil.RustPeer) iroh.EndpointAddr {
	t.Helper()
	addr, err := ticket.ParseEndpoint(peer.Ticket)
	if err != nil {
		t.Fatalf("rust ticket %q: %v", peer.Ticket, err)
	}
	if addr.ID.String() != peer.ID {
		t.Fatalf("rust ticket holds id %s, the peer says %s", addr.ID, peer.ID)
	}
	return addr
}

// bindRust binds an endpoint on loopback for talking to Rust, with opts
// filled in (nil: defaults).
func bindRust(t *testing.T, opts *iroh.Options) *iroh.Endpoint {
	t.Helper()
	o := iroh.Options{}
	if opts != nil {
		o = *opts
	}
	o.BindAddrV4, o.DisableIPv6 = loopback4, true
	ep, err := iroh.Bind(t.Context(), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close(context.Background()) })
	if len(o.Relays) > 0 {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if err := ep.Online(ctx); err != nil {
			t.Fatalf("online: %v", err)
		}
	}
	return ep
}

// echoStream sends msg on a new stream and checks that it comes back.
func echoStream(ctx context.Context, t *testing.T, c *iroh.Connection, msg []byte) {
	t.Helper()
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bound(s)
	werr := make(chan error, 1)
	go func() {
		_, err := s.Write(msg)
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		werr <- err
	}()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %d of %d bytes back, %v", len(got), len(msg), err)
	}
	if err := testutil.WaitFor(t, werr, 10*time.Second, "echo write ending"); err != nil {
		t.Fatalf("echo write: %v", err)
	}
}

// TestRustEndpointDialsRust: iroh.Endpoint dials a real Rust iroh 1.0
// listener by its ticket (parsed by our ticket package) and runs each of
// the listener's protocols: echo, sink (24 MiB: Rust updates its keys
// several times on the way), datagrams, 0-RTT resumption, and close, where
// Rust closes with code 42 and reason "bye" (and we close with our own).
func TestRustEndpointDialsRust(t *testing.T) {
	testutil.RequireRustInterop(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	peer := testutil.StartRustListener(t)
	addr := rustTicketAddr(t, peer)
	if len(addr.Direct) == 0 {
		t.Fatalf("rust ticket has no direct address: %v", addr)
	}
	ep := bindRust(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	dial := func(t *testing.T, alpn string) *iroh.Connection {
		t.Helper()
		c, err := ep.Connect(ctx, addr, alpn)
		if err != nil {
			t.Fatalf("connect %s: %v\nrust stderr:\n%s", alpn, err, peer.Stderr())
		}
		if c.RemoteID() != addr.ID || c.ALPN() != alpn {
			t.Fatalf("connected to %s with %q", c.RemoteID(), c.ALPN())
		}
		return c
	}

	t.Run("echo", func(t *testing.T) {
		c := dial(t, rustEchoALPN)
		defer c.Close(0, "")
		msg := make([]byte, 1<<20)
		rand.Read(msg)
		echoStream(ctx, t, c, msg)
		// Several streams at once.
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() { echoStream(ctx, t, c, bytes.Repeat([]byte{byte(i)}, 100_000)) })
		}
		testutil.WaitGroup(t, &wg, streamTimeout+10*time.Second, "four concurrent echo streams")
		p, _ := c.Paths()
		t.Logf("path %s %s rtt %s; stats %+v", p.Kind, p.Addr, p.RTT, c.Stats())
	})

	t.Run("sink", func(t *testing.T) {
		c := dial(t, rustSinkALPN)
		defer c.Close(0, "")
		s, err := c.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		bound(s)
		const size = 24 << 20
		h := sha256.New()
		chunk := make([]byte, 1<<20)
		start := time.Now()
		for i := range size / len(chunk) {
			rand.Read(chunk)
			h.Write(chunk)
			if _, err := s.Write(chunk); err != nil {
				t.Fatalf("write at %d MiB: %v", i, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		reply, err := io.ReadAll(s)
		if err != nil || len(reply) != 40 {
			t.Fatalf("sink reply %x, %v", reply, err)
		}
		if !bytes.Equal(reply[:32], h.Sum(nil)) || binary.BigEndian.Uint64(reply[32:]) != size {
			t.Fatalf("rust saw %d bytes with sha256 %x; we sent %d with %x", binary.BigEndian.Uint64(reply[32:]), reply[:32], size, h.Sum(nil))
		}
		st := c.Stats()
		t.Logf("24 MiB to rust in %s, %d packets, %d key updates", time.Since(start).Round(time.Millisecond), st.PacketsSent, st.KeyUpdates)
		if st.KeyUpdates == 0 {
			t.Errorf("no key update in 24 MiB (%d packets)", st.PacketsSent)
		}
	})

	t.Run("datagrams", func(t *testing.T) {
		c := dial(t, rustEchoALPN)
		defer c.Close(0, "")
		const n = 50
		sent := map[string]bool{}
		for i := range n {
			d := fmt.Appendf(nil, "datagram %d ", i)
			d = append(d, bytes.Repeat([]byte{'x'}, 900)...)
			sent[string(d)] = true
			if err := c.SendDatagram(d); err != nil {
				t.Fatalf("send datagram %d: %v", i, err)
			}
		}
		back := 0
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		defer dcancel()
		for back < n {
			d, err := c.ReceiveDatagram(dctx)
			if err != nil {
				break
			}
			if sent[string(d)] {
				back++
			}
		}
		// Datagrams are unreliable; on loopback nearly all come back.
		if back < n*9/10 {
			t.Fatalf("%d of %d datagrams came back", back, n)
		}
		t.Logf("%d of %d datagrams came back", back, n)
	})

	t.Run("0rtt", func(t *testing.T) {
		// The echo connections left a session ticket from Rust: a new
		// connection sends its request in 0-RTT and Rust accepts it.
		c, err := ep.ConnectEarly(ctx, addr, rustEchoALPN)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(0, "")
		echoStream(ctx, t, c, []byte("zero rtt to rust"))
		select {
		case <-c.HandshakeComplete():
		case <-ctx.Done():
			t.Fatal("handshake did not complete")
		}
		if !c.Used0RTT() {
			t.Fatal("0-RTT not used or not accepted by rust")
		}
	})

	t.Run("close", func(t *testing.T) {
		c := dial(t, rustCloseALPN)
		s, err := c.OpenStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s.Write([]byte("please close"))
		s.Close()
		select {
		case <-c.Context().Done():
		case <-time.After(10 * time.Second):
			t.Fatal("rust did not close the connection")
		}
		var ae *iroh.ApplicationError
		if err := c.Err(); !errors.As(err, &ae) || *ae != (iroh.ApplicationError{Code: 42, Reason: "bye", Remote: true}) {
			t.Fatalf("close from rust: %#v", err)
		}
		// Reads and stream opens now fail with the same error.
		if _, err := c.AcceptStream(ctx); !errors.As(err, &ae) || ae.Code != 42 {
			t.Fatalf("AcceptStream after rust closed: %v", err)
		}
		t.Logf("rust closed: %v", c.Err())
	})

	t.Run("we-close", func(t *testing.T) {
		c := dial(t, rustEchoALPN)
		echoStream(ctx, t, c, []byte("before close"))
		c.Close(7, "go says bye")
		ev, err := peer.WaitEvent(ctx, func(ev map[string]any) bool {
			return ev["event"] == "closed" && strings.Contains(fmt.Sprint(ev["reason"]), "go says bye")
		})
		if err != nil {
			t.Fatal(err)
		}
		if r := fmt.Sprint(ev["reason"]); !strings.Contains(r, "7") {
			t.Fatalf("rust saw %v", ev)
		}
		t.Logf("rust saw: %v", ev["reason"])
	})
}

// goInteropHandlers serves the interop ALPNs on a Router the way
// rust-peer.mjs's listener does: echo (streams and datagrams), sink
// (SHA-256 and length back) and close, where we close with code 42 and
// reason "go says bye" after reading one stream.
type goInteropHandlers struct {
	wg sync.WaitGroup // stream goroutines
	// sinkKeyUpdates is the key updates of the last sink connection, when
	// its stream was done.
	sinkKeyUpdates atomic.Uint64
	// lastRemote is the EndpointID of the last echo connection.
	lastRemote atomic.Value
}

func (h *goInteropHandlers) router(ep *iroh.Endpoint) *iroh.Router {
	return iroh.NewRouter(ep).
		Handle(rustEchoALPN, iroh.ProtocolHandlerFunc(h.echo)).
		Handle(rustSinkALPN, iroh.ProtocolHandlerFunc(h.sink)).
		Handle(rustCloseALPN, iroh.ProtocolHandlerFunc(h.close))
}

func (h *goInteropHandlers) echo(ctx context.Context, c *iroh.Connection) error {
	h.lastRemote.Store(c.RemoteID())
	h.wg.Go(func() {
		for {
			d, err := c.ReceiveDatagram(ctx)
			if err != nil {
				return
			}
			c.SendDatagram(d)
		}
	})
	for {
		s, err := c.AcceptStream(ctx)
		if err != nil {
			return nil
		}
		h.wg.Go(func() {
			io.Copy(s, s)
			s.Close()
		})
	}
}

func (h *goInteropHandlers) sink(ctx context.Context, c *iroh.Connection) error {
	for {
		s, err := c.AcceptStream(ctx)
		if err != nil {
			return nil
		}
		h.wg.Go(func() {
			sum := sha256.New()
			n, err := io.Copy(sum, s)
			if err != nil {
				s.CancelWrite(1)
				return
			}
			h.sinkKeyUpdates.Store(c.Stats().KeyUpdates)
			s.Write(binary.BigEndian.AppendUint64(sum.Sum(nil), uint64(n)))
			s.Close()
		})
	}
}

func (h *goInteropHandlers) close(ctx context.Context, c *iroh.Connection) error {
	s, err := c.AcceptStream(ctx)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, s)
	return c.Close(42, "go says bye")
}

// serveInterop starts a Router with goInteropHandlers on ep and stops it
// (waiting for every handler goroutine) when the test ends.
func serveInterop(t *testing.T, ep *iroh.Endpoint) *goInteropHandlers {
	t.Helper()
	h := &goInteropHandlers{}
	r := h.router(ep)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("router shutdown: %v", err)
		}
		testutil.WaitGroup(t, &h.wg, 10*time.Second, "interop handler goroutines ending after router shutdown")
	})
	return h
}

// rustConnectOK runs rust-peer.mjs connect against tk and fails the test
// unless Rust verified the exchange.
func rustConnectOK(ctx context.Context, t *testing.T, tk string, args ...string) map[string]any {
	t.Helper()
	res, err := testutil.RustConnect(ctx, t, tk, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if res["ok"] != true {
		t.Fatalf("%v: rust says %v", args, res)
	}
	return res
}

// TestRustDialsEndpoint: a real Rust iroh 1.0 endpoint dials our Router by
// our ticket: echo (one and eight streams), sink (16 MiB, with key
// updates), datagrams, and close, where our handler closes with code 42 and
// reason "go says bye" and Rust reports both.
func TestRustDialsEndpoint(t *testing.T) {
	testutil.RequireRustInterop(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	ep := bindRust(t, nil)
	h := serveInterop(t, ep)
	tk := ticket.EncodeEndpoint(ep.Addr())
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"echo", []string{"--mode", "echo", "--bytes", "1048576"}},
		{"echo-8-streams", []string{"--mode", "echo", "--bytes", "65536", "--streams", "8"}},
		{"sink", []string{"--mode", "sink", "--bytes", "16777216"}},
		{"datagrams", []string{"--mode", "datagrams"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
			defer cancel()
			res := rustConnectOK(ctx, t, tk, tc.args...)
			t.Logf("rust: connect %v ms, exchange %v ms", res["connect_ms"], res["exchange_ms"])
			if tc.name == "sink" {
				n := h.sinkKeyUpdates.Load()
				t.Logf("key updates during the sink: %d", n)
				if n == 0 {
					t.Error("no key update in 16 MiB from rust")
				}
			}
		})
	}
	t.Run("close", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		res := rustConnectOK(ctx, t, tk, "--mode", "close")
		reason := fmt.Sprint(res["close_reason"])
		if !strings.Contains(reason, "42") || !strings.Contains(reason, "go says bye") {
			t.Fatalf("rust saw close %q (%v)", reason, res)
		}
		t.Logf("rust saw our close: %s", reason)
	})
}

// TestRustRefusals: a ticket with another endpoint id and the Rust
// listener's address is refused well within the handshake timeout with a
// *iroh.WrongPeerError; an ALPN the listener does not serve ends with an
// error that names the ALPN.
func TestRustRefusals(t *testing.T) {
	testutil.RequireRustInterop(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	peer := testutil.StartRustListener(t)
	addr := rustTicketAddr(t, peer)
	const hsTimeout = 3 * time.Second
	ep := bindRust(t, &iroh.Options{HandshakeTimeout: hsTimeout})

	t.Run("wrong-id", func(t *testing.T) {
		other := iroh.NewSecretKey().Public()
		wrong := ticket.EncodeEndpoint(endpointaddr.Addr{ID: other, Direct: addr.Direct})
		target, err := ticket.ParseEndpoint(wrong)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = ep.Connect(t.Context(), target, rustEchoALPN)
		took := time.Since(start)
		var wp *iroh.WrongPeerError
		if !errors.As(err, &wp) || wp.Want != other {
			t.Fatalf("dialing id %s at rust's address: %v, want a WrongPeerError", other.ShortString(), err)
		}
		if !strings.Contains(err.Error(), addr.ID.String()) {
			t.Errorf("error does not name the id that answered (%s): %v", addr.ID, err)
		}
		if took > hsTimeout/3 {
			t.Errorf("wrong id refused after %v (handshake timeout %v)", took, hsTimeout)
		}
		t.Logf("wrong id refused after %v: %v", took.Round(time.Millisecond), err)
	})

	t.Run("unknown-alpn", func(t *testing.T) {
		const alpn = "no-such-protocol/1"
		start := time.Now()
		_, err := ep.Connect(t.Context(), addr, alpn)
		took := time.Since(start)
		if err == nil {
			t.Fatal("connected with an ALPN rust does not serve")
		}
		t.Logf("unknown ALPN refused after %v: %v", took.Round(time.Millisecond), err)
		switch {
		case errors.Is(err, iroh.ErrNoCommonALPN):
			// Rust answered with no_application_protocol.
		default:
			// Rust iroh 1.0 sends nothing back: our error must say that
			// the peer did not answer and which ALPN was offered.
			var te *iroh.TimeoutError
			if !errors.As(err, &te) || !te.Handshake {
				t.Fatalf("unknown ALPN: %v, want ErrNoCommonALPN or a handshake timeout", err)
			}
			if !strings.Contains(err.Error(), `"`+alpn+`"`) || !strings.Contains(err.Error(), "did not answer") {
				t.Fatalf("error does not say the peer did not answer our ALPN %q: %v", alpn, err)
			}
		}
		if took > hsTimeout+2*time.Second {
			t.Errorf("unknown ALPN took %v (handshake timeout %v)", took, hsTimeout)
		}
		// Rust did get our ClientHello and refused it on its side.
		wctx, wcancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer wcancel()
		ev, err := peer.WaitEvent(wctx, func(ev map[string]any) bool { return ev["event"] == "conn_error" })
		if err != nil {
			t.Fatalf("rust reported no refused connection: %v", err)
		}
		t.Logf("rust: %v", ev)
	})
}

// rustViaRelay waits for the Rust listener's conn event from remote and
// fails unless the handshake came through the relay.
func rustViaRelay(ctx context.Context, t *testing.T, peer *testutil.RustPeer, remote iroh.EndpointID) {
	t.Helper()
	ev, err := peer.WaitEvent(ctx, func(ev map[string]any) bool {
		return ev["event"] == "conn" && ev["remote"] == remote.String()
	})
	if err != nil {
		t.Fatal(err)
	}
	if ev["via"] != "relay" {
		t.Fatalf("rust saw our connection arrive via %v, want relay: %v", ev["via"], ev)
	}
	t.Logf("rust: conn via %v from %v, paths %v", ev["via"], ev["from"], ev["paths"])
}

// TestRustEndpointRelayOnly: through our in-process relay, the home relay
// of both sides, our endpoint dials Rust knowing only its relay URL, and
// Rust dials us relay-only (--relay-only). Rust's listener says the
// handshake came via the relay; our path is the relay; Rust's client saw
// only relay paths.
func TestRustEndpointRelayOnly(t *testing.T) {
	testutil.RequireRustInterop(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	url := relaytest.URL(t)
	relayURL, err := endpointaddr.ParseRelayURL(url)
	if err != nil {
		t.Fatal(err)
	}
	peer := testutil.StartRustListener(t, "--relay", url)
	addr := rustTicketAddr(t, peer)
	if addr.RelayURL() != relayURL {
		t.Fatalf("rust ticket relay %q, want %q", addr.RelayURL(), relayURL)
	}
	ep := bindRust(t, &iroh.Options{Relays: []iroh.RelayURL{relayURL}, RelayOnly: true})
	if ep.HomeRelay() != relayURL {
		t.Fatalf("home relay %q, want %q", ep.HomeRelay(), relayURL)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()

	t.Run("go-dials-rust", func(t *testing.T) {
		target := iroh.EndpointAddr{ID: addr.ID, RelayURLs: []iroh.RelayURL{relayURL}}
		c, err := ep.Connect(ctx, target, rustEchoALPN)
		if err != nil {
			t.Fatalf("relay-only connect: %v\nrust stderr:\n%s", err, peer.Stderr())
		}
		defer c.Close(0, "")
		msg := make([]byte, 2<<20)
		rand.Read(msg)
		echoStream(ctx, t, c, msg)
		if p, _ := c.Paths(); p.Kind != iroh.PathRelay || p.RelayURL != relayURL {
			t.Fatalf("our path %+v, want the relay %s", p, relayURL)
		}
		rustViaRelay(ctx, t, peer, ep.ID())
	})

	t.Run("go-dials-rust-by-relay-url", func(t *testing.T) {
		// Without RelayOnly, an address of only the relay URL is enough
		// too. Rust 1.0 speaks no disco and we no QUIC NAT traversal, so
		// the connection does not move to a direct path (logged).
		ep2 := bindRust(t, &iroh.Options{Relays: []iroh.RelayURL{relayURL}})
		target := iroh.EndpointAddr{ID: addr.ID, RelayURLs: []iroh.RelayURL{relayURL}}
		c, err := ep2.Connect(ctx, target, rustEchoALPN)
		if err != nil {
			t.Fatalf("connect by relay URL: %v", err)
		}
		defer c.Close(0, "")
		echoStream(ctx, t, c, make([]byte, 1<<20))
		rustViaRelay(ctx, t, peer, ep2.ID())
		p, _ := c.Paths()
		t.Logf("our path after 1 MiB: %s %s %s", p.Kind, p.Addr, p.RelayURL)
	})

	t.Run("rust-dials-go", func(t *testing.T) {
		serveInterop(t, ep)
		tk := ticket.EncodeEndpoint(ep.Addr())
		res := rustConnectOK(ctx, t, tk, "--mode", "echo", "--bytes", "1048576", "--relay", url, "--relay-only")
		paths, _ := res["paths"].([]any)
		if len(paths) == 0 {
			t.Fatalf("rust reports no paths: %v", res)
		}
		for _, p := range paths {
			if pm, _ := p.(map[string]any); pm["relay"] != true {
				t.Fatalf("rust used a path that is not the relay: %v", p)
			}
		}
		t.Logf("rust paths: %v", paths)
	})
}

// TestRustEndpointDirectPath: after a direct dial of a Rust iroh 1.0
// endpoint (which speaks no disco) and traffic both ways, our endpoint
// reports the direct path to Rust's address.
//
// Fails with this branch's magicsock, which confirms a direct path only by
// a disco pong that Rust never sends (the path stays "mixed"); branch
// msockrust confirms paths by QUIC traffic and makes it pass (checked on a
// copy of both). It skips for that reason outside CI and fails in CI as
// root.
func TestRustEndpointDirectPath(t *testing.T) {
	testutil.RequireRustInterop(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	peer := testutil.StartRustListener(t)
	addr := rustTicketAddr(t, peer)
	ep := bindRust(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	c, err := ep.Connect(ctx, addr, rustEchoALPN)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(0, "")
	echoStream(ctx, t, c, bytes.Repeat([]byte("direct "), 10_000))
	p, cands := c.Paths()
	t.Logf("our path to rust: %s %v rtt %v; candidates %+v", p.Kind, p.Addr, p.RTT, cands)
	if p.Kind != iroh.PathDirect || !slices.Contains(addr.Direct, p.Addr) {
		testutil.SkipUnlessCI(t, "known (magicsock confirms direct paths by disco only; fixed on branch msockrust): path to the rust listener %+v, want direct to one of %v", p, addr.Direct)
	}
}

// TestRustDialsEndpointDirectPath: a Rust iroh 1.0 endpoint that dialed
// our endpoint directly shows up in Connection.Paths as a direct path.
//
// Fails today, and with branch msockrust too (checked on a copy of both):
// magicsock delivers the Initial of a peer that dials from an unknown
// address under an anonymous remote, which Paths(id) does not know by the
// peer's id; naming that remote once TLS has proven the key needs a
// magicsock call that the root would make after the handshake. It skips for
// that reason outside CI and fails in CI as root.
func TestRustDialsEndpointDirectPath(t *testing.T) {
	testutil.RequireRustInterop(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	ep := bindRust(t, nil)
	h := serveInterop(t, ep)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res := rustConnectOK(ctx, t, ticket.EncodeEndpoint(ep.Addr()), "--mode", "echo", "--bytes", "65536")
	t.Logf("rust's paths to us: %v", res["paths"])
	client, _ := h.lastRemote.Load().(iroh.EndpointID)
	if client.IsZero() {
		t.Fatal("our router saw no echo connection")
	}
	p, cands := ep.PathsTo(client)
	t.Logf("our path to the rust client: %s %v rtt %v; candidates %+v", p.Kind, p.Addr, p.RTT, cands)
	if p.Kind != iroh.PathDirect {
		testutil.SkipUnlessCI(t, "known (magicsock keeps a peer that dialed from an unknown address as an anonymous remote, not under its id): path to the rust client %+v, want direct", p)
	}
}
