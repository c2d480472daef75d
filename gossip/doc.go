// Package gossip runs publish-subscribe topic swarms over iroh
// connections, wire-compatible with iroh-gossip 0.101 (ALPN
// /iroh-gossip/1, shared/spec/gossip.md): HyParView keeps each peer's
// small active view (the neighbours it is connected to) and a larger
// passive view; PlumTree broadcasts along a spanning tree of eager links
// and repairs it with lazy IHave announcements. The protocol itself is
// the I/O-free gossip/proto; this package connects it to an Endpoint.
//
//	g, _ := gossip.New(ep, nil)
//	router := iroh.NewRouter(ep).Handle(gossip.ALPN, g)
//	router.Start()
//	t, _ := g.Subscribe(ctx, gossip.TopicFromName("chat"), bootstrapAddrs)
//	t.Joined(ctx)
//	t.Broadcast(ctx, []byte("hello"))
//	for ev := range t.Events() { ... }
//
// # Connections
//
// One connection per peer carries every topic: each side opens one
// unidirectional stream per topic, starting with a header frame naming
// the topic, then frames of a u32 big-endian length and a postcard
// message (at most Options.MaxMessageSize, 4096 by default). Peers are
// dialed by EndpointID with the addresses the application gave
// (bootstrap) or peers shared in Join/Neighbor/Shuffle messages (kept 5
// minutes, at most 4096 peers), else through the endpoint's address
// lookup. A newer connection to a peer replaces the older one for sending;
// the older one is closed after 10 s. Connections no topic uses are closed
// after 5 s.
//
// # Slow peers and bad input
//
// Every connection has its own writer goroutine with a bounded queue
// (Options.SendQueueLen): a peer that stops reading fills only its own
// queue and, when it overflows, is dropped (counted as slow_peer) while
// the others go on. Frames above the limit or that do not parse close
// the connection with a counted reason; Gossip messages whose id is not
// the BLAKE3 hash of their content are dropped; messages for topics we
// have not joined are ignored and create no state. Broadcast refuses
// content above MaxContentLen with a *MessageTooLargeError.
//
// # Concurrency
//
// One actor goroutine owns the protocol state and every table; the API,
// readers, writers and dialers talk to it over channels. Subscribers get
// events on a bounded channel (Options.EventBuffer): a subscriber that
// falls behind loses events and then receives Lagged with their count;
// it never stalls the swarm. All methods are safe for concurrent use.
//
// # Not yet
//
// The 0.35 protocol (/iroh-gossip/0, one bidirectional stream) is not
// served. Interoperability with Rust nodes awaits the endpoint's own
// QUIC with raw public keys; until then the frames are checked against
// the spec's vectors (gossip/proto).
package gossip
