package iroh

import (
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

// NewSecretKey returns a new random secret key.
func NewSecretKey() SecretKey { return key.NewSecretKey() }
