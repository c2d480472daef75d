// Package gossip runs publish-subscribe topic swarms over iroh
// connections, wire-compatible with iroh-gossip 0.101 (ALPN,
// /iroh-gossip/1) and 0.35 (ALPN035, /iroh-gossip/0), after
// shared/spec/gossip.md: HyParView keeps each peer's small active view
// (the neighbours it is connected to) and a larger passive view; PlumTree
// broadcasts along a spanning tree of eager links and repairs it with
// lazy IHave announcements. The protocol itself is the I/O-free
// gossip/proto; this package connects it to an Endpoint.
//
//	g, _ := gossip.New(ep, nil)
//	router := iroh.NewRouter(ep).Handle(gossip.ALPN, g).Handle(gossip.ALPN035, g)
//	router.Start()
//	t, _ := g.Subscribe(ctx, gossip.TopicFromName("chat"), bootstrapAddrs)
//	t.Joined(ctx)
//	t.Broadcast(ctx, []byte("hello"))
//	for ev := range t.Events() { ... }
//
// # Connections
//
// One connection per peer carries every topic. Frames are a u32
// big-endian length and a postcard body (at most Options.MaxMessageSize,
// 4096 by default); how they travel depends on the connection's ALPN:
//
//   - /iroh-gossip/1 (0.101): each side opens one unidirectional stream
//     per topic, starting with a header frame naming the topic; the other
//     frames carry a message.
//   - /iroh-gossip/0 (0.35): the dialer opens one bidirectional stream
//     (the peer sees it with the first frame); every frame in either
//     direction carries the topic and a message.
//
// A dial offers the ALPNs of Options.Protocols (by default /1, then /0)
// in one handshake and the peer picks one it serves, so the same Gossip
// joins swarms of Rust iroh 0.35 nodes (which serve /0 only, and refuse
// /1 at once with a TLS alert), of 0.101 / iroh 1.x nodes and of Go nodes,
// or a swarm mixing them: the protocol state is shared and only the
// framing differs per connection. The message encodings are the same in
// both; with /0 among the Protocols, MaxContentLen leaves room for the
// 32-byte topic of 0.35 frames. Peers are dialed by EndpointID with the
// addresses the application gave
// (bootstrap) or peers shared in Join/Neighbor/Shuffle messages (kept 5
// minutes, at most 4096 peers), else through the endpoint's address
// lookup. A newer connection to a peer replaces the older one for sending
// and the older one's streams are finished; connections no topic uses are
// closed after 5 s. On 0.101 connections, two dialed at once by both sides
// are settled by the smaller EndpointID, and a superseded one is closed
// after 10 s. On 0.35 connections we follow 0.35: the newest connection
// that can carry messages sends (one the peer dialed can once its stream
// arrived), whoever dialed it; a side that finished its half still reads
// the other, so a connection both sides use one way each is fine; it is
// closed once both halves are finished.
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
// # Interop with Rust
//
// interop_rust_test.go runs a real Rust iroh-gossip 0.35 node (npm
// iroh035, internal/testutil.StartRust035) in a loopback-only namespace:
// we join its topic, it joins ours, or both at once; neighbours come up on
// both sides, and broadcasts (swarm and neighbours scope, up to
// MaxContentLen) cross both ways on /iroh-gossip/0. iroh-docs 0.35 live
// sync rides on it (the docs package's tests). HyParView runs as in 0.101 on both ALPNs (spec
// §5); 0.35's differences (§5.1) change convergence details only and did
// not need imitating. Against Rust 0.101 (iroh 1.x) /1 is checked with the
// spec's vectors only: the Rust 1.x bindings have no gossip.
//
// # Not yet
//
// A 0.35 connection whose stream both sides finished is closed a moment
// (250 ms) after our last write, not when the peer acknowledged it, as
// the endpoint API cannot wait for that. (Disconnect{respond: true} needs
// no answer: 0.35 never sends it; its quit and evictions send
// Disconnect{alive: true, respond: false}.)
package gossip
