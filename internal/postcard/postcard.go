// Package postcard implements the subset of the postcard serde format
// (postcard crate 1.x) that iroh's wire formats share with Rust: unsigned
// LEB128 varints, length-prefixed byte strings, and socket addresses as
// serde encodes std::net::SocketAddr (postcard's wire specification,
// docs.rs/postcard, and serde's SocketAddr impl in serde/src/ser/impls.rs).
//
// Decoders take a byte slice and return the value and the number of bytes
// consumed, or an error saying what was wrong and at which offset.
package postcard

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrTruncated reports input that ends in the middle of a value.
var ErrTruncated = errors.New("postcard: truncated input")

// AppendUvarint appends v as an unsigned LEB128 varint.
func AppendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// UvarintLen returns the encoded length of v.
func UvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Uvarint decodes an unsigned LEB128 varint of at most 10 bytes. It rejects
// overlong encodings that overflow 64 bits.
func Uvarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, 0, fmt.Errorf("postcard: varint overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1, nil
		}
	}
	if len(b) >= 10 {
		return 0, 0, fmt.Errorf("postcard: varint longer than 10 bytes")
	}
	return 0, 0, ErrTruncated
}

// AppendBytes appends a length-prefixed byte string.
func AppendBytes(b, s []byte) []byte {
	b = AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendString appends a length-prefixed string.
func AppendString(b []byte, s string) []byte {
	b = AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Bytes decodes a length-prefixed byte string of at most max bytes. The
// result aliases b.
func Bytes(b []byte, max int) ([]byte, int, error) {
	l, n, err := Uvarint(b)
	if err != nil {
		return nil, 0, err
	}
	if l > uint64(max) {
		return nil, 0, fmt.Errorf("postcard: byte string length %d exceeds limit %d", l, max)
	}
	if uint64(len(b)-n) < l {
		return nil, 0, fmt.Errorf("postcard: byte string of length %d but only %d bytes left: %w", l, len(b)-n, ErrTruncated)
	}
	return b[n : n+int(l)], n + int(l), nil
}

// AppendSocketAddr appends a SocketAddr as serde's non-human-readable form:
// 00 ip4[4] port | 01 ip6[16] port, the port as a varint. IPv6 zones are
// dropped, as Rust drops scope ids.
func AppendSocketAddr(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr()
	if a.Is4() {
		b = append(b, 0)
		v := a.As4()
		b = append(b, v[:]...)
	} else {
		b = append(b, 1)
		v := a.As16()
		b = append(b, v[:]...)
	}
	return AppendUvarint(b, uint64(ap.Port()))
}

// SocketAddr decodes a SocketAddr written by AppendSocketAddr.
func SocketAddr(b []byte) (netip.AddrPort, int, error) {
	if len(b) < 1 {
		return netip.AddrPort{}, 0, ErrTruncated
	}
	var a netip.Addr
	n := 1
	switch b[0] {
	case 0:
		if len(b) < 5 {
			return netip.AddrPort{}, 0, ErrTruncated
		}
		a = netip.AddrFrom4([4]byte(b[1:5]))
		n = 5
	case 1:
		if len(b) < 17 {
			return netip.AddrPort{}, 0, ErrTruncated
		}
		a = netip.AddrFrom16([16]byte(b[1:17]))
		n = 17
	default:
		return netip.AddrPort{}, 0, fmt.Errorf("postcard: socket address kind %d (want 0 for IPv4 or 1 for IPv6)", b[0])
	}
	p, m, err := Uvarint(b[n:])
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	if p > 0xffff {
		return netip.AddrPort{}, 0, fmt.Errorf("postcard: port %d out of range", p)
	}
	return netip.AddrPortFrom(a, uint16(p)), n + m, nil
}
