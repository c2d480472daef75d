// Package magicsock is the socket under QUIC (quic-go today, our own
// internal/quic next): a net.PacketConn on which
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
// still gets a TLS answer. A QUIC Initial from an unknown source does not
// wait when it can be placed at once: if the same Initial (same
// destination connection id) came over a relay from endpoint X, as Rust
// iroh 1.0 sends its first flight both ways, the source becomes a
// candidate of X and the packet goes to QUIC as X's; with no home relay
// (no copy can come that way) it goes to QUIC at once under an anonymous
// remote. A packet from an unknown source never reaches QUIC under
// another endpoint's identity unless that endpoint's relay copy vouched
// for it.
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
// Peers without disco (Rust iroh 1.0, shared spec core.md §6.6-6.7) never
// answer a ping, so QUIC is their probe (quicpath.go): while no direct
// path is confirmed, handshake (long-header) packets go to the
// candidates we were given and over the relay, and the first QUIC packet
// that arrives on a candidate addressed to a connection id our QUIC chose
// confirms it, as a pong would (only a peer that received one of our
// packets can write that id, so a spoofed source cannot). 1-RTT data then
// goes to that path alone, with GSO. If the peer answers over the relay
// instead, the connection stays there (a single-path QUIC peer stays on
// the path of its handshake). A remote that ever sent an authenticated
// ping or pong is proven by disco alone. Spray targets are bounded (8,
// never addresses a remote merely claimed), so a peer cannot aim our
// handshake at others.
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
//
// # Our QUIC
//
// Conn.QUICSocket presents the same socket as the transport.Socket of our
// own QUIC driver (internal/quic/transport): datagrams carry the mapped
// address of the remote, WriteBatch hands a GSO run (Segment) to the
// remote's best path as one system call or one relay batch frame, and
// ReadBatch returns a GRO run from one sender as one entry with its
// segment size. The driver's read goroutine reads the first UDP socket
// itself (its readLoop exits when the QUIC socket is taken), so direct
// packets reach the connection core with no goroutine hand-off; the other
// UDP socket and the relays queue their packets and wake that reader with
// a past read deadline. Steady state allocates nothing per packet
// (TestQUICSocketNoAllocs). The quic-go face and the QUIC socket share the
// receive queue: use one of them per Conn.
//
// magicsock imports internal/quic/transport for its Socket and Datagram
// types only; the driver never imports magicsock, so the ladder stays
// key, relay -> internal/quic -> internal/magicsock -> root iroh.
//
// # Moving the root package onto our QUIC (notes for the next step)
//
//   - The endpoint would run one transport.Transport (Server set when it
//     accepts) on Conn.QUICSocket, dial the mapped address AddRemote
//     returns, and find the remote's id from the mapped address as today
//     (or from Conn.RemoteKey, which TLS proved).
//   - The root API keeps its shapes with its own types: iroh.Connection
//     over transport.Conn (RemoteID, ALPN, streams, datagrams, Close with
//     code and reason, Stats, Paths from this package), iroh.SendStream /
//     RecvStream or one Stream over transport.Stream; errors mapped from
//     quic.ApplicationError, IdleTimeoutError, TransportError, and
//     net.ErrClosed, so no internal type leaks into the public API.
//   - 0-RTT: accept early data for an ALPN only when its ProtocolHandler
//     opts in (an interface it implements); otherwise the server refuses
//     0-RTT for that ALPN and the data comes after the handshake.
//     ConnectEarly keeps its meaning on the client.
//   - Rust iroh 1.0 has no disco (shared spec core.md §6.6-6.7); the
//     socket finds its direct path through QUIC itself (see Paths, and
//     quicpath.go): both directions run direct with GSO when the peer's
//     address has a relay and a direct address, and fall back to the
//     relay when UDP is blocked (TestQUICRust*RelayAndDirect*). A Rust
//     peer that dials us with a direct-only address while we have a home
//     relay still waits anonymousAfter (150 ms) before its Initial goes to
//     QUIC under an anonymous remote (the wait lets a disco ping or the
//     relay copy name it); an anonymous remote's path is direct and
//     trusted, but Paths(id) does not show it under the peer's id. The
//     driver could name such a remote once TLS has its key.
//   - Over the relay, iroh 1.0 sends plain QUIC packets addressed by
//     EndpointID (relay datagram frames, one or a batch with a segment
//     size), exactly what this socket sends and accepts; a single-path
//     peer stays on the path of its handshake (no multipath, no QNT), so
//     a connection to Rust that starts on the relay stays there until
//     multipath and QNT exist in internal/quic.
package magicsock
