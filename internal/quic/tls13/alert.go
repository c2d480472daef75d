package tls13

import (
	"errors"
	"fmt"
)

// TLS alert descriptions (RFC 8446 §6, RFC 7250, RFC 7301) this package
// sends. In QUIC an alert is never sent as a record: it becomes the
// CONNECTION_CLOSE error code 0x100+alert (RFC 9001 §4.8).
const (
	AlertUnexpectedMessage      uint8 = 10
	AlertHandshakeFailure       uint8 = 40
	AlertBadCertificate         uint8 = 42
	AlertUnsupportedCertificate uint8 = 43
	AlertIllegalParameter       uint8 = 47
	AlertUnknownCA              uint8 = 48 // the peer's key is not the one dialed (rustls: UnknownIssuer)
	AlertDecodeError            uint8 = 50
	AlertDecryptError           uint8 = 51
	AlertProtocolVersion        uint8 = 70
	AlertInternalError          uint8 = 80
	AlertMissingExtension       uint8 = 109
	AlertUnsupportedExtension   uint8 = 110
	AlertCertificateRequired    uint8 = 116
	AlertNoApplicationProtocol  uint8 = 120
)

// AlertError is a handshake failure: the TLS alert the peer should see and
// the reason. Every error returned by Conn.Start and Conn.HandleData is an
// *AlertError; the QUIC core closes the connection with QUICCode.
type AlertError struct {
	Alert uint8
	Err   error
}

func (e *AlertError) Error() string { return e.Err.Error() }

func (e *AlertError) Unwrap() error { return e.Err }

// QUICCode is the QUIC CRYPTO_ERROR transport error code for the alert,
// 0x100 + alert (RFC 9001 §4.8); no_application_protocol is 0x178.
func (e *AlertError) QUICCode() uint64 { return 0x100 + uint64(e.Alert) }

// alertf builds an *AlertError whose message starts with "tls13: ".
func alertf(alert uint8, format string, args ...any) *AlertError {
	return &AlertError{Alert: alert, Err: fmt.Errorf("tls13: "+format, args...)}
}

// asAlert wraps err as an internal_error unless it already is an *AlertError.
func asAlert(err error) *AlertError {
	var ae *AlertError
	if errors.As(err, &ae) {
		return ae
	}
	return &AlertError{Alert: AlertInternalError, Err: fmt.Errorf("tls13: %w", err)}
}
