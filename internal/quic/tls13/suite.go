package tls13

import (
	"crypto"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// CipherSuite is a TLS 1.3 cipher suite identifier. Only the three suites
// of RFC 8446 that QUIC allows are supported.
type CipherSuite uint16

// The cipher suites iroh endpoints offer. Rust iroh prefers
// TLS_AES_256_GCM_SHA384, then TLS_AES_128_GCM_SHA256, then
// TLS_CHACHA20_POLY1305_SHA256.
const (
	TLS_AES_128_GCM_SHA256       CipherSuite = 0x1301
	TLS_AES_256_GCM_SHA384       CipherSuite = 0x1302
	TLS_CHACHA20_POLY1305_SHA256 CipherSuite = 0x1303
)

// Known reports whether s is one of the supported suites.
func (s CipherSuite) Known() bool {
	return s == TLS_AES_128_GCM_SHA256 || s == TLS_AES_256_GCM_SHA384 || s == TLS_CHACHA20_POLY1305_SHA256
}

// Hash returns the suite's hash function. It panics on an unknown suite
// (a programmer error: suites come from Known checks).
func (s CipherSuite) Hash() crypto.Hash {
	switch s {
	case TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256:
		return crypto.SHA256
	case TLS_AES_256_GCM_SHA384:
		return crypto.SHA384
	}
	panic(fmt.Sprintf("tls13: unknown cipher suite %#04x", uint16(s)))
}

// NewHash returns a constructor of the suite's hash.
func (s CipherSuite) NewHash() func() hash.Hash {
	if s.Hash() == crypto.SHA384 {
		return sha512.New384
	}
	return sha256.New
}

// KeyLen is the AEAD key length in bytes (also the header protection key
// length in QUIC).
func (s CipherSuite) KeyLen() int {
	if s == TLS_AES_128_GCM_SHA256 {
		return 16
	}
	return 32
}

func (s CipherSuite) String() string {
	switch s {
	case TLS_AES_128_GCM_SHA256:
		return "TLS_AES_128_GCM_SHA256"
	case TLS_AES_256_GCM_SHA384:
		return "TLS_AES_256_GCM_SHA384"
	case TLS_CHACHA20_POLY1305_SHA256:
		return "TLS_CHACHA20_POLY1305_SHA256"
	}
	return fmt.Sprintf("CipherSuite(%#04x)", uint16(s))
}

// ExpandLabel is HKDF-Expand-Label of RFC 8446 §7.1: HKDF-Expand with the
// info "tls13 " + label and the context, both length-prefixed.
func ExpandLabel(h func() hash.Hash, secret []byte, label string, context []byte, length int) []byte {
	// One string concatenation: a single allocation for the info.
	info := string([]byte{byte(length >> 8), byte(length), byte(6 + len(label))}) + "tls13 " + label +
		string([]byte{byte(len(context))}) + string(context)
	out, err := hkdf.Expand(h, secret, info, length)
	if err != nil {
		// Only for length > 255*hash size, which no caller asks for.
		panic("tls13: " + err.Error())
	}
	return out
}
