package gossip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/gossip/proto"
	"github.com/prometheus/client_golang/prometheus"
)

// ALPN is the protocol of iroh-gossip 0.101 (/iroh-gossip/1).
const ALPN = proto.ALPN

// ALPN035 is the protocol of iroh-gossip 0.35 (/iroh-gossip/0), which
// Rust iroh 0.35 nodes (and iroh-docs 0.35 live sync) speak. Register
// the Gossip on the Router for both ALPNs to serve both.
const ALPN035 = proto.ALPN035

// TopicID names a topic: 32 arbitrary bytes.
type TopicID = proto.TopicID

// Scope is the delivery scope of a received message.
type Scope = proto.Scope

// TopicFromName hashes a name to a TopicID with BLAKE3.
func TopicFromName(name string) TopicID { return proto.TopicFromName(name) }

// Options configures New. A nil *Options means all defaults.
type Options struct {
	// MaxMessageSize limits a frame's body; it must be equal network-wide.
	// Zero means 4096; below 512 is an error.
	MaxMessageSize int
	// Proto tunes the protocol constants; the zero value is the spec's.
	// Its MaxMessageSize is overridden by the field above.
	Proto proto.Config
	// SendQueueLen is how many messages may wait for one peer; a peer
	// whose queue overflows is dropped (it stopped reading). Zero means
	// 1024.
	SendQueueLen int
	// EventBuffer is each subscriber's event capacity; a subscriber that
	// falls behind loses events and gets Lagged. Zero means 2048.
	EventBuffer int
	// DialTimeout bounds one dial; zero means 10s.
	DialTimeout time.Duration
	// Protocols are the ALPNs offered when dialing a peer, in order of
	// preference; the peer picks one it serves in the handshake, so one
	// dial reaches 0.101 and 0.35 nodes alike. Each must be ALPN or
	// ALPN035. Nil means ALPN then ALPN035. With ALPN035 among them,
	// MaxContentLen leaves room for the topic that 0.35 frames carry.
	// Serve the same ones: register the Gossip on the Router for each of
	// ALPNs().
	Protocols []string
	// Logger receives warnings (peers dropped) and debug detail; nil
	// means no logs.
	Logger *slog.Logger
	// Registerer receives the metrics; nil means not registered.
	Registerer prometheus.Registerer
	// Seed, if non-zero, seeds the protocol's random choices (tests).
	Seed uint64
}

// Errors returned by the API.
var (
	// ErrClosed is returned after Close; it matches net.ErrClosed.
	ErrClosed = fmt.Errorf("gossip: closed: %w", net.ErrClosed)
)

// MessageTooLargeError is returned by Broadcast for content that does not
// fit in one frame.
type MessageTooLargeError struct {
	Len, Max int
}

func (e *MessageTooLargeError) Error() string {
	return fmt.Sprintf("gossip: message of %d bytes exceeds the limit of %d", e.Len, e.Max)
}

// Event is what a topic subscription delivers: Received, NeighborUp,
// NeighborDown, DialFailed or Lagged.
type Event interface{ isEvent() }

// Received is a message that reached us. Content must not be modified.
type Received struct {
	Content []byte
	// DeliveredFrom is the neighbour that sent it (not necessarily its
	// author).
	DeliveredFrom iroh.EndpointID
	Scope         Scope
}

// NeighborUp reports a new neighbour in the topic's active view.
type NeighborUp struct{ ID iroh.EndpointID }

// NeighborDown reports a neighbour that left the active view.
type NeighborDown struct{ ID iroh.EndpointID }

// DialFailed reports that a peer the topic wanted to talk to could not be
// reached.
type DialFailed struct {
	ID  iroh.EndpointID
	Err error
}

// Lagged reports that the subscriber was too slow and Missed events were
// dropped before the next one.
type Lagged struct{ Missed uint64 }

func (Received) isEvent()     {}
func (NeighborUp) isEvent()   {}
func (NeighborDown) isEvent() {}
func (DialFailed) isEvent()   {}
func (Lagged) isEvent()       {}

// Gossip runs topic swarms over an endpoint. Register it on a Router for
// ALPN (it is a ProtocolHandler and ShutdownHandler), then Subscribe.
type Gossip struct {
	// Set in New, then read-only.
	ep         *iroh.Endpoint
	log        *slog.Logger
	m          *Metrics
	maxMsg     int
	maxContent int
	sendQ      int
	eventBuf   int
	dialTO     time.Duration
	protocols  []string // offered when dialing, in order

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	cmds   chan func()    // run on the actor
	inbox  chan inbound   // messages from readers
	events chan connEvent // from connection goroutines
	done   chan struct{}  // closed when run returns

	closeOnce sync.Once
	quitOnce  sync.Once

	// Owned by run.
	a *actor
}

// New returns a Gossip for ep; it starts its actor goroutine. Close (or
// the Router's Shutdown) stops it.
func New(ep *iroh.Endpoint, opts *Options) (*Gossip, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = proto.DefaultMaxMessageSize
	}
	if o.MaxMessageSize < proto.MinMaxMessageSize {
		return nil, fmt.Errorf("gossip: MaxMessageSize %d below the minimum %d", o.MaxMessageSize, proto.MinMaxMessageSize)
	}
	if o.SendQueueLen == 0 {
		o.SendQueueLen = 1024
	}
	if o.EventBuffer == 0 {
		o.EventBuffer = 2048
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.SendQueueLen < 0 || o.EventBuffer < 0 || o.DialTimeout < 0 {
		return nil, errors.New("gossip: negative SendQueueLen, EventBuffer or DialTimeout")
	}
	protocols := slices.Clone(o.Protocols)
	if protocols == nil {
		protocols = []string{ALPN, ALPN035}
	}
	if len(protocols) == 0 {
		return nil, errors.New("gossip: Protocols is empty")
	}
	for i, p := range protocols {
		if p != ALPN && p != ALPN035 {
			return nil, fmt.Errorf("gossip: Protocols: unknown ALPN %q (want %q or %q)", p, ALPN, ALPN035)
		}
		if slices.Contains(protocols[:i], p) {
			return nil, fmt.Errorf("gossip: Protocols: %q twice", p)
		}
	}
	maxContent := proto.MaxContentLen(o.MaxMessageSize)
	if slices.Contains(protocols, ALPN035) {
		maxContent = proto.MaxContentLen035(o.MaxMessageSize)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gossip{
		ep:         ep,
		log:        log.With("component", "gossip"),
		m:          NewMetrics(o.Registerer),
		maxMsg:     o.MaxMessageSize,
		maxContent: maxContent,
		protocols:  protocols,
		sendQ:      o.SendQueueLen,
		eventBuf:   o.EventBuffer,
		dialTO:     o.DialTimeout,
		ctx:        ctx,
		cancel:     cancel,
		cmds:       make(chan func(), 64),
		inbox:      make(chan inbound, 1024),
		events:     make(chan connEvent, 64),
		done:       make(chan struct{}),
	}
	cfg := o.Proto
	cfg.MaxMessageSize = o.MaxMessageSize
	g.a = newActor(g, cfg, o.Seed)
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(g.done)
		g.a.run()
	}()
	return g, nil
}

// MaxContentLen is the largest content Broadcast accepts.
func (g *Gossip) MaxContentLen() int { return g.maxContent }

// Metrics returns the metrics.
func (g *Gossip) Metrics() *Metrics { return g.m }

// do runs f on the actor and waits for it, or fails when ctx ends or
// the Gossip is closed.
func (g *Gossip) do(ctx context.Context, f func()) error {
	fin := make(chan struct{})
	select {
	case g.cmds <- func() { f(); close(fin) }:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.done:
		return ErrClosed
	}
	select {
	case <-fin:
		return nil
	case <-g.done:
		return ErrClosed
	}
}

// Subscribe joins topic through the bootstrap peers (none: wait for
// others to join us) and returns a subscription. Several subscriptions
// of one topic share its swarm; the topic is left when the last is
// closed. Addresses in bootstrap are used to dial; an id alone needs
// address lookup.
func (g *Gossip) Subscribe(ctx context.Context, topic TopicID, bootstrap []iroh.EndpointAddr) (*Topic, error) {
	t := &Topic{g: g, id: topic}
	err := g.do(ctx, func() { t.sub = g.a.subscribe(topic, bootstrap) })
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ALPNs returns the protocols to register the Gossip for on a Router: the
// Protocols of its Options.
func (g *Gossip) ALPNs() []string { return slices.Clone(g.protocols) }

// Accept serves one incoming gossip connection (of either ALPN) until it
// ends; the Router calls it.
func (g *Gossip) Accept(ctx context.Context, conn *iroh.Connection) error {
	cs := g.newConn(conn, false)
	select {
	case g.events <- connEvent{kind: evUp, cs: cs}:
	case <-g.ctx.Done():
		conn.Close(0, "gossip closed")
		return ErrClosed
	}
	g.readLoop(cs)
	return nil
}

// shutdownLinger is how long Shutdown waits after the last frames were
// written before closing the connections.
const shutdownLinger = 250 * time.Millisecond

// Shutdown leaves every topic (Disconnect to all neighbours), waits up to
// ctx (at most 2s) for the last messages to be written, then closes all
// connections and stops. It is safe to call twice.
func (g *Gossip) Shutdown(ctx context.Context) error {
	g.quitOnce.Do(func() {
		flushed := make(chan struct{})
		if err := g.do(ctx, func() { g.a.quitAll(flushed) }); err == nil {
			t := time.NewTimer(2 * time.Second)
			select {
			case <-flushed:
				// The writers handed their last frames to QUIC; give them a
				// moment to leave before the close discards unsent data
				// (the endpoint API cannot wait for their acknowledgement).
				linger := time.NewTimer(shutdownLinger)
				select {
				case <-linger.C:
				case <-ctx.Done():
				}
				linger.Stop()
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	})
	return g.Close()
}

// Close stops the actor and every connection goroutine, closes the
// connections and subscriptions, and waits. Use Shutdown to say goodbye
// to neighbours first. Safe to call twice.
func (g *Gossip) Close() error {
	g.closeOnce.Do(func() {
		g.cancel()
		g.wg.Wait()
	})
	return nil
}

// Topic is a subscription to a topic: broadcast into it and read its
// events. Its methods are safe for concurrent use.
type Topic struct {
	g   *Gossip
	id  TopicID
	sub *subscriber

	closeOnce sync.Once
}

// ID returns the topic id.
func (t *Topic) ID() TopicID { return t.id }

// Events returns the subscription's events. It is closed when the
// subscription or the Gossip is closed. Reading slowly never stalls the
// swarm: events beyond the buffer are dropped and a Lagged event says how
// many.
func (t *Topic) Events() <-chan Event { return t.sub.ch }

// Broadcast sends content to every member of the topic's swarm. Content
// above MaxContentLen is an error, never a silent drop. It returns once
// the message is queued and no neighbour that is still reading has more
// than half its send queue waiting, so a fast broadcaster is paced by
// the network; a neighbour that stopped reading never holds it back.
func (t *Topic) Broadcast(ctx context.Context, content []byte) error {
	return t.broadcast(ctx, content, false)
}

// BroadcastNeighbors sends content to the current neighbours only; they
// do not forward it.
func (t *Topic) BroadcastNeighbors(ctx context.Context, content []byte) error {
	return t.broadcast(ctx, content, true)
}

func (t *Topic) broadcast(ctx context.Context, content []byte, neighbors bool) error {
	if len(content) > t.g.maxContent {
		t.g.m.Drops.WithLabelValues("oversize").Inc()
		return &MessageTooLargeError{Len: len(content), Max: t.g.maxContent}
	}
	c := slices.Clone(content)
	var err error
	done := make(chan struct{})
	if derr := t.g.do(ctx, func() { err = t.g.a.broadcast(t, c, neighbors, done) }); derr != nil {
		return derr
	}
	if err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err() // the message is queued all the same
	case <-t.g.done:
		return nil
	}
}

// Neighbors returns the current neighbours (the active view).
func (t *Topic) Neighbors() []iroh.EndpointID {
	var n []iroh.EndpointID
	t.g.do(context.Background(), func() { n = t.g.a.neighbors(t.id) })
	return n
}

// Joined waits until the topic has had at least one neighbour.
func (t *Topic) Joined(ctx context.Context) error {
	var ch chan struct{}
	if err := t.g.do(ctx, func() { ch = t.g.a.joinedChan(t.id) }); err != nil {
		return err
	}
	if ch == nil {
		return ErrClosed
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.g.done:
		return ErrClosed
	}
}

// JoinPeers asks further peers to let us into the swarm.
func (t *Topic) JoinPeers(ctx context.Context, peers []iroh.EndpointAddr) error {
	return t.g.do(ctx, func() { t.g.a.joinPeers(t.id, peers) })
}

// Close ends the subscription; its Events channel is closed. The topic
// is left when no subscription remains.
func (t *Topic) Close() error {
	t.closeOnce.Do(func() {
		t.g.do(context.Background(), func() { t.g.a.unsubscribe(t.id, t.sub) })
	})
	return nil
}
