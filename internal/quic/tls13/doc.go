// Package tls13 is TLS 1.3 for QUIC (RFC 8446, RFC 9001) with raw public
// keys (RFC 7250), as iroh endpoints speak it: I/O-free, with no record
// layer. Handshake bytes go in and out per encryption level; traffic
// secrets come out for the QUIC packet protection to use.
//
// The key schedule helpers here (ExpandLabel, CipherSuite) are shared with
// the QUIC packet protection, which derives its key, IV, header protection
// key and key updates from the secrets this package produces.
package tls13
