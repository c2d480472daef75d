// Package protect is QUIC packet protection (RFC 9001 §5): the Initial
// secrets of QUIC v1, the packet key, IV and header protection key
// derived from a TLS traffic secret ("quic key", "quic iv", "quic hp"),
// AEAD seal and open in place (AES-128-GCM, AES-256-GCM,
// ChaCha20-Poly1305) with the nonce IV xor packet number, header
// protection (AES-ECB or ChaCha20 mask over a 16-byte sample), key
// updates ("quic ku", keeping the header key), the Retry integrity tag
// (§5.8), stateless reset tokens (RFC 9000 §10.3.2) and sealed address
// validation tokens for Retry and NEW_TOKEN (TokenKey, RFC 9000 §8.1).
//
// It works on packets laid out by internal/quic/wire: the header, a
// packet number at pnOff, the payload, room for the 16-byte tag. Sending:
//
//	pkt, err := keys.SealPacket(pkt, pnOff, pnLen, pn) // seal, then mask the header
//
// Receiving an Initial or Handshake packet:
//
//	pn, payload, err := keys.OpenPacket(pkt, h.PNOffset, largestReceived)
//
// Receiving a 1-RTT packet: UnprotectHeader, read the key phase bit of
// pkt[0], pick the current or next Keys (Next), then Open. With multipath
// (draft-ietf-quic-multipath-18, as noq and rustls do it) the path ID
// enters the nonce: SealForPath, OpenForPath, SealPacketForPath; path 0
// is the same as without multipath.
//
// Seal, Open and the header protection do not allocate (a test checks
// it), so a Keys holds scratch space and is not safe for concurrent use:
// each direction of a connection has its own Keys, used by one goroutine.
// The TLS key schedule helpers come from internal/quic/tls13.
//
// # Tests
//
// The vectors of RFC 9001 Appendix A are matched byte for byte. The
// interop tests (interop*_test.go) run a real Rust iroh 1.0 endpoint
// (shared/interop/rust-peer.mjs, npm bindings) in a loopback-only network
// namespace and exchange packets made and read only by this package and
// wire: Rust's client Initial opens and re-seals to the same bytes; our
// client Initial gets a ServerHello, an ACK and Handshake packets; a
// whole handshake (TLS 1.3 with raw public keys driven by hand in the
// test) for each of the three suites, then streams, a DATAGRAM, a key
// update, multipath path 1 (path ID in the nonce), REACH_OUT probing,
// and ACK_FREQUENCY/PATH_ACK/PATH_STATUS frames all work with Rust; and
// the other way round, a Rust client completes a handshake with our
// hand-driven server (our server transport parameters) and gets its
// stream echoed.
// They need node and root or unprivileged user namespaces on
// linux/amd64, and are skipped with -short.
package protect
