package key

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/edwards25519"
)

// Size is the length in bytes of a SecretKey, PublicKey or their encodings.
const Size = 32

// SignatureSize is the length in bytes of a Signature.
const SignatureSize = 64

var (
	// base32 as Rust's data_encoding::BASE32_NOPAD, lower-cased for display.
	b32Std = base32.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567").WithPadding(base32.NoPadding)
	// z-base-32, used by pkarr for DNS names.
	b32Z = base32.NewEncoding("ybndrfg8ejkmcpqxot1uwisza345h769").WithPadding(base32.NoPadding)
	// base32hex lower-case ("DNSSEC" alphabet), used in TLS server names.
	b32Hex = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)
)

// SNISuffix is the domain under which the TLS server name of an endpoint
// lives: "<base32hex id>.iroh.invalid".
const SNISuffix = ".iroh.invalid"

// ErrInvalidPoint reports 32 bytes that are not the encoding of a point on
// the Ed25519 curve.
var ErrInvalidPoint = errors.New("key: not a valid Ed25519 point")

// PublicKey is an Ed25519 public key; as an EndpointID it names an endpoint.
// The zero value is invalid.
type PublicKey [Size]byte

// SecretKey is an Ed25519 seed (RFC 8032 private key). Any 32 bytes are a
// valid secret key. Its String method never prints the key material.
type SecretKey [Size]byte

// Signature is a 64-byte Ed25519 signature (R || S).
type Signature [SignatureSize]byte

// ParseError says which text failed to parse as a key and why.
type ParseError struct {
	What  string // "public key" or "secret key"
	Input string // the input, shortened to 80 characters
	Msg   string
}

func (e *ParseError) Error() string {
	in := e.Input
	if len(in) > 80 {
		in = in[:77] + "..."
	}
	return fmt.Sprintf("parse %s %q: %s", e.What, in, e.Msg)
}

// NewSecretKey returns a new random secret key read from crypto/rand.
func NewSecretKey() SecretKey {
	var s SecretKey
	if _, err := io.ReadFull(rand.Reader, s[:]); err != nil {
		panic("key: crypto/rand failed: " + err.Error())
	}
	return s
}

// SecretKeyFromBytes returns the secret key with the given 32 seed bytes.
func SecretKeyFromBytes(b []byte) (SecretKey, error) {
	var s SecretKey
	if len(b) != Size {
		return s, fmt.Errorf("key: secret key is %d bytes, want %d", len(b), Size)
	}
	copy(s[:], b)
	return s, nil
}

// ParseSecretKey parses the two text forms Rust iroh accepts: 64 lowercase
// hex characters or 52 base32 characters.
func ParseSecretKey(s string) (SecretKey, error) {
	b, msg := decode32(s)
	if msg != "" {
		return SecretKey{}, &ParseError{What: "secret key", Input: "<redacted>", Msg: msg}
	}
	var k SecretKey
	copy(k[:], b)
	return k, nil
}

// Bytes returns a copy of the 32 seed bytes.
func (s SecretKey) Bytes() []byte { return append([]byte(nil), s[:]...) }

// HexString returns the seed as 64 lowercase hex characters (for key files).
func (s SecretKey) HexString() string { return hex.EncodeToString(s[:]) }

// String returns a redacted form; use HexString to export the key.
func (s SecretKey) String() string { return "SecretKey(" + s.Public().ShortString() + ")" }

// GoString is like String: key material never reaches logs through %#v.
func (s SecretKey) GoString() string { return s.String() }

// Ed25519 returns the key as a crypto/ed25519 private key.
func (s SecretKey) Ed25519() ed25519.PrivateKey { return ed25519.NewKeyFromSeed(s[:]) }

// Public returns the public key (EndpointID) of s.
func (s SecretKey) Public() PublicKey {
	var p PublicKey
	copy(p[:], s.Ed25519().Public().(ed25519.PublicKey))
	return p
}

// Sign signs msg with plain Ed25519 (no prehash, no context).
func (s SecretKey) Sign(msg []byte) Signature {
	var sig Signature
	copy(sig[:], ed25519.Sign(s.Ed25519(), msg))
	return sig
}

// X25519 returns the Curve25519 private scalar derived from the seed as
// libsodium's crypto_sign_ed25519_sk_to_curve25519 does (clamped).
func (s SecretKey) X25519() [32]byte {
	h := sha512.Sum512(s[:])
	var out [32]byte
	copy(out[:], h[:32])
	out[0] &= 248
	out[31] &= 127
	out[31] |= 64
	return out
}

// PublicKeyFromBytes returns the public key with the given bytes; they must
// be 32 bytes that decompress to a curve point.
func PublicKeyFromBytes(b []byte) (PublicKey, error) {
	var p PublicKey
	if len(b) != Size {
		return p, fmt.Errorf("key: public key is %d bytes, want %d", len(b), Size)
	}
	copy(p[:], b)
	if !p.Valid() {
		return PublicKey{}, ErrInvalidPoint
	}
	return p, nil
}

// ParsePublicKey parses an EndpointID as Rust iroh's FromStr does: exactly
// 64 lowercase hex characters, or RFC 4648 base32 without padding (case
// insensitive, 52 characters). The bytes must be a curve point.
func ParsePublicKey(s string) (PublicKey, error) {
	b, msg := decode32(s)
	if msg != "" {
		return PublicKey{}, &ParseError{What: "public key", Input: s, Msg: msg}
	}
	p, err := PublicKeyFromBytes(b)
	if err != nil {
		return PublicKey{}, &ParseError{What: "public key", Input: s, Msg: "not a valid Ed25519 point"}
	}
	return p, nil
}

// decode32 decodes 64 lowercase hex or 52 base32 characters into 32 bytes,
// or says what was wrong.
func decode32(s string) ([]byte, string) {
	if len(s) == 2*Size {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return nil, fmt.Sprintf("invalid hex character %q at offset %d (want 64 lowercase hex characters)", c, i)
			}
		}
		b, _ := hex.DecodeString(s)
		return b, ""
	}
	b, err := b32Std.DecodeString(strings.ToUpper(s))
	if err != nil {
		return nil, fmt.Sprintf("%d characters, want 64 hex characters (or 52 base32): %v", len(s), err)
	}
	if len(b) != Size {
		return nil, fmt.Sprintf("%d characters, want 64 hex characters (or 52 base32)", len(s))
	}
	return b, ""
}

// Valid reports whether p decompresses to a point on the curve.
func (p PublicKey) Valid() bool {
	_, err := new(edwards25519.Point).SetBytes(p[:])
	return err == nil
}

// IsZero reports whether p is the zero value.
func (p PublicKey) IsZero() bool { return p == PublicKey{} }

// Bytes returns a copy of the 32 key bytes.
func (p PublicKey) Bytes() []byte { return append([]byte(nil), p[:]...) }

// String returns the canonical form: 64 lowercase hex characters.
func (p PublicKey) String() string { return hex.EncodeToString(p[:]) }

// ShortString returns the log form: hex of the first 5 bytes.
func (p PublicKey) ShortString() string { return hex.EncodeToString(p[:5]) }

// GoString returns "PublicKey(<hex>)" as Rust's Debug does.
func (p PublicKey) GoString() string { return "PublicKey(" + p.String() + ")" }

// Base32 returns the lowercase RFC 4648 base32 form without padding.
func (p PublicKey) Base32() string { return strings.ToLower(b32Std.EncodeToString(p[:])) }

// Z32 returns the z-base-32 form used in pkarr DNS names.
func (p PublicKey) Z32() string { return b32Z.EncodeToString(p[:]) }

// SNIName returns the TLS server name "<base32hex>.iroh.invalid".
func (p PublicKey) SNIName() string { return b32Hex.EncodeToString(p[:]) + SNISuffix }

// ParseZ32 parses the z-base-32 form of a public key (as in DNS names).
func ParseZ32(s string) (PublicKey, error) {
	b, err := b32Z.DecodeString(s)
	if err != nil || len(b) != Size {
		return PublicKey{}, &ParseError{What: "public key", Input: s, Msg: "not a 52-character z-base-32 key"}
	}
	p, err := PublicKeyFromBytes(b)
	if err != nil {
		return PublicKey{}, &ParseError{What: "public key", Input: s, Msg: "not a valid Ed25519 point"}
	}
	return p, nil
}

// ParseSNIName returns the public key named by a TLS server name
// "<base32hex>.iroh.invalid".
func ParseSNIName(s string) (PublicKey, error) {
	name, ok := strings.CutSuffix(s, SNISuffix)
	if !ok {
		return PublicKey{}, &ParseError{What: "public key", Input: s, Msg: "server name does not end in " + SNISuffix}
	}
	b, err := b32Hex.DecodeString(name)
	if err != nil || len(b) != Size {
		return PublicKey{}, &ParseError{What: "public key", Input: s, Msg: "server name is not 52 base32hex characters"}
	}
	return PublicKeyFromBytes(b)
}

// Compare orders keys lexicographically by their bytes, as Rust's Ord does.
func (p PublicKey) Compare(q PublicKey) int {
	for i := range p {
		if p[i] != q[i] {
			if p[i] < q[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// MarshalText implements encoding.TextMarshaler with the hex form.
func (p PublicKey) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex or base32).
func (p *PublicKey) UnmarshalText(b []byte) error {
	k, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*p = k
	return nil
}

// Ed25519 returns p as a crypto/ed25519 public key.
func (p PublicKey) Ed25519() ed25519.PublicKey { return ed25519.PublicKey(p.Bytes()) }

// X25519 returns the Montgomery u-coordinate of p (the birational map used
// by libsodium's crypto_sign_ed25519_pk_to_curve25519).
func (p PublicKey) X25519() ([32]byte, error) {
	pt, err := new(edwards25519.Point).SetBytes(p[:])
	if err != nil {
		return [32]byte{}, ErrInvalidPoint
	}
	var out [32]byte
	copy(out[:], pt.BytesMontgomery())
	return out, nil
}

// Verify reports whether sig is a valid signature of msg by p, with the
// rules of ed25519-dalek's verify_strict: S must be canonical and neither
// the public key nor R may be of small order.
func (p PublicKey) Verify(msg []byte, sig Signature) bool {
	if isSmallOrder(p[:]) || isSmallOrder(sig[:32]) {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(p[:]), msg, sig[:])
}

// VerifyError is Verify returning an error that says why.
func (p PublicKey) VerifyError(msg []byte, sig Signature) error {
	if !p.Verify(msg, sig) {
		return ErrBadSignature
	}
	return nil
}

// ErrBadSignature reports a signature that does not verify.
var ErrBadSignature = errors.New("key: signature does not verify")

func isSmallOrder(b []byte) bool {
	pt, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return true // not a point at all: reject too
	}
	return new(edwards25519.Point).MultByCofactor(pt).Equal(edwards25519.NewIdentityPoint()) == 1
}

// SignatureFromBytes returns the signature with the given 64 bytes.
func SignatureFromBytes(b []byte) (Signature, error) {
	var s Signature
	if len(b) != SignatureSize {
		return s, fmt.Errorf("key: signature is %d bytes, want %d", len(b), SignatureSize)
	}
	copy(s[:], b)
	return s, nil
}

// String returns the signature as 128 lowercase hex characters.
func (s Signature) String() string { return hex.EncodeToString(s[:]) }
