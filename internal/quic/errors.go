package quic

import (
	"fmt"
	"net"
)

// TransportErrorCode is a QUIC transport error code (RFC 9000 §20.1).
type TransportErrorCode uint64

// The transport error codes of RFC 9000 §20.1. TLS alerts map to
// CryptoError + alert.
const (
	NoError                 TransportErrorCode = 0x00
	InternalError           TransportErrorCode = 0x01
	ConnectionRefused       TransportErrorCode = 0x02
	FlowControlError        TransportErrorCode = 0x03
	StreamLimitError        TransportErrorCode = 0x04
	StreamStateError        TransportErrorCode = 0x05
	FinalSizeError          TransportErrorCode = 0x06
	FrameEncodingError      TransportErrorCode = 0x07
	TransportParameterError TransportErrorCode = 0x08
	ConnectionIDLimitError  TransportErrorCode = 0x09
	ProtocolViolation       TransportErrorCode = 0x0a
	InvalidToken            TransportErrorCode = 0x0b
	ApplicationErrorCode    TransportErrorCode = 0x0c
	CryptoBufferExceeded    TransportErrorCode = 0x0d
	KeyUpdateError          TransportErrorCode = 0x0e
	AEADLimitReached        TransportErrorCode = 0x0f
	NoViablePath            TransportErrorCode = 0x10
	CryptoError             TransportErrorCode = 0x0100 // + TLS alert, up to 0x01ff
)

func (c TransportErrorCode) String() string {
	names := [...]string{"NO_ERROR", "INTERNAL_ERROR", "CONNECTION_REFUSED", "FLOW_CONTROL_ERROR",
		"STREAM_LIMIT_ERROR", "STREAM_STATE_ERROR", "FINAL_SIZE_ERROR", "FRAME_ENCODING_ERROR",
		"TRANSPORT_PARAMETER_ERROR", "CONNECTION_ID_LIMIT_ERROR", "PROTOCOL_VIOLATION", "INVALID_TOKEN",
		"APPLICATION_ERROR", "CRYPTO_BUFFER_EXCEEDED", "KEY_UPDATE_ERROR", "AEAD_LIMIT_REACHED", "NO_VIABLE_PATH"}
	if int(c) < len(names) {
		return names[c]
	}
	if c >= CryptoError && c <= CryptoError+0xff {
		return fmt.Sprintf("CRYPTO_ERROR(alert %d)", uint64(c-CryptoError))
	}
	return fmt.Sprintf("transport error 0x%x", uint64(c))
}

// TransportError is a connection closed with a transport error code, by
// us (Remote false) or by the peer (Remote true). FrameType is the frame
// that caused it, zero if unknown.
type TransportError struct {
	Code      TransportErrorCode
	FrameType uint64
	Reason    string
	Remote    bool
}

func (e *TransportError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	if e.Reason == "" {
		return fmt.Sprintf("quic: %s transport error %s", who, e.Code)
	}
	return fmt.Sprintf("quic: %s transport error %s: %s", who, e.Code, e.Reason)
}

// errf builds a local TransportError.
func errf(code TransportErrorCode, format string, args ...any) *TransportError {
	return &TransportError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// ApplicationError is a connection closed by an application with
// CONNECTION_CLOSE of type 0x1d: by us (Remote false) or the peer.
type ApplicationError struct {
	Code   uint64
	Reason string
	Remote bool
}

func (e *ApplicationError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	if e.Reason == "" {
		return fmt.Sprintf("quic: %s application error 0x%x", who, e.Code)
	}
	return fmt.Sprintf("quic: %s application error 0x%x: %s", who, e.Code, e.Reason)
}

// Is makes a locally closed connection's error match net.ErrClosed.
func (e *ApplicationError) Is(target error) bool { return !e.Remote && target == net.ErrClosed }

// IdleTimeoutError is a connection that heard nothing from the peer for
// the idle timeout (or did not complete its handshake in time).
type IdleTimeoutError struct{ Handshake bool }

func (e *IdleTimeoutError) Error() string {
	if e.Handshake {
		return "quic: handshake timed out"
	}
	return "quic: idle timeout"
}

// Timeout reports true: the error is a timeout.
func (e *IdleTimeoutError) Timeout() bool { return true }

// Temporary reports false.
func (e *IdleTimeoutError) Temporary() bool { return false }

// StatelessResetError is a connection the peer ended with a stateless
// reset: it lost the connection's state.
type StatelessResetError struct{}

func (StatelessResetError) Error() string { return "quic: stateless reset by the peer" }
