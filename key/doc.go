// Package key holds the Ed25519 identities of iroh: SecretKey, PublicKey
// (which is an endpoint's EndpointID) and Signature.
//
// Text forms match Rust iroh 1.0 byte for byte (iroh-base, src/key.rs; the
// tests check vectors produced by it):
// String is 64 lowercase hex characters, ShortString the first 5 bytes in hex,
// Parse accepts lowercase hex or RFC 4648 base32 (any case, no padding), Z32
// is the z-base-32 form used in DNS names and SNIName the TLS server name.
//
// Verify follows ed25519-dalek's verify_strict: besides the checks of
// crypto/ed25519 it rejects small-order public keys and small-order R, so
// that iroh-go accepts exactly the signatures that Rust iroh accepts.
//
// The package is a leaf: it imports only the standard library and
// filippo.io/edwards25519. Every value is a comparable fixed-size array,
// usable as a map key; the zero PublicKey is invalid (IsZero).
package key
