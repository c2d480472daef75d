package ranger

import (
	"bytes"
	"encoding/hex"

	"github.com/zeebo/blake3"
)

// FingerprintSize is the size of a fingerprint in bytes.
const FingerprintSize = 32

// Fingerprint identifies a set of entries: BLAKE3("") XOR the fingerprints
// of its members (spec §4). Entry fingerprints are XORed in without the
// seed.
type Fingerprint [FingerprintSize]byte

// EmptyFingerprint is the fingerprint of the empty set, BLAKE3 of the empty
// string (af1349b9…3262).
var EmptyFingerprint = Fingerprint(blake3.Sum256(nil))

// Xor returns f XOR g.
func (f Fingerprint) Xor(g Fingerprint) Fingerprint {
	for i := range f {
		f[i] ^= g[i]
	}
	return f
}

// String returns the fingerprint in hex.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// Range is a range of identifiers (spec §5): X == Y is the whole set; X < Y
// holds ids with X <= id < Y; X > Y wraps around and holds ids < Y or >= X.
// Bounds need not be ids of existing entries. Identifiers are compared
// bytewise.
type Range struct {
	X, Y []byte
}

// Whole reports whether r covers the whole set.
func (r Range) Whole() bool { return bytes.Equal(r.X, r.Y) }

// Contains reports whether id lies in r.
func (r Range) Contains(id []byte) bool {
	switch c := bytes.Compare(r.X, r.Y); {
	case c == 0:
		return true
	case c < 0:
		return bytes.Compare(r.X, id) <= 0 && bytes.Compare(id, r.Y) < 0
	default:
		return bytes.Compare(id, r.Y) < 0 || bytes.Compare(r.X, id) <= 0
	}
}

// String shows the range's bounds in short hex.
func (r Range) String() string {
	return "[" + shortHex(r.X) + ", " + shortHex(r.Y) + ")"
}

func shortHex(b []byte) string {
	if len(b) > 8 {
		return hex.EncodeToString(b[:4]) + "…" + hex.EncodeToString(b[len(b)-4:])
	}
	return hex.EncodeToString(b)
}
