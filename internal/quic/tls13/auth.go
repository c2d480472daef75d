package tls13

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"

	"github.com/iroh-go/iroh/key"
)

// ed25519SPKIPrefix is the DER SubjectPublicKeyInfo header of an Ed25519
// key (RFC 8410): the raw public key certificate is this plus the key.
var ed25519SPKIPrefix = []byte{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}

// SPKISize is the length of an Ed25519 SubjectPublicKeyInfo.
const SPKISize = 44

// AppendSPKI appends the 44-byte Ed25519 SubjectPublicKeyInfo of k.
func AppendSPKI(b []byte, k key.PublicKey) []byte {
	b = append(b, ed25519SPKIPrefix...)
	return append(b, k[:]...)
}

// ParseSPKI returns the key of an Ed25519 SubjectPublicKeyInfo; any other
// algorithm, length or an invalid point is an error that says which.
func ParseSPKI(b []byte) (key.PublicKey, error) {
	if len(b) != SPKISize || !bytes.Equal(b[:len(ed25519SPKIPrefix)], ed25519SPKIPrefix) {
		n := min(len(b), 16)
		return key.PublicKey{}, alertf(AlertUnsupportedCertificate,
			"certificate is not an Ed25519 SubjectPublicKeyInfo (%d bytes, starting %s)", len(b), hex.EncodeToString(b[:n]))
	}
	k, err := key.PublicKeyFromBytes(b[len(ed25519SPKIPrefix):])
	if err != nil {
		return key.PublicKey{}, alertf(AlertBadCertificate, "certificate key: %v", err)
	}
	return k, nil
}

// peerCertificate checks a Certificate message of raw public keys: empty
// context, exactly one entry, an Ed25519 SPKI.
func peerCertificate(msg []byte, who string) (key.PublicKey, error) {
	cm, err := parseCertificate(msg)
	if err != nil {
		return key.PublicKey{}, alertf(AlertDecodeError, "%s certificate: %v", who, err)
	}
	if len(cm.context) != 0 {
		return key.PublicKey{}, alertf(AlertIllegalParameter, "%s certificate has a request context of %d bytes, want none", who, len(cm.context))
	}
	switch len(cm.entries) {
	case 0:
		if who == "client" {
			return key.PublicKey{}, alertf(AlertCertificateRequired, "client sent no certificate")
		}
		return key.PublicKey{}, alertf(AlertBadCertificate, "server sent no certificate")
	case 1:
	default:
		return key.PublicKey{}, alertf(AlertBadCertificate, "%s sent a certificate chain of %d entries; a raw public key is exactly one", who, len(cm.entries))
	}
	k, err := ParseSPKI(cm.entries[0])
	if err != nil {
		ae := asAlert(err)
		ae.Err = prefixErr(who+" ", ae.Err)
		return key.PublicKey{}, ae
	}
	return k, nil
}

type prefixedError struct {
	prefix string
	err    error
}

func (e *prefixedError) Error() string {
	msg := e.err.Error()
	const p = "tls13: "
	if len(msg) >= len(p) && msg[:len(p)] == p {
		return p + e.prefix + msg[len(p):]
	}
	return e.prefix + msg
}

func (e *prefixedError) Unwrap() error { return e.err }

func prefixErr(prefix string, err error) error { return &prefixedError{prefix, err} }

// signedContent is what a CertificateVerify signs (RFC 8446 §4.4.3).
func signedContent(server bool, transcriptHash []byte) []byte {
	ctx := "TLS 1.3, client CertificateVerify"
	if server {
		ctx = "TLS 1.3, server CertificateVerify"
	}
	b := make([]byte, 0, 64+len(ctx)+1+len(transcriptHash))
	b = append(b, bytes.Repeat([]byte{0x20}, 64)...)
	b = append(b, ctx...)
	b = append(b, 0)
	return append(b, transcriptHash...)
}

// verifyPeerSignature checks a CertificateVerify from the peer.
func verifyPeerSignature(msg []byte, peer key.PublicKey, server bool, transcriptHash []byte) error {
	who := "client"
	if server {
		who = "server"
	}
	cv, err := parseCertificateVerify(msg)
	if err != nil {
		return alertf(AlertDecodeError, "%s certificate verify: %v", who, err)
	}
	if cv.algorithm != sigEd25519 {
		return alertf(AlertIllegalParameter, "%s signed with algorithm %#04x, want ed25519 (0x0807)", who, cv.algorithm)
	}
	sig, err := key.SignatureFromBytes(cv.signature)
	if err != nil {
		return alertf(AlertDecodeError, "%s signature of %d bytes, want 64", who, len(cv.signature))
	}
	if !peer.Verify(signedContent(server, transcriptHash), sig) {
		return alertf(AlertDecryptError, "%s CertificateVerify signature by %s does not verify", who, peer.ShortString())
	}
	return nil
}

// ourCertificate builds our Certificate and CertificateVerify messages;
// the signature covers the transcript including the Certificate.
func (c *Conn) appendCertificateFlight(flight []byte, server bool) ([]byte, error) {
	cert, err := (&certificateMsg{entries: [][]byte{AppendSPKI(nil, c.cfg.SecretKey.Public())}}).marshal()
	if err != nil {
		return nil, err
	}
	c.ts.add(cert)
	sig := c.cfg.SecretKey.Sign(signedContent(server, c.ts.sum(c.suite)))
	cv, err := (&certificateVerify{algorithm: sigEd25519, signature: sig[:]}).marshal()
	if err != nil {
		return nil, err
	}
	c.ts.add(cv)
	flight = append(flight, cert...)
	return append(flight, cv...), nil
}

// appendFinished builds our Finished with baseKey and adds it.
func (c *Conn) appendFinished(flight, baseKey []byte) ([]byte, error) {
	fin, err := (&finishedMsg{verifyData: finishedMAC(c.suite, baseKey, c.ts.sum(c.suite))}).marshal()
	if err != nil {
		return nil, err
	}
	c.ts.add(fin)
	return append(flight, fin...), nil
}

// checkFinished verifies the peer's Finished (in constant time) and adds it.
func (c *Conn) checkFinished(msg, baseKey []byte, who string) error {
	fm, err := parseFinished(msg)
	if err != nil {
		return alertf(AlertDecodeError, "%s finished: %v", who, err)
	}
	want := finishedMAC(c.suite, baseKey, c.ts.sum(c.suite))
	if !hmac.Equal(fm.verifyData, want) {
		return alertf(AlertDecryptError, "%s Finished does not match the transcript", who)
	}
	c.ts.add(msg)
	return nil
}
