package gossip

import (
	"context"
	"encoding/base64"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

// These tests run a real Rust iroh-gossip 0.35 node (npm iroh035 through
// internal/testutil/rust035.mjs) in a loopback-only namespace; it speaks
// /iroh-gossip/0 only.

// startRust035 starts the 0.35 node; IROH_TEST_RUSTLOG=debug (or another
// level) turns on its Rust tracing, logged when the test ends.
func startRust035(t *testing.T) (*testutil.Rust035, iroh.EndpointAddr) {
	t.Helper()
	var r *testutil.Rust035
	if l := os.Getenv("IROH_TEST_RUSTLOG"); l != "" {
		r = testutil.StartRust035(t, "--log", l)
		t.Cleanup(func() { t.Logf("rust 0.35 log:\n%s", r.Stderr()) })
	} else {
		r = testutil.StartRust035(t)
	}
	id, err := key.ParsePublicKey(r.NodeID)
	if err != nil {
		t.Fatalf("rust node id %q: %v", r.NodeID, err)
	}
	addr := iroh.EndpointAddr{ID: id}
	for _, s := range r.Addrs {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			addr.Direct = append(addr.Direct, ap)
		}
	}
	if len(addr.Direct) == 0 {
		t.Fatalf("rust node has no 127.0.0.1 address: %q", r.Addrs)
	}
	return r, addr
}

// rustEvents is what the Rust node saw on a topic.
type rustEvents struct {
	up, down map[string]bool   // neighbour ids
	received map[string]string // content -> delivered from
}

func rustTopicEvents(ctx context.Context, t *testing.T, r *testutil.Rust035, topic TopicID) rustEvents {
	t.Helper()
	res, err := r.Do(ctx, "gossipEvents", map[string]any{"topic": topic.String()})
	if err != nil {
		t.Fatalf("%v\nrust stderr:\n%s", err, r.Stderr())
	}
	ev := rustEvents{up: map[string]bool{}, down: map[string]bool{}, received: map[string]string{}}
	for _, e := range res["events"].([]any) {
		m := e.(map[string]any)
		switch {
		case m["neighborUp"] != nil:
			ev.up[m["neighborUp"].(string)] = true
		case m["joined"] != nil:
			for _, id := range m["joined"].([]any) {
				ev.up[id.(string)] = true
			}
		case m["neighborDown"] != nil:
			ev.down[m["neighborDown"].(string)] = true
		case m["received"] != nil:
			rc := m["received"].(map[string]any)
			c, _ := base64.StdEncoding.DecodeString(rc["content"].(string))
			ev.received[string(c)] = rc["deliveredFrom"].(string)
		case m["error"] != nil:
			t.Errorf("rust gossip event error: %v", m["error"])
		}
	}
	return ev
}

// waitRust polls the Rust node's events of topic until ok accepts them.
func waitRust(ctx context.Context, t *testing.T, r *testutil.Rust035, topic TopicID, what string, ok func(rustEvents) bool) {
	t.Helper()
	for {
		ev := rustTopicEvents(ctx, t, r, topic)
		if ok(ev) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("rust node: %s: not seen (events %+v)\nrust stderr:\n%s", what, ev, r.Stderr())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitEvent reads tp's events until ok accepts one.
func waitEvent(ctx context.Context, t *testing.T, tp *Topic, what string, ok func(Event) bool) {
	t.Helper()
	for {
		select {
		case ev, open := <-tp.Events():
			if !open {
				t.Fatalf("%s: events closed", what)
			}
			if ok(ev) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("%s: not seen", what)
		}
	}
}

func rustDo(ctx context.Context, t *testing.T, r *testutil.Rust035, op string, fields map[string]any) {
	t.Helper()
	if _, err := r.Do(ctx, op, fields); err != nil {
		t.Fatalf("%v\nrust stderr:\n%s", err, r.Stderr())
	}
}

// exchange checks broadcasts both ways between Go topic tp (node n) and
// the Rust node, and that they talk over one 0.35 connection.
func exchange(ctx context.Context, t *testing.T, n *node, tp *Topic, r *testutil.Rust035, rust iroh.EndpointAddr) {
	t.Helper()
	topic := tp.ID()
	goID := n.ep.ID().String()
	waitRust(ctx, t, r, topic, "NeighborUp(go)", func(ev rustEvents) bool { return ev.up[goID] })
	if v035, ok := protocolsOf(t, n)[rust.ID]; !ok || !v035 {
		t.Fatalf("connection to the rust node: present %v, 0.35 %v", ok, v035)
	}
	for i, msg := range []string{"hello rust, from go", "second from go"} {
		if err := tp.Broadcast(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		waitRust(ctx, t, r, topic, "message "+msg, func(ev rustEvents) bool { return ev.received[msg] == goID })
		back := "hello go, from rust " + string(rune('0'+i))
		rustDo(ctx, t, r, "gossipBroadcast", map[string]any{"topic": topic.String(), "data": base64.StdEncoding.EncodeToString([]byte(back))})
		waitEvent(ctx, t, tp, "message "+back, func(ev Event) bool {
			rc, ok := ev.(Received)
			return ok && string(rc.Content) == back && rc.DeliveredFrom == rust.ID && rc.Scope.IsDirect()
		})
	}
	// Neighbours only, and the largest content that fits.
	rustDo(ctx, t, r, "gossipBroadcast", map[string]any{"topic": topic.String(), "data": base64.StdEncoding.EncodeToString([]byte("neighbors only")), "neighbors": true})
	waitEvent(ctx, t, tp, "neighbors-scope message", func(ev Event) bool {
		rc, ok := ev.(Received)
		return ok && string(rc.Content) == "neighbors only" && rc.Scope.Neighbors
	})
	big := make([]byte, n.g.MaxContentLen())
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	if err := tp.Broadcast(ctx, big); err != nil {
		t.Fatal(err)
	}
	waitRust(ctx, t, r, topic, "largest message", func(ev rustEvents) bool { return ev.received[string(big)] == goID })
}

// TestRust035GoJoins: a Go node joins a topic with the Rust 0.35 node as
// its bootstrap peer (it dials offering /iroh-gossip/1 and /0; Rust picks
// /0); both see the other as neighbour and broadcasts cross both ways.
func TestRust035GoJoins(t *testing.T) {
	t.Parallel() // it mostly waits for the Rust node
	testutil.RequireRust035(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	r, rust := startRust035(t)
	n := newNode(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	topic := TopicFromName("go joins rust 0.35")
	rustDo(ctx, t, r, "gossipSubscribe", map[string]any{"topic": topic.String()})
	tp, err := n.g.Subscribe(ctx, topic, []iroh.EndpointAddr{rust})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	waitEvent(ctx, t, tp, "NeighborUp(rust)", func(ev Event) bool { u, ok := ev.(NeighborUp); return ok && u.ID == rust.ID })
	exchange(ctx, t, n, tp, r, rust)
	// Leaving: Rust sees us go.
	tp.Close()
	waitRust(ctx, t, r, topic, "NeighborDown(go)", func(ev rustEvents) bool { return ev.down[n.ep.ID().String()] })
}

// TestRust035RustJoins: the Rust 0.35 node joins a topic through the Go
// node (it dials /iroh-gossip/0, which our Router serves); neighbours up
// on both sides and broadcasts both ways; when the Rust node shuts down,
// Go sees its NeighborDown.
func TestRust035RustJoins(t *testing.T) {
	t.Parallel() // it mostly waits for the Rust node
	testutil.RequireRust035(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	r, rust := startRust035(t)
	n := newNode(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	topic := TopicFromName("rust 0.35 joins go")
	tp := subscribe(t, n, topic)
	var addrs []string
	for _, a := range n.ep.Addr().Direct {
		addrs = append(addrs, a.String())
	}
	rustDo(ctx, t, r, "gossipSubscribe", map[string]any{"topic": topic.String(),
		"bootstrap": []map[string]any{{"nodeId": n.ep.ID().String(), "addrs": addrs}}})
	waitEvent(ctx, t, tp, "NeighborUp(rust)", func(ev Event) bool { u, ok := ev.(NeighborUp); return ok && u.ID == rust.ID })
	exchange(ctx, t, n, tp, r, rust)
	// The bindings' Sender.close does not make 0.35 leave the topic (its
	// RPC subscription lives on), so the Rust node shuts down instead.
	r.Close()
	waitEvent(ctx, t, tp, "NeighborDown(rust)", func(ev Event) bool { d, ok := ev.(NeighborDown); return ok && d.ID == rust.ID })
}

// TestRust035RefusesALPN1: a Go node that offers only /iroh-gossip/1
// cannot reach the 0.35 node, and learns so at once: 0.35 (rustls)
// answers an ALPN it does not serve with a no_application_protocol alert,
// unlike Rust 1.0, which does not answer. (Offering both ALPNs in one
// handshake, the default, needs no fallback either way.)
func TestRust035RefusesALPN1(t *testing.T) {
	t.Parallel() // it mostly waits for the Rust node to stop
	testutil.RequireRust035(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	r, rust := startRust035(t)
	n := newNode(t, &Options{Protocols: []string{ALPN}})
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	topic := TopicFromName("alpn 1 only")
	rustDo(ctx, t, r, "gossipSubscribe", map[string]any{"topic": topic.String()})
	start := time.Now()
	tp, err := n.g.Subscribe(ctx, topic, []iroh.EndpointAddr{rust})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	var dialErr error
	waitEvent(ctx, t, tp, "DialFailed(rust)", func(ev Event) bool {
		d, ok := ev.(DialFailed)
		if ok && d.ID == rust.ID {
			dialErr = d.Err
		}
		return ok
	})
	took := time.Since(start)
	t.Logf("refused in %v: %v", took.Round(time.Millisecond), dialErr)
	if took > 5*time.Second {
		t.Fatalf("refusal took %v; want a prompt TLS alert", took)
	}
}

// TestRust035BothJoin: the Go and Rust nodes bootstrap from each other at
// the same moment, so each may dial the other and a Join may arrive
// before the topic is joined (Rust then ignores it). Both see the other
// as neighbour, and broadcasts cross both ways right away and still after
// the grace period of unused connections. (Before the Join fix, about
// one run in four failed: Rust never saw us as its neighbour.)
func TestRust035BothJoin(t *testing.T) {
	t.Parallel() // it mostly waits for the grace period
	testutil.RequireRust035(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	r, rust := startRust035(t)
	n := newNode(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	topic := TopicFromName("both join")
	var addrs []string
	for _, a := range n.ep.Addr().Direct {
		addrs = append(addrs, a.String())
	}
	// Rust's request runs while our Subscribe dials.
	rustDone := make(chan error, 1)
	go func() {
		_, err := r.Do(ctx, "gossipSubscribe", map[string]any{"topic": topic.String(),
			"bootstrap": []map[string]any{{"nodeId": n.ep.ID().String(), "addrs": addrs}}})
		rustDone <- err
	}()
	tp, err := n.g.Subscribe(ctx, topic, []iroh.EndpointAddr{rust})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if err := <-rustDone; err != nil {
		t.Fatalf("%v\nrust stderr:\n%s", err, r.Stderr())
	}
	waitEvent(ctx, t, tp, "NeighborUp(rust)", func(ev Event) bool { u, ok := ev.(NeighborUp); return ok && u.ID == rust.ID })
	goID := n.ep.ID().String()
	waitRust(ctx, t, r, topic, "NeighborUp(go)", func(ev rustEvents) bool { return ev.up[goID] })
	cross := func(round string) {
		t.Helper()
		msg := "go, " + round
		if err := tp.Broadcast(ctx, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		waitRust(ctx, t, r, topic, "message "+msg, func(ev rustEvents) bool { return ev.received[msg] != "" })
		back := "rust, " + round
		rustDo(ctx, t, r, "gossipBroadcast", map[string]any{"topic": topic.String(), "data": base64.StdEncoding.EncodeToString([]byte(back))})
		waitEvent(ctx, t, tp, "message "+back, func(ev Event) bool { rc, ok := ev.(Received); return ok && string(rc.Content) == back })
	}
	cross("at once")
	var conns int
	n.g.do(ctx, func() {
		if p := n.g.a.peers[rust.ID]; p != nil {
			conns = len(p.conns)
		}
	})
	t.Logf("connections to the rust node: %d", conns)
	// Connections no topic uses are closed after unusedGrace: the one in
	// use must not be among them (on either side).
	time.Sleep(unusedGrace + time.Second)
	cross("after the grace")
	if ev := rustTopicEvents(ctx, t, r, topic); ev.down[goID] {
		t.Fatalf("rust saw us go down: %+v", ev)
	}
}

// TestRust035Bridge: a Go node that speaks both protocols links the Rust
// 0.35 node with a Go node that speaks only 0.101 (and so cannot reach
// Rust directly): broadcasts cross between them both ways through it.
func TestRust035Bridge(t *testing.T) {
	t.Parallel() // it mostly waits for the Rust node to stop
	testutil.RequireRust035(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	r, rust := startRust035(t)
	bridge := newNode(t, nil)
	only1 := newNode(t, &Options{Protocols: []string{ALPN}})
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	topic := TopicFromName("bridge")
	tb := subscribe(t, bridge, topic)
	var addrs []string
	for _, a := range bridge.ep.Addr().Direct {
		addrs = append(addrs, a.String())
	}
	rustDo(ctx, t, r, "gossipSubscribe", map[string]any{"topic": topic.String(),
		"bootstrap": []map[string]any{{"nodeId": bridge.ep.ID().String(), "addrs": addrs}}})
	waitEvent(ctx, t, tb, "NeighborUp(rust)", func(ev Event) bool { u, ok := ev.(NeighborUp); return ok && u.ID == rust.ID })
	to := subscribe(t, only1, topic, bridge)
	if err := to.Joined(ctx); err != nil {
		t.Fatal(err)
	}
	rustDo(ctx, t, r, "gossipBroadcast", map[string]any{"topic": topic.String(), "data": base64.StdEncoding.EncodeToString([]byte("from rust 0.35"))})
	waitEvent(ctx, t, to, "rust's message at the 0.101-only node", func(ev Event) bool {
		rc, ok := ev.(Received)
		return ok && string(rc.Content) == "from rust 0.35"
	})
	if err := to.Broadcast(ctx, []byte("from a 0.101-only node")); err != nil {
		t.Fatal(err)
	}
	waitRust(ctx, t, r, topic, "the 0.101-only node's message", func(ev rustEvents) bool { return ev.received["from a 0.101-only node"] != "" })
	if v035, ok := protocolsOf(t, only1)[rust.ID]; ok && v035 {
		t.Fatal("the 0.101-only node has a 0.35 connection")
	}
}
