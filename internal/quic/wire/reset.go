package wire

import (
	"crypto/rand"
	"fmt"
)

// MinStatelessResetLen is the smallest stateless reset (RFC 9000 §10.3):
// a first byte, at least 4 unpredictable bytes, the 16-byte token. Peers
// discard shorter datagrams as resets; senders make them at least this
// long and shorter than the packet that triggered them.
const MinStatelessResetLen = 5 + ResetTokenLen

// AppendStatelessReset appends a stateless reset of size bytes (at least
// MinStatelessResetLen) ending in token: random bytes that look like a
// short header packet (fixed bit set, long header bit clear).
func AppendStatelessReset(b []byte, token [ResetTokenLen]byte, size int) ([]byte, error) {
	if size < MinStatelessResetLen {
		return b, fmt.Errorf("wire: stateless reset of %d bytes is below %d", size, MinStatelessResetLen)
	}
	n := len(b)
	b = append(b, make([]byte, size-ResetTokenLen)...)
	rand.Read(b[n:])
	b[n] = 0x40 | b[n]&0x3f
	return append(b, token[:]...), nil
}

// StatelessResetToken returns the last 16 bytes of a datagram that could
// be a stateless reset (a short header of at least MinStatelessResetLen
// bytes), to compare in constant time with the tokens of the peer's
// connection IDs (RFC 9000 §10.3.1).
func StatelessResetToken(d []byte) ([ResetTokenLen]byte, bool) {
	if len(d) < MinStatelessResetLen || d[0]&0x80 != 0 {
		return [ResetTokenLen]byte{}, false
	}
	return [ResetTokenLen]byte(d[len(d)-ResetTokenLen:]), true
}
