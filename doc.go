// Package iroh is peer-to-peer QUIC for Go: an Endpoint is dialed by its
// Ed25519 public key (its EndpointID), every connection is authenticated
// and encrypted TLS 1.3 over QUIC (our own, internal/quic), and the socket
// underneath keeps each connection on the best path it can find:
// direct UDP when possible, a relay server otherwise.
//
// A minimal echo:
//
//	ep, _ := iroh.Bind(ctx, &iroh.Options{ALPNs: []string{"echo/1"}})
//	defer ep.Close(ctx)
//	// on the other side:
//	conn, _ := other.Connect(ctx, ep.Addr(), "echo/1")
//	s, _ := conn.OpenStream(ctx)
//
// Protocols are served by a Router, which maps ALPNs to ProtocolHandlers;
// connections offering no served ALPN are refused during the handshake.
//
// # Layout
//
// The root package holds Endpoint, Connection and Router and re-exports the
// leaf types users need (EndpointID, SecretKey, EndpointAddr, RelayURL).
// Below it: key (identities), endpointaddr, ticket, relay, internal/magicsock
// (the socket with its paths), internal/quic (QUIC v1 with TLS 1.3 and raw
// public keys, RFC 7250, as Rust iroh speaks it: internal/quic/tls13, the
// sans-IO connection core, and internal/quic/transport, which runs it on the
// socket). Protocols (blobs, gossip, docs) sit above it.
//
// # Interoperability
//
// Endpoints authenticate with TLS 1.3 raw public keys exactly as Rust iroh
// 1.0 does (same ALPN handling, transport parameters and SNI), so Go and
// Rust endpoints connect to each other both ways, directly and through a
// relay; relays, tickets and address records are shared with the Rust
// world.
//
// # 0-RTT
//
// ConnectEarly sends its first data in 0-RTT to a peer it connected to
// before. A server takes such data only on ALPNs that opt in
// (Options.EarlyDataALPNs, or a Router handler implementing
// EarlyDataHandler), because an attacker can replay it.
//
// # Concurrency
//
// Endpoint, Connection and Router are safe for concurrent use. Close on an
// Endpoint closes every connection with code 0 and waits, bounded by its
// context, for the closes to be sent. Connection errors are the types of
// this package: *ApplicationError, *TransportError, *TimeoutError,
// *StreamError, ErrConnectionReset.
package iroh
