package gossip

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/gossip/proto"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

// protocolsOf returns, for each peer n has a live connection to, whether
// its current connection speaks 0.35.
func protocolsOf(t *testing.T, n *node) map[iroh.EndpointID]bool {
	t.Helper()
	out := map[iroh.EndpointID]bool{}
	if err := n.g.do(t.Context(), func() {
		for id, p := range n.g.a.peers {
			if cs := p.current(); cs != nil {
				out[id] = cs.v035
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGoGo035 runs a three-node swarm of Go nodes that dial
// /iroh-gossip/0 only: one bidirectional stream per connection, topic in
// every frame. Broadcasts cross both ways and every connection is 0.35.
func TestGoGo035(t *testing.T) {
	topic := TopicFromName("go-go-035")
	only035 := func() *Options { return &Options{Protocols: []string{ALPN035}} }
	a, b, c := newNode(t, only035()), newNode(t, only035()), newNode(t, only035())
	if got := a.g.ALPNs(); len(got) != 1 || got[0] != ALPN035 {
		t.Fatalf("ALPNs = %q", got)
	}
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	tc := subscribe(t, c, topic, b)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, tp := range []*Topic{ta, tb, tc} {
		if err := tp.Joined(ctx); err != nil {
			t.Fatal(err)
		}
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
	for _, n := range []*node{a, b, c} {
		for id, v035 := range protocolsOf(t, n) {
			if !v035 {
				t.Errorf("%s: connection to %s is not 0.35", n.ep.ID().ShortString(), id.ShortString())
			}
		}
		if v1, v0 := promtest.ToFloat64(n.g.m.Connections.WithLabelValues("0.101")), promtest.ToFloat64(n.g.m.Connections.WithLabelValues("0.35")); v1 != 0 || v0 == 0 {
			t.Errorf("%s: connections 0.101 %v, 0.35 %v", n.ep.ID().ShortString(), v1, v0)
		}
	}
	// The largest content that fits a 0.35 frame crosses.
	big := make([]byte, a.g.MaxContentLen())
	big[0] = 'x'
	if err := ta.Broadcast(ctx, big); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, tb, map[string]bool{string(big): true}, 5*time.Second)
}

// TestMixedProtocols: a serves and dials both ALPNs, b speaks only 0.35
// and c only 0.101. a talks 0.35 with b and 0.101 with c, and broadcasts
// cross between b and c through a.
func TestMixedProtocols(t *testing.T) {
	topic := TopicFromName("mixed")
	a := newNode(t, nil)
	b := newNode(t, &Options{Protocols: []string{ALPN035}})
	c := newNode(t, &Options{Protocols: []string{ALPN}})
	if a.g.MaxContentLen() != b.g.MaxContentLen() || c.g.MaxContentLen() != a.g.MaxContentLen()+32 {
		t.Fatalf("MaxContentLen a %d b %d c %d", a.g.MaxContentLen(), b.g.MaxContentLen(), c.g.MaxContentLen())
	}
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	tc := subscribe(t, c, topic, a)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, tp := range []*Topic{ta, tb, tc} {
		if err := tp.Joined(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitConnected(t, []*node{a, b, c}, []*Topic{ta, tb, tc})
	if err := tb.Broadcast(ctx, []byte("from b")); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, tc, map[string]bool{"from b": true}, 5*time.Second)
	if err := tc.Broadcast(ctx, []byte("from c")); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, tb, map[string]bool{"from c": true}, 5*time.Second)
	protos := protocolsOf(t, a)
	if v, ok := protos[b.ep.ID()]; !ok || !v {
		t.Errorf("a-b: present %v, 0.35 %v; want a 0.35 connection", ok, v)
	}
	if v, ok := protos[c.ep.ID()]; ok && v {
		t.Errorf("a-c: a 0.35 connection; want 0.101")
	}
	if v1, v0 := promtest.ToFloat64(a.g.m.Connections.WithLabelValues("0.101")), promtest.ToFloat64(a.g.m.Connections.WithLabelValues("0.35")); v1 == 0 || v0 == 0 {
		t.Errorf("a: connections 0.101 %v, 0.35 %v; want both", v1, v0)
	}
}

// TestLeave035: a 0.35 neighbour that leaves the topic is reported down,
// and the connection, both halves of its stream finished, is closed.
func TestLeave035(t *testing.T) {
	t.Parallel() // it mostly waits for the connections' grace period
	topic := TopicFromName("leave-035")
	opts := func() *Options { return &Options{Protocols: []string{ALPN035}} }
	a, b := newNode(t, opts()), newNode(t, opts())
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := tb.Joined(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ta.Joined(ctx); err != nil {
		t.Fatal(err)
	}
	tb.Close()
	for {
		select {
		case ev := <-ta.Events():
			if d, ok := ev.(NeighborDown); ok && d.ID == b.ep.ID() {
				goto down
			}
		case <-ctx.Done():
			t.Fatal("no NeighborDown after b left")
		}
	}
down:
	deadline := time.Now().Add(3 * unusedGrace)
	for len(protocolsOf(t, a)) > 0 || len(protocolsOf(t, b)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connections left: a %v, b %v", protocolsOf(t, a), protocolsOf(t, b))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBadInput035: on a 0.35 connection, a frame above the limit or one
// that does not parse (a short topic, an unknown message kind) closes
// the connection with a counted reason; a well-formed frame before it is
// still delivered.
func TestBadInput035(t *testing.T) {
	topic := TopicFromName("bad-035")
	good := []byte("before the bad frame")
	gossipMsg := proto.Message{Type: proto.MsgGossip, ID: proto.NewMessageID(good), Content: good}
	cases := []struct {
		name   string
		frame  []byte
		reason string
	}{
		{"frame too large", binary.BigEndian.AppendUint32(nil, proto.DefaultMaxMessageSize+1), "frame_too_large"},
		{"short topic", proto.AppendFrame(nil, make([]byte, 20)), "malformed"},
		{"unknown kind", proto.AppendFrame(nil, append(topic[:], 0, 9)), "malformed"},
		{"v1 body on v0", proto.AppendFrame(nil, proto.AppendMessage(nil, &gossipMsg)), "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newNode(t, nil)
			ta := subscribe(t, a, topic)
			ep, err := iroh.Bind(t.Context(), &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ep.Close(context.Background()) })
			conn, err := ep.Connect(t.Context(), a.ep.Addr(), ALPN035)
			if err != nil {
				t.Fatal(err)
			}
			s, err := conn.OpenStream(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			frames := proto.AppendFrame(nil, proto.AppendProtoMessage(nil, topic, &gossipMsg))
			if _, err := s.Write(append(frames, c.frame...)); err != nil {
				t.Fatal(err)
			}
			waitReceived(t, ta, map[string]bool{string(good): true}, 5*time.Second)
			select {
			case <-conn.Context().Done():
			case <-time.After(5 * time.Second):
				t.Fatal("connection not closed")
			}
			waitCount(t, c.reason, func() float64 { return promtest.ToFloat64(a.g.m.ConnClosed.WithLabelValues(c.reason)) }, 1)
		})
	}
}

func TestProtocolsOption(t *testing.T) {
	ep, err := iroh.Bind(t.Context(), &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close(context.Background())
	for _, c := range []struct {
		name  string
		p     []string
		want  string // error substring, "" for none
		alpns []string
	}{
		{"default", nil, "", []string{ALPN, ALPN035}},
		{"0.35 first", []string{ALPN035, ALPN}, "", []string{ALPN035, ALPN}},
		{"0.101 only", []string{ALPN}, "", []string{ALPN}},
		{"empty", []string{}, "empty", nil},
		{"unknown", []string{"/iroh-gossip/2"}, "unknown ALPN", nil},
		{"twice", []string{ALPN, ALPN}, "twice", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, err := New(ep, &Options{Protocols: c.p})
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if got := g.ALPNs(); !slices.Equal(got, c.alpns) {
				t.Fatalf("ALPNs = %q, want %q", got, c.alpns)
			}
		})
	}
}
