package iroh

import (
	"github.com/quic-go/quic-go"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// EndpointID is the public key that names an endpoint.
type EndpointID = key.PublicKey

// SecretKey is an endpoint's secret Ed25519 key.
type SecretKey = key.SecretKey

// EndpointAddr is an EndpointID with the addresses it may be reached at.
type EndpointAddr = endpointaddr.Addr

// RelayURL is the normalized URL of a relay server.
type RelayURL = endpointaddr.RelayURL

// Stream is a bidirectional QUIC stream: Read, Write, Close (finishes the
// send direction), CancelRead/CancelWrite (reset with a code) and
// deadlines.
type Stream = quic.Stream

// SendStream is the sending half of a unidirectional stream.
type SendStream = quic.SendStream

// ReceiveStream is the receiving half of a unidirectional stream.
type ReceiveStream = quic.ReceiveStream

// ApplicationError is returned when a connection was closed with an
// application error code (Connection.Close).
type ApplicationError = quic.ApplicationError

// StreamError is returned when a stream was reset or stopped with a code.
type StreamError = quic.StreamError

// NewSecretKey returns a new random secret key.
func NewSecretKey() SecretKey { return key.NewSecretKey() }
