// Package relayserver is an iroh relay server compatible with Rust
// iroh-relay 1.0 (core.md §5): it authenticates endpoints by their
// EndpointID and forwards their datagrams to each other over WebSocket
// connections, for real Rust iroh endpoints as well as relay.Client.
//
// # What it serves
//
// Server is an http.Handler for HTTP/1.1 with the routes of core.md §5.1:
// GET /relay (the WebSocket upgrade, negotiating iroh-relay-v2 or
// iroh-relay-v1 and echoing the choice), /ping, /generate_204 (with the
// X-Iroh-Challenge echo), /healthz, /, /index.html, /robots.txt, and 404
// for the rest. Serve runs it on a listener, over TLS when Options.TLSConfig
// is set (certificates from files with LoadTLSConfig, or
// SelfSignedTLSConfig for tests); ServeCaptivePortal serves only
// /generate_204, for the plain HTTP port of a TLS relay. ServeSTUN answers
// RFC 5389 binding requests on a UDP socket with the sender's address.
//
// After the upgrade the server sends a 16-byte challenge and verifies the
// ClientAuth signature (BLAKE3 derive_key, strict Ed25519); over TLS a
// valid x-iroh-relay-client-auth-v1 header (TLS exporter) skips the
// challenge, and any failure of it falls back to the challenge. Then
// Options.Access decides (AllowAll, AllowList, DenyList, SharedTokens with
// a Bearer header or ?token=, HTTPCheck); a denial is a ServerDeniesAuth
// with the reason, then close.
//
// # Forwarding
//
// Datagram frames (types 4 and 5) are forwarded to the destination's active
// connection as types 6 and 7 with the sender's id, ECN byte, segment size
// and contents unchanged (a type 5 with segment size 0 becomes a type 6, as
// in Rust). Each connection has a send queue of Options.QueueSize (512)
// frames. Drop policy: when the destination is not connected, or its queue
// is full, the new datagram is dropped and the sender is not told, as
// iroh-relay does; drops are counted by reason in Metrics.DatagramDrops
// (no_destination, queue_full, disconnected). A slow reader therefore costs
// at most its queue; a write that takes more than 2 s disconnects it.
//
// A second connection with the same EndpointID becomes the active one; the
// previous one stays connected, receives nothing and is sent
// Status(SameEndpointIdConnected) (v2) or the Health text (v1); when the
// active one closes the newest inactive one is promoted and sent
// Status(Healthy). When an id's last connection closes, every connected
// peer it sent to receives EndpointGone. Shutdown sends Restarting to every
// client and a WebSocket close.
//
// Keepalive: the server pings a client after 15 s + 1–5 s of jitter without
// receiving a frame from it and disconnects it if the Pong is later than 3 ×
// RTT (0.5–5 s; 5 s before a sample). It answers every Ping with a Pong.
// A malformed, unknown, wrong-direction or oversized (above 1 MiB) frame, or
// a datagram addressed to bytes that are not an Ed25519 point, ends only
// that client's connection and is counted in Metrics.Disconnects.
//
// Rate limiting (Options.RateLimit) is a token bucket over the bytes read
// from each client; an empty bucket stops reading that socket (backpressure,
// nothing dropped), as iroh-relay does.
//
// # Not implemented
//
// QUIC address discovery (core.md §5.11, the QAD server on UDP 7842) needs
// the QUIC Address Discovery extension (OBSERVED_ADDRESS frames), which
// quic-go does not have; STUN is offered instead for address discovery.
// ACME/Let's Encrypt certificates and certificate reloading are not
// implemented (use LoadTLSConfig). The configuration knobs accept_conn_limit
// and key_cache_capacity are not implemented (iroh does not implement the
// former either).
//
// # Concurrency and resources
//
// A connected client costs one goroutine, its reader: the HTTP handler
// goroutine that upgraded it hands the connection to a goroutine of the
// server's and returns, so net/http's per-request state is freed. A writer
// goroutine runs only while the client has frames queued; it writes up to
// 64 of them (at most about 48 KiB) per system call, control frames first,
// and ends when the queue is empty. The keepalive is one timer per client.
// The registry of EndpointIDs is a read-write-locked map; forwarding takes
// the read lock. An idle client holds no buffers: the hijacked bufio pair
// is dropped after the upgrade, the WebSocket layer reads through a pooled
// buffer held only while bytes are pending, message, frame and write
// buffers come from shared pools, and the send queue grows on demand up to
// its bound and is released when it empties. TestIdleClientMemory measures
// it with 10,000 clients on loopback: about 6.5 KiB of Go heap and stack
// per idle client (2.3 KiB heap, 4 KiB stack), plus the kernel's socket
// buffers, on plain HTTP; about 17.5 KiB over TLS, where crypto/tls keeps
// record buffers and the reader's stack is deeper.
// Shutdown and Close stop and wait for all of it.
//
// The WebSocket layer is the module's own (relay/internal/ws; see the relay
// package doc for why not github.com/coder/websocket). Upgrade requests are
// validated as iroh-relay does: Upgrade must be exactly "websocket",
// Sec-WebSocket-Version 13, and a supported subprotocol. Bytes a client
// sends before it has read the 101 are accepted (iroh-relay refuses them).
package relayserver
