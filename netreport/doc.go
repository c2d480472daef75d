// Package netreport measures what an endpoint needs to know about its
// network: its public UDP addresses as STUN servers (the relays) see them,
// whether its NAT maps the same socket to different public ports for
// different destinations (an endpoint-dependent, "symmetric" NAT, where
// hole punching fails), the latency to each relay (HTTP GET /ping), and
// from that the preferred (home) relay, with Rust iroh's hysteresis rule
// (iroh 0.35, iroh/src/net_report/reportgen and net_report.rs).
//
// It follows Rust iroh 0.35 in using STUN (RFC 5389 binding requests on the
// relay's UDP port, 3478 by default) rather than 1.0's QUIC address
// discovery, which needs a QUIC extension quic-go does not have. The STUN
// requests must leave from the endpoint's own socket so the mapping they
// observe is the one peers see; the Prober interface lets the socket send
// them and match the answers.
//
// Run probes concurrently and returns a Report; it starts no goroutine
// that outlives it. The STUN codec lives in internal/stun, shared with the
// relay server.
package netreport
