package docs

import (
	"context"

	"github.com/iroh-go/iroh/key"
)

// Gossip is what live sync needs of a gossip implementation: joining the
// topic of a document (its namespace id) with bootstrap peers. The team's
// gossip package plugs in through a small adapter; with no Gossip the
// Engine still syncs on join, on incoming syncs and every ResyncInterval.
type Gossip interface {
	// Join subscribes to topic, connecting to the bootstrap peers. The
	// topic is left when the returned GossipTopic is closed.
	Join(ctx context.Context, topic [32]byte, bootstrap []key.PublicKey) (GossipTopic, error)
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
