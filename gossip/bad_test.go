package gossip

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/gossip/proto"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

// rawPeer is an endpoint that speaks the gossip wire by hand: to send
// what a correct node never sends, or to stop reading.
type rawPeer struct {
	ep   *iroh.Endpoint
	conn *iroh.Connection
}

func newRawPeer(t *testing.T, target *node) *rawPeer {
	t.Helper()
	ep, err := iroh.Bind(t.Context(), &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close(context.Background()) })
	conn, err := ep.Connect(t.Context(), target.ep.Addr(), ALPN)
	if err != nil {
		t.Fatal(err)
	}
	return &rawPeer{ep: ep, conn: conn}
}

// stream opens a topic stream and writes its header.
func (r *rawPeer) stream(t *testing.T, topic TopicID) *iroh.SendStream {
	t.Helper()
	s, err := r.conn.OpenUniStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(proto.AppendFrame(nil, proto.AppendStreamHeader(nil, topic))); err != nil {
		t.Fatal(err)
	}
	return s
}

func (r *rawPeer) send(t *testing.T, s *iroh.SendStream, m proto.Message) {
	t.Helper()
	if _, err := s.Write(proto.AppendFrame(nil, proto.AppendMessage(nil, &m))); err != nil {
		t.Fatal(err)
	}
}

func (r *rawPeer) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-r.conn.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
}

func waitCount(t *testing.T, what string, f func() float64, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", what, f(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBadInput(t *testing.T) {
	topic := TopicFromName("bad")
	cases := []struct {
		name   string
		write  func(t *testing.T, r *rawPeer)
		reason string
	}{
		{"frame too large", func(t *testing.T, r *rawPeer) {
			s := r.stream(t, topic)
			s.Write(binary.BigEndian.AppendUint32(nil, proto.DefaultMaxMessageSize+1))
		}, "frame_too_large"},
		{"malformed message", func(t *testing.T, r *rawPeer) {
			s := r.stream(t, topic)
			s.Write(proto.AppendFrame(nil, []byte{7, 7, 7}))
		}, "malformed"},
		{"short stream header", func(t *testing.T, r *rawPeer) {
			s, _ := r.conn.OpenUniStream(t.Context())
			s.Write(proto.AppendFrame(nil, []byte{1, 2, 3}))
		}, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newNode(t, nil)
			subscribe(t, a, topic)
			r := newRawPeer(t, a)
			c.write(t, r)
			r.waitClosed(t)
			waitCount(t, c.reason, func() float64 { return promtest.ToFloat64(a.g.m.ConnClosed.WithLabelValues(c.reason)) }, 1)
		})
	}
}

// TestForgedAndUnknown: a Gossip whose id is not its content's hash is
// dropped; messages for a topic we did not join create no state.
func TestForgedAndUnknown(t *testing.T) {
	topic := TopicFromName("forged")
	a := newNode(t, nil)
	ta := subscribe(t, a, topic)
	r := newRawPeer(t, a)
	s := r.stream(t, topic)
	r.send(t, s, proto.Message{Type: proto.MsgGossip, ID: proto.NewMessageID([]byte("other")), Content: []byte("forged")})
	good := []byte("genuine")
	r.send(t, s, proto.Message{Type: proto.MsgGossip, ID: proto.NewMessageID(good), Content: good})
	waitReceived(t, ta, map[string]bool{"genuine": true}, 5*time.Second)
	if got := promtest.ToFloat64(a.g.m.Drops.WithLabelValues("bad_id")); got != 1 {
		t.Fatalf("bad_id drops = %v", got)
	}
	// Replaying the genuine message delivers nothing new.
	r.send(t, s, proto.Message{Type: proto.MsgGossip, ID: proto.NewMessageID(good), Content: good})

	other := TopicFromName("not joined")
	s2 := r.stream(t, other)
	r.send(t, s2, proto.Message{Type: proto.MsgJoin})
	waitCount(t, "unknown_topic", func() float64 { return promtest.ToFloat64(a.g.m.Drops.WithLabelValues("unknown_topic")) }, 1)
	var joined bool
	a.g.do(boundedCtx(t, 30*time.Second), func() { joined = a.g.a.state.Joined(other) })
	if joined {
		t.Fatal("a message created state for a topic we did not join")
	}
	select {
	case ev := <-ta.Events():
		if r, ok := ev.(Received); ok {
			t.Fatalf("replayed or forged message delivered: %q", r.Content)
		}
	case <-time.After(200 * time.Millisecond):
	}
}

// TestSlowPeer: a neighbour that stops reading is dropped once its
// queue overflows, and the other neighbour gets every message at once.
func TestSlowPeer(t *testing.T) {
	topic := TopicFromName("slow")
	a := newNode(t, &Options{SendQueueLen: 32})
	b := newNode(t, nil)
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	if err := tb.Joined(boundedCtx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	// The slow peer joins, then never reads a byte.
	r := newRawPeer(t, a)
	r.send(t, r.stream(t, topic), proto.Message{Type: proto.MsgJoin})
	deadline := time.Now().Add(5 * time.Second)
	for len(ta.Neighbors()) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("neighbours of a: %v", ta.Neighbors())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Enough to fill what the stalled peer's QUIC stream absorbs (its
	// flow-control window and our send buffer, about 5 MiB) and then the
	// send queue, in batches the reading neighbour takes in between, so
	// only the stalled one falls behind.
	const n, batch = 2500, 100
	start := time.Now()
	slow := func() float64 { return promtest.ToFloat64(a.g.m.ConnClosed.WithLabelValues("slow_peer")) }
	sent := 0
	for sent < n && slow() == 0 {
		want := map[string]bool{}
		for range batch {
			m := fmt.Sprintf("%04d %0*d", sent, 3000, 0)
			sent++
			want[m] = true
			if err := ta.Broadcast(boundedCtx(t, 30*time.Second), []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		waitReceived(t, tb, want, 20*time.Second)
	}
	t.Logf("%d x 3 KiB to the reading neighbour in %v while the other stalled", sent, time.Since(start))
	waitCount(t, "slow_peer", func() float64 { return promtest.ToFloat64(a.g.m.ConnClosed.WithLabelValues("slow_peer")) }, 1)
	r.waitClosed(t)
}

func TestLagged(t *testing.T) {
	topic := TopicFromName("lagged")
	a := newNode(t, &Options{EventBuffer: 8})
	b := newNode(t, nil)
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	if err := tb.Joined(boundedCtx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := tb.Broadcast(boundedCtx(t, 30*time.Second), fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Everything b sent is processed by a's actor even though nobody reads.
	waitCount(t, "lagged", func() float64 { return promtest.ToFloat64(a.g.m.Lagged) }, 40)
	// Drain what fits in the buffer, then one more message makes room
	// for Lagged, delivered before it. (Another event arriving during the
	// drain, e.g. a neighbour change on a loaded machine, makes room
	// earlier: then Lagged comes during the drain, still before the
	// message.)
	var lagged uint64
	seen := false
	for drained := false; !drained; {
		select {
		case ev := <-ta.Events():
			if l, ok := ev.(Lagged); ok {
				lagged, seen = l.Missed, true
			}
		case <-time.After(100 * time.Millisecond):
			drained = true
		}
	}
	if err := tb.Broadcast(boundedCtx(t, 30*time.Second), []byte("after the lag")); err != nil {
		t.Fatal(err)
	}
	if !seen {
		select {
		case ev := <-ta.Events():
			l, ok := ev.(Lagged)
			if !ok {
				t.Fatalf("first event after the lag: %#v", ev)
			}
			lagged = l.Missed
		case <-time.After(5 * time.Second):
			t.Fatal("no Lagged")
		}
	}
	waitReceived(t, ta, map[string]bool{"after the lag": true}, 5*time.Second)
	if lagged < 40 {
		t.Fatalf("Lagged{%d}, want >= 40", lagged)
	}
}

func TestDialFailed(t *testing.T) {
	a := newNode(t, &Options{DialTimeout: time.Second})
	ghost := iroh.EndpointAddr{ID: iroh.NewSecretKey().Public(), Direct: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}}
	tp, err := a.g.Subscribe(boundedCtx(t, 30*time.Second), TopicFromName("ghost"), []iroh.EndpointAddr{ghost})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	select {
	case ev := <-tp.Events():
		df, ok := ev.(DialFailed)
		if !ok || df.ID != ghost.ID || df.Err == nil {
			t.Fatalf("event %#v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no DialFailed")
	}
	if got := promtest.ToFloat64(a.g.m.Dials.WithLabelValues("error")); got != 1 {
		t.Fatalf("failed dials = %v", got)
	}
}

// TestSilentConnectionClosed: a peer that connects and never joins a
// topic does not keep a connection (or a table entry) forever.
func TestSilentConnectionClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 5 s grace")
	}
	a := newNode(t, nil)
	subscribe(t, a, TopicFromName("silent"))
	r := newRawPeer(t, a)
	select {
	case <-r.conn.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatal("silent connection still open after 10 s")
	}
	var peers int
	a.g.do(boundedCtx(t, 30*time.Second), func() { peers = len(a.g.a.peers) })
	if peers != 0 {
		t.Fatalf("%d peer entries left", peers)
	}
	if got := promtest.ToFloat64(a.g.m.ConnClosed.WithLabelValues("unused")); got != 1 {
		t.Fatalf("unused closes = %v", got)
	}
}
