package gossip

import (
	"slices"
	"testing"
	"time"
)

// TestDialWithGossipedAddress: c joins through b only; b forwards the
// join (with c's addresses from its Join) to a, whose view has room, so a
// dials c by the address data it learned from the protocol alone.
func TestDialWithGossipedAddress(t *testing.T) {
	topic := TopicFromName("gossiped address")
	a, b, c := newNode(t, nil), newNode(t, nil), newNode(t, nil)
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	if err := tb.Joined(t.Context()); err != nil {
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
