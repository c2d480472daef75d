package testutil

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestRustPeerHarness proves the harness the Go-Rust interop tests stand
// on: the test re-runs itself in a loopback-only namespace, where a real
// Rust iroh 1.0 listener and a Rust client echo 64 KiB over a direct path.
func TestRustPeerHarness(t *testing.T) {
	RequireRustInterop(t)
	if !InLoopbackNamespace(t) {
		return
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ifs) != 1 || ifs[0].Flags&net.FlagLoopback == 0 {
		t.Fatalf("namespace has interfaces %v, want loopback only", ifs)
	}
	peer := StartRustListener(t)
	if peer.ID == "" || peer.Ticket == "" || len(peer.Addrs) == 0 {
		t.Fatalf("ready line incomplete: id %q ticket %q addrs %v", peer.ID, peer.Ticket, peer.Addrs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := RustConnect(ctx, t, peer.Ticket, "--mode", "echo", "--bytes", "65536")
	if err != nil {
		t.Fatal(err)
	}
	if res["ok"] != true {
		t.Fatalf("rust echo failed: %v", res)
	}
	ev, err := peer.WaitEvent(ctx, func(ev map[string]any) bool { return ev["event"] == "conn" })
	if err != nil {
		t.Fatal(err)
	}
	if ev["via"] != "ip" {
		t.Errorf("listener saw the connection via %v, want ip", ev["via"])
	}
}
