package protect

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// ErrInvalidToken is returned by TokenKey.Open for a token this endpoint
// did not seal (or sealed under another key), or whose contents are
// malformed.
var ErrInvalidToken = errors.New("protect: invalid address validation token")

// tokenNonceLen is the random nonce in front of each sealed token.
const tokenNonceLen = 12

// maxTokenCIDLen bounds connection IDs in tokens (as in QUIC v1).
const maxTokenCIDLen = 20

// TokenKey seals the address validation tokens a server hands out in
// Retry packets and NEW_TOKEN frames (RFC 9000 §8.1.2-8.1.3), so that
// only it can read them back: AES-256-GCM under a static key with a
// random nonce per token. It is safe for concurrent use.
type TokenKey struct {
	aead cipher.AEAD
}

// NewTokenKey returns a TokenKey for a 32-byte secret key; tokens survive
// restarts as long as the key does.
func NewTokenKey(key []byte) (*TokenKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("protect: token key of %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &TokenKey{aead: aead}, nil
}

// Token is what an address validation token says.
type Token struct {
	// Retry marks a token sent in a Retry packet (valid once, briefly);
	// otherwise it came in a NEW_TOKEN frame for a future connection.
	Retry bool
	// Issued is when the token was made (millisecond precision).
	Issued time.Time
	// Addr is the client address the token was issued to.
	Addr netip.AddrPort
	// OriginalDstCID and RetrySrcCID (Retry tokens only) are the client's
	// first Destination Connection ID and the Retry's Source Connection
	// ID, which the server echoes in its transport parameters.
	OriginalDstCID []byte
	RetrySrcCID    []byte
}

// Valid reports whether t may validate a client at from at time now:
// issued at most maxAge ago (and not in the future), to the same address
// (Retry tokens: IP and port; NEW_TOKEN tokens: IP only, since the port
// of a new connection differs).
func (t *Token) Valid(now time.Time, from netip.AddrPort, maxAge time.Duration) bool {
	age := now.Sub(t.Issued)
	if age < -time.Second || age > maxAge {
		return false
	}
	if t.Retry {
		return t.Addr == from
	}
	return t.Addr.Addr().Unmap() == from.Addr().Unmap()
}

// Seal returns the sealed token for t. It fails on connection IDs longer
// than 20 bytes or an invalid address.
func (k *TokenKey) Seal(t *Token) ([]byte, error) {
	if len(t.OriginalDstCID) > maxTokenCIDLen || len(t.RetrySrcCID) > maxTokenCIDLen {
		return nil, errors.New("protect: token connection ID longer than 20 bytes")
	}
	if !t.Addr.IsValid() {
		return nil, errors.New("protect: token without an address")
	}
	p := make([]byte, 0, 64)
	kind := byte(0)
	if t.Retry {
		kind = 1
	}
	p = append(p, kind)
	p = binary.BigEndian.AppendUint64(p, uint64(t.Issued.UnixMilli()))
	ip := t.Addr.Addr().AsSlice()
	p = append(append(p, byte(len(ip))), ip...)
	p = binary.BigEndian.AppendUint16(p, t.Addr.Port())
	p = append(append(p, byte(len(t.OriginalDstCID))), t.OriginalDstCID...)
	p = append(append(p, byte(len(t.RetrySrcCID))), t.RetrySrcCID...)
	out := make([]byte, tokenNonceLen, tokenNonceLen+len(p)+k.aead.Overhead())
	rand.Read(out)
	return k.aead.Seal(out, out[:tokenNonceLen], p, nil), nil
}

// Open authenticates and decodes a token sealed by Seal under the same
// key. Any failure is ErrInvalidToken.
func (k *TokenKey) Open(b []byte) (Token, error) {
	var t Token
	if len(b) < tokenNonceLen+k.aead.Overhead() {
		return t, ErrInvalidToken
	}
	p, err := k.aead.Open(nil, b[:tokenNonceLen], b[tokenNonceLen:], nil)
	if err != nil {
		return t, ErrInvalidToken
	}
	if len(p) < 1+8+1 || p[0] > 1 {
		return t, ErrInvalidToken
	}
	t.Retry = p[0] == 1
	t.Issued = time.UnixMilli(int64(binary.BigEndian.Uint64(p[1:9])))
	p = p[9:]
	ipLen := int(p[0])
	if (ipLen != 4 && ipLen != 16) || len(p) < 1+ipLen+2 {
		return t, ErrInvalidToken
	}
	ip, _ := netip.AddrFromSlice(p[1 : 1+ipLen])
	t.Addr = netip.AddrPortFrom(ip, binary.BigEndian.Uint16(p[1+ipLen:]))
	p = p[1+ipLen+2:]
	for _, dst := range []*[]byte{&t.OriginalDstCID, &t.RetrySrcCID} {
		if len(p) < 1 || int(p[0]) > maxTokenCIDLen || len(p) < 1+int(p[0]) {
			return t, ErrInvalidToken
		}
		*dst = p[1 : 1+int(p[0])]
		p = p[1+int(p[0]):]
	}
	if len(p) != 0 {
		return t, ErrInvalidToken
	}
	return t, nil
}
