// Package quic is iroh-go's own QUIC v1 (RFC 9000, 9001, 9002, 9221) with
// TLS 1.3 raw public keys (internal/quic/tls13), built so that Go endpoints
// can talk to Rust iroh 1.0 endpoints (noq).
//
// The package has two layers. The connection core is I/O-free: a Conn takes
// datagrams and the current time in and gives datagrams, stream data, events
// and its next deadline out; it never reads a clock, starts a goroutine or
// touches a socket, so the deterministic simulator in internal/quic/sim can
// drive it. The driver runs cores on a socket: one read goroutine per socket
// demultiplexes datagrams by destination connection id and processes each
// inline under that connection's lock.
//
// The core is designed for multipath (draft-ietf-quic-multipath-18 as noq
// implements it) from the start: every path has its own id, address,
// application-data packet number space, RTT and congestion state, connection
// ids and validation state, although only path 0 is used until multipath is
// negotiated.
//
// # Parts
//
//   - rangeset.go: sorted disjoint ranges, for acknowledgements and
//     reassembly.
//   - acks.go: received packet numbers per space and when to acknowledge
//     them (ack delay, ack-eliciting threshold, ACK_FREQUENCY).
//   - sendbuf.go, recvbuf.go: stream and CRYPTO buffers (retransmission,
//     out-of-order reassembly bounded by flow control).
//   - flow.go: connection and stream flow control with window autotuning.
//   - streamids.go: stream id allocation and MAX_STREAMS limits.
//   - cids.go: connection ids we issue and those the peer gives us.
//
// # Resource bounds
//
// Nothing a peer sends makes the core grow without bound: out-of-order
// stream data is limited by the flow-control window we advertise, CRYPTO
// data by a fixed bound per level, streams by the MAX_STREAMS we grant,
// connection ids by active_connection_id_limit, acknowledgement ranges by a
// constant.
package quic
