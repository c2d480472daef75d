package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/iroh-go/iroh/internal/quic"
)

// Stream is a QUIC stream: io.Reader, io.Writer and io.Closer (Close ends
// the sending half with a FIN). A Stream is safe for one reader and one
// writer at a time, concurrently.
type Stream struct {
	c        *Conn
	id       quic.StreamID
	readSig  chan struct{}
	writeSig chan struct{}

	readEOF bool // the reader saw the FIN (the core may forget the stream)
	// stopped is closed when the peer stops our sending half, the
	// stream is finished or the connection closes; made on demand
	// (Conn.mu guards it).
	stopped chan struct{}
	stopSet bool

	dmu           sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time
}

func (c *Conn) streamLocked(id quic.StreamID) *Stream {
	s := c.streams[id]
	if s == nil {
		s = &Stream{c: c, id: id, readSig: make(chan struct{}, 1), writeSig: make(chan struct{}, 1)}
		c.streams[id] = s
	}
	return s
}

// Stopped returns a channel that is closed when the peer asks us to stop
// sending (STOP_SENDING), the stream is done both ways, or the connection
// closes: a writer that only writes now and then learns that nobody
// reads any more.
func (s *Stream) Stopped() <-chan struct{} {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.stopped == nil {
		s.stopped = make(chan struct{})
		_, stop := c.core.StreamStopped(s.id)
		if stop || c.doneSeen || c.streams[s.id] != s {
			s.closeStoppedLocked()
		}
	}
	return s.stopped
}

// closeStoppedLocked closes the Stopped channel if it was made.
func (s *Stream) closeStoppedLocked() {
	if s.stopped != nil && !s.stopSet {
		s.stopSet = true
		close(s.stopped)
	}
}

// ID is the stream's QUIC id.
func (s *Stream) ID() quic.StreamID { return s.id }

// Read reads stream data; io.EOF after the peer's FIN, a
// *quic.StreamResetError if the peer reset the stream, the connection's
// error if it closed.
func (s *Stream) Read(p []byte) (int, error) {
	c := s.c
	for {
		c.mu.Lock()
		if s.readEOF {
			c.mu.Unlock()
			return 0, io.EOF
		}
		n, fin, err := c.core.StreamRead(timeNow(), s.id, p)
		if fin {
			s.readEOF = true
		}
		if n > 0 || fin || err != nil {
			if n > 0 {
				c.afterInputLocked() // window updates
			}
			c.mu.Unlock()
			if n > 0 {
				return n, nil
			}
			if fin {
				return 0, io.EOF
			}
			return 0, s.mapErr(err)
		}
		if err := c.connErrLocked(); err != nil {
			c.mu.Unlock()
			return 0, err
		}
		if len(p) == 0 {
			c.mu.Unlock()
			return 0, nil
		}
		c.mu.Unlock()
		s.dmu.Lock()
		dl := s.readDeadline
		s.dmu.Unlock()
		if err := c.wait(nil, s.readSig, dl); err != nil {
			return 0, err
		}
	}
}

// Write writes p, blocking while the stream's send buffer is full.
func (s *Stream) Write(p []byte) (int, error) {
	c := s.c
	total := 0
	for {
		c.mu.Lock()
		n, err := c.core.StreamWrite(s.id, p[total:])
		total += n
		if n > 0 {
			c.afterInputLocked()
		}
		if err != nil {
			c.mu.Unlock()
			return total, s.mapErr(err)
		}
		if total == len(p) {
			c.mu.Unlock()
			return total, nil
		}
		if err := c.connErrLocked(); err != nil {
			c.mu.Unlock()
			return total, err
		}
		c.mu.Unlock()
		s.dmu.Lock()
		dl := s.writeDeadline
		s.dmu.Unlock()
		if err := c.wait(nil, s.writeSig, dl); err != nil {
			return total, err
		}
	}
}

func (s *Stream) mapErr(err error) error {
	if errors.Is(err, quic.ErrUnknownStream) || errors.Is(err, quic.ErrStreamClosed) {
		if cerr := s.c.connErrLocked(); cerr != nil {
			return cerr
		}
		return net.ErrClosed
	}
	return err
}

// Close ends the sending half (FIN after the buffered data). Reading is
// unaffected.
func (s *Stream) Close() error {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.core.StreamClose(s.id); err != nil {
		return s.mapErr(err)
	}
	c.afterInputLocked()
	return nil
}

// CancelWrite abandons the sending half with an application error code
// (RESET_STREAM).
func (s *Stream) CancelWrite(code uint64) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.core.StreamReset(s.id, code)
	c.afterInputLocked()
}

// CloseRead abandons the receiving half with an application error code
// (STOP_SENDING): the peer stops sending, data is dropped.
func (s *Stream) CloseRead(code uint64) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.core.StreamStopSending(s.id, code)
	c.afterInputLocked()
}

// SetReadDeadline sets when a blocked Read gives up (zero: never).
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.dmu.Lock()
	s.readDeadline = t
	s.dmu.Unlock()
	signal(s.readSig)
	return nil
}

// SetWriteDeadline sets when a blocked Write gives up (zero: never).
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.dmu.Lock()
	s.writeDeadline = t
	s.dmu.Unlock()
	signal(s.writeSig)
	return nil
}

// SetDeadline sets both deadlines.
func (s *Stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

// OpenStream opens a bidirectional stream, waiting for the peer's stream
// credit if needed.
func (c *Conn) OpenStream(ctx context.Context) (*Stream, error) { return c.open(ctx, false) }

// OpenUniStream opens a unidirectional stream.
func (c *Conn) OpenUniStream(ctx context.Context) (*Stream, error) { return c.open(ctx, true) }

func (c *Conn) open(ctx context.Context, uni bool) (*Stream, error) {
	for {
		c.mu.Lock()
		if err := c.connErrLocked(); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		id, err := c.core.OpenStream(uni)
		if err == nil {
			s := c.streamLocked(id)
			c.mu.Unlock()
			signal(c.openSig) // another waiter may find credit too
			return s, nil
		}
		c.afterInputLocked() // STREAMS_BLOCKED
		c.mu.Unlock()
		if !errors.Is(err, quic.ErrStreamLimit) {
			return nil, err
		}
		if err := c.wait(ctx, c.openSig, time.Time{}); err != nil {
			return nil, err
		}
	}
}

// AcceptStream waits for a bidirectional stream the peer opened.
func (c *Conn) AcceptStream(ctx context.Context) (*Stream, error) { return c.accept(ctx, false) }

// AcceptUniStream waits for a unidirectional stream the peer opened.
func (c *Conn) AcceptUniStream(ctx context.Context) (*Stream, error) { return c.accept(ctx, true) }

func (c *Conn) accept(ctx context.Context, uni bool) (*Stream, error) {
	sig := c.acceptSig
	if uni {
		sig = c.acceptUni
	}
	for {
		c.mu.Lock()
		if id, ok := c.core.AcceptStream(uni); ok {
			s := c.streamLocked(id)
			c.mu.Unlock()
			signal(sig) // another accepter may find a stream too
			return s, nil
		}
		if err := c.connErrLocked(); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.mu.Unlock()
		if err := c.wait(ctx, sig, time.Time{}); err != nil {
			return nil, err
		}
	}
}

// SendDatagram sends p as an unreliable datagram (RFC 9221); it fails if
// the peer does not accept datagrams or p does not fit in one packet.
func (c *Conn) SendDatagram(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.connErrLocked(); err != nil {
		return err
	}
	if err := c.core.SendDatagram(p); err != nil {
		return err
	}
	c.afterInputLocked()
	return nil
}

// ReceiveDatagram waits for a datagram from the peer.
func (c *Conn) ReceiveDatagram(ctx context.Context) ([]byte, error) {
	for {
		c.mu.Lock()
		if p, ok := c.core.ReceiveDatagram(); ok {
			c.mu.Unlock()
			signal(c.dgramSig)
			return p, nil
		}
		if err := c.connErrLocked(); err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.mu.Unlock()
		if err := c.wait(ctx, c.dgramSig, time.Time{}); err != nil {
			return nil, err
		}
	}
}
