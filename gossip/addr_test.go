package gossip

import (
	"slices"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
)

// TestDialWithGossipedAddress: c joins through b only; b forwards the
// join (with c's addresses from its Join) to a, whose view has room, so a
// dials c by the address data it learned from the protocol alone.
func TestDialWithGossipedAddress(t *testing.T) {
	topic := TopicFromName("gossiped address")
	a, b, c := newNode(t, nil), newNode(t, nil), newNode(t, nil)
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	if err := tb.Joined(boundedCtx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitConnected(t, []*node{a, b}, []*Topic{ta, tb})
	tc := subscribe(t, c, topic, b)
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(ta.Neighbors(), c.ep.ID()) || !slices.Contains(tc.Neighbors(), a.ep.ID()) {
		if time.Now().After(deadline) {
			t.Fatalf("a %v, c %v: no link a-c", ta.Neighbors(), tc.Neighbors())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSimultaneousDialsSettle: two peers that join through each other at
// once dial twice; both keep the same connection and close the other
// (no superseded connection is left open), and messages flow.
func TestSimultaneousDialsSettle(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s grace")
	}
	topic := TopicFromName("simultaneous")
	a, b := newNode(t, nil), newNode(t, nil)
	ta, err := a.g.Subscribe(boundedCtx(t, 30*time.Second), topic, []iroh.EndpointAddr{b.ep.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer ta.Close()
	tb := subscribe(t, b, topic, a)
	waitConnected(t, []*node{a, b}, []*Topic{ta, tb})
	conns := func(n *node, remote iroh.EndpointID) (k int) {
		n.g.do(boundedCtx(t, 30*time.Second), func() {
			if p := n.g.a.peers[remote]; p != nil {
				k = len(p.conns)
			}
		})
		return k
	}
	deadline := time.Now().Add(15 * time.Second)
	for conns(a, b.ep.ID()) != 1 || conns(b, a.ep.ID()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("connections a->b %d, b->a %d", conns(a, b.ep.ID()), conns(b, a.ep.ID()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := ta.Broadcast(boundedCtx(t, 30*time.Second), []byte("one connection")); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, tb, map[string]bool{"one connection": true}, 5*time.Second)
	if !slices.Contains(ta.Neighbors(), b.ep.ID()) {
		t.Fatal("a lost b")
	}
}
