package docs

import (
	"context"
	"sync"

	"github.com/iroh-go/iroh/key"
)

// hub is an in-process Gossip for tests of live sync while the gossip
// package is written: every member of a topic is every other member's
// neighbour, and broadcasts reach all of them directly.
type hub struct {
	mu     sync.Mutex
	topics map[[32]byte]map[*hubTopic]bool
}

func newHub() *hub { return &hub{topics: map[[32]byte]map[*hubTopic]bool{}} }

// member returns the Gossip of one endpoint.
func (h *hub) member(id key.PublicKey) Gossip { return hubMember{h, id} }

type hubMember struct {
	h  *hub
	id key.PublicKey
}

type hubTopic struct {
	h      *hub
	topic  [32]byte
	id     key.PublicKey
	mu     sync.Mutex
	ch     chan GossipEvent
	closed bool
}

func (m hubMember) Join(ctx context.Context, topic [32]byte, bootstrap []key.PublicKey) (GossipTopic, error) {
	t := &hubTopic{h: m.h, topic: topic, id: m.id, ch: make(chan GossipEvent, 1<<16)}
	m.h.mu.Lock()
	if m.h.topics[topic] == nil {
		m.h.topics[topic] = map[*hubTopic]bool{}
	}
	others := m.h.topics[topic]
	for o := range others {
		o.deliver(GossipEvent{Kind: GossipNeighborUp, Peer: m.id})
		t.deliver(GossipEvent{Kind: GossipNeighborUp, Peer: o.id})
	}
	others[t] = true
	m.h.mu.Unlock()
	return t, nil
}

func (t *hubTopic) deliver(ev GossipEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		select {
		case t.ch <- ev:
		default:
		}
	}
}

func (t *hubTopic) Broadcast(ctx context.Context, msg []byte) error {
	t.h.mu.Lock()
	defer t.h.mu.Unlock()
	for o := range t.h.topics[t.topic] {
		if o != t {
			o.deliver(GossipEvent{Kind: GossipReceived, Content: msg, DeliveredFrom: t.id, Direct: true})
		}
	}
	return nil
}

func (t *hubTopic) BroadcastNeighbors(ctx context.Context, msg []byte) error {
	return t.Broadcast(ctx, msg)
}

func (t *hubTopic) Events() <-chan GossipEvent { return t.ch }

func (t *hubTopic) Close() error {
	t.h.mu.Lock()
	delete(t.h.topics[t.topic], t)
	for o := range t.h.topics[t.topic] {
		o.deliver(GossipEvent{Kind: GossipNeighborDown, Peer: t.id})
	}
	t.h.mu.Unlock()
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.ch)
	}
	t.mu.Unlock()
	return nil
}
