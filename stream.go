package iroh

import (
	"context"
	"sync"
	"time"

	"github.com/iroh-go/iroh/internal/quic/transport"
)

// Stream is a bidirectional QUIC stream: an io.Reader, io.Writer and
// io.Closer. Close finishes the sending half (the peer reads io.EOF after
// the data); CancelWrite and CancelRead abandon a half with an application
// code the peer sees as a *StreamError. Read returns io.EOF after the
// peer's FIN, a *StreamError if the peer reset the stream, or the
// connection's error (*ApplicationError, *TransportError, *TimeoutError)
// once it closed. A Stream is safe for one reader and one writer at a
// time, concurrently.
type Stream struct {
	s       *transport.Stream
	ctxOnce sync.Once
	ctx     context.Context
}

// Read reads data the peer sent.
func (s *Stream) Read(p []byte) (int, error) {
	n, err := s.s.Read(p)
	if err != nil {
		err = publicError(err, s.StreamID())
	}
	return n, err
}

// Write writes p, blocking while the stream's send buffer is full.
func (s *Stream) Write(p []byte) (int, error) {
	n, err := s.s.Write(p)
	if err != nil {
		err = publicError(err, s.StreamID())
	}
	return n, err
}

// Close finishes the sending half after the data written so far. Reading
// is unaffected.
func (s *Stream) Close() error { return publicError(s.s.Close(), s.StreamID()) }

// CancelWrite abandons the sending half (RESET_STREAM with code): data
// not yet delivered is dropped.
func (s *Stream) CancelWrite(code uint64) { s.s.CancelWrite(code) }

// CancelRead abandons the receiving half (STOP_SENDING with code): the
// peer is asked to stop sending and what arrives is dropped.
func (s *Stream) CancelRead(code uint64) { s.s.CloseRead(code) }

// SetDeadline sets the read and write deadlines.
func (s *Stream) SetDeadline(t time.Time) error { return s.s.SetDeadline(t) }

// SetReadDeadline sets when a blocked Read gives up with an error
// matching os.ErrDeadlineExceeded (zero: never).
func (s *Stream) SetReadDeadline(t time.Time) error { return s.s.SetReadDeadline(t) }

// SetWriteDeadline sets when a blocked Write gives up (zero: never).
func (s *Stream) SetWriteDeadline(t time.Time) error { return s.s.SetWriteDeadline(t) }

// StreamID returns the stream's QUIC stream id.
func (s *Stream) StreamID() int64 { return int64(s.s.ID()) }

// Context is done when the peer asks us to stop sending (STOP_SENDING),
// the stream is finished both ways, or the connection closes: a writer
// that writes only now and then learns that nobody reads any more.
func (s *Stream) Context() context.Context {
	s.ctxOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.ctx = ctx
		stopped := s.s.Stopped()
		go func() { <-stopped; cancel() }() // ends with the stream or connection
	})
	return s.ctx
}

// SendStream is the sending half of a unidirectional stream (see Stream
// for the meaning of each method).
type SendStream struct{ s *Stream }

// Write writes p, blocking while the stream's send buffer is full.
func (s *SendStream) Write(p []byte) (int, error) { return s.s.Write(p) }

// Close finishes the stream after the data written so far.
func (s *SendStream) Close() error { return s.s.Close() }

// CancelWrite abandons the stream with code (RESET_STREAM).
func (s *SendStream) CancelWrite(code uint64) { s.s.CancelWrite(code) }

// SetWriteDeadline sets when a blocked Write gives up (zero: never).
func (s *SendStream) SetWriteDeadline(t time.Time) error { return s.s.SetWriteDeadline(t) }

// StreamID returns the stream's QUIC stream id.
func (s *SendStream) StreamID() int64 { return s.s.StreamID() }

// Context is done when the peer stops the stream, or the connection
// closes (see Stream.Context).
func (s *SendStream) Context() context.Context { return s.s.Context() }

// ReceiveStream is the receiving half of a unidirectional stream (see
// Stream for the meaning of each method).
type ReceiveStream struct{ s *Stream }

// Read reads data the peer sent; io.EOF after its FIN.
func (s *ReceiveStream) Read(p []byte) (int, error) { return s.s.Read(p) }

// CancelRead abandons the stream with code (STOP_SENDING).
func (s *ReceiveStream) CancelRead(code uint64) { s.s.CancelRead(code) }

// SetReadDeadline sets when a blocked Read gives up (zero: never).
func (s *ReceiveStream) SetReadDeadline(t time.Time) error { return s.s.SetReadDeadline(t) }

// StreamID returns the stream's QUIC stream id.
func (s *ReceiveStream) StreamID() int64 { return s.s.StreamID() }
