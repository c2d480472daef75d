// Package iroh is peer-to-peer QUIC for Go: an Endpoint is dialed by its
// Ed25519 public key (its EndpointID), every connection is authenticated
// and encrypted TLS 1.3 over QUIC (github.com/quic-go/quic-go), and the
// socket underneath keeps each connection on the best path it can find:
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
// (the socket with its paths), internal/tlsconfig (the one file that decides
// how keys are carried in TLS). Protocols (blobs, ...) sit above it.
//
// # TLS
//
// Rust iroh uses RFC 7250 raw public keys, which Go's crypto/tls lacks, so
// iroh-go endpoints present self-signed certificates carrying their key; see
// internal/tlsconfig. Go and Rust endpoints therefore cannot complete a QUIC
// handshake with each other yet; relays, tickets and address records are
// shared with the Rust world.
//
// # Concurrency
//
// Endpoint, Connection and Router are safe for concurrent use. Close on an
// Endpoint closes every connection with code 0 and waits, bounded by its
// context, for the closes to be sent.
package iroh
