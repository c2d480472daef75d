package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxVarint is the largest value a QUIC variable-length integer holds
// (RFC 9000 §16): 2^62-1.
const MaxVarint = 1<<62 - 1

// ErrTruncated is wrapped by every parse error caused by input that ends
// before the structure does.
var ErrTruncated = errors.New("truncated")

// VarintLen returns the length of the minimal encoding of v: 1, 2, 4 or 8.
// It panics if v exceeds MaxVarint (a programmer error).
func VarintLen(v uint64) int {
	switch {
	case v < 1<<6:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<30:
		return 4
	case v <= MaxVarint:
		return 8
	}
	panic(fmt.Sprintf("wire: varint %d exceeds 2^62-1", v))
}

// AppendVarint appends the minimal encoding of v to b. It panics if v
// exceeds MaxVarint (a programmer error: values from the network were
// parsed as varints).
func AppendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, 0x40|byte(v>>8), byte(v))
	case v < 1<<30:
		return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	case v <= MaxVarint:
		return binary.BigEndian.AppendUint64(b, v|0xc0<<56)
	}
	panic(fmt.Sprintf("wire: varint %d exceeds 2^62-1", v))
}

// AppendVarintN appends v in exactly n bytes (1, 2, 4 or 8), as used for
// fields patched after the fact (a long header's Length). It panics if n
// is not a valid size or v does not fit.
func AppendVarintN(b []byte, v uint64, n int) []byte {
	if v > MaxVarint || (n < 8 && v >= 1<<(8*n-2)) {
		panic(fmt.Sprintf("wire: varint %d does not fit in %d bytes", v, n))
	}
	switch n {
	case 1:
		return append(b, byte(v))
	case 2:
		return append(b, 0x40|byte(v>>8), byte(v))
	case 4:
		return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	case 8:
		return binary.BigEndian.AppendUint64(b, v|0xc0<<56)
	}
	panic(fmt.Sprintf("wire: varint size %d", n))
}

// PutVarint2 writes v (< 16384) as a 2-byte varint into b[0:2]. It is the
// patch for a Length field reserved with AppendVarintN(b, 0, 2).
func PutVarint2(b []byte, v uint64) {
	if v >= 1<<14 {
		panic(fmt.Sprintf("wire: varint %d does not fit in 2 bytes", v))
	}
	b[0] = 0x40 | byte(v>>8)
	b[1] = byte(v)
}

// ParseVarint parses a varint at the start of b and returns it with the
// number of bytes read. Non-minimal encodings are accepted (RFC 9000 §16
// allows them except for frame types).
func ParseVarint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, ErrTruncated
	}
	switch n {
	case 1:
		return uint64(b[0]), 1, nil
	case 2:
		return uint64(b[0]&0x3f)<<8 | uint64(b[1]), 2, nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b) & 0x3fffffff), 4, nil
	default:
		return binary.BigEndian.Uint64(b) & MaxVarint, 8, nil
	}
}
