// Package tlsconfig builds the TLS 1.3 configurations of iroh-go endpoints.
//
// Rust iroh authenticates QUIC peers with RFC 7250 raw public keys, which
// Go's crypto/tls does not implement. Until it does, iroh-go presents a
// self-signed X.509 certificate whose subject key is the endpoint's
// Ed25519 key, and each side checks that the peer's certificate key is the
// expected EndpointID (the dialer: the id it dialed; the acceptor: any id,
// which it learns). The TLS handshake's CertificateVerify proves possession
// of the key. This whole choice lives in this one file so that raw public
// keys can replace it later without touching anything else.
//
// The server name is the peer's id in base32hex under ".iroh.invalid", as
// in Rust iroh; the client session cache is keyed by it, which is what
// makes 0-RTT resumption per peer safe.
package tlsconfig

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/iroh-go/iroh/key"
)

// Certificate returns a self-signed certificate carrying sk's public key.
func Certificate(sk key.SecretKey) (tls.Certificate, error) {
	priv := sk.Ed25519()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "iroh-go endpoint " + sk.Public().ShortString()},
		DNSNames:     []string{sk.Public().SNIName()},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: create certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}

// PeerID returns the EndpointID carried by the peer's certificate in cs,
// checking that the certificate is self-signed by that key.
func PeerID(cs tls.ConnectionState) (key.PublicKey, error) {
	if len(cs.PeerCertificates) == 0 {
		return key.PublicKey{}, ErrNoCertificate
	}
	return certID(cs.PeerCertificates, true)
}

// VerifiedPeerID returns the EndpointID of a peer whose certificate was
// already checked by the VerifyConnection callback of Client or Server,
// that is of any connection whose handshake completed, without checking
// the signature again.
func VerifiedPeerID(cs tls.ConnectionState) (key.PublicKey, error) {
	if len(cs.PeerCertificates) == 0 {
		return key.PublicKey{}, ErrNoCertificate
	}
	return certID(cs.PeerCertificates, false)
}

// ErrNoCertificate reports a peer that presented no certificate.
var ErrNoCertificate = errors.New("tls: peer presented no certificate")

func certID(chain []*x509.Certificate, checkSig bool) (key.PublicKey, error) {
	if len(chain) != 1 {
		return key.PublicKey{}, fmt.Errorf("tls: peer sent %d certificates, want exactly 1", len(chain))
	}
	pub, ok := chain[0].PublicKey.(ed25519.PublicKey)
	if !ok {
		return key.PublicKey{}, fmt.Errorf("tls: peer certificate key is %T, want Ed25519", chain[0].PublicKey)
	}
	id, err := key.PublicKeyFromBytes(pub)
	if err != nil {
		return key.PublicKey{}, fmt.Errorf("tls: peer certificate key: %w", err)
	}
	c := chain[0]
	if !checkSig {
		return id, nil
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		return key.PublicKey{}, fmt.Errorf("tls: peer certificate is not self-signed by its key: %w", err)
	}
	return id, nil
}

// WrongPeerError reports a dialed endpoint that presented another id.
type WrongPeerError struct {
	Want, Got key.PublicKey
}

func (e *WrongPeerError) Error() string {
	return fmt.Sprintf("tls: dialed endpoint %s but the peer is %s", e.Want, e.Got)
}

// Client returns the configuration for dialing the endpoint remote, offering
// alpns in order of preference. cache may be nil (no 0-RTT resumption).
func Client(sk key.SecretKey, cert tls.Certificate, remote key.PublicKey, alpns []string, cache tls.ClientSessionCache) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{cert},
		ServerName:         remote.SNIName(),
		NextProtos:         slices.Clone(alpns),
		InsecureSkipVerify: true, // verification by key below, not by CA
		ClientSessionCache: cache,
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := PeerID(cs)
			if err != nil {
				return err
			}
			if id != remote {
				return &WrongPeerError{Want: remote, Got: id}
			}
			return nil
		},
	}
}

// Server returns the configuration for accepting connections. alpns is
// called for every handshake and returns the ALPNs served now; of the
// protocols the client offers, the first (in the client's order of
// preference) that is served is chosen. A client that offers none of them
// is refused with the no_application_protocol alert.
func Server(sk key.SecretKey, cert tls.Certificate, alpns func() []string) *tls.Config {
	base := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := PeerID(cs)
			return err
		},
	}
	// Every per-handshake clone must share one set of ticket keys, or
	// resumption (and so 0-RTT) would fail across connections.
	var tk [32]byte
	if _, err := rand.Read(tk[:]); err == nil {
		base.SetSessionTicketKeys([][32]byte{tk})
	}
	cfg := base.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		served := alpns()
		c := base.Clone()
		for _, p := range hello.SupportedProtos {
			if slices.Contains(served, p) {
				c.NextProtos = []string{p}
				return c, nil
			}
		}
		// No overlap: offering the served list makes crypto/tls send the
		// no_application_protocol alert.
		c.NextProtos = served
		if len(c.NextProtos) == 0 {
			c.NextProtos = []string{"\x00iroh-go-no-protocols"}
		}
		return c, nil
	}
	return cfg
}
