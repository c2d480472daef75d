package wire

import (
	"encoding/hex"
	"fmt"
)

// MaxConnIDLen is the longest connection ID QUIC v1 allows (RFC 9000 §17.2).
const MaxConnIDLen = 20

// ConnID is a connection ID of 0 to 20 bytes held by value. It is
// comparable and usable as a map key; the zero value is the empty ID.
type ConnID struct {
	n uint8
	b [MaxConnIDLen]byte
}

// NewConnID copies b into a ConnID. It fails if b is longer than 20 bytes.
func NewConnID(b []byte) (ConnID, error) {
	var c ConnID
	if len(b) > MaxConnIDLen {
		return c, fmt.Errorf("wire: connection ID length %d exceeds %d", len(b), MaxConnIDLen)
	}
	c.n = uint8(len(b))
	copy(c.b[:], b)
	return c, nil
}

// MustConnID is NewConnID for constants and tests; it panics on a bad length.
func MustConnID(b []byte) ConnID {
	c, err := NewConnID(b)
	if err != nil {
		panic(err)
	}
	return c
}

// Len returns the ID's length in bytes.
func (c ConnID) Len() int { return int(c.n) }

// Bytes returns the ID's bytes (a slice of c's own copy).
func (c *ConnID) Bytes() []byte { return c.b[:c.n] }

// String returns the ID in hex.
func (c ConnID) String() string { return hex.EncodeToString(c.b[:c.n]) }
