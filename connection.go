package iroh

import (
	"context"
	"time"

	"github.com/iroh-go/iroh/internal/quic/transport"
)

// Connection is an authenticated QUIC connection to a remote endpoint.
type Connection struct {
	qc     *transport.Conn
	remote EndpointID
	alpn   string
	ep     *Endpoint
	ctx    context.Context // canceled with the connection's error when it ends
}

// RemoteID returns the id of the remote endpoint, proven in the handshake.
func (c *Connection) RemoteID() EndpointID { return c.remote }

// ALPN returns the negotiated application protocol.
func (c *Connection) ALPN() string { return c.alpn }

// OpenStream opens a bidirectional stream, blocking while the peer's
// stream limit is reached. The peer learns of the stream when data is
// written to it.
func (c *Connection) OpenStream(ctx context.Context) (*Stream, error) {
	s, err := c.qc.OpenStream(ctx)
	if err != nil {
		return nil, publicError(err, -1)
	}
	return &Stream{s: s}, nil
}

// AcceptStream waits for the next bidirectional stream opened by the peer.
func (c *Connection) AcceptStream(ctx context.Context) (*Stream, error) {
	s, err := c.qc.AcceptStream(ctx)
	if err != nil {
		return nil, publicError(err, -1)
	}
	return &Stream{s: s}, nil
}

// OpenUniStream opens a unidirectional (send-only) stream, blocking while
// the peer's stream limit is reached.
func (c *Connection) OpenUniStream(ctx context.Context) (*SendStream, error) {
	s, err := c.qc.OpenUniStream(ctx)
	if err != nil {
		return nil, publicError(err, -1)
	}
	return &SendStream{s: &Stream{s: s}}, nil
}

// AcceptUniStream waits for the next unidirectional stream opened by the
// peer.
func (c *Connection) AcceptUniStream(ctx context.Context) (*ReceiveStream, error) {
	s, err := c.qc.AcceptUniStream(ctx)
	if err != nil {
		return nil, publicError(err, -1)
	}
	return &ReceiveStream{s: &Stream{s: s}}, nil
}

// SendDatagram sends an unreliable datagram (RFC 9221). It fails if the
// datagram is larger than fits in one packet.
func (c *Connection) SendDatagram(b []byte) error { return publicError(c.qc.SendDatagram(b), -1) }

// ReceiveDatagram waits for the next datagram.
func (c *Connection) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	b, err := c.qc.ReceiveDatagram(ctx)
	return b, publicError(err, -1)
}

// Close closes the connection with an application error code and reason,
// which the peer sees as an *ApplicationError. Streams are reset. It does
// not wait for the peer; later calls do nothing.
func (c *Connection) Close(code uint64, reason string) error {
	return c.qc.Close(code, reason)
}

// Context is done when the connection is closed; context.Cause tells why
// (*ApplicationError, *TransportError, *TimeoutError, ErrConnectionReset).
func (c *Connection) Context() context.Context { return c.ctx }

// Err returns why the connection ended (as context.Cause of Context), or
// nil while it is open.
func (c *Connection) Err() error {
	if c.ctx.Err() == nil {
		return nil
	}
	return context.Cause(c.ctx)
}

// HandshakeComplete is closed when the handshake is complete (at once for
// connections from Connect and Accept; later for ConnectEarly).
func (c *Connection) HandshakeComplete() <-chan struct{} { return c.qc.HandshakeComplete() }

// Used0RTT reports whether 0-RTT data was accepted on this connection
// (meaningful once HandshakeComplete is closed).
func (c *Connection) Used0RTT() bool { return c.qc.EarlyDataAccepted() }

// ConnectionStats are a connection's round-trip and traffic figures.
type ConnectionStats struct {
	// RTT is the smoothed round-trip time; MinRTT the smallest seen.
	RTT, MinRTT time.Duration
	// BytesSent and PacketsSent count what we sent, PacketsLost what of
	// it was declared lost.
	BytesSent   uint64
	PacketsSent uint64
	PacketsLost uint64
	// MTU is the datagram size in use (after path MTU discovery);
	// CongestionWindow the congestion controller's window in bytes.
	MTU              int
	CongestionWindow int
	// KeyUpdates counts 1-RTT key changes, ours and the peer's.
	KeyUpdates uint64
}

// Stats returns the connection's current figures.
func (c *Connection) Stats() ConnectionStats {
	s := c.qc.Stats()
	return ConnectionStats{
		RTT: s.RTT, MinRTT: s.MinRTT,
		BytesSent: s.BytesSent, PacketsSent: s.PacketsSent, PacketsLost: s.PacketsLost,
		MTU: s.MTU, CongestionWindow: s.Window, KeyUpdates: s.KeyUpdates,
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
// function that ends the subscription and closes the channel.
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
// that ends the subscription and closes the channel. Subscribing before
// Connect shows the whole story of a connection: relay first, then direct
// once a hole is punched.
func (ep *Endpoint) SubscribePaths(id EndpointID) (<-chan PathChanged, func()) {
	return ep.subscribePaths(id)
}
