package quic

import (
	crand "crypto/rand"
	"encoding/binary"
	"io"
	"net/netip"
	"time"

	"github.com/iroh-go/iroh/internal/quic/recovery"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/wire"
	"github.com/iroh-go/iroh/key"
)

// EventKind says what changed for the application.
type EventKind uint8

// The events a Conn reports through PollEvent.
const (
	EventHandshakeDone    EventKind = iota + 1 // the handshake completed; streams may be used
	EventStreamOpened                          // the peer opened a stream (AcceptStream)
	EventStreamReadable                        // Stream has data, a FIN or a reset to read
	EventStreamWritable                        // Stream's send buffer has room, or it was stopped
	EventStreamsAvailable                      // the peer raised MAX_STREAMS: OpenStream may succeed
	EventDatagram                              // a datagram arrived (ReceiveDatagram)
	EventClosed                                // the connection closed; Err says why
	EventStreamFinished                        // Stream is done both ways and forgotten by the core
)

// Event is one change for the application. Stream is set for stream
// events.
type Event struct {
	Kind   EventKind
	Stream StreamID
}

// connState is the connection's life cycle.
type connState uint8

const (
	stateHandshake connState = iota
	stateEstablished
	stateClosing  // we sent CONNECTION_CLOSE; we answer packets with it
	stateDraining // the peer closed or reset; we send nothing
	stateDrained  // done: the driver can forget the connection
)

// encryption levels that have their own packet number space.
const (
	spaceInitial = iota
	spaceHandshake
	numHandshakeSpaces
)

// maxEvents bounds the event queue; events are hints (the application
// re-checks state), so dropping the oldest loses nothing that matters.
const maxEvents = 4096

// Conn is the I/O-free core of one QUIC connection: datagrams and time go
// in (Receive, HandleTimeout), datagrams come out (Send), stream and
// datagram operations and events serve the application. It never blocks,
// reads a clock or starts a goroutine. Not safe for concurrent use: the
// driver serialises calls.
type Conn struct {
	// Set in New, then read-only.
	cfg    Config
	server bool
	rand   io.Reader
	tls    *tls13.Conn

	state     connState
	startTime time.Time

	// Handshake spaces and CRYPTO streams (Initial, Handshake,
	// Application).
	spaces [numHandshakeSpaces]packetSpace
	crypto [3]cryptoStream

	// Paths; only paths[0] until multipath is negotiated.
	paths []*path

	streams *streams
	frames  frameStore // what each sent packet carried

	// Receiving.
	gotPacket  bool         // a packet authenticated
	curDCID    ConnectionID // destination id of the packet being processed
	frameIter  wire.FrameIter
	ackRanges  []recovery.AckRange
	retryToken []byte // client: the token of a Retry, sent in Initials

	// Sending.
	scid        ConnectionID // our initial source id (long headers)
	ackOut      []wire.AckRange
	probes      [3]int // PTO probes owed per space
	pingPending bool   // keep-alive or probe PING
	pmtudDue    bool   // the path MTU raise timer fired: a probe is owed
	ackFreqSent bool   // our ACK_FREQUENCY is in flight or acknowledged
	ackFreqSeq  uint64
	paceAt      time.Time // the pacer's next send time, zero if none
	recvFlow    recvFlow  // connection-level, ours
	sendFlow    sendFlow  // connection-level, the peer's
	// Streams stopped by the connection-level limit, queued again by
	// MAX_DATA (in order, so runs are reproducible).
	connBlocked []*stream

	// Connection ids of the handshake.
	origDCID    ConnectionID // the client's first destination id
	initialDCID ConnectionID // the id the Initial keys derive from (after a Retry, the Retry's)
	retrySCID   ConnectionID

	// Peer transport parameters, once known.
	peerIdle        time.Duration
	peerMaxAckDelay time.Duration
	peerAckExponent uint8
	peerMaxDatagram uint64
	peerMaxUDP      uint64
	peerMinAckDelay time.Duration
	peerMultipath   bool
	peerParamsSet   bool

	// Datagrams (RFC 9221), bounded queues: oldest dropped when full.
	dgramIn      [][]byte
	dgramOut     [][]byte
	dgramDropped uint64

	events    []Event
	eventHead int // events before it were polled

	// Timers.
	lastRecv            time.Time // idle timer base
	lastSend            time.Time // keep-alive base
	closeTimer          time.Time // end of closing/draining
	handshakeDone       bool
	confirmed           bool // handshake confirmed (HANDSHAKE_DONE received/sent)
	handshakeDoneQueued bool

	// Closing.
	err        error // why the connection closed; nil while open
	closeFrame closeInfo
	closeSends int // CONNECTION_CLOSE answers sent while closing

	// Key update.
	keys keyState

	earlyData      bool // client: 0-RTT keys were installed
	zeroRTTPackets uint64
}

// closeInfo is the CONNECTION_CLOSE we send.
type closeInfo struct {
	app       bool
	code      uint64
	frameType uint64
	reason    string
}

// NewClient starts the client side of a connection to remote; its first
// Initial is ready to Send.
func NewClient(cfg *Config, now time.Time, remote netip.AddrPort) (*Conn, error) {
	c, err := newConn(cfg, now, false, remote)
	if err != nil {
		return nil, err
	}
	// The client picks the server's first destination id: 20 random
	// bytes, as iroh does (core.md §6.3).
	var b [MaxConnectionIDLen]byte
	if _, err := io.ReadFull(c.rand, b[:]); err != nil {
		return nil, err
	}
	c.origDCID = MakeConnectionID(b[:])
	c.paths[0].remoteCIDs.setInitial(c.origDCID)
	if err := c.startTLS(); err != nil {
		return nil, err
	}
	return c, nil
}

// NewServer starts the server side of a connection for a client's first
// Initial sent to dcid from remote; pass that datagram to Receive next.
func NewServer(cfg *Config, now time.Time, remote netip.AddrPort, dcid ConnectionID) (*Conn, error) {
	c, err := newConn(cfg, now, true, remote)
	if err != nil {
		return nil, err
	}
	c.origDCID = dcid
	c.initialDCID = dcid
	if err := c.startTLS(); err != nil {
		return nil, err
	}
	return c, nil
}

// NewServerAfterRetry is NewServer for a client whose Initial carried a
// valid Retry token: dcid is the id our Retry gave it (the Initial keys
// derive from it), odcid the id of its first Initial (from the token).
// The client's address counts as validated.
func NewServerAfterRetry(cfg *Config, now time.Time, remote netip.AddrPort, dcid, odcid ConnectionID) (*Conn, error) {
	c, err := newConn(cfg, now, true, remote)
	if err != nil {
		return nil, err
	}
	c.origDCID = odcid
	c.initialDCID = dcid
	c.retrySCID = dcid
	c.paths[0].state = pathValidated
	if err := c.startTLS(); err != nil {
		return nil, err
	}
	return c, nil
}

func newConn(cfg *Config, now time.Time, server bool, remote netip.AddrPort) (*Conn, error) {
	full, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Conn{cfg: full, server: server, rand: full.Rand, startTime: now, lastRecv: now, lastSend: now}
	if c.rand == nil {
		c.rand = crand.Reader
	}
	for i := range c.spaces {
		c.spaces[i] = newPacketSpace(0) // Initial and Handshake: acknowledge at once
	}
	rec, err := recovery.New(&recovery.Options{Server: server, MaxDatagramSize: initialMTU})
	if err != nil {
		return nil, err
	}
	p := &path{id: 0, remote: remote, app: newPacketSpace(DefaultMaxAckDelay), rec: rec, mtu: initialMTU}
	p.remoteCIDs.limit = full.ActiveConnectionIDLimit
	if !server {
		// A client validates the server's address by the handshake itself.
		p.state = pathValidated
	}
	id, tok := full.CIDs.NewConnectionID()
	p.localCIDs.addInitial(id, tok)
	c.scid = id
	c.paths = []*path{p}
	c.streams = newStreams(server, streamParams{
		recvWindowBidiLocal:  full.InitialStreamWindow,
		recvWindowBidiRemote: full.InitialStreamWindow,
		recvWindowUni:        full.InitialStreamWindow,
		maxRecvWindow:        full.MaxStreamWindow,
		sendBufferSize:       full.SendBufferSize,
	}, full.MaxIncomingStreams, full.MaxIncomingUniStreams)
	c.recvFlow = newRecvFlow(full.InitialConnWindow, full.MaxConnWindow)
	c.keys.init(c.rand)
	return c, nil
}

// emit queues an event, dropping the oldest when the queue is full.
func (c *Conn) emit(e Event) {
	if len(c.events)-c.eventHead >= maxEvents {
		c.eventHead++ // drop the oldest
	}
	if c.eventHead > 0 && len(c.events) == cap(c.events) {
		n := copy(c.events, c.events[c.eventHead:])
		c.events, c.eventHead = c.events[:n], 0
	}
	c.events = append(c.events, e)
}

// PollEvent returns the next event for the application.
func (c *Conn) PollEvent() (Event, bool) {
	c.collectStreamEvents()
	if c.eventHead >= len(c.events) {
		return Event{}, false
	}
	e := c.events[c.eventHead]
	c.eventHead++
	if c.eventHead == len(c.events) {
		c.events, c.eventHead = c.events[:0], 0
	}
	return e, true
}

// collectStreamEvents turns the stream set's notifications into events.
func (c *Conn) collectStreamEvents() {
	ss := c.streams
	for _, id := range ss.takeNotify() {
		c.emit(Event{Kind: EventStreamReadable, Stream: id})
		c.emit(Event{Kind: EventStreamWritable, Stream: id})
	}
	for _, id := range ss.opened {
		c.emit(Event{Kind: EventStreamOpened, Stream: id})
	}
	ss.opened = ss.opened[:0]
	for _, id := range ss.finished {
		c.emit(Event{Kind: EventStreamFinished, Stream: id})
	}
	ss.finished = ss.finished[:0]
}

// IsClient reports whether this is the client side.
func (c *Conn) IsClient() bool { return !c.server }

// PeerKey is the peer's authenticated key, zero before the handshake
// authenticated it.
func (c *Conn) PeerKey() key.PublicKey { return c.tls.PeerKey() }

// ALPN is the negotiated application protocol.
func (c *Conn) ALPN() string { return c.tls.ALPN() }

// RemoteAddr is the peer's address on path 0.
func (c *Conn) RemoteAddr() netip.AddrPort { return c.paths[0].remote }

// HandshakeComplete reports whether the handshake completed.
func (c *Conn) HandshakeComplete() bool { return c.handshakeDone }

// Err is why the connection closed, nil while it is open.
func (c *Conn) Err() error { return c.err }

// Drained reports whether the connection is finished: closed and past
// the closing or draining period. The driver forgets it then.
func (c *Conn) Drained() bool { return c.state == stateDrained }

// rtt is the smoothed RTT of path 0, for flow-control autotuning.
func (c *Conn) rtt() time.Duration { return c.paths[0].rtt() }

// OpenStream opens a stream; ErrStreamLimit until the peer grants credit.
func (c *Conn) OpenStream(uni bool) (StreamID, error) {
	if c.err != nil {
		return 0, c.err
	}
	return c.streams.open(uni)
}

// AcceptStream returns a stream the peer opened, if any.
func (c *Conn) AcceptStream(uni bool) (StreamID, bool) { return c.streams.accept(uni) }

// StreamRead reads in-order data of stream id into p; fin is true at the
// end of the stream.
func (c *Conn) StreamRead(now time.Time, id StreamID, p []byte) (int, bool, error) {
	n, fin, err := c.streams.read(now, id, p, c.rtt())
	if n > 0 {
		c.recvFlow.onConsumed(now, uint64(n), c.rtt())
		if s := c.streams.m[id]; s != nil {
			c.recvFlow.ensureWindow(s.recvFlow.window + s.recvFlow.window/2)
		}
	}
	return n, fin, err
}

// StreamWrite buffers p for stream id and returns how much it took (zero
// when the send buffer is full: wait for EventStreamWritable).
func (c *Conn) StreamWrite(id StreamID, p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	return c.streams.write(id, p)
}

// StreamClose ends the sending half of stream id with a FIN.
func (c *Conn) StreamClose(id StreamID) error { return c.streams.closeSend(id) }

// StreamReset abandons the sending half with code (RESET_STREAM).
func (c *Conn) StreamReset(id StreamID, code uint64) error {
	s := c.streams.m[id]
	if s == nil {
		return ErrUnknownStream
	}
	c.streams.resetSend(s, code)
	return nil
}

// StreamStopped reports whether the peer asked us to stop sending on
// stream id (STOP_SENDING) and with what code. A stream the core forgot
// reports false.
func (c *Conn) StreamStopped(id StreamID) (uint64, bool) {
	if s := c.streams.m[id]; s != nil && s.stopped {
		return s.stopCode, true
	}
	return 0, false
}

// StreamStopSending abandons the receiving half with code (STOP_SENDING).
func (c *Conn) StreamStopSending(id StreamID, code uint64) error {
	s := c.streams.m[id]
	if s == nil {
		return ErrUnknownStream
	}
	c.streams.stopRecv(s, code)
	c.streams.maybeForget(s)
	return nil
}

// SendDatagram queues p as a DATAGRAM frame; when the queue is full the
// oldest queued datagram is dropped.
func (c *Conn) SendDatagram(p []byte) error {
	if c.err != nil {
		return c.err
	}
	if c.cfg.DisableDatagrams || c.peerMaxDatagram == 0 {
		return ErrDatagramsDisabled
	}
	if uint64(len(p))+16 > c.peerMaxDatagram || len(p) > c.maxDatagramPayload() {
		return ErrDatagramTooLarge
	}
	if len(c.dgramOut) >= c.cfg.DatagramQueueLen {
		c.dgramOut = c.dgramOut[1:]
		c.dgramDropped++
	}
	c.dgramOut = append(c.dgramOut, append([]byte(nil), p...))
	return nil
}

// ReceiveDatagram returns the oldest received datagram, if any.
func (c *Conn) ReceiveDatagram() ([]byte, bool) {
	if len(c.dgramIn) == 0 {
		return nil, false
	}
	p := c.dgramIn[0]
	c.dgramIn = c.dgramIn[1:]
	return p, true
}

// onDatagram queues a received datagram, dropping the oldest when full.
func (c *Conn) onDatagram(p []byte) {
	if len(c.dgramIn) >= c.cfg.DatagramQueueLen {
		c.dgramIn = c.dgramIn[1:]
		c.dgramDropped++
	}
	c.dgramIn = append(c.dgramIn, append([]byte(nil), p...))
	c.emit(Event{Kind: EventDatagram})
}

// Close closes the connection: with an application error (app true,
// CONNECTION_CLOSE 0x1d) or a transport error. The CONNECTION_CLOSE goes
// out with the next Send; the connection then lingers for three PTOs to
// answer the peer's late packets.
func (c *Conn) Close(now time.Time, code TransportErrorCode, reason string, app bool) {
	if c.state >= stateClosing {
		return
	}
	if app {
		c.closeWith(now, &ApplicationError{Code: uint64(code), Reason: reason}, closeInfo{app: true, code: uint64(code), reason: reason})
		return
	}
	c.closeWith(now, &TransportError{Code: code, Reason: reason}, closeInfo{code: uint64(code), reason: reason})
}

// closeWith enters the closing state.
func (c *Conn) closeWith(now time.Time, err error, ci closeInfo) {
	if c.state >= stateClosing {
		return
	}
	c.err = err
	c.closeFrame = ci
	c.state = stateClosing
	c.closeSends = 1 // the CONNECTION_CLOSE goes out with the next Send
	c.closeTimer = now.Add(3 * c.pto())
	c.emit(Event{Kind: EventClosed})
}

// drain enters the draining state (the peer closed, or reset).
func (c *Conn) drain(now time.Time, err error) {
	if c.state >= stateDraining {
		return
	}
	if c.err == nil {
		c.err = err
		c.emit(Event{Kind: EventClosed})
	}
	c.state = stateDraining
	c.closeTimer = now.Add(3 * c.pto())
}

// finish ends the connection at once (idle timeout: nothing is sent).
func (c *Conn) finish(err error) {
	if c.err == nil {
		c.err = err
		c.emit(Event{Kind: EventClosed})
	}
	c.state = stateDrained
	c.release()
}

// release returns ids and buffers when the connection is over.
func (c *Conn) release() {
	for _, p := range c.paths {
		p.localCIDs.retireAll(c.cfg.CIDs)
	}
	for _, s := range c.streams.m {
		s.send.reset()
		s.recv.free()
	}
	for i := range c.crypto {
		c.crypto[i].discard()
	}
}

// idleTimeout is the effective idle timeout: the smaller of ours and the
// peer's (zero from the peer means none), at least three PTOs.
func (c *Conn) idleTimeout() time.Duration {
	d := c.cfg.MaxIdleTimeout
	if c.peerIdle > 0 && c.peerIdle < d {
		d = c.peerIdle
	}
	if m := 3 * c.pto(); d < m {
		d = m
	}
	return d
}

// randUint64 returns a random number (key update points, path challenges).
func (c *Conn) randUint64() uint64 {
	var b [8]byte
	io.ReadFull(c.rand, b[:])
	return binary.LittleEndian.Uint64(b[:])
}
