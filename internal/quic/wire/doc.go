// Package wire encodes and parses QUIC v1 packets below the encryption:
// varints (RFC 9000 §16), packet headers (§17), every frame of RFC 9000
// §19, DATAGRAM (RFC 9221), ACK_FREQUENCY and IMMEDIATE_ACK (the
// ack-frequency draft as Rust noq implements it), the multipath frames of
// draft-ietf-quic-multipath-18 (PATH_ACK ... PATH_CIDS_BLOCKED), iroh's
// n0 NAT traversal frames (ADD_ADDRESS, REACH_OUT, REMOVE_ADDRESS), the
// address discovery OBSERVED_ADDRESS frames, and the transport parameters
// (§18.2 plus max_datagram_frame_size, grease_quic_bit, min_ack_delay,
// initial_max_path_id, n0_nat_traversal and the address discovery role). Packet protection lives in
// internal/quic/protect; the connection core in internal/quic uses both.
//
// # Conventions
//
// Every message has an Append method (append to a []byte, return it), a
// ParseXxx function returning the value, the bytes consumed and an error,
// and a Len method giving the encoded size so packets can be planned.
// ParseXxx functions take the buffer starting at the frame type. Parsing
// never allocates: STREAM, CRYPTO, DATAGRAM, NEW_TOKEN data, connection
// IDs and close reasons reference the packet buffer, and ACK ranges are
// decoded into a slice the caller provides (ParseAck) or the Frame reuses
// (ParseFrame, FrameIter). Limits are named constants (MaxAckRanges,
// MaxConnIDLen, MaxTransportParametersLen ...) checked before anything is
// stored.
//
// Errors say what was wrong and where: *FrameError (frame type and field:
// the connection closes with FRAME_ENCODING_ERROR), *HeaderError,
// *TransportParameterError (TRANSPORT_PARAMETER_ERROR). Input that ends
// early wraps ErrTruncated. Nothing panics on bad input; Append panics only
// on values the caller must not produce (an ACK without ranges, a
// connection ID over 20 bytes, a varint over 2^62-1).
//
// # Receiving
//
//	h, err := wire.ParseHeader(datagram, localCIDLen) // or ParseDstCID to route first
//	// remove header protection (protect), then:
//	pnLen := int(first&3) + 1
//	pn := wire.DecodePacketNumber(largestReceived, wire.ReadPacketNumber(pkt[h.PNOffset:], pnLen), pnLen)
//	// decrypt (protect), then walk the payload:
//	it := wire.NewFrameIter(payload)
//	for it.Next() {
//		f := it.Frame()
//		if !f.Type.Allowed(h.Type) { ... PROTOCOL_VIOLATION }
//		switch f.Type { case wire.FrameAck: f.Ack ...; }
//	}
//	err = it.Err()
//
// Coalesced packets: each header's Len says where the next packet starts
// (SplitCoalesced does the loop).
//
// # Sending
//
// LongHeader.Append writes a long header with a 2-byte Length field to be
// patched with PutVarint2 once the frames and AEAD tag are known;
// AppendShortHeader writes a 1-RTT header. PacketNumberLen picks the
// truncated packet number length (RFC 9000 A.2). Builder does the whole
// layout of a datagram of coalesced packets within a size budget: frames
// that fit (STREAM and CRYPTO data cut to the room left), room for the
// AEAD tag, padding of Initial datagrams to 1200 bytes and of short
// packets to the header protection sample; the caller seals each
// finished packet in place with protect.Keys.SealPacket. AckFrame.FitTo
// (used by Builder.AddAck) drops the oldest ACK ranges to fit a budget.
// AppendStatelessReset and StatelessResetToken make and recognize
// stateless resets (RFC 9000 §10.3).
//
// # Transport parameters
//
// ParseTransportParameters validates every rule of RFC 9000 §18.2 (and the
// extensions') naming the parameter at fault, rejects duplicates and
// server-only parameters from a client, and skips unknown ones.
// TransportParameters.AppendRandomized sends them in a random order with a
// GREASE parameter as Rust iroh does. The captured parameters of a Rust
// iroh 1.0 client Initial (shared/spec/vectors/core.json) are a test.
//
// # What Rust iroh sends (seen in protect's interop tests)
//
// With multipath negotiated, noq issues connection IDs with
// PATH_NEW_CONNECTION_ID for every path up to the limit, path 0 included
// (never NEW_CONNECTION_ID), acknowledges with PATH_ACK, marks path 0 with
// PATH_STATUS_AVAILABLE and sends IMMEDIATE_ACK with its probes. With QNT
// negotiated the server side sends ADD_ADDRESS for its local addresses
// right after the handshake and answers REACH_OUT with unpadded
// PATH_CHALLENGE probes in path-0 packets. It skips packet numbers on
// purpose and closes with PROTOCOL_VIOLATION "unsent packet acked" when
// one is acknowledged: acknowledge only what arrived. Its Version
// Negotiation packets list a greased version and drafts besides 1.
//
// This package keeps no state: no packet number spaces, no
// retransmission, no keys; the core does that.
//
// # Stability
//
// The connection core in internal/quic builds on these names; they only
// grow. Frame.Type of a parsed STREAM frame is always FrameStream and of a
// DATAGRAM frame FrameDatagram (the flags live in the frame structs).
//
// # Concurrency
//
// Functions are safe for concurrent use on distinct buffers. A FrameIter
// or Frame belongs to one goroutine.
package wire
