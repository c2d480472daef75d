// Package quic is iroh-go's own QUIC v1 (RFC 9000, 9001, 9002, 9221) with
// TLS 1.3 raw public keys (internal/quic/tls13), so that Go endpoints and
// Rust iroh 1.0 endpoints (noq) can talk to each other.
//
// This package is the connection core, I/O-free: a Conn takes datagrams
// and the current time in (Receive, HandleTimeout) and gives datagrams
// (Send, a GSO run of same-size datagrams at a time), stream and datagram
// operations, events (PollEvent) and its next deadline (Timeout) out. It
// never reads a clock, starts a goroutine or touches a socket, so the
// deterministic simulator in internal/quic/sim drives it in tests, and
// internal/quic/transport runs it on UDP sockets.
//
// # What it does
//
// Long and short headers with coalescing (internal/quic/wire) and packet
// protection (internal/quic/protect); every RFC 9000 frame plus DATAGRAM
// and the ACK-frequency draft noq speaks (min_ack_delay advertised, its
// ACK_FREQUENCY and IMMEDIATE_ACK obeyed, and one ACK per ten packets
// requested from a peer that supports it); streams with connection- and
// stream-level flow control whose receive windows grow when the reader
// keeps up (autotuning); RFC 9002 loss detection, CUBIC and pacing per
// path (internal/quic/recovery); key updates, ours after a random 10 to
// 1000 packets and then about every 10000, the peer's followed; path MTU
// discovery (RFC 8899) up to both sides' max_udp_payload_size; connection
// ids issued and retired, stateless reset tokens; idle timeout and
// keep-alive; anti-amplification before address validation; NAT
// rebinding with path validation; Version Negotiation and Retry on the
// client side; 0-RTT (a client resuming a session sends under the
// server's remembered limits and resends at 1-RTT if rejected; a server
// with ticket keys accepts); ECN counts of received packets in our ACKs;
// transport parameters as Rust iroh sends them (shared/spec/core.md
// §6.3). Not yet: marking our own packets ECT and validating ECN, the
// multipath and QNT frames (they are a PROTOCOL_VIOLATION until
// negotiated), connection migration initiated by us, server preferred
// address.
//
// # Multipath from the start
//
// Every path (path.go) has its own id, address, application-data packet
// number space, recovery (RTT, congestion, pacer), connection ids, MTU
// and validation state, as draft-ietf-quic-multipath-18 (noq) needs;
// only path 0 exists until multipath is negotiated.
//
// # Parts
//
//   - conn.go, config.go, handshake.go: the Conn, its options (noq's
//     defaults), the TLS glue and transport parameters.
//   - recv.go, handlers.go: packets in, one handler per frame.
//   - send.go, timers.go: packets out (coalescing, padding, frame
//     scheduling under the congestion budget), timers.
//   - keys.go, keyupdate.go: keys per level and the 1-RTT key phases.
//   - streams.go, stream.go, sendbuf.go, recvbuf.go, chunks.go, flow.go,
//     streamids.go, crypto.go: streams, their buffers (pooled 32 KiB
//     chunks) and limits.
//   - acks.go, rangeset.go, space.go: received packet numbers and when to
//     acknowledge, sent frames awaiting their fate.
//   - cids.go, path.go: connection ids and paths.
//
// # Resource bounds
//
// Nothing a peer sends makes the core grow without bound: out-of-order
// stream data is limited by the flow-control window we advertise and by
// 1024 gaps per stream, CRYPTO data by 64 KiB per level, streams by the
// MAX_STREAMS we grant, connection ids by active_connection_id_limit and
// pending retirements, acknowledgement ranges by 64, PATH_RESPONSEs by 4,
// received datagrams and events by their queues (oldest dropped), sent
// packets by recovery's tracker.
//
// # Concurrency
//
// A Conn is not safe for concurrent use; the driver serialises calls.
// Steady-state sending and receiving allocate nothing.
package quic
