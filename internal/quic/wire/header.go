package wire

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Version1 is QUIC version 1 (RFC 9000), the only version spoken.
const Version1 uint32 = 0x00000001

// Header sizes and limits.
const (
	// MinInitialDatagramSize is the smallest UDP payload carrying a
	// client Initial (RFC 9000 §14.1); Initial datagrams are padded to it.
	MinInitialDatagramSize = 1200
	// MaxInvariantConnIDLen bounds connection IDs in long headers of
	// versions other than 1 (RFC 8999 §5.1), read only to answer with a
	// Version Negotiation packet.
	MaxInvariantConnIDLen = 255
	// RetryIntegrityTagLen is the length of a Retry packet's tag
	// (RFC 9001 §5.8).
	RetryIntegrityTagLen = 16
	// MaxPacketNumberLen is the longest truncated packet number.
	MaxPacketNumberLen = 4
	// LongLengthFieldLen is the size the Append functions give a long
	// header's Length field: 2 bytes, so it can be patched after the
	// frames are written (packets up to 16383 bytes).
	LongLengthFieldLen = 2
)

// NoPacketNumber stands for "no packet number yet" where a largest
// acknowledged or received packet number is expected.
const NoPacketNumber = ^uint64(0)

// PacketType is the kind of a QUIC packet. The zero value is invalid.
type PacketType uint8

// Packet types. PacketUnknownVersion is a long header packet of a version
// other than 1 and not Version Negotiation: only its invariant fields
// (version, connection IDs) are parsed.
const (
	PacketInitial PacketType = iota + 1
	Packet0RTT
	PacketHandshake
	PacketRetry
	PacketVersionNegotiation
	Packet1RTT
	PacketUnknownVersion
)

// String returns the name.
func (t PacketType) String() string {
	switch t {
	case PacketInitial:
		return "Initial"
	case Packet0RTT:
		return "0-RTT"
	case PacketHandshake:
		return "Handshake"
	case PacketRetry:
		return "Retry"
	case PacketVersionNegotiation:
		return "VersionNegotiation"
	case Packet1RTT:
		return "1-RTT"
	case PacketUnknownVersion:
		return "UnknownVersion"
	}
	return fmt.Sprintf("PacketType(%d)", uint8(t))
}

// IsLong reports whether packets of type t have a long header.
func (t PacketType) IsLong() bool { return t != Packet1RTT && t != 0 }

// long header type bits of version 1 (RFC 9000 §17.2).
var longTypeBits = [...]PacketType{PacketInitial, Packet0RTT, PacketHandshake, PacketRetry}

func longTypeCode(t PacketType) byte {
	switch t {
	case PacketInitial:
		return 0
	case Packet0RTT:
		return 1
	case PacketHandshake:
		return 2
	case PacketRetry:
		return 3
	}
	panic("wire: not a long header packet type: " + t.String())
}

// Header is a parsed packet header, up to the protected packet number.
// Its slices reference the parsed buffer.
type Header struct {
	Type PacketType
	// FirstByte is the first byte as received (still header-protected
	// for Initial, 0-RTT, Handshake and 1-RTT packets).
	FirstByte byte
	// Version is 0 for Version Negotiation and unset for 1-RTT.
	Version uint32
	DstCID  []byte
	SrcCID  []byte // long headers only
	// Token is the Initial packet's token or the Retry packet's token.
	Token []byte
	// RetryTag is the Retry packet's integrity tag.
	RetryTag []byte
	// SupportedVersions is the raw list of a Version Negotiation packet,
	// 4 bytes per version (see Versions).
	SupportedVersions []byte
	// PNOffset is the offset of the packet number in the packet, for
	// Initial, 0-RTT, Handshake and 1-RTT packets (0 otherwise).
	PNOffset int
	// Len is this packet's length in the datagram: PNOffset plus the
	// Length field for Initial, 0-RTT and Handshake; the rest of the
	// datagram for the others (they cannot be followed by another).
	Len int
}

// String describes the header for debug logs.
func (h *Header) String() string {
	switch h.Type {
	case Packet1RTT:
		return fmt.Sprintf("1-RTT dcid=%x len=%d", h.DstCID, h.Len)
	case PacketVersionNegotiation:
		return fmt.Sprintf("VersionNegotiation dcid=%x scid=%x versions=%d", h.DstCID, h.SrcCID, len(h.SupportedVersions)/4)
	case PacketRetry:
		return fmt.Sprintf("Retry dcid=%x scid=%x token=%d", h.DstCID, h.SrcCID, len(h.Token))
	case PacketUnknownVersion:
		return fmt.Sprintf("version %#x dcid=%x scid=%x len=%d", h.Version, h.DstCID, h.SrcCID, h.Len)
	}
	s := fmt.Sprintf("%v dcid=%x scid=%x len=%d", h.Type, h.DstCID, h.SrcCID, h.Len)
	if h.Type == PacketInitial {
		s += fmt.Sprintf(" token=%d", len(h.Token))
	}
	return s
}

// FixedBit reports whether the QUIC bit (0x40) is set. RFC 9000 requires
// it unless the peer sent grease_quic_bit (RFC 9287).
func (h *Header) FixedBit() bool { return h.FirstByte&0x40 != 0 }

// Versions calls f for each version of a Version Negotiation packet.
func (h *Header) Versions(f func(uint32)) {
	for b := h.SupportedVersions; len(b) >= 4; b = b[4:] {
		f(binary.BigEndian.Uint32(b))
	}
}

// HeaderError is a header parse error.
type HeaderError struct {
	Field string
	Err   error
}

// Error describes the error.
func (e *HeaderError) Error() string { return "wire: packet header: " + e.Field + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *HeaderError) Unwrap() error { return e.Err }

func hdrErr(field string, err error) error { return &HeaderError{Field: field, Err: err} }

func hdrErrf(field, format string, args ...any) error {
	return &HeaderError{Field: field, Err: fmt.Errorf(format, args...)}
}

// ParseHeader parses the header of the packet at the start of b, which
// may be followed by coalesced packets (RFC 9000 §12.2). shortDCIDLen is
// the length of the connection IDs this endpoint issues, needed to parse
// a short header. It does not remove header protection: the packet number
// starts at PNOffset. It does not allocate.
func ParseHeader(b []byte, shortDCIDLen int) (Header, error) {
	var h Header
	if len(b) == 0 {
		return h, hdrErr("first byte", ErrTruncated)
	}
	h.FirstByte = b[0]
	if b[0]&0x80 == 0 {
		h.Type = Packet1RTT
		if len(b) < 1+shortDCIDLen {
			return h, hdrErr("destination connection ID", ErrTruncated)
		}
		h.DstCID = b[1 : 1+shortDCIDLen]
		h.PNOffset = 1 + shortDCIDLen
		h.Len = len(b)
		if len(b) == h.PNOffset {
			return h, hdrErr("packet number", ErrTruncated)
		}
		return h, nil
	}
	if len(b) < 6 {
		return h, hdrErr("version", ErrTruncated)
	}
	h.Version = binary.BigEndian.Uint32(b[1:5])
	maxCID := MaxConnIDLen
	if h.Version != Version1 {
		maxCID = MaxInvariantConnIDLen
	}
	off := 5
	dl := int(b[off])
	off++
	if dl > maxCID {
		return h, hdrErrf("destination connection ID", "length %d exceeds %d", dl, maxCID)
	}
	if len(b) < off+dl+1 {
		return h, hdrErr("destination connection ID", ErrTruncated)
	}
	h.DstCID = b[off : off+dl]
	off += dl
	sl := int(b[off])
	off++
	if sl > maxCID {
		return h, hdrErrf("source connection ID", "length %d exceeds %d", sl, maxCID)
	}
	if len(b) < off+sl {
		return h, hdrErr("source connection ID", ErrTruncated)
	}
	h.SrcCID = b[off : off+sl]
	off += sl
	switch h.Version {
	case 0:
		h.Type = PacketVersionNegotiation
		rest := b[off:]
		if len(rest) == 0 || len(rest)%4 != 0 {
			return h, hdrErrf("supported versions", "length %d is not a positive multiple of 4", len(rest))
		}
		h.SupportedVersions = rest
		h.Len = len(b)
		return h, nil
	case Version1:
	default:
		h.Type = PacketUnknownVersion
		h.Len = len(b)
		return h, nil
	}
	h.Type = longTypeBits[(b[0]>>4)&3]
	if h.Type == PacketRetry {
		rest := b[off:]
		if len(rest) < RetryIntegrityTagLen {
			return h, hdrErr("retry integrity tag", ErrTruncated)
		}
		h.Token = rest[:len(rest)-RetryIntegrityTagLen]
		h.RetryTag = rest[len(rest)-RetryIntegrityTagLen:]
		h.Len = len(b)
		return h, nil
	}
	if h.Type == PacketInitial {
		tl, n, err := ParseVarint(b[off:])
		if err != nil {
			return h, hdrErr("token length", err)
		}
		off += n
		if tl > uint64(len(b)-off) {
			return h, hdrErrf("token", "length %d exceeds the %d bytes left", tl, len(b)-off)
		}
		h.Token = b[off : off+int(tl)]
		off += int(tl)
	}
	length, n, err := ParseVarint(b[off:])
	if err != nil {
		return h, hdrErr("length", err)
	}
	off += n
	if length > uint64(len(b)-off) {
		return h, hdrErrf("length", "%d exceeds the %d bytes left", length, len(b)-off)
	}
	if length == 0 {
		return h, hdrErr("packet number", ErrTruncated)
	}
	h.PNOffset = off
	h.Len = off + int(length)
	return h, nil
}

// ParseDstCID returns the destination connection ID of the packet at the
// start of b, for routing before anything else is parsed.
func ParseDstCID(b []byte, shortDCIDLen int) ([]byte, error) {
	if len(b) == 0 {
		return nil, hdrErr("first byte", ErrTruncated)
	}
	if b[0]&0x80 == 0 {
		if len(b) < 1+shortDCIDLen {
			return nil, hdrErr("destination connection ID", ErrTruncated)
		}
		return b[1 : 1+shortDCIDLen], nil
	}
	if len(b) < 6 {
		return nil, hdrErr("version", ErrTruncated)
	}
	dl := int(b[5])
	if len(b) < 6+dl {
		return nil, hdrErr("destination connection ID", ErrTruncated)
	}
	return b[6 : 6+dl], nil
}

// SplitCoalesced appends to dst each packet of the datagram d (RFC 9000
// §12.2) and returns it. It stops with an error at the first packet whose
// header does not parse, returning the packets before it.
func SplitCoalesced(dst [][]byte, d []byte, shortDCIDLen int) ([][]byte, error) {
	for len(d) > 0 {
		h, err := ParseHeader(d, shortDCIDLen)
		if err != nil {
			return dst, err
		}
		dst = append(dst, d[:h.Len])
		d = d[h.Len:]
	}
	return dst, nil
}

// LongHeader describes a long header to append: Initial, 0-RTT or
// Handshake. Token is only sent in Initial packets.
type LongHeader struct {
	Type    PacketType
	Version uint32
	DstCID  []byte
	SrcCID  []byte
	Token   []byte
}

// Len returns the header's length with a pnLen-byte packet number and the
// 2-byte Length field of Append.
func (h *LongHeader) Len(pnLen int) int {
	n := 1 + 4 + 1 + len(h.DstCID) + 1 + len(h.SrcCID) + LongLengthFieldLen + pnLen
	if h.Type == PacketInitial {
		n += VarintLen(uint64(len(h.Token))) + len(h.Token)
	}
	return n
}

// Append appends the header with the packet number pn truncated to pnLen
// bytes. The Length field is reserved as 2 bytes at lengthOff, to be set
// with PutVarint2 once the payload (packet number, frames, AEAD tag) is
// known. It panics on a connection ID longer than 20 bytes or a bad pnLen.
func (h *LongHeader) Append(b []byte, pn uint64, pnLen int) (out []byte, lengthOff int) {
	checkPNLen(pnLen)
	if h.Type != PacketInitial && h.Type != Packet0RTT && h.Type != PacketHandshake {
		panic("wire: LongHeader.Append of a " + h.Type.String() + " packet (Retry and Version Negotiation have their own Append functions)")
	}
	if len(h.DstCID) > MaxConnIDLen || len(h.SrcCID) > MaxConnIDLen {
		panic("wire: connection ID longer than 20 bytes")
	}
	b = append(b, 0xc0|longTypeCode(h.Type)<<4|byte(pnLen-1))
	b = binary.BigEndian.AppendUint32(b, h.Version)
	b = append(b, byte(len(h.DstCID)))
	b = append(b, h.DstCID...)
	b = append(b, byte(len(h.SrcCID)))
	b = append(b, h.SrcCID...)
	if h.Type == PacketInitial {
		b = AppendVarint(b, uint64(len(h.Token)))
		b = append(b, h.Token...)
	}
	lengthOff = len(b)
	b = append(b, 0x40, 0)
	return AppendPacketNumber(b, pn, pnLen), lengthOff
}

// ShortHeaderLen is the length of a short header.
func ShortHeaderLen(dcidLen, pnLen int) int { return 1 + dcidLen + pnLen }

// AppendShortHeader appends a 1-RTT header with the packet number pn
// truncated to pnLen bytes.
func AppendShortHeader(b []byte, dcid []byte, pn uint64, pnLen int, keyPhase, spin bool) []byte {
	checkPNLen(pnLen)
	first := 0x40 | byte(pnLen-1)
	if keyPhase {
		first |= 0x04
	}
	if spin {
		first |= 0x20
	}
	b = append(b, first)
	b = append(b, dcid...)
	return AppendPacketNumber(b, pn, pnLen)
}

// KeyPhase reports the key phase bit of an unprotected short header's
// first byte.
func KeyPhase(first byte) bool { return first&0x04 != 0 }

// AppendRetry appends a Retry packet without its integrity tag, which the
// caller computes over these bytes and appends (package protect).
func AppendRetry(b []byte, version uint32, dcid, scid, token []byte, unused byte) []byte {
	b = append(b, 0xc0|3<<4|unused&0x0f)
	b = binary.BigEndian.AppendUint32(b, version)
	b = append(b, byte(len(dcid)))
	b = append(b, dcid...)
	b = append(b, byte(len(scid)))
	b = append(b, scid...)
	return append(b, token...)
}

// AppendVersionNegotiation appends a Version Negotiation packet (RFC 9000
// §17.2.1) answering a packet whose connection IDs were dcid and scid:
// they are swapped. unused supplies the 7 arbitrary bits of the first byte.
func AppendVersionNegotiation(b []byte, dcid, scid []byte, versions []uint32, unused byte) []byte {
	b = append(b, 0x80|unused)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, byte(len(scid)))
	b = append(b, scid...)
	b = append(b, byte(len(dcid)))
	b = append(b, dcid...)
	for _, v := range versions {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func checkPNLen(n int) {
	if n < 1 || n > MaxPacketNumberLen {
		panic(fmt.Sprintf("wire: packet number length %d", n))
	}
}

// PacketNumberLen returns how many bytes a packet number needs so that a
// receiver that has seen largestAcked decodes it (RFC 9000 §17.1, A.2):
// enough bits for twice the distance. largestAcked is NoPacketNumber when
// nothing was acknowledged yet.
func PacketNumberLen(pn, largestAcked uint64) int {
	var unacked uint64
	if largestAcked == NoPacketNumber {
		unacked = pn + 1
	} else {
		unacked = pn - largestAcked
	}
	n := (bits.Len64(unacked) + 1 + 7) / 8
	return min(max(n, 1), MaxPacketNumberLen)
}

// AppendPacketNumber appends the low n bytes of pn.
func AppendPacketNumber(b []byte, pn uint64, n int) []byte {
	switch n {
	case 1:
		return append(b, byte(pn))
	case 2:
		return append(b, byte(pn>>8), byte(pn))
	case 3:
		return append(b, byte(pn>>16), byte(pn>>8), byte(pn))
	default:
		return append(b, byte(pn>>24), byte(pn>>16), byte(pn>>8), byte(pn))
	}
}

// ReadPacketNumber reads an n-byte truncated packet number from b (fewer
// bytes if b is shorter: after header protection was removed, which needs
// more than the packet number, it never is).
func ReadPacketNumber(b []byte, n int) uint64 {
	var v uint64
	for i := range min(n, len(b)) {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// DecodePacketNumber recovers the full packet number from the truncated
// one of pnLen bytes, given the largest packet number received so far in
// the packet number space (NoPacketNumber if none), per RFC 9000 A.3.
func DecodePacketNumber(largest, truncated uint64, pnLen int) uint64 {
	expected := largest + 1 // NoPacketNumber+1 wraps to 0
	win := uint64(1) << (8 * pnLen)
	half := win / 2
	mask := win - 1
	candidate := expected&^mask | truncated
	if candidate+half <= expected && candidate < 1<<62-win {
		return candidate + win
	}
	if candidate > expected+half && candidate >= win {
		return candidate - win
	}
	return candidate
}
