package gossip

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// quiet discards the endpoints' logs.
var quiet = slog.New(slog.DiscardHandler)

type node struct {
	reg    *prometheus.Registry // the endpoint's metrics
	ep     *iroh.Endpoint
	g      *Gossip
	router *iroh.Router
}

// newNode binds an endpoint on loopback with a router serving gossip.
func newNode(t testing.TB, opts *Options) *node {
	t.Helper()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	ep, err := iroh.Bind(ctx, &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true, Logger: quiet, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if opts == nil {
		opts = &Options{}
	}
	opts.Logger = quiet
	g, err := New(ep, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := iroh.NewRouter(ep)
	for _, alpn := range g.ALPNs() {
		r.Handle(alpn, g)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{reg: reg, ep: ep, g: g, router: r}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Shutdown(ctx)
	})
	return n
}

func subscribe(t testing.TB, n *node, topic TopicID, boot ...*node) *Topic {
	t.Helper()
	var addrs []iroh.EndpointAddr
	for _, b := range boot {
		addrs = append(addrs, b.ep.Addr())
	}
	tp, err := n.g.Subscribe(boundedCtx(t, 30*time.Second), topic, addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	return tp
}

// waitReceived reads events until want messages arrived.
func waitReceived(t testing.TB, tp *Topic, want map[string]bool, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for len(want) > 0 {
		select {
		case ev, ok := <-tp.Events():
			if !ok {
				t.Fatalf("events closed with %d missing", len(want))
			}
			if r, ok := ev.(Received); ok {
				delete(want, string(r.Content))
			}
		case <-deadline:
			t.Fatalf("%d messages missing after %v", len(want), timeout)
		}
	}
}

func TestThreeNodes(t *testing.T) {
	topic := TopicFromName("three")
	a, b, c := newNode(t, nil), newNode(t, nil), newNode(t, nil)
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	tc := subscribe(t, c, topic, b)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, tp := range []*Topic{tb, tc} {
		if err := tp.Joined(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := ta.Joined(ctx); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, []*node{a, b, c}, []*Topic{ta, tb, tc})
	if err := ta.Broadcast(ctx, []byte("from a")); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, tb, map[string]bool{"from a": true}, 5*time.Second)
	waitReceived(t, tc, map[string]bool{"from a": true}, 5*time.Second)
	if err := tc.Broadcast(ctx, []byte("from c")); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ta, map[string]bool{"from c": true}, 5*time.Second)
	if n := tb.Neighbors(); len(n) == 0 {
		t.Fatal("b has no neighbours")
	}
}

func TestBroadcastTooLarge(t *testing.T) {
	a := newNode(t, nil)
	ta := subscribe(t, a, TopicFromName("big"))
	err := ta.Broadcast(boundedCtx(t, 30*time.Second), make([]byte, a.g.MaxContentLen()+1))
	var tl *MessageTooLargeError
	if !errors.As(err, &tl) || tl.Max != a.g.MaxContentLen() {
		t.Fatalf("oversized broadcast: %v", err)
	}
	if err := ta.Broadcast(boundedCtx(t, 30*time.Second), make([]byte, a.g.MaxContentLen())); err != nil {
		t.Fatalf("largest broadcast: %v", err)
	}
}

// TestMaxSizeDelivered: the largest allowed message reaches the peer.
func TestMaxSizeDelivered(t *testing.T) {
	topic := TopicFromName("max")
	a, b := newNode(t, nil), newNode(t, nil)
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	if err := tb.Joined(boundedCtx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte{'x'}, a.g.MaxContentLen())
	if err := ta.Broadcast(boundedCtx(t, 30*time.Second), msg); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, tb, map[string]bool{string(msg): true}, 5*time.Second)
}

func TestManyMessages(t *testing.T) {
	topic := TopicFromName("many")
	nodes := make([]*node, 6)
	topics := make([]*Topic, 6)
	for i := range nodes {
		nodes[i] = newNode(t, nil)
		if i == 0 {
			topics[i] = subscribe(t, nodes[i], topic)
		} else {
			topics[i] = subscribe(t, nodes[i], topic, nodes[i-1])
		}
	}
	for _, tp := range topics[1:] {
		if err := tp.Joined(boundedCtx(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	waitConnected(t, nodes, topics)
	want := map[string]bool{}
	for i := range 200 {
		m := fmt.Sprintf("msg %d", i)
		want[m] = true
		if err := topics[0].Broadcast(boundedCtx(t, 30*time.Second), []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tp := range topics[1:] {
		w := map[string]bool{}
		for k := range want {
			w[k] = true
		}
		waitReceived(t, tp, w, 10*time.Second)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitConnected waits until the links both ends agree on connect all
// nodes: Joined only says a node has a neighbour, and a message sent
// before a link exists does not travel it later.
func waitConnected(t testing.TB, nodes []*node, topics []*Topic) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !connected(nodes, topics) {
		if time.Now().After(deadline) {
			t.Fatal("swarm not connected after 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// boundedCtx returns the test's context, ended after d, for waits in a test
// body that depend on the network (a join, a paced broadcast): a swarm that
// never forms fails the test rather than hanging it.
func boundedCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
