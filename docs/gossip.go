package docs

import (
	"context"
	"sync"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/gossip"
	"github.com/iroh-go/iroh/key"
)

// Gossip is what live sync needs of a gossip implementation: joining the
// topic of a document (its namespace id) with bootstrap peers. FromGossip
// adapts the gossip package (iroh-gossip's /iroh-gossip/1 and 0.35's
// /iroh-gossip/0, so live sync reaches Rust iroh-docs 0.35); with no Gossip
// the Engine still syncs on join, on incoming syncs and every
// ResyncInterval.
type Gossip interface {
	// Join subscribes to topic, connecting to the bootstrap peers. The
	// topic is left when the returned GossipTopic is closed.
	Join(ctx context.Context, topic [32]byte, bootstrap []iroh.EndpointAddr) (GossipTopic, error)
}

// GossipTopic is one joined topic.
type GossipTopic interface {
	// Broadcast sends msg to the whole swarm of the topic.
	Broadcast(ctx context.Context, msg []byte) error
	// BroadcastNeighbors sends msg to the direct neighbours only.
	BroadcastNeighbors(ctx context.Context, msg []byte) error
	// Events delivers received messages and neighbour changes; it is
	// closed when the topic is closed.
	Events() <-chan GossipEvent
	// Close leaves the topic.
	Close() error
}

// GossipEventKind tells gossip events apart.
type GossipEventKind uint8

// Gossip event kinds.
const (
	GossipReceived GossipEventKind = iota
	GossipNeighborUp
	GossipNeighborDown
	// GossipLagged reports that received messages were lost because we
	// read too slowly; the Engine then syncs with its peers.
	GossipLagged
)

// GossipEvent is a message received on a topic or a neighbour change.
type GossipEvent struct {
	Kind GossipEventKind
	// Received: the message, the neighbour that delivered it, and whether
	// it came straight from its origin (delivery scope Neighbors or
	// Swarm round 0).
	Content       []byte
	DeliveredFrom key.PublicKey
	Direct        bool
	// NeighborUp/Down: the neighbour.
	Peer key.PublicKey
}

// FromGossip adapts a *gossip.Gossip (registered on the Router for
// gossip.ALPN and gossip.ALPN035 by the caller) to the Engine's Gossip.
func FromGossip(g *gossip.Gossip) Gossip { return gossipAdapter{g} }

type gossipAdapter struct{ g *gossip.Gossip }

func (a gossipAdapter) Join(ctx context.Context, topic [32]byte, bootstrap []iroh.EndpointAddr) (GossipTopic, error) {
	t, err := a.g.Subscribe(ctx, gossip.TopicID(topic), bootstrap)
	if err != nil {
		return nil, err
	}
	at := &adaptedTopic{t: t, ch: make(chan GossipEvent, 256), done: make(chan struct{})}
	at.wg.Add(1)
	go at.run()
	return at, nil
}

// adaptedTopic translates a gossip.Topic's events; its goroutine ends when
// the topic's event channel closes (Close).
type adaptedTopic struct {
	t    *gossip.Topic
	ch   chan GossipEvent
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

func (a *adaptedTopic) run() {
	defer a.wg.Done()
	defer close(a.ch)
	for ev := range a.t.Events() {
		var out GossipEvent
		switch ev := ev.(type) {
		case gossip.Received:
			out = GossipEvent{Kind: GossipReceived, Content: ev.Content, DeliveredFrom: ev.DeliveredFrom, Direct: ev.Scope.IsDirect()}
		case gossip.NeighborUp:
			out = GossipEvent{Kind: GossipNeighborUp, Peer: ev.ID}
		case gossip.NeighborDown:
			out = GossipEvent{Kind: GossipNeighborDown, Peer: ev.ID}
		case gossip.Lagged:
			out = GossipEvent{Kind: GossipLagged}
		default:
			continue // DialFailed
		}
		select {
		case a.ch <- out:
		case <-a.done:
			return
		}
	}
}

func (a *adaptedTopic) Broadcast(ctx context.Context, msg []byte) error {
	return a.t.Broadcast(ctx, msg)
}

func (a *adaptedTopic) BroadcastNeighbors(ctx context.Context, msg []byte) error {
	return a.t.BroadcastNeighbors(ctx, msg)
}

func (a *adaptedTopic) Events() <-chan GossipEvent { return a.ch }

func (a *adaptedTopic) Close() error {
	a.once.Do(func() { close(a.done) })
	err := a.t.Close()
	a.wg.Wait()
	return err
}
