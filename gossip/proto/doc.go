// Package proto is the I/O-free core of gossip: HyParView membership and
// PlumTree broadcast per topic, as iroh-gossip 0.101 runs them
// (shared/spec/gossip.md), plus the wire encoding of its messages.
//
// A State holds one peer's view of all its topics. The driver (the gossip
// package over real connections, or the simulator in this package's
// tests) feeds it Inputs with the current time (received messages, fired
// timers, commands) and carries out the Outputs (messages to send, events
// for the application, timers to schedule, peers to disconnect, address
// data learned). Every random choice comes from the rand.Rand given to
// NewState, so a seeded run is reproducible.
//
// # Wire format
//
// AppendMessage and ParseMessage encode a TopicMessage in postcard, as in
// spec §2.1; AppendFrame and ReadFrame add the u32 big-endian length
// prefix of §3; AppendStreamHeader starts a 0.101 uni stream;
// AppendProtoMessage and DecodeProtoMessage are the 0.35 frame body
// (topic, then message). The tests check every 0.101 frame of
// shared/spec/vectors/protocols.json and the frames captured from a Rust
// 0.35 node.
//
// # Differences from Rust
//
// Tables are bounded (Config.MaxReceivedIDs, MaxCachedMessages,
// MaxMissing, MaxAnnouncers, MaxLazyQueue). A Neighbor from a peer that is
// already active is not answered, which ends every request exchange; a
// peer that refused our Low request is not asked again within a shuffle
// interval, so a swarm of full peers does not trade requests forever.
// A graft timer that fires while eager peers are still delivering new
// messages (within the last graft timeout) is put off, at most three
// times: under a burst the announced message is usually queued behind the
// same link, and grafting would fetch it twice and flip the tree toward
// idle links (on loopback, 1,000 messages to 10 nodes: 1.06 s -> 0.83 s;
// to 50 nodes: 9.1 s -> 5.7 s). Neighbors-scope broadcasts go to the whole active view (eager and
// lazy), not only eager peers. Active peers whose connection broke
// without a Disconnect (crash, partition) are remembered (at most 8 per
// topic, for 10 shuffle intervals) and one of them is sent Join at each
// shuffle, so a healed partition becomes one swarm again (Rust's swarms
// stay split, iroh-gossip issue #86).
//
// # Simulator
//
// Sim runs thousands of States over a simulated network with latency,
// loss, crashes, leaves, joins and partitions, seeded and reproducible,
// and reports the Rust simulator's metrics (relative message redundancy,
// last delivery hop, missed deliveries). BenchmarkSim1000 gives them at
// 1,000 peers.
package proto
