package gossip

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/gossip/proto"
)

// TestReconnect: when the connection between two neighbours breaks, the
// next shuffle joins the lost peer again over a new connection and
// messages flow.
func TestReconnect(t *testing.T) {
	topic := TopicFromName("reconnect")
	fast := func() *Options { return &Options{Proto: proto.Config{ShuffleInterval: 300 * time.Millisecond}} }
	a, b := newNode(t, fast()), newNode(t, fast())
	ta := subscribe(t, a, topic)
	tb := subscribe(t, b, topic, a)
	if err := tb.Joined(boundedCtx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	// Break every gossip connection of b.
	b.g.do(boundedCtx(t, 30*time.Second), func() {
		for _, p := range b.g.a.peers {
			for _, cs := range p.conns {
				b.g.closeWith(cs, 99, "test breaks the connection", "")
			}
		}
	})
	down := false
	deadline := time.After(10 * time.Second)
	for !down {
		select {
		case ev := <-tb.Events():
			_, down = ev.(NeighborDown)
		case <-deadline:
			t.Fatal("no NeighborDown after the connection broke")
		}
	}
	for len(ta.Neighbors()) == 0 || len(tb.Neighbors()) == 0 {
		select {
		case <-deadline:
			t.Fatal("no reconnect")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := ta.Broadcast(boundedCtx(t, 30*time.Second), []byte("after reconnect")); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, tb, map[string]bool{"after reconnect": true}, 5*time.Second)
}

// TestBootstrapLeaves: everyone joins through node 0, which then shuts
// down; the others stay one swarm.
func TestBootstrapLeaves(t *testing.T) {
	topic := TopicFromName("bootstrap leaves")
	boot := newNode(t, nil)
	subscribe(t, boot, topic)
	var topics []*Topic
	var nodes []*node
	for range 5 {
		n := newNode(t, nil)
		nodes = append(nodes, n)
		tp := subscribe(t, n, topic, boot)
		if err := tp.Joined(boundedCtx(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		topics = append(topics, tp)
	}
	time.Sleep(200 * time.Millisecond) // forward joins settle
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := boot.router.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// The survivors must form one connected swarm again.
	waitConnected(t, nodes, topics)
	for i, tp := range topics {
		msg := fmt.Sprintf("from %d", i)
		if err := tp.Broadcast(boundedCtx(t, 30*time.Second), []byte(msg)); err != nil {
			t.Fatal(err)
		}
		for j, other := range topics {
			if j != i {
				waitReceived(t, other, map[string]bool{msg: true}, 5*time.Second)
			}
		}
	}
}

// connected reports whether the links both ends agree on (each in the
// other's active view) connect all nodes.
func connected(nodes []*node, topics []*Topic) bool {
	idx := map[iroh.EndpointID]int{}
	for i, n := range nodes {
		idx[n.ep.ID()] = i
	}
	views := make([][]iroh.EndpointID, len(topics))
	for i, tp := range topics {
		views[i] = tp.Neighbors()
	}
	adj := make([][]int, len(nodes))
	for i := range topics {
		for _, p := range views[i] {
			if j, ok := idx[p]; ok && slices.Contains(views[j], nodes[i].ep.ID()) {
				adj[i] = append(adj[i], j)
			}
		}
	}
	seen := map[int]bool{0: true}
	stack := []int{0}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, j := range adj[i] {
			if !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		}
	}
	return len(seen) == len(nodes)
}
