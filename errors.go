package iroh

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/iroh-go/iroh/internal/quic"
)

// ApplicationError is why a connection ended when an application closed
// it with Connection.Close: the code and reason it gave, and whether the
// peer (Remote) or we closed it. A locally closed connection's error
// matches net.ErrClosed with errors.Is.
type ApplicationError struct {
	Code   uint64
	Reason string
	Remote bool
}

func (e *ApplicationError) Error() string {
	who := "us"
	if e.Remote {
		who = "the peer"
	}
	if e.Reason == "" {
		return fmt.Sprintf("iroh: connection closed by %s with code %d", who, e.Code)
	}
	return fmt.Sprintf("iroh: connection closed by %s with code %d: %s", who, e.Code, e.Reason)
}

// Is makes a locally closed connection's error match net.ErrClosed.
func (e *ApplicationError) Is(target error) bool { return !e.Remote && target == net.ErrClosed }

// TransportError is why a connection ended when QUIC itself closed it: a
// protocol violation, a refused handshake (TLS alerts are codes 0x100 to
// 0x1ff), or the peer closing without an application code. Remote says
// whether the peer sent it.
type TransportError struct {
	Code   uint64
	Reason string
	Remote bool
}

func (e *TransportError) Error() string {
	who := "local"
	if e.Remote {
		who = "the peer's"
	}
	s := fmt.Sprintf("iroh: %s QUIC error %s", who, quic.TransportErrorCode(e.Code))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// TLSAlert returns the TLS alert of a handshake refusal and true, or false
// if the error is not one.
func (e *TransportError) TLSAlert() (uint8, bool) {
	if e.Code >= 0x100 && e.Code <= 0x1ff {
		return uint8(e.Code - 0x100), true
	}
	return 0, false
}

// TimeoutError is why a connection ended when nothing was heard from the
// peer for the idle timeout, or the handshake did not complete in time
// (Handshake). It is a net.Error with Timeout() true.
type TimeoutError struct{ Handshake bool }

func (e *TimeoutError) Error() string {
	if e.Handshake {
		return "iroh: handshake timed out"
	}
	return "iroh: connection idle timeout"
}

// Timeout reports true.
func (e *TimeoutError) Timeout() bool { return true }

// Temporary reports false.
func (e *TimeoutError) Temporary() bool { return false }

// ErrConnectionReset is why a connection ended when the peer answered
// with a stateless reset: it no longer knows the connection (it
// restarted, or closed long ago).
var ErrConnectionReset = errors.New("iroh: connection reset by the peer (stateless reset)")

// StreamError is returned by a stream's Read after the peer reset the
// stream (RESET_STREAM), or by its Write after the peer asked it to stop
// (STOP_SENDING, Stopped), with the peer's code. Remote is false for
// the errors of our own CancelRead/CancelWrite.
type StreamError struct {
	StreamID int64
	Code     uint64
	Remote   bool
	Stopped  bool
}

func (e *StreamError) Error() string {
	what := "reset"
	if e.Stopped {
		what = "stopped"
	}
	who := "locally"
	if e.Remote {
		who = "by the peer"
	}
	return fmt.Sprintf("iroh: stream %d %s %s with code %d", e.StreamID, what, who, e.Code)
}

// publicError turns the QUIC stack's errors into the root package's.
func publicError(err error, stream int64) error {
	if err == nil || err == io.EOF {
		return err
	}
	var ae *quic.ApplicationError
	var te *quic.TransportError
	var ie *quic.IdleTimeoutError
	var sr *quic.StatelessResetError
	var se *quic.StreamResetError
	switch {
	case errors.As(err, &ae):
		return &ApplicationError{Code: ae.Code, Reason: ae.Reason, Remote: ae.Remote}
	case errors.As(err, &te):
		return &TransportError{Code: uint64(te.Code), Reason: te.Reason, Remote: te.Remote}
	case errors.As(err, &ie):
		return &TimeoutError{Handshake: ie.Handshake}
	case errors.As(err, &sr):
		return ErrConnectionReset
	case errors.As(err, &se):
		return &StreamError{StreamID: stream, Code: se.Code, Remote: se.Remote, Stopped: se.Stop}
	}
	return err
}
