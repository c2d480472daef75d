package transport

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/key"
)

type timeT = time.Time

// sendBatch is the most one GSO system call carries: the segments of a
// UDP GSO send form one IP datagram of at most 64 KiB (with 1472-byte
// segments, 44 of them; the kernel also caps the count at 64).
const sendBatch = 65000

var sendBufPool = sync.Pool{New: func() any { b := make([]byte, sendBatch); return &b }}

// Conn is a QUIC connection run by a Transport.
type Conn struct {
	// Set at creation, then read-only.
	t         *Transport
	handshake chan struct{} // closed when the handshake completes or the connection fails
	done      chan struct{} // closed when the connection is closed
	acceptSig chan struct{} // the peer opened a bidirectional stream
	acceptUni chan struct{} // the peer opened a unidirectional stream
	openSig   chan struct{} // stream credit grew
	dgramSig  chan struct{} // a datagram arrived

	// Transport.mu guards ids: the connection ids routed to this Conn.
	ids []quic.ConnectionID

	// mu guards the following.
	mu            sync.Mutex
	core          *quic.Conn
	timer         *time.Timer
	timerAt       time.Time
	firedAt       time.Time // the deadline the timer last ran for
	streams       map[quic.StreamID]*Stream
	inBatch       bool        // owned by the read loop: in its touched list
	flushing      bool        // a goroutine is in flushLocked (it may have released mu)
	out           [1]Datagram // owned by the flushing goroutine
	handshakeSeen bool
	doneSeen      bool
	accepted      bool // server: handed to Accept
	err           error
}

func newConn(t *Transport) *Conn {
	return &Conn{
		t:         t,
		handshake: make(chan struct{}),
		done:      make(chan struct{}),
		acceptSig: make(chan struct{}, 1),
		acceptUni: make(chan struct{}, 1),
		openSig:   make(chan struct{}, 1),
		dgramSig:  make(chan struct{}, 1),
		streams:   make(map[quic.StreamID]*Stream),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// afterInputLocked runs after the core changed: it sends what the core
// has to send, wakes waiters and re-arms the timer. It may release and
// retake mu while it writes to the socket (see flushLocked).
func (c *Conn) afterInputLocked() {
	c.flushLocked()
	c.eventsLocked()
	c.armTimerLocked()
}

// flushLocked sends every datagram the core has ready, in GSO batches.
// It builds each batch under mu but writes it with mu released, so
// stream readers and writers, the timer and the read loop are not held
// up by the system call. One goroutine flushes at a time, which keeps
// packets on the wire in packet-number order: a caller that finds a
// flush under way returns at once, as the flusher builds batches until
// the core has nothing left, including whatever the caller added.
func (c *Conn) flushLocked() {
	if c.flushing {
		return
	}
	c.flushing = true
	bp := sendBufPool.Get().(*[]byte)
	buf := *bp
	for {
		n, seg, to := c.core.Send(timeNow(), buf, 64)
		if n == 0 {
			break
		}
		c.out[0] = Datagram{Buf: buf, N: n, Addr: to, Segment: seg}
		c.mu.Unlock()
		err := c.t.sock.WriteBatch(c.out[:])
		c.mu.Lock()
		if err != nil {
			c.t.log.Debug("socket write failed", "err", err)
			break
		}
		segs := 1
		if seg > 0 {
			segs = (n + seg - 1) / seg
		}
		c.t.m.DatagramsSent.Add(float64(segs))
		c.t.m.BytesSent.Add(float64(n))
	}
	c.flushing = false
	sendBufPool.Put(bp)
}

// eventsLocked turns core events into wake-ups.
func (c *Conn) eventsLocked() {
	for {
		e, ok := c.core.PollEvent()
		if !ok {
			break
		}
		switch e.Kind {
		case quic.EventHandshakeDone:
			if !c.handshakeSeen {
				c.handshakeSeen = true
				close(c.handshake)
				side := "dialed"
				incoming := !c.core.IsClient()
				if incoming {
					side = "accepted"
				}
				c.t.m.Connections.WithLabelValues(side).Inc()
				if incoming && !c.accepted {
					c.accepted = true
					select {
					case c.t.acceptCh <- c:
					default:
						c.core.Close(timeNow(), quic.ConnectionRefused, "accept queue full", false)
					}
				}
			}
		case quic.EventStreamOpened:
			if e.Stream.IsUni() {
				signal(c.acceptUni)
			} else {
				signal(c.acceptSig)
			}
		case quic.EventStreamReadable:
			if s := c.streams[e.Stream]; s != nil {
				signal(s.readSig)
			}
		case quic.EventStreamWritable:
			if s := c.streams[e.Stream]; s != nil {
				signal(s.writeSig)
				if s.stopped != nil {
					if _, stop := c.core.StreamStopped(e.Stream); stop {
						s.closeStoppedLocked()
					}
				}
			}
		case quic.EventStreamFinished:
			if s := c.streams[e.Stream]; s != nil {
				s.closeStoppedLocked()
			}
			delete(c.streams, e.Stream)
		case quic.EventStreamsAvailable:
			signal(c.openSig)
		case quic.EventDatagram:
			signal(c.dgramSig)
		case quic.EventClosed:
			if !c.doneSeen {
				c.doneSeen = true
				c.err = c.core.Err()
				c.t.m.Closed.WithLabelValues(closeHow(c.err)).Inc()
				if !c.handshakeSeen {
					c.handshakeSeen = true
					close(c.handshake)
				}
				for _, s := range c.streams {
					s.closeStoppedLocked()
				}
				close(c.done)
			}
		}
	}
	if c.core.Drained() {
		c.stopTimerLocked()
		c.t.forget(c)
	}
}

// armTimerLocked points the timer at the core's next deadline.
func (c *Conn) armTimerLocked() {
	at := c.core.Timeout()
	if at.IsZero() {
		c.stopTimerLocked()
		return
	}
	if at.Equal(c.timerAt) && c.timer != nil {
		return
	}
	c.timerAt = at
	d := time.Until(at)
	if !c.firedAt.IsZero() && !at.After(c.firedAt) && d < time.Millisecond {
		// The deadline did not move although its timer ran: whatever is
		// due cannot happen yet (e.g. blocked by the anti-amplification
		// limit). Do not spin.
		d = time.Millisecond
	}
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.onTimer)
		return
	}
	c.timer.Reset(d)
}

func (c *Conn) stopTimerLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timerAt = time.Time{}
	}
}

func (c *Conn) stopTimer() {
	c.mu.Lock()
	c.stopTimerLocked()
	c.mu.Unlock()
}

func (c *Conn) onTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timerAt = time.Time{}
	now := timeNow()
	if at := c.core.Timeout(); !at.IsZero() && !now.Before(at) {
		c.core.HandleTimeout(now)
		c.firedAt = at
	}
	c.afterInputLocked()
}

// closeNow closes the connection with an application code.
func (c *Conn) closeNow(code uint64, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.core.Close(timeNow(), quic.TransportErrorCode(code), reason, true)
	c.afterInputLocked()
}

// Close closes the connection with an application error code and reason
// (CONNECTION_CLOSE 0x1d); the peer sees them. It does not wait for the
// peer. Later calls do nothing.
func (c *Conn) Close(code uint64, reason string) error {
	c.closeNow(code, reason)
	return nil
}

// Done is closed when the connection is closed; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection closed: *ApplicationError, *TransportError,
// *IdleTimeoutError, ...; nil while open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// RemoteKey is the peer's authenticated key (its EndpointID).
func (c *Conn) RemoteKey() key.PublicKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.core.PeerKey()
}

// ALPN is the negotiated application protocol.
func (c *Conn) ALPN() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.core.ALPN()
}

// EarlyDataAccepted reports whether the server accepted the 0-RTT data of
// a DialEarly connection; meaningful once HandshakeComplete.
func (c *Conn) EarlyDataAccepted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.core.EarlyDataAccepted()
}

// Stats returns the connection's counters and path figures.
func (c *Conn) Stats() quic.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.core.Stats()
}

// HandshakeComplete is closed when the handshake completed or failed.
func (c *Conn) HandshakeComplete() <-chan struct{} { return c.handshake }

// RemoteAddr is the peer's address on the current path.
func (c *Conn) RemoteAddr() netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.core.RemoteAddr()
}

// connErrLocked returns the error for an operation on a closed connection.
func (c *Conn) connErrLocked() error {
	if c.err != nil {
		return c.err
	}
	if err := c.core.Err(); err != nil {
		return err
	}
	return nil
}

// wait blocks until sig fires, the connection closes, ctx ends, or the
// deadline (if not zero) passes.
func (c *Conn) wait(ctx context.Context, sig chan struct{}, deadline time.Time) error {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return errDeadline
		}
		tm := time.NewTimer(d)
		defer tm.Stop()
		timeout = tm.C
	}
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	select {
	case <-sig:
		return nil
	case <-c.done:
		return nil // the caller finds the error
	case <-ctxDone:
		return ctx.Err()
	case <-timeout:
		return errDeadline
	}
}

var errDeadline = os.ErrDeadlineExceeded

// closeHow classifies a connection's end for the Closed metric.
func closeHow(err error) string {
	var ae *quic.ApplicationError
	var te *quic.TransportError
	var ie *quic.IdleTimeoutError
	var sr *quic.StatelessResetError
	switch {
	case errors.As(err, &ae):
		if ae.Remote {
			return "remote"
		}
		return "local"
	case errors.As(err, &ie):
		return "idle"
	case errors.As(err, &sr):
		return "reset"
	case errors.As(err, &te) && te.Remote && te.Code == quic.NoError:
		return "remote"
	}
	return "error"
}
