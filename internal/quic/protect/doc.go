// Package protect is QUIC packet protection (RFC 9001 §5): the Initial
// secrets of QUIC v1, the packet key, IV and header protection key
// derived from a TLS traffic secret ("quic key", "quic iv", "quic hp"),
// AEAD seal and open in place (AES-128-GCM, AES-256-GCM,
// ChaCha20-Poly1305) with the nonce IV xor packet number, header
// protection (AES-ECB or ChaCha20 mask over a 16-byte sample), key
// updates ("quic ku", keeping the header key), the Retry integrity tag
// (§5.8) and stateless reset tokens (RFC 9000 §10.3.2).
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
// pkt[0], pick the current or next Keys (Next), then Open.
//
// Seal, Open and the header protection do not allocate (a test checks
// it), so a Keys holds scratch space and is not safe for concurrent use:
// each direction of a connection has its own Keys, used by one goroutine.
// The TLS key schedule helpers come from internal/quic/tls13; vectors of
// RFC 9001 Appendix A are the tests.
package protect
