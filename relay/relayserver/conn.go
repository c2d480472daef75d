package relayserver

import (
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

// conn is one authenticated client connection. Its reader runs on the
// goroutine that accepted it (readLoop); writeLoop owns all writes.
type conn struct {
	// Set at creation, then read-only.
	s        *Server
	id       uint64
	ep       key.PublicKey
	protocol string
	nc       net.Conn
	wc       *ws.Conn
	log      *slog.Logger
	qsig     chan struct{} // cap 1: queue became non-empty
	ctl      chan []byte   // Pong, Status, Health, Ping
	done     chan struct{} // closed after the reader ended
	stopping chan struct{} // closed by stop (server shutdown)
	stopOnce sync.Once

	// Atomic.
	lastRecv atomic.Int64 // unix nanos of the last frame from the client

	// Owned by readLoop.
	sentTo map[key.PublicKey]struct{}

	// qmu guards queue: datagram and EndpointGone frames, at most
	// Server.queueSize.
	qmu   sync.Mutex
	queue ring.Ring[[]byte]

	// mu guards the following.
	mu       sync.Mutex
	why      string // disconnect reason set by the writer
	pingData [relay.PingDataSize]byte
	pingSent time.Time // zero: no ping outstanding
	rtt      time.Duration
}

func (c *conn) stop() { c.stopOnce.Do(func() { close(c.stopping) }) }

// setReason records why the writer ended the connection (first wins).
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

// enqueue adds a frame to the send queue without blocking; it returns
// false (and the caller drops the frame) when the queue is full.
func (c *conn) enqueue(b []byte) bool {
	c.qmu.Lock()
	if c.queue.Len() >= c.s.queueSize {
		c.qmu.Unlock()
		return false
	}
	c.queue.Push(b)
	c.qmu.Unlock()
	select {
	case c.qsig <- struct{}{}:
	default:
	}
	return true
}

// sendCtl queues a control frame without blocking; it is dropped if the
// control queue is full.
func (c *conn) sendCtl(b []byte) {
	select {
	case c.ctl <- b:
	default:
	}
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
				c.log.Debug("client message too large", "err", err)
				return DisconnectTooLarge
			case errors.Is(err, ws.ErrProtocol):
				c.log.Debug("client websocket protocol error", "err", err)
				return DisconnectProtocol
			}
			select {
			case <-c.stopping:
				return DisconnectShutdown
			default:
			}
			return DisconnectClosed
		}
		c.lastRecv.Store(time.Now().UnixNano())
		if op != ws.OpBinary {
			c.log.Debug("client sent a text message; ignored")
			continue
		}
		f, _, err := relay.ParseFrame(msg)
		if err != nil {
			c.log.Debug("bad frame from client", "err", err)
			return DisconnectProtocol
		}
		switch f.Type {
		case relay.FrameClientToRelayDatagram, relay.FrameClientToRelayDatagramBatch:
			if !s.forward(c, &f) {
				c.log.Debug("datagram to an invalid endpoint id")
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
			}
			c.mu.Unlock()
		default:
			c.log.Debug("frame not allowed from a client", "frame", f.Type.String())
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
		s.m.DatagramDrops.WithLabelValues(DropNoDestination).Inc()
		return true
	}
	out := relay.Frame{Type: relay.FrameRelayToClientDatagram, Key: c.ep, ECN: f.ECN, SegmentSize: f.SegmentSize, Contents: f.Contents}
	if f.SegmentSize != 0 {
		out.Type = relay.FrameRelayToClientDatagramBatch
	}
	b := relay.AppendFrame(bufpool.Get(out.EncodedLen()), &out)
	if !dst.enqueue(b) {
		bufpool.Put(b)
		s.m.DatagramDrops.WithLabelValues(DropQueueFull).Inc()
		return true
	}
	if _, ok := c.sentTo[dst.ep]; !ok {
		c.sentTo[dst.ep] = struct{}{}
	}
	return true
}

// writeLoop writes queued frames in batches (one write per batch, bounded
// by the write timeout), and runs the keepalive: a Ping when nothing was
// received for the ping interval (16–20 s), and a disconnect
// when its Pong is late (3 × RTT in [0.5 s, 5 s], 5 s before a sample).
func (c *conn) writeLoop() {
	s := c.s
	batch := make([][]byte, 0, maxWriteBatch)
	interval := func() time.Duration {
		return s.pingInterval + time.Duration(mrand.Int64N(int64(s.pingJitter)+1))
	}
	pingT := time.NewTimer(interval())
	defer pingT.Stop()
	pongT := time.NewTimer(time.Hour)
	pongT.Stop()
	defer pongT.Stop()
	datagrams := s.m.DatagramsForwarded
	bytesF := s.m.BytesForwarded
	for {
		select {
		case <-c.done:
			return
		case <-c.stopping:
			rf := relay.Frame{Type: relay.FrameRestarting, ReconnectIn: restartReconnectIn, TryFor: restartTryFor}
			c.wc.WriteMessage(ws.OpBinary, relay.AppendFrame(nil, &rf), time.Now().Add(s.writeTimeout))
			c.wc.WriteClose(1012, "restarting")
			c.setReason(DisconnectShutdown)
			c.nc.Close()
			return
		case <-c.qsig:
		case b := <-c.ctl:
			batch = append(batch, b)
		case <-c.wc.ControlPending():
			// The client's WebSocket ping: answered here, never by the
			// reader, so a client that stops reading cannot stall reads.
			if err := c.wc.FlushControl(time.Now().Add(s.writeTimeout)); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					c.setReason(DisconnectWriteTimeout)
					c.nc.Close()
				}
				return
			}
			continue
		case <-pingT.C:
			idle := time.Since(time.Unix(0, c.lastRecv.Load()))
			if idle < s.pingInterval {
				pingT.Reset(interval() - idle)
				continue
			}
			p := relay.Frame{Type: relay.FramePing}
			rand.Read(p.Data[:])
			c.mu.Lock()
			outstanding := !c.pingSent.IsZero()
			if !outstanding {
				c.pingData = p.Data
				c.pingSent = time.Now()
			}
			rtt := c.rtt
			c.mu.Unlock()
			pingT.Reset(interval())
			if outstanding {
				continue
			}
			s.m.PingsSent.Inc()
			pongT.Reset(pongTimeout(rtt))
			batch = append(batch, relay.AppendFrame(nil, &p))
		case <-pongT.C:
			c.mu.Lock()
			late := !c.pingSent.IsZero()
			c.mu.Unlock()
			if late {
				c.setReason(DisconnectPongTimeout)
				c.nc.Close()
				return
			}
			continue
		}
		size := 0
		for _, b := range batch {
			size += len(b)
		}
	drainCtl:
		for len(batch) < maxWriteBatch {
			select {
			case b := <-c.ctl:
				batch = append(batch, b)
				size += len(b)
			default:
				break drainCtl
			}
		}
		c.qmu.Lock()
		for len(batch) < maxWriteBatch && size < maxWriteBytes {
			b, ok := c.queue.Pop()
			if !ok {
				break
			}
			batch = append(batch, b)
			size += len(b)
		}
		more := c.queue.Len() > 0
		c.qmu.Unlock()
		if more {
			// Come back for the rest after this write.
			select {
			case c.qsig <- struct{}{}:
			default:
			}
		}
		if len(batch) == 0 {
			continue
		}
		err := c.wc.WriteMessages(ws.OpBinary, batch, time.Now().Add(s.writeTimeout))
		for i, b := range batch {
			if isDatagram(b) && err == nil {
				datagrams.Inc()
				hl := 1 + key.Size + 1
				if b[0] == byte(relay.FrameRelayToClientDatagramBatch) {
					hl += 2
				}
				bytesF.Add(float64(len(b) - hl))
			}
			bufpool.Put(b)
			batch[i] = nil
		}
		batch = batch[:0]
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				// The reader answered the client's close, or the
				// connection is going away: not a write failure.
				return
			}
			c.log.Debug("write to client failed", "err", err)
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
	// mu guards byID. Lock order: registry.mu, then conn.mu is never taken
	// while holding it; notifications are non-blocking channel sends.
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
