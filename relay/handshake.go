package relay

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/iroh-go/iroh/key"
	"github.com/zeebo/blake3"
)

// Handshake constants (core.md §5.5).
const (
	// ChallengeDomain is the BLAKE3 derive_key context under which the
	// client signs the server's challenge.
	ChallengeDomain = "iroh-relay handshake v1 challenge signature"
	// ExporterLabel is the TLS exporter label of the header handshake.
	ExporterLabel = "iroh-relay handshake v1"
	// ClientAuthHeader carries the TLS-exporter proof on the upgrade request.
	ClientAuthHeader = "X-Iroh-Relay-Client-Auth-V1"
	// ProtocolV2 and ProtocolV1 are the WebSocket subprotocols; a server
	// picks the highest both support.
	ProtocolV2 = "iroh-relay-v2"
	ProtocolV1 = "iroh-relay-v1"
)

// Reasons a server gives in ServerDeniesAuth.
const (
	DenySignatureInvalid = "signature invalid"
	DenyNotAuthorized    = "not authorized"
)

// ErrBadSignature is wrapped when a ClientAuth signature does not verify.
var ErrBadSignature = errors.New("relay handshake: signature invalid")

// NewChallenge returns a ServerChallenge frame with 16 random bytes.
func NewChallenge() Frame {
	f := Frame{Type: FrameServerChallenge}
	rand.Read(f.Challenge[:])
	return f
}

// ChallengeMessage returns the 32 bytes a client signs for challenge:
// BLAKE3 derive_key(ChallengeDomain, challenge).
func ChallengeMessage(challenge [ChallengeSize]byte) [32]byte {
	var m [32]byte
	blake3.DeriveKey(ChallengeDomain, challenge[:], m[:])
	return m
}

// SignChallenge returns the ClientAuth frame answering challenge.
func SignChallenge(sk key.SecretKey, challenge [ChallengeSize]byte) Frame {
	m := ChallengeMessage(challenge)
	return Frame{Type: FrameClientAuth, Key: sk.Public(), Signature: sk.Sign(m[:])}
}

// VerifyClientAuth checks that f is a ClientAuth frame whose signature over
// challenge verifies under f.Key with strict Ed25519 rules (invalid points
// and small-order keys fail).
func VerifyClientAuth(f *Frame, challenge [ChallengeSize]byte) error {
	if f.Type != FrameClientAuth {
		return fmt.Errorf("relay handshake: got %s, want ClientAuth", f.Type)
	}
	m := ChallengeMessage(challenge)
	if !f.Key.Valid() || !f.Key.Verify(m[:], f.Signature) {
		return fmt.Errorf("%w (endpoint %s)", ErrBadSignature, f.Key.ShortString())
	}
	return nil
}

// ExportKeyingMaterialFunc is tls.ConnectionState.ExportKeyingMaterial.
type ExportKeyingMaterialFunc func(label string, context []byte, length int) ([]byte, error)

// KeyMaterialAuth is the TLS-exporter proof of the header handshake
// (KeyMaterialClientAuth in iroh-relay): the client's key, its signature over
// the first 16 exported bytes, and the last 16 exported bytes in clear.
type KeyMaterialAuth struct {
	Key       key.PublicKey
	Signature key.Signature
	Suffix    [16]byte
}

// keyMaterialLen is the postcard length: key, 0x40, signature, suffix.
const keyMaterialLen = key.Size + 1 + key.SignatureSize + 16

// NewKeyMaterialAuth exports 32 bytes with label ExporterLabel and the
// client's public key as context and signs the first 16.
func NewKeyMaterialAuth(sk key.SecretKey, export ExportKeyingMaterialFunc) (KeyMaterialAuth, error) {
	pk := sk.Public()
	m, err := export(ExporterLabel, pk[:], 32)
	if err != nil {
		return KeyMaterialAuth{}, fmt.Errorf("relay handshake: export keying material: %w", err)
	}
	a := KeyMaterialAuth{Key: pk, Signature: sk.Sign(m[:16])}
	copy(a.Suffix[:], m[16:32])
	return a, nil
}

// Append appends the postcard encoding of a to b.
func (a *KeyMaterialAuth) Append(b []byte) []byte {
	b = append(b, a.Key[:]...)
	b = append(b, key.SignatureSize)
	b = append(b, a.Signature[:]...)
	return append(b, a.Suffix[:]...)
}

// HeaderValue returns the value of ClientAuthHeader: base64url without
// padding of the postcard encoding.
func (a *KeyMaterialAuth) HeaderValue() string {
	return base64.RawURLEncoding.EncodeToString(a.Append(nil))
}

// ParseKeyMaterialAuth decodes the postcard encoding of a KeyMaterialAuth.
func ParseKeyMaterialAuth(b []byte) (KeyMaterialAuth, int, error) {
	var a KeyMaterialAuth
	if len(b) < keyMaterialLen {
		return a, 0, fmt.Errorf("relay client auth header: %d bytes, want %d", len(b), keyMaterialLen)
	}
	copy(a.Key[:], b)
	if b[key.Size] != key.SignatureSize {
		return KeyMaterialAuth{}, 0, fmt.Errorf("relay client auth header: signature length prefix %#x at offset 32, want 0x40", b[key.Size])
	}
	copy(a.Signature[:], b[key.Size+1:])
	copy(a.Suffix[:], b[key.Size+1+key.SignatureSize:])
	return a, keyMaterialLen, nil
}

// ParseKeyMaterialHeader decodes a ClientAuthHeader value; trailing bytes are
// an error.
func ParseKeyMaterialHeader(v string) (KeyMaterialAuth, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil {
		return KeyMaterialAuth{}, fmt.Errorf("relay client auth header: %w", err)
	}
	a, n, err := ParseKeyMaterialAuth(b)
	if err != nil {
		return a, err
	}
	if n != len(b) {
		return KeyMaterialAuth{}, fmt.Errorf("relay client auth header: %d trailing bytes", len(b)-n)
	}
	return a, nil
}

// Verify recomputes the export on the server's side of the same TLS
// connection and checks the suffix and the signature.
func (a *KeyMaterialAuth) Verify(export ExportKeyingMaterialFunc) error {
	m, err := export(ExporterLabel, a.Key[:], 32)
	if err != nil {
		return fmt.Errorf("relay handshake: export keying material: %w", err)
	}
	if [16]byte(m[16:32]) != a.Suffix {
		return errors.New("relay handshake: keying material suffix mismatch (TLS terminated in between?)")
	}
	if !a.Key.Valid() || !a.Key.Verify(m[:16], a.Signature) {
		return fmt.Errorf("%w (keying material, endpoint %s)", ErrBadSignature, a.Key.ShortString())
	}
	return nil
}
