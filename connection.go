package iroh

import (
	"context"
	"time"

	"github.com/quic-go/quic-go"
)

// Connection is an authenticated QUIC connection to a remote endpoint.
type Connection struct {
	qc     *quic.Conn
	remote EndpointID
	alpn   string
	ep     *Endpoint
}

// RemoteID returns the id of the remote endpoint, proven in the handshake.
func (c *Connection) RemoteID() EndpointID { return c.remote }

// ALPN returns the negotiated application protocol.
func (c *Connection) ALPN() string { return c.alpn }

// OpenStream opens a bidirectional stream, blocking while the peer's
// stream limit is reached. The peer learns of the stream when data is
// written to it.
func (c *Connection) OpenStream(ctx context.Context) (*Stream, error) {
	return c.qc.OpenStreamSync(ctx)
}

// AcceptStream waits for the next bidirectional stream opened by the peer.
func (c *Connection) AcceptStream(ctx context.Context) (*Stream, error) {
	return c.qc.AcceptStream(ctx)
}

// OpenUniStream opens a unidirectional (send-only) stream, blocking while
// the peer's stream limit is reached.
func (c *Connection) OpenUniStream(ctx context.Context) (*SendStream, error) {
	return c.qc.OpenUniStreamSync(ctx)
}

// AcceptUniStream waits for the next unidirectional stream opened by the
// peer.
func (c *Connection) AcceptUniStream(ctx context.Context) (*ReceiveStream, error) {
	return c.qc.AcceptUniStream(ctx)
}

// SendDatagram sends an unreliable datagram (RFC 9221). It fails if the
// datagram is larger than fits in one packet.
func (c *Connection) SendDatagram(b []byte) error { return c.qc.SendDatagram(b) }

// ReceiveDatagram waits for the next datagram.
func (c *Connection) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	return c.qc.ReceiveDatagram(ctx)
}

// Close closes the connection with an application error code and reason,
// which the peer sees as an *ApplicationError. Streams are reset.
func (c *Connection) Close(code uint64, reason string) error {
	return c.qc.CloseWithError(quic.ApplicationErrorCode(code), reason)
}

// Context is done when the connection is closed; context.Cause tells why.
func (c *Connection) Context() context.Context { return c.qc.Context() }

// HandshakeComplete is closed when the handshake is complete (at once for
// connections from Connect and Accept; later for ConnectEarly).
func (c *Connection) HandshakeComplete() <-chan struct{} { return c.qc.HandshakeComplete() }

// Used0RTT reports whether 0-RTT data was accepted on this connection.
func (c *Connection) Used0RTT() bool { return c.qc.ConnectionState().Used0RTT }

// ConnectionStats are a connection's round-trip and traffic figures.
type ConnectionStats struct {
	// RTT is the smoothed round-trip time; MinRTT the smallest seen.
	RTT, MinRTT     time.Duration
	BytesSent       uint64
	PacketsSent     uint64
	BytesReceived   uint64
	PacketsReceived uint64
	PacketsLost     uint64
}

// Stats returns the connection's current figures.
func (c *Connection) Stats() ConnectionStats {
	s := c.qc.ConnectionStats()
	return ConnectionStats{
		RTT: s.SmoothedRTT, MinRTT: s.MinRTT,
		BytesSent: s.BytesSent, PacketsSent: s.PacketsSent,
		BytesReceived: s.BytesReceived, PacketsReceived: s.PacketsReceived,
		PacketsLost: s.PacketsLost,
	}
}

// Paths returns the path packets to the remote take now and the direct
// candidate addresses known for it. The path is shared by all connections
// to the same remote endpoint.
func (c *Connection) Paths() (PathInfo, []CandidateInfo) {
	return c.ep.PathsTo(c.remote)
}

// SubscribePaths returns a channel of path changes for this connection's
// remote, buffering up to 16 events (a slow reader loses events), and a
// function that ends the subscription. The channel is never closed.
func (c *Connection) SubscribePaths() (<-chan PathChanged, func()) {
	return c.ep.SubscribePaths(c.remote)
}

// PathsTo returns the path packets to the endpoint id take now and its
// known direct candidates (PathNone if the endpoint was never contacted).
func (ep *Endpoint) PathsTo(id EndpointID) (PathInfo, []CandidateInfo) {
	p, cands := ep.sock.Paths(id)
	out := make([]CandidateInfo, len(cands))
	for i, c := range cands {
		out[i] = CandidateInfo(c)
	}
	return pathInfo(p), out
}

// SubscribePaths returns a channel of path changes for the endpoint id,
// buffering up to 16 events (a slow reader loses events), and a function
// that ends the subscription. Subscribing before Connect shows the whole
// story of a connection: relay first, then direct once a hole is punched.
// The channel is never closed.
func (ep *Endpoint) SubscribePaths(id EndpointID) (<-chan PathChanged, func()) {
	return ep.subscribePaths(id)
}
