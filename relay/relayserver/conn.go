package relayserver

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
	"github.com/iroh-go/iroh/relay/internal/bufpool"
	"github.com/iroh-go/iroh/relay/internal/ring"
	"github.com/iroh-go/iroh/relay/internal/ws"
)

// conn is one authenticated client connection. Its reader runs on a
// goroutine of its own (readLoop, started by runConn); writes happen on a
// writer goroutine that exists only while there is something to write
// (writeLoop, started by kickLocked), so an idle connection costs one
// goroutine, no buffers and one timer.
type conn struct {
	// Set at creation, then read-only.
	s        *Server
	id       uint64
	ep       key.PublicKey
	protocol string
	nc       net.Conn
	wc       *ws.Conn
	remote   string // for logs

	// Atomic.
	lastRecv atomic.Int64 // unix nanos of the last frame from the client

	// Owned by readLoop.
	sentTo map[key.PublicKey]struct{} // nil until the first datagram

	// qmu guards the following.
	qmu      sync.Mutex
	queue    ring.Ring[[]byte] // datagram and EndpointGone frames, at most Server.queueSize
	ctl      ring.Ring[[]byte] // Pong, Status, Health, Ping; at most maxCtl
	writing  bool              // a writeLoop goroutine runs (or is about to)
	pongDue  bool              // the client's WebSocket ping awaits its pong
	stopping bool              // server shutdown: send Restarting and close
	closed   bool              // no more writers: the connection is ending
	wg       sync.WaitGroup    // the writer; Add only under qmu while !closed

	// mu guards the following.
	mu        sync.Mutex
	keepalive *time.Timer // the keepalive; (re)armed only under mu
	ended     bool        // runConn is done: the keepalive stays stopped
	why       string      // disconnect reason set by the writer or the keepalive
	pingData  [relay.PingDataSize]byte
	pingSent  time.Time // zero: no ping outstanding
	rtt       time.Duration
}

// maxCtl bounds a connection's control frame queue; more are dropped.
const maxCtl = 16

// debug logs at debug level with the connection's attributes; the logger
// is built only when debug logging is on, so connections keep none.
func (c *conn) debug(msg string, args ...any) {
	if !c.s.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	c.s.log.With("remote", c.remote, "endpoint_id", c.ep.ShortString()).Debug(msg, args...)
}

// stop makes the writer send Restarting and close the connection.
func (c *conn) stop() {
	c.qmu.Lock()
	c.stopping = true
	c.kickLocked()
	c.qmu.Unlock()
}

// kickLocked starts the writer unless it runs or the connection is ending.
func (c *conn) kickLocked() {
	if c.writing || c.closed {
		return
	}
	c.writing = true
	c.wg.Add(1)
	go c.writeLoop()
}

// endWriters stops further writers and waits for the running one. The
// caller closes nc first, so that a write in progress fails at once.
func (c *conn) endWriters() {
	c.qmu.Lock()
	c.closed = true
	c.qmu.Unlock()
	c.wg.Wait()
}

// setReason records why the connection ended (first wins).
func (c *conn) setReason(r string) {
	c.mu.Lock()
	if c.why == "" {
		c.why = r
	}
	c.mu.Unlock()
}

func (c *conn) reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.why
}

// enqueue adds a frame to the send queue without blocking. It returns ""
// when queued, else the drop reason (and the caller drops the frame).
func (c *conn) enqueue(b []byte) string {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closed {
		return DropDisconnected
	}
	if c.queue.Len() >= c.s.queueSize {
		return DropQueueFull
	}
	c.queue.Push(b)
	c.kickLocked()
	return ""
}

// sendCtl queues a control frame without blocking; it is dropped if the
// control queue is full.
func (c *conn) sendCtl(b []byte) {
	c.qmu.Lock()
	if c.ctl.Len() < maxCtl && !c.closed {
		c.ctl.Push(b)
		c.kickLocked()
	}
	c.qmu.Unlock()
}

// pongPending is ws.Conn.OnPing: the client's WebSocket ping is answered
// by the writer, never by the reader.
func (c *conn) pongPending() {
	c.qmu.Lock()
	c.pongDue = true
	c.kickLocked()
	c.qmu.Unlock()
}

// readLoop reads and handles client frames until the connection fails and
// returns the disconnect reason.
func (c *conn) readLoop() string {
	s := c.s
	for {
		op, msg, err := c.wc.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(err, ws.ErrMessageTooLarge):
				c.debug("client message too large", "err", err)
				return DisconnectTooLarge
			case errors.Is(err, ws.ErrProtocol):
				c.debug("client websocket protocol error", "err", err)
				return DisconnectProtocol
			}
			return DisconnectClosed
		}
		c.lastRecv.Store(time.Now().UnixNano())
		if op != ws.OpBinary {
			c.debug("client sent a text message; ignored")
			continue
		}
		f, _, err := relay.ParseFrame(msg)
		if err != nil {
			c.debug("bad frame from client", "err", err)
			return DisconnectProtocol
		}
		switch f.Type {
		case relay.FrameClientToRelayDatagram, relay.FrameClientToRelayDatagramBatch:
			if !s.forward(c, &f) {
				c.debug("datagram to an invalid endpoint id")
				return DisconnectProtocol
			}
		case relay.FramePing:
			p := relay.Frame{Type: relay.FramePong, Data: f.Data}
			c.sendCtl(relay.AppendFrame(make([]byte, 0, 9), &p))
		case relay.FramePong:
			c.mu.Lock()
			if !c.pingSent.IsZero() && f.Data == c.pingData {
				c.rtt = time.Since(c.pingSent)
				c.pingSent = time.Time{}
				// The timer waits for the Pong's deadline: wait for
				// the next ping instead.
				if c.keepalive != nil && !c.ended {
					c.keepalive.Reset(s.keepaliveInterval())
				}
			}
			c.mu.Unlock()
		default:
			c.debug("frame not allowed from a client", "frame", f.Type.String())
			return DisconnectProtocol
		}
	}
}

// forward relays a datagram frame from c. It returns false if the
// destination is not a valid key (a protocol error, as in iroh-relay).
func (s *Server) forward(c *conn, f *relay.Frame) bool {
	dst := s.reg.active(f.Key)
	if dst == nil {
		if !f.Key.Valid() {
			return false
		}
		s.dropNoDestination.Inc()
		return true
	}
	out := relay.Frame{Type: relay.FrameRelayToClientDatagram, Key: c.ep, ECN: f.ECN, SegmentSize: f.SegmentSize, Contents: f.Contents}
	if f.SegmentSize != 0 {
		out.Type = relay.FrameRelayToClientDatagramBatch
	}
	b := relay.AppendFrame(bufpool.Get(out.EncodedLen()), &out)
	switch dst.enqueue(b) {
	case "":
	case DropQueueFull:
		bufpool.Put(b)
		s.dropQueueFull.Inc()
		return true
	default:
		bufpool.Put(b)
		s.dropDisconnected.Inc()
		return true
	}
	if c.sentTo == nil {
		c.sentTo = make(map[key.PublicKey]struct{}, 1)
	}
	if _, ok := c.sentTo[dst.ep]; !ok {
		c.sentTo[dst.ep] = struct{}{}
	}
	return true
}

// keepaliveFunc runs when c.keepalive fires (started by runConn): a Ping
// when nothing was received for the ping interval (16–20 s), and a
// disconnect when its Pong is late (3 × RTT in [0.5 s, 5 s], 5 s before a
// sample). It queues the Ping for the writer and re-arms the timer.
func (c *conn) keepaliveFunc() {
	s := c.s
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	if !c.pingSent.IsZero() {
		// The timer was set for the Pong's deadline.
		if late := time.Since(c.pingSent) - pongTimeout(c.rtt); late < 0 {
			c.keepalive.Reset(-late)
			c.mu.Unlock()
			return
		}
		if c.why == "" {
			c.why = DisconnectPongTimeout
		}
		c.mu.Unlock()
		c.nc.Close()
		return
	}
	if idle := time.Since(time.Unix(0, c.lastRecv.Load())); idle < s.pingInterval {
		c.keepalive.Reset(s.keepaliveInterval() - idle)
		c.mu.Unlock()
		return
	}
	p := relay.Frame{Type: relay.FramePing}
	rand.Read(p.Data[:])
	c.pingData = p.Data
	c.pingSent = time.Now()
	c.keepalive.Reset(pongTimeout(c.rtt))
	c.mu.Unlock()
	s.m.PingsSent.Inc()
	c.sendCtl(relay.AppendFrame(make([]byte, 0, 9), &p))
}

// keepaliveInterval is the ping interval plus jitter.
func (s *Server) keepaliveInterval() time.Duration {
	return s.pingInterval + time.Duration(mrand.Int64N(int64(s.pingJitter)+1))
}

// writeLoop writes what is queued, control frames first, in batches (one
// write per batch, bounded by the write timeout), and ends when the
// queues are empty; kickLocked starts it again when a frame arrives.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	s := c.s
	var arr [maxWriteBatch][]byte
	batch := arr[:0]
	for {
		c.qmu.Lock()
		if c.closed {
			c.writing = false
			c.qmu.Unlock()
			return
		}
		if c.stopping {
			c.closed = true
			c.writing = false
			c.qmu.Unlock()
			rf := relay.Frame{Type: relay.FrameRestarting, ReconnectIn: restartReconnectIn, TryFor: restartTryFor}
			c.wc.WriteMessage(ws.OpBinary, relay.AppendFrame(nil, &rf), time.Now().Add(s.writeTimeout))
			c.wc.WriteClose(1012, "restarting")
			c.setReason(DisconnectShutdown)
			c.nc.Close()
			return
		}
		size := 0
		for len(batch) < maxWriteBatch {
			b, ok := c.ctl.Pop()
			if !ok {
				break
			}
			batch = append(batch, b)
			size += len(b)
		}
		for len(batch) < maxWriteBatch && size < maxWriteBytes {
			b, ok := c.queue.Pop()
			if !ok {
				break
			}
			batch = append(batch, b)
			size += len(b)
		}
		pong := c.pongDue
		c.pongDue = false
		if len(batch) == 0 && !pong {
			// Nothing more: the next frame starts a new writer (no
			// runtime.Gosched here to wait for one: a yielded writer
			// sits in the global run queue while frames wait for it).
			c.writing = false
			c.qmu.Unlock()
			return
		}
		c.qmu.Unlock()

		var err error
		if len(batch) == 0 {
			err = c.wc.FlushControl(time.Now().Add(s.writeTimeout))
		} else {
			// A pending pong goes out ahead of the batch.
			err = c.wc.WriteMessages(ws.OpBinary, batch, time.Now().Add(s.writeTimeout))
		}
		var n, bytes int
		for i, b := range batch {
			if isDatagram(b) {
				n++
				hl := 1 + key.Size + 1
				if b[0] == byte(relay.FrameRelayToClientDatagramBatch) {
					hl += 2
				}
				bytes += len(b) - hl
			}
			bufpool.Put(b)
			batch[i] = nil
		}
		batch = batch[:0]
		if err == nil && n > 0 {
			s.m.DatagramsForwarded.Add(float64(n))
			s.m.BytesForwarded.Add(float64(bytes))
		}
		if err != nil {
			c.qmu.Lock()
			c.closed = true
			c.writing = false
			c.qmu.Unlock()
			if errors.Is(err, net.ErrClosed) {
				// The reader answered the client's close, or the
				// connection is going away: not a write failure.
				return
			}
			c.debug("write to client failed", "err", err)
			c.setReason(DisconnectWriteTimeout)
			c.nc.Close()
			return
		}
	}
}

// pongTimeout is 3 × rtt clamped to [500 ms, 5 s]; 5 s without a sample.
func pongTimeout(rtt time.Duration) time.Duration {
	if rtt <= 0 {
		return 5 * time.Second
	}
	return min(max(3*rtt, 500*time.Millisecond), 5*time.Second)
}

// registry maps EndpointIDs to their connections (core.md §5.6).
type registry struct {
	// mu guards byID. Lock order: registry.mu before conn.qmu (register
	// and unregister queue notifications); conn.mu is never taken while
	// holding it.
	mu   sync.RWMutex
	byID map[key.PublicKey]*entry
}

// entry holds the connections of one EndpointID.
type entry struct {
	active   *conn
	inactive []*conn // oldest first
	// sentTo merges the peers that ended connections of this id sent to.
	sentTo map[key.PublicKey]struct{}
}

// active returns the active connection for id, or nil.
func (r *registry) active(id key.PublicKey) *conn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if e := r.byID[id]; e != nil {
		return e.active
	}
	return nil
}

// Texts of the v1 Health frames that stand for the v2 Status codes.
const (
	healthTakenOver = "Another endpoint connected with the same endpoint id. No more messages will be received."
	healthRecovered = "The connection is healthy and has recovered from previous problems"
)

// statusFrame is Status(code) for v2 clients and the matching Health text
// for v1 clients.
func statusFrame(proto string, code uint8) []byte {
	f := relay.Frame{Type: relay.FrameStatus, Status: code}
	if proto == relay.ProtocolV1 {
		f = relay.Frame{Type: relay.FrameHealth, Text: []byte(healthRecovered)}
		if code == relay.StatusSameEndpointIDConnected {
			f.Text = []byte(healthTakenOver)
		}
	}
	return relay.AppendFrame(nil, &f)
}

// register makes c the active connection of its id; a previous active one
// becomes inactive and is told so.
func (r *registry) register(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[c.ep]
	if e == nil {
		e = &entry{}
		r.byID[c.ep] = e
	}
	if old := e.active; old != nil {
		e.inactive = append(e.inactive, old)
		old.sendCtl(statusFrame(old.protocol, relay.StatusSameEndpointIDConnected))
	}
	e.active = c
	// An id that keeps opening connections without closing the old ones
	// does not grow the list: the oldest beyond the cap is closed (its
	// reader ends and unregisters it).
	for len(e.inactive) > maxInactive {
		oldest := e.inactive[0]
		e.inactive = e.inactive[1:]
		oldest.s.m.Superseded.Inc()
		oldest.nc.Close()
	}
}

// maxInactive is how many superseded connections of one endpoint id are
// kept (one of them takes over when the active one ends).
const maxInactive = 16

// unregister removes c. If c was active the most recent inactive
// connection is promoted and told it is healthy. When the id's last
// connection goes, every still-connected peer it sent to gets EndpointGone.
func (r *registry) unregister(c *conn) {
	var gone map[key.PublicKey]struct{}
	r.mu.Lock()
	e := r.byID[c.ep]
	if e == nil {
		r.mu.Unlock()
		return
	}
	if e.active == c {
		e.active = nil
		if n := len(e.inactive); n > 0 {
			e.active = e.inactive[n-1]
			e.inactive[n-1] = nil
			e.inactive = e.inactive[:n-1]
			e.active.sendCtl(statusFrame(e.active.protocol, relay.StatusHealthy))
		}
	} else {
		for i, x := range e.inactive {
			if x == c {
				e.inactive = append(e.inactive[:i], e.inactive[i+1:]...)
				break
			}
		}
	}
	if e.active == nil {
		delete(r.byID, c.ep)
		gone = e.sentTo
		if gone == nil {
			gone = c.sentTo
		} else {
			for k := range c.sentTo {
				gone[k] = struct{}{}
			}
		}
	} else if len(c.sentTo) > 0 {
		if e.sentTo == nil {
			e.sentTo = make(map[key.PublicKey]struct{})
		}
		for k := range c.sentTo {
			e.sentTo[k] = struct{}{}
		}
	}
	var peers []*conn
	for id := range gone {
		if pe := r.byID[id]; pe != nil && pe.active != nil {
			peers = append(peers, pe.active)
		}
	}
	r.mu.Unlock()
	for _, p := range peers {
		f := relay.Frame{Type: relay.FrameEndpointGone, Key: c.ep}
		p.enqueue(relay.AppendFrame(nil, &f))
	}
}
