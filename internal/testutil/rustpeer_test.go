package testutil

import (
	"context"
	"net"
	"strings"
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

// TestRust035Harness proves the 0.35 node harness: in a loopback-only
// namespace the node starts, answers requests in order (a document, an
// entry, its content back byte for byte) and reports a failed request as
// an error naming it.
func TestRust035Harness(t *testing.T) {
	RequireRust035(t)
	if !InLoopbackNamespace(t) {
		return
	}
	r := StartRust035(t)
	if len(r.NodeID) != 64 || len(r.Author) != 64 || len(r.Addrs) == 0 {
		t.Fatalf("ready line incomplete: node %q author %q addrs %v", r.NodeID, r.Author, r.Addrs)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := r.Do(ctx, "create", nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := res["doc"].(string)
	// "aGk=" is "hi", "dmFsdWU=" is "value".
	if _, err := r.Do(ctx, "set", map[string]any{"doc": doc, "key": "aGk=", "value": "dmFsdWU="}); err != nil {
		t.Fatal(err)
	}
	res, err = r.Do(ctx, "entries", map[string]any{"doc": doc})
	if err != nil {
		t.Fatal(err)
	}
	es, _ := res["entries"].([]any)
	if len(es) != 1 {
		t.Fatalf("entries %v", res["entries"])
	}
	e, _ := es[0].(map[string]any)
	if e["key"] != "aGk=" || e["content"] != "dmFsdWU=" || e["author"] != r.Author || e["len"] != "5" {
		t.Fatalf("entry %v", e)
	}
	if _, err := r.Do(ctx, "set", map[string]any{"doc": "nope"}); err == nil || !strings.Contains(err.Error(), "unknown doc") {
		t.Fatalf("set on an unknown doc: %v", err)
	}
	if _, err := r.Do(ctx, "frobnicate", nil); err == nil || !strings.Contains(err.Error(), "unknown op") {
		t.Fatalf("unknown op: %v", err)
	}
}
