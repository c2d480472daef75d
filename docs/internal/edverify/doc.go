// Package edverify verifies Ed25519 signatures with exactly the rules of
// key.PublicKey.Verify (ed25519-dalek's verify_strict: canonical S, the
// cofactorless equation [S]B = R + [k]A, neither A nor R of small order, R
// the canonical encoding of the point the equation yields), faster when one
// public key verifies many signatures, as a document's namespace key and
// its few authors do for every entry of a sync.
//
// A Verifier keeps, per public key seen often enough, a table of
// precomputed multiples of the key's point (signed radix-256 digits, 32
// positions of 128 affine points, 480 KiB), and a global table of the
// base point's. Verification then costs two fixed-base scalar
// multiplications without doublings (about 64 mixed additions) instead
// of a double-scalar multiplication with 253 doublings, plus the
// decompression of R, which the small-order check of R needs anyway:
// about 4 times less CPU than key.PublicKey.Verify on amd64 (14 µs
// against 60). VerifyMany goes further for a batch: it encodes the
// equations' points with one field inversion per 64 signatures and
// compares bytes, as crypto/ed25519 does, instead of decompressing each R
// (11 µs a signature). Keys not (yet) worth a table are verified by
// key.PublicKey.Verify itself.
//
// Equivalence with key.PublicKey.Verify is what the tests check: the
// table arithmetic against filippo.io/edwards25519's double-scalar
// multiplication on random and torsion-laden points, the decisions on the
// edge cases of ZIP-215 (every small-order and non-canonical A and R) and
// on constructed mixed-order keys and signatures, and a differential fuzz
// target.
//
// It deliberately does not batch-verify: no batch equation rejects
// exactly what the cofactorless one rejects (a torsion component of one
// signature's error can cancel another's), so batching could accept
// signatures Rust iroh refuses.
//
// # Concurrency
//
// A Verifier is safe for concurrent use; tables are immutable once built.
// Its memory is bounded: at most MaxTables tables and MaxKeys keys.
package edverify
