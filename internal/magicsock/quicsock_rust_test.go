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
