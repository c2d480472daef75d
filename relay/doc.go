// Package relay speaks the iroh relay protocol (iroh-relay 1.0, protocol
// versions iroh-relay-v2 and iroh-relay-v1): the path of last resort that
// carries encrypted QUIC datagrams between endpoints, addressed by
// EndpointID, when no direct path works. It holds the wire frames
// (ParseFrame, AppendFrame), the authentication handshake (the signed
// challenge and the TLS-exporter header) and Client, one connection to one
// relay. The server lives in relay/relayserver; relay/relaytest starts one
// for tests.
//
// # Wire format
//
// Frames follow core.md §5.3–5.5 and are tested byte for byte against the
// relay_frames and relay.client_auth_frames vectors recorded from Rust iroh
// 1.0. Each frame is one binary WebSocket message: a type byte and a
// payload whose length the message implies. Datagram frames carry at most
// MaxPacketSize bytes after the type; messages are at most MaxFrameSize.
// ParseFrame checks structure and lengths only; callers check direction
// (FrameType.FromClient) and, where iroh does, that keys are curve points.
//
// # Client
//
// NewClient returns at once and connects in the background: TCP (and TLS
// for https relay URLs), the HTTP/1.1 upgrade of GET /relay offering both
// subprotocols, then the handshake, with a 10 s limit. After a failure it
// redials with jittered exponential backoff from 10 ms to 16 s, forever,
// starting again at once if the lost connection had answered a Ping. Over
// TLS it sends the x-iroh-relay-client-auth-v1 header so a relay can skip
// the challenge round trip.
//
// Keepalive follows iroh (core.md §5.7): a Ping right after connecting and
// whenever 15 s pass with nothing received; a Pong later than 3 × the last
// RTT (clamped to 0.5–5 s; 5 s before the first sample) drops the
// connection. Health (v1), Status (v2) and Restarting frames are logged and
// reflected in State; iroh 1.0 likewise ignores Restarting.
//
// What it deliberately does not do: it never idles out (closing an unused
// non-home relay connection after 60 s is the socket layer's decision),
// it does not re-split received batches (OnDatagrams gets the batch and its
// segment size as sent), and it does not do QUIC address discovery.
//
// # Concurrency
//
// A Client is safe for concurrent use. It runs a connection goroutine that
// dials and then reads (and calls OnDatagrams and OnEndpointGone, in frame
// order, on that goroutine), plus a writer goroutine per connection that
// owns the socket's write side: it flushes up to 20 queued datagram frames
// per write (one system call), and sends the keepalive Pings. Send copies
// the datagram into a bounded queue of 512 frames and returns; when the
// queue is full the oldest frame is dropped, and frames queued for more than
// 3 s (say, while disconnected) are dropped; both counted in
// Metrics.SendDrops. Close stops and waits for every goroutine.
//
// # WebSocket
//
// The WebSocket layer is relay/internal/ws, a small RFC 6455 implementation,
// not github.com/coder/websocket: the relay wants to read each message into
// one reused buffer (no allocation per datagram) and to write a whole batch
// of frames with one system call. coder/websocket (v1.8) returns each
// message from Conn.Read as a new slice (io.ReadAll), flushes every message
// with its own write, and arms a context.AfterFunc on every read and write.
// The module's layer has no goroutine of its own and is tested against
// coder/websocket in both directions.
package relay
