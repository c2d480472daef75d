package magicsock_test

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/magicsock"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay/relaytest"
	"github.com/iroh-go/iroh/ticket"
)

const rustEchoALPN = "iroh-go-interop/echo/0"

// rustEcho dials a real Rust iroh 1.0 listener from our QUIC on a magic
// socket (knowing it by addr) and echoes a stream and a datagram.
func rustEcho(t *testing.T, m sockMode, peer *testutil.RustPeer, addr endpointaddr.Addr) *endpoint {
	t.Helper()
	a := newEndpoint(t, m)
	mapped, err := a.sock.AddRemote(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := a.tr.Dial(ctx, mapped.AddrPort(), addr.ID, rustEchoALPN)
	if err != nil {
		t.Fatalf("dial rust: %v\nrust stderr:\n%s", err, peer.Stderr())
	}
	if c.RemoteKey() != addr.ID {
		t.Fatal("wrong remote key")
	}
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline, _ := ctx.Deadline()
	s.SetDeadline(deadline) // a stalled echo fails the read below, not hangs it
	msg := bytes.Repeat([]byte("hello rust over magicsock "), 4000)
	go func() {
		s.Write(msg)
		s.Close()
	}()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %d of %d bytes, %v", len(got), len(msg), err)
	}
	if err := c.SendDatagram([]byte("dgram")); err != nil {
		t.Fatal(err)
	}
	if d, err := c.ReceiveDatagram(ctx); err != nil || string(d) != "dgram" {
		t.Fatalf("datagram echo %q, %v", d, err)
	}
	c.Close(0, "")
	return a
}

func rustID(t *testing.T, peer *testutil.RustPeer) key.PublicKey {
	t.Helper()
	id, err := key.ParsePublicKey(peer.ID)
	if err != nil {
		t.Fatalf("rust id %q: %v", peer.ID, err)
	}
	return id
}

// TestQUICRustDirect: our QUIC on a magic socket dials a real Rust iroh
// 1.0 endpoint (no disco) at its UDP address.
func TestQUICRustDirect(t *testing.T) {
	testutil.RequireRustInterop(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	peer := testutil.StartRustListener(t)
	var direct []netip.AddrPort
	for _, s := range peer.Addrs {
		if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Is4() {
			direct = append(direct, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()))
		}
	}
	if len(direct) == 0 {
		t.Fatalf("no IPv4 address in %v", peer.Addrs)
	}
	rustEcho(t, sockMode{}, peer, endpointaddr.Addr{ID: rustID(t, peer), Direct: direct})
}

// TestQUICRustRelay: the same relay-only through our in-process relay,
// the Rust endpoint's home relay: relay datagrams are plain QUIC packets
// both ways.
func TestQUICRustRelay(t *testing.T) {
	testutil.RequireRustInterop(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	url := relaytest.URL(t)
	peer := testutil.StartRustListener(t, "--relay", url)
	a := rustEcho(t, sockMode{relayURL: url, relayOnly: true}, peer,
		endpointaddr.Addr{ID: rustID(t, peer), RelayURLs: []endpointaddr.RelayURL{endpointaddr.RelayURL(url)}})
	if p, _ := a.sock.Paths(rustID(t, peer)); p.Kind != magicsock.PathRelay {
		t.Errorf("path %v, want relay", p.Kind)
	}
}

// rustDialsUs serves echo on our QUIC over a magic socket and has a real
// Rust iroh 1.0 endpoint dial it with the ticket of addr plus args; it
// checks Rust's result and what our server saw.
func rustDialsUs(t *testing.T, b *endpoint, addr endpointaddr.Addr, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		c, err := b.tr.Accept(ctx)
		if err != nil {
			served <- err
			return
		}
		s, err := c.AcceptStream(ctx)
		if err != nil {
			served <- err
			return
		}
		_, err = io.Copy(s, s)
		s.Close()
		served <- err
		<-c.Done()
	}()
	res, err := testutil.RustConnect(ctx, t, ticket.EncodeEndpoint(addr), append([]string{"--mode", "echo", "--bytes", "262144"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if res["ok"] != true {
		t.Fatalf("rust connect failed: %v", res)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("our server: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("our server did not finish")
	}
	return res
}

// TestQUICRustDialsDirect: a real Rust iroh 1.0 endpoint dials our QUIC
// on a magic socket at its UDP address; it speaks no disco, and we have
// no home relay (so no copy of its Initial can come another way): its
// Initial reaches QUIC at once under an anonymous remote, without waiting
// anonymousAfter for a disco ping.
func TestQUICRustDialsDirect(t *testing.T) {
	testutil.RequireRustInterop(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	m := magicsock.NewMetrics(nil)
	b := newEndpoint(t, sockMode{alpns: []string{rustEchoALPN}, metrics: m})
	res := rustDialsUs(t, b, endpointaddr.Addr{ID: b.sk.Public(), Direct: b.sock.LocalAddrs()})
	t.Logf("rust connected in %v ms", res["connect_ms"])
	if got := testutil.MetricValue(m.Initials.WithLabelValues("anonymous")); got < 1 {
		t.Errorf("%v Initials handed over at once, want at least 1", got)
	}
	if got := testutil.MetricValue(m.Initials.WithLabelValues("held")); got != 0 {
		t.Errorf("%v Initials held back", got)
	}
}

// TestQUICRustDialsRelay: the same with Rust dialing relay-only through
// our in-process relay, both sides' home relay.
func TestQUICRustDialsRelay(t *testing.T) {
	testutil.RequireRustInterop(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	url := relaytest.URL(t)
	b := newEndpoint(t, sockMode{relayURL: url, relayOnly: true, alpns: []string{rustEchoALPN}})
	res := rustDialsUs(t, b, endpointaddr.Addr{ID: b.sk.Public(), RelayURLs: []endpointaddr.RelayURL{endpointaddr.RelayURL(url)}}, "--relay", url, "--relay-only")
	paths, _ := res["paths"].([]any)
	if len(paths) == 0 {
		t.Fatalf("rust reports no paths: %v", res)
	}
	for _, p := range paths {
		if pm, _ := p.(map[string]any); pm["relay"] != true {
			t.Fatalf("rust used a path that is not the relay: %v", p)
		}
	}
}
