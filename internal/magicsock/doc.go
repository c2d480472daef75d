// Package magicsock is the socket under quic-go: a net.PacketConn on which
// every remote endpoint has one stable address, while its packets travel
// over whichever path works best, direct UDP (IPv4 or IPv6) or a relay
// server, switching between them without the QUIC connection noticing.
//
// # Addresses
//
// quic-go sees each remote EndpointID as a mapped address: an IPv6 ULA in
// fd15:70a:510b::/64 with port 12345, as Rust iroh uses. WriteTo to a
// mapped address sends on the remote's current best path; packets arriving
// from any path of that remote are returned from ReadFrom with its mapped
// address. UDP packets from sources that are not yet a known path of a
// known remote are held back briefly (a few per source, 150 ms) until a
// disco ping from that source says whose they are; after that they go to
// QUIC under an anonymous remote of their own (one direct path, no
// probes), so a peer that does not speak disco, or dialed a wrong id,
// still gets a TLS answer. A packet from an unknown source never reaches
// QUIC under another endpoint's identity.
//
// # Paths
//
// Paths are found and kept with disco probes (disco.go): Ping, Pong and
// CallMeMaybe, sealed between the two endpoints' keys, in the 0.35 wire
// layout of Rust iroh (iroh 0.35 iroh/src/disco.rs). A direct path becomes
// the best path once a ping over it round-trips; it stays trusted for
// 6.5 s after the last pong or received payload, heartbeats keep it alive,
// and when it lapses packets go over the relay again (and over the
// candidates, so a recovering path is found quickly). The timers and the
// choice rules follow 0.35's magicsock (§11.5).
//
// # Batching
//
// quic-go sees a UDP socket it can batch on (ReadBatch, WriteMsgUDP,
// SyscallConn), so it sends with GSO and reads ECN. On Linux the sockets
// also use UDP GRO and the DF bit: one read returns up to 64 KiB of
// same-sized datagrams from one source, split and routed with one lookup
// and handed over as one batch. A GSO write to a trusted direct path is
// one sendmsg; to a relay-only remote one relay batch frame with its
// segment size; otherwise it is split. A direct send that fails (for
// example a packet too big for the interface) falls back to the relay, so
// path MTU probes can succeed over the relay: the connection keeps
// working, possibly on the relay for full-size packets.
//
// # Concurrency
//
// A Conn is safe for concurrent use. One goroutine per UDP socket reads
// packets; relay clients deliver on their own read goroutines; a single
// maintenance goroutine runs heartbeats. The hot path takes no lock
// shared across remotes: the maps from addresses to remotes are sync.Maps
// and a remote's best path is an atomic pointer.
package magicsock
