package gossip

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/gossip/proto"
)

// Application close codes and reasons of gossip connections.
const (
	closeNormal        = 0 // "close from disconnect", as Rust
	closeSlowPeer      = 1
	closeFrameTooLarge = 2
	closeMalformed     = 3
)

type outMsg struct {
	topic TopicID
	msg   proto.Message
}

type inbound struct {
	from  iroh.EndpointID
	topic TopicID
	msg   proto.Message
	size  int
}

type connEventKind uint8

const (
	evUp connEventKind = iota + 1
	evDown
	evDialed
	evWriterDone
	evPeerFinished // 0.35: the peer finished its half of the stream
	evStreamReady  // 0.35: the dialer's stream arrived on an accepted connection
)

type connEvent struct {
	kind connEventKind
	cs   *connState
	w    *writer
	id   iroh.EndpointID
	err  error
	ack  chan struct{} // evStreamReady: closed once the actor handled it
}

// connState is one connection to a peer.
type connState struct {
	// Set in newConn, then read-only.
	conn   *iroh.Connection
	remote iroh.EndpointID
	ctx    context.Context // done when the connection ends or Gossip closes
	cancel context.CancelFunc
	seq    uint64
	dialed bool      // we dialed it (else the peer did)
	at     time.Time // when it was established
	// v035: the connection speaks /iroh-gossip/0: one bidirectional
	// stream (bi, opened by the dialer) carries every topic. On a
	// connection we accepted, the reader sets bi when the stream arrives
	// (the dialer's first write), then tells the actor (evStreamReady).
	v035 bool
	bi   *iroh.Stream

	// Owned by the actor.
	w    *writer // nil: no writer running
	down bool
	// ready: the connection can carry our messages (for 0.35, its stream
	// is there). 0.35 only: sendDone, our half of bi is finished (or
	// being finished) and takes no more writers; writing, a writer runs
	// on it; peerDone, the peer finished its half.
	ready, sendDone, writing, peerDone bool

	closeReason atomic.Pointer[string]
}

var connSeq atomic.Uint64

func (g *Gossip) newConn(conn *iroh.Connection, dialed bool) *connState {
	ctx, cancel := context.WithCancel(g.ctx)
	context.AfterFunc(conn.Context(), cancel)
	v035 := conn.ALPN() == ALPN035
	return &connState{conn: conn, remote: conn.RemoteID(), ctx: ctx, cancel: cancel, seq: connSeq.Add(1), dialed: dialed, at: time.Now(),
		v035: v035, ready: dialed || !v035}
}

// closeWith closes the connection and counts the reason.
func (g *Gossip) closeWith(cs *connState, code uint64, reason, label string) {
	if cs.closeReason.CompareAndSwap(nil, &reason) {
		if label != "" {
			g.m.ConnClosed.WithLabelValues(label).Inc()
		}
		cs.conn.Close(code, reason)
	}
	cs.cancel()
}

// readLoop accepts the peer's uni streams, one per topic, and reads them
// until the connection ends; then it reports the connection down.
func (g *Gossip) readLoop(cs *connState) {
	defer func() {
		select {
		case g.events <- connEvent{kind: evDown, cs: cs}:
		case <-g.ctx.Done():
		}
	}()
	if cs.v035 {
		g.readLoop035(cs)
		return
	}
	for {
		s, err := cs.conn.AcceptUniStream(cs.ctx)
		if err != nil {
			return
		}
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.readStream(cs, s)
		}()
	}
}

func (g *Gossip) readStream(cs *connState, s *iroh.ReceiveStream) {
	defer s.CancelRead(0)
	hdr, err := proto.ReadFrame(s, nil, g.maxMsg)
	if err != nil {
		g.readFailed(cs, err, true)
		return
	}
	topic, err := proto.ParseStreamHeader(hdr)
	if err != nil {
		g.closeWith(cs, closeMalformed, err.Error(), "malformed")
		return
	}
	for {
		body, err := proto.ReadFrame(s, nil, g.maxMsg)
		if err != nil {
			g.readFailed(cs, err, false)
			return
		}
		m, err := proto.DecodeMessage(body)
		if err != nil {
			g.closeWith(cs, closeMalformed, err.Error(), "malformed")
			return
		}
		if !g.deliver(cs, topic, m, len(body)) {
			return
		}
	}
}

// deliver counts a message read from cs and hands it to the actor; false
// when the connection ended first.
func (g *Gossip) deliver(cs *connState, topic TopicID, m proto.Message, size int) bool {
	g.m.BytesRecv.Add(float64(size + 4))
	g.m.MessagesRecv.WithLabelValues(m.Type.String()).Inc()
	select {
	case g.inbox <- inbound{from: cs.remote, topic: topic, msg: m, size: size}:
		return true
	case <-cs.ctx.Done():
		return false
	}
}

// readLoop035 reads the frames of a 0.35 connection's one stream; on a
// connection we accepted it first waits for the dialer to open it (which
// the peer's first write does). When the peer finishes its half, the
// loop tells the actor and waits for the connection to end, so that it is
// reported down only then.
func (g *Gossip) readLoop035(cs *connState) {
	if !cs.dialed {
		s, err := cs.conn.AcceptStream(cs.ctx)
		if err != nil {
			return
		}
		cs.bi = s
		// The actor learns the connection can carry our messages before
		// it handles the first message read from it, so that its answer
		// goes on this connection rather than a new dial.
		ack := make(chan struct{})
		select {
		case g.events <- connEvent{kind: evStreamReady, cs: cs, ack: ack}:
		case <-cs.ctx.Done():
			return
		}
		select {
		case <-ack:
		case <-cs.ctx.Done():
			return
		}
	}
	defer cs.bi.CancelRead(0)
	for {
		body, err := proto.ReadFrame(cs.bi, nil, g.maxMsg) // messages alias body
		if errors.Is(err, io.EOF) {
			select {
			case g.events <- connEvent{kind: evPeerFinished, cs: cs}:
			case <-cs.ctx.Done():
			}
			<-cs.ctx.Done()
			return
		}
		if err != nil {
			g.readFailed(cs, err, false)
			return
		}
		topic, m, err := proto.DecodeProtoMessage(body)
		if err != nil {
			g.closeWith(cs, closeMalformed, err.Error(), "malformed")
			return
		}
		if !g.deliver(cs, topic, m, len(body)) {
			return
		}
	}
}

func (g *Gossip) readFailed(cs *connState, err error, header bool) {
	switch {
	case errors.Is(err, proto.ErrFrameTooLarge):
		g.closeWith(cs, closeFrameTooLarge, err.Error(), "frame_too_large")
	case errors.Is(err, io.EOF) && header:
		// A stream that ends before its header: the spec calls it an
		// error; it costs nothing, so only this stream ends.
	case errors.Is(err, io.ErrUnexpectedEOF):
		// Truncated frame: the peer reset or finished mid-frame.
	}
}

// writer owns the send side of one connection: a bounded queue of
// messages and a uni stream per topic.
type writer struct {
	cs *connState
	q  chan outMsg
	// progress is the time (unix nanoseconds) of the last completed write,
	// or of the start.
	progress atomic.Int64
}

// stalled reports whether the writer has messages queued and has not
// completed a write for d.
func (w *writer) stalled(now time.Time, d time.Duration) bool {
	return len(w.q) > 0 && now.UnixNano()-w.progress.Load() >= int64(d)
}

func (g *Gossip) startWriter(cs *connState) *writer {
	w := &writer{cs: cs, q: make(chan outMsg, g.sendQ)}
	w.progress.Store(time.Now().UnixNano())
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		var err error
		if cs.v035 {
			err = g.writeLoop035(w)
		} else {
			err = g.writeLoop(w)
		}
		select {
		case g.events <- connEvent{kind: evWriterDone, cs: cs, w: w, err: err}:
		case <-g.ctx.Done():
		}
	}()
	return w
}

type topicStream struct {
	s   *iroh.SendStream
	buf []byte
}

// writeLoop writes queued messages, coalescing what is queued at once
// into one write per stream. It returns nil when the queue is closed
// (its streams are finished) and the error that broke the connection
// otherwise.
func (g *Gossip) writeLoop(w *writer) error {
	streams := make(map[TopicID]*topicStream)
	defer func() {
		for _, ts := range streams {
			ts.s.Close()
		}
	}()
	var order []TopicID
	add := func(om outMsg) error {
		ts := streams[om.topic]
		if ts == nil {
			s, err := w.cs.conn.OpenUniStream(w.cs.ctx)
			if err != nil {
				return err
			}
			ts = &topicStream{s: s}
			ts.buf = proto.AppendFrame(ts.buf, proto.AppendStreamHeader(nil, om.topic))
			streams[om.topic] = ts
		}
		if !slices.Contains(order, om.topic) {
			order = append(order, om.topic)
		}
		start := len(ts.buf)
		ts.buf = append(ts.buf, 0, 0, 0, 0)
		ts.buf = proto.AppendMessage(ts.buf, &om.msg)
		n := len(ts.buf) - start - 4
		if n >= g.maxMsg {
			ts.buf = ts.buf[:start]
			g.m.Drops.WithLabelValues("oversize").Inc()
			return nil
		}
		ts.buf[start], ts.buf[start+1], ts.buf[start+2], ts.buf[start+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		g.m.MessagesSent.WithLabelValues(om.msg.Type.String()).Inc()
		return nil
	}
	flush := func() error {
		for _, t := range order {
			ts := streams[t]
			if ts == nil || len(ts.buf) == 0 {
				continue
			}
			if _, err := ts.s.Write(ts.buf); err != nil {
				return err
			}
			g.m.BytesSent.Add(float64(len(ts.buf)))
			ts.buf = ts.buf[:0]
		}
		order = order[:0]
		return nil
	}
	for {
		var om outMsg
		var ok bool
		select {
		case om, ok = <-w.q:
		case <-w.cs.ctx.Done():
			return w.cs.ctx.Err()
		}
		if !ok {
			return flush()
		}
		closeAfter := []TopicID{}
		for batch := 0; ; batch++ {
			if err := add(om); err != nil {
				return err
			}
			if om.msg.Type == proto.MsgDisconnect {
				closeAfter = append(closeAfter, om.topic)
			}
			if batch >= 64 {
				break
			}
			select {
			case om, ok = <-w.q:
			default:
				ok = false
			}
			if !ok {
				break
			}
		}
		if err := flush(); err != nil {
			return err
		}
		w.progress.Store(time.Now().UnixNano())
		for _, t := range closeAfter {
			if ts := streams[t]; ts != nil {
				ts.s.Close()
				delete(streams, t)
			}
		}
	}
}

// writeLoop035 is writeLoop for a 0.35 connection: every message goes on
// the connection's one stream, tagged with its topic. When the queue is
// closed it writes what is left and finishes the stream.
func (g *Gossip) writeLoop035(w *writer) error {
	s := w.cs.bi
	var buf []byte
	add := func(om outMsg) {
		start := len(buf)
		buf = append(buf, 0, 0, 0, 0)
		buf = proto.AppendProtoMessage(buf, om.topic, &om.msg)
		n := len(buf) - start - 4
		if n >= g.maxMsg {
			buf = buf[:start]
			g.m.Drops.WithLabelValues("oversize").Inc()
			return
		}
		binary.BigEndian.PutUint32(buf[start:], uint32(n))
		g.m.MessagesSent.WithLabelValues(om.msg.Type.String()).Inc()
	}
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if _, err := s.Write(buf); err != nil {
			return err
		}
		g.m.BytesSent.Add(float64(len(buf)))
		buf = buf[:0]
		return nil
	}
	for {
		var om outMsg
		var ok bool
		select {
		case om, ok = <-w.q:
		case <-w.cs.ctx.Done():
			return w.cs.ctx.Err()
		}
		closed := !ok
		for batch := 0; ok; batch++ {
			add(om)
			if batch >= 64 {
				break
			}
			select {
			case om, ok = <-w.q:
				closed = !ok
			default:
				ok = false
			}
		}
		if err := flush(); err != nil {
			return err
		}
		w.progress.Store(time.Now().UnixNano())
		if closed {
			return s.Close() // finish our half of the stream
		}
	}
}
