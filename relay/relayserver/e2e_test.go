package relayserver_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/iroh-go/iroh/relay/relaytest"
)

func TestClientToClient(t *testing.T) {
	r := relaytest.Start(t, nil)
	a := newTestClient(t, r.URL, nil)
	b := newTestClient(t, r.URL, nil)
	waitConnected(t, a, b)
	if err := a.Send(b.id(), 2, 0, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := b.expect(t, 5*time.Second)
	if got.src != a.id() || got.ecn != 2 || got.seg != 0 || !bytes.Equal(got.contents, []byte("hello")) {
		t.Fatalf("got %+v", got)
	}
	batch := bytes.Repeat([]byte("abcdef"), 3)[:16]
	if err := b.Send(a.id(), 3, 6, batch); err != nil {
		t.Fatal(err)
	}
	got = a.expect(t, 5*time.Second)
	if got.src != b.id() || got.ecn != 3 || got.seg != 6 || !bytes.Equal(got.contents, batch) {
		t.Fatalf("got %+v", got)
	}
	// The client pings right after connecting: its latency is known.
	eventually(t, "latency sample", func() bool { return a.State().Latency > 0 })
}

func TestShutdownDuringHandshake(t *testing.T) {
	r := relaytest.Start(t, nil)
	rc, _ := dialRaw(t, r.Addr, "iroh-relay-v2", nil, nil)
	rc.read() // the challenge; never answered
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	t0 := time.Now()
	if err := r.Server.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Waiting for the handshake would take the whole 5 s context (the
	// establish timeout is 30 s); 3 s leaves room for a loaded machine.
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("Shutdown took %v with a handshake pending", d)
	}
	rc.expectClosed()
}
