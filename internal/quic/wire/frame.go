package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// Frame limits, checked while parsing.
const (
	// MaxAckRanges bounds the ranges of one ACK or PATH_ACK frame; a
	// frame with more is rejected before any range is stored.
	MaxAckRanges = 4096
	// MaxStreamCount is the largest stream count a MAX_STREAMS or
	// STREAMS_BLOCKED frame may carry (2^60, RFC 9000 §19.11).
	MaxStreamCount = 1 << 60
	// MaxPathID is the largest multipath path ID (draft-ietf-quic-multipath
	// §2: a 32-bit value sent as a varint).
	MaxPathID = 1<<32 - 1
	// ResetTokenLen is the length of a stateless reset token.
	ResetTokenLen = 16
)

// FrameError is a frame parse error: the frame type, the field that was
// wrong, and why. The connection closes with FRAME_ENCODING_ERROR.
type FrameError struct {
	Type  FrameType
	Field string
	Err   error
}

// Error describes the error.
func (e *FrameError) Error() string {
	return "wire: " + e.Type.String() + " frame: " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *FrameError) Unwrap() error { return e.Err }

// reader parses frame fields, keeping the first error.
type reader struct {
	b   []byte
	off int
	typ FrameType
	err error
}

func (r *reader) fail(field string, err error) {
	if r.err == nil {
		r.err = &FrameError{Type: r.typ, Field: field, Err: err}
	}
}

func (r *reader) failf(field, format string, args ...any) {
	if r.err == nil {
		r.fail(field, fmt.Errorf(format, args...))
	}
}

func (r *reader) varint(field string) uint64 {
	// The one-byte case inline; the rest, and errors, out of line. After
	// an error the parse may go on reading: the error is what returns.
	if off := r.off; off < len(r.b) && r.b[off] < 0x40 {
		r.off = off + 1
		return uint64(r.b[off])
	}
	return r.varintSlow(field)
}

func (r *reader) varintSlow(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n, err := ParseVarint(r.b[r.off:])
	if err != nil {
		r.fail(field, err)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) bytes(field string, n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)-r.off) {
		r.failf(field, "length %d exceeds the %d bytes left", n, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

func (r *reader) pathID(field string) uint64 {
	v := r.varint(field)
	if v > MaxPathID {
		r.failf(field, "%d exceeds 2^32-1", v)
	}
	return v
}

func (r *reader) addrPort(field string, v6 bool) netip.AddrPort {
	n := uint64(4)
	if v6 {
		n = 16
	}
	ip := r.bytes(field, n)
	port := r.bytes(field+" port", 2)
	if r.err != nil {
		return netip.AddrPort{}
	}
	var a netip.Addr
	if v6 {
		a = netip.AddrFrom16([16]byte(ip))
	} else {
		a = netip.AddrFrom4([4]byte(ip))
	}
	return netip.AddrPortFrom(a, uint16(port[0])<<8|uint16(port[1]))
}

// parseType reads a frame type and rejects a non-minimal encoding
// (RFC 9000 §12.4).
func parseType(b []byte) (FrameType, int, error) {
	v, n, err := ParseVarint(b)
	if err != nil {
		return 0, 0, &FrameError{Field: "type", Err: err}
	}
	if n != VarintLen(v) {
		return 0, 0, &FrameError{Type: FrameType(v), Field: "type", Err: errors.New("not minimally encoded")}
	}
	return FrameType(v), n, nil
}

// expect reads the frame type at the start of b and checks it is one of
// want.
func expect(b []byte, name string, want ...FrameType) (reader, error) {
	t, n, err := parseType(b)
	if err != nil {
		return reader{}, err
	}
	if !slices.Contains(want, t) {
		return reader{}, &FrameError{Type: t, Field: "type", Err: fmt.Errorf("not a %s frame", name)}
	}
	return reader{b: b, off: n, typ: t}, nil
}

func appendAddrPort(b []byte, a netip.AddrPort) []byte {
	if a.Addr().Is4() {
		ip := a.Addr().As4()
		b = append(b, ip[:]...)
	} else {
		ip := a.Addr().As16()
		b = append(b, ip[:]...)
	}
	return append(b, byte(a.Port()>>8), byte(a.Port()))
}

func addrLen(a netip.AddrPort) int {
	if a.Addr().Is4() {
		return 4 + 2
	}
	return 16 + 2
}

func vl(v uint64) int { return VarintLen(v) }

// AppendPadding appends n PADDING bytes.
func AppendPadding(b []byte, n int) []byte {
	if n <= 0 {
		return b
	}
	l := len(b)
	b = slices.Grow(b, n)[:l+n]
	clear(b[l:])
	return b
}

// PaddingLen returns how many PADDING bytes start b.
func PaddingLen(b []byte) int {
	i := 0
	// Eight bytes at a time: Initial packets carry hundreds.
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] != 0 {
			return i
		}
	}
	return len(b)
}

// SimpleFrame is a frame that is its type alone: PING, HANDSHAKE_DONE,
// IMMEDIATE_ACK.
type SimpleFrame struct{ Type FrameType }

// Append appends the encoded frame to b and returns it.
func (f SimpleFrame) Append(b []byte) []byte { return AppendVarint(b, uint64(f.Type)) }

// Len returns the encoded length in bytes.
func (f SimpleFrame) Len() int { return vl(uint64(f.Type)) }

// ParseSimpleFrame parses a PING, HANDSHAKE_DONE or IMMEDIATE_ACK frame.
func ParseSimpleFrame(b []byte) (SimpleFrame, int, error) {
	r, err := expect(b, "PING, HANDSHAKE_DONE or IMMEDIATE_ACK", FramePing, FrameHandshakeDone, FrameImmediateAck)
	return SimpleFrame{Type: r.typ}, r.off, err
}

// AckRange is a range of acknowledged packet numbers, both ends included.
type AckRange struct{ Smallest, Largest uint64 }

// AckFrame is ACK, ACK_ECN (RFC 9000 §19.3), PATH_ACK or PATH_ACK_ECN
// (multipath: Multipath set, with PathID).
type AckFrame struct {
	Multipath bool
	PathID    uint64
	// Delay is the encoded ACK delay, in units of 2^ack_delay_exponent µs.
	Delay uint64
	// Ranges are in descending order without overlap; Ranges[0].Largest
	// is the largest acknowledged. Append needs at least one.
	Ranges []AckRange
	// ECN says the ECN counts are present (ACK_ECN, PATH_ACK_ECN).
	ECN               bool
	ECT0, ECT1, ECNCE uint64
}

// Largest returns the largest acknowledged packet number.
func (f *AckFrame) Largest() uint64 { return f.Ranges[0].Largest }

func (f *AckFrame) typ() FrameType {
	t := FrameAck
	if f.Multipath {
		t = FramePathAck
	}
	if f.ECN {
		t++
	}
	return t
}

// Len returns the encoded length.
func (f *AckFrame) Len() int {
	n := vl(uint64(f.typ())) + vl(f.Ranges[0].Largest) + vl(f.Delay) + vl(uint64(len(f.Ranges)-1)) +
		vl(f.Ranges[0].Largest-f.Ranges[0].Smallest)
	if f.Multipath {
		n += vl(f.PathID)
	}
	prev := f.Ranges[0].Smallest
	for _, r := range f.Ranges[1:] {
		n += vl(prev-r.Largest-2) + vl(r.Largest-r.Smallest)
		prev = r.Smallest
	}
	if f.ECN {
		n += vl(f.ECT0) + vl(f.ECT1) + vl(f.ECNCE)
	}
	return n
}

// Append appends the frame. It panics if Ranges is empty or not
// descending with gaps (a programmer error).
func (f *AckFrame) Append(b []byte) []byte {
	if len(f.Ranges) == 0 {
		panic("wire: ACK frame without ranges")
	}
	b = AppendVarint(b, uint64(f.typ()))
	if f.Multipath {
		b = AppendVarint(b, f.PathID)
	}
	first := f.Ranges[0]
	if first.Smallest > first.Largest {
		panic("wire: ACK range with Smallest > Largest")
	}
	b = AppendVarint(b, first.Largest)
	b = AppendVarint(b, f.Delay)
	b = AppendVarint(b, uint64(len(f.Ranges)-1))
	b = AppendVarint(b, first.Largest-first.Smallest)
	prev := first.Smallest
	for _, r := range f.Ranges[1:] {
		if r.Largest+2 > prev || r.Smallest > r.Largest {
			panic("wire: ACK ranges not descending with gaps")
		}
		b = AppendVarint(b, prev-r.Largest-2)
		b = AppendVarint(b, r.Largest-r.Smallest)
		prev = r.Smallest
	}
	if f.ECN {
		b = AppendVarint(b, f.ECT0)
		b = AppendVarint(b, f.ECT1)
		b = AppendVarint(b, f.ECNCE)
	}
	return b
}

// FitTo drops the oldest ranges until the frame's encoding is at most n
// bytes (older acknowledgements were sent before, RFC 9000 §13.2.4),
// reslicing Ranges without allocating. It reports false, leaving the
// ranges alone, if even the newest range alone does not fit.
func (f *AckFrame) FitTo(n int) bool {
	if len(f.Ranges) == 0 {
		return false
	}
	total := f.Len()
	if total <= n {
		return true
	}
	// Peel ranges off the end, adjusting the length as we go (linear).
	k := len(f.Ranges)
	for k > 1 && total > n {
		r, prev := f.Ranges[k-1], f.Ranges[k-2].Smallest
		total -= vl(prev-r.Largest-2) + vl(r.Largest-r.Smallest)
		total += vl(uint64(k-2)) - vl(uint64(k-1))
		k--
	}
	if total > n {
		return false
	}
	f.Ranges = f.Ranges[:k]
	return true
}

// ParseAck parses an ACK, ACK_ECN, PATH_ACK or PATH_ACK_ECN frame. The
// ranges are appended to ranges[:0] (grown only if its capacity is too
// small), so a caller reusing one slice parses without allocating. More
// than MaxAckRanges ranges, or ranges below packet number 0, are errors.
func ParseAck(b []byte, ranges []AckRange) (AckFrame, int, error) {
	r, err := expect(b, "ACK", FrameAck, FrameAckECN, FramePathAck, FramePathAckECN)
	if err != nil {
		return AckFrame{}, 0, err
	}
	f := parseAckBody(&r, ranges)
	return f, r.off, r.err
}

func parseAckBody(r *reader, ranges []AckRange) AckFrame {
	var f AckFrame
	f.Multipath = r.typ == FramePathAck || r.typ == FramePathAckECN
	f.ECN = r.typ == FrameAckECN || r.typ == FramePathAckECN
	if f.Multipath {
		f.PathID = r.pathID("path ID")
	}
	largest := r.varint("largest acknowledged")
	f.Delay = r.varint("ack delay")
	count := r.varint("range count")
	first := r.varint("first range")
	if r.err != nil {
		return f
	}
	if count >= MaxAckRanges {
		r.failf("range count", "%d exceeds %d", count+1, MaxAckRanges)
		return f
	}
	if first > largest {
		r.failf("first range", "%d exceeds largest acknowledged %d", first, largest)
		return f
	}
	ranges = append(ranges[:0], AckRange{Smallest: largest - first, Largest: largest})
	smallest := largest - first
	for range count {
		// Inline varints: this loop is the bulk of a sender's receive work.
		gap, n1, err := ParseVarint(r.b[r.off:])
		if err != nil {
			r.fail("gap", err)
			return f
		}
		n, n2, err := ParseVarint(r.b[r.off+n1:])
		if err != nil {
			r.fail("range length", err)
			return f
		}
		r.off += n1 + n2
		if gap+2 > smallest {
			r.failf("gap", "%d goes below packet number 0", gap)
			return f
		}
		l := smallest - gap - 2
		if n > l {
			r.failf("range length", "%d goes below packet number 0", n)
			return f
		}
		smallest = l - n
		ranges = append(ranges, AckRange{Smallest: smallest, Largest: l})
	}
	if f.ECN {
		f.ECT0 = r.varint("ECT0 count")
		f.ECT1 = r.varint("ECT1 count")
		f.ECNCE = r.varint("ECN-CE count")
	}
	f.Ranges = ranges
	return f
}

// ResetStreamFrame is RESET_STREAM (RFC 9000 §19.4).
type ResetStreamFrame struct{ StreamID, Code, FinalSize uint64 }

// Len returns the encoded length in bytes.
func (f *ResetStreamFrame) Len() int { return 1 + vl(f.StreamID) + vl(f.Code) + vl(f.FinalSize) }

// Append appends the encoded frame to b and returns it.
func (f *ResetStreamFrame) Append(b []byte) []byte {
	b = append(b, byte(FrameResetStream))
	return AppendVarint(AppendVarint(AppendVarint(b, f.StreamID), f.Code), f.FinalSize)
}

// ParseResetStream parses a RESET_STREAM frame.
func ParseResetStream(b []byte) (ResetStreamFrame, int, error) {
	r, err := expect(b, "RESET_STREAM", FrameResetStream)
	if err != nil {
		return ResetStreamFrame{}, 0, err
	}
	f := ResetStreamFrame{StreamID: r.varint("stream ID"), Code: r.varint("error code"), FinalSize: r.varint("final size")}
	return f, r.off, r.err
}

// StopSendingFrame is STOP_SENDING (RFC 9000 §19.5).
type StopSendingFrame struct{ StreamID, Code uint64 }

// Len returns the encoded length in bytes.
func (f *StopSendingFrame) Len() int { return 1 + vl(f.StreamID) + vl(f.Code) }

// Append appends the encoded frame to b and returns it.
func (f *StopSendingFrame) Append(b []byte) []byte {
	return AppendVarint(AppendVarint(append(b, byte(FrameStopSending)), f.StreamID), f.Code)
}

// ParseStopSending parses a STOP_SENDING frame.
func ParseStopSending(b []byte) (StopSendingFrame, int, error) {
	r, err := expect(b, "STOP_SENDING", FrameStopSending)
	if err != nil {
		return StopSendingFrame{}, 0, err
	}
	f := StopSendingFrame{StreamID: r.varint("stream ID"), Code: r.varint("error code")}
	return f, r.off, r.err
}

// CryptoFrame is CRYPTO (RFC 9000 §19.6). Parsed Data references the
// packet buffer.
type CryptoFrame struct {
	Offset uint64
	Data   []byte
}

// CryptoOverhead is the length of a CRYPTO frame without its data.
func CryptoOverhead(offset uint64, dataLen int) int {
	return 1 + vl(offset) + vl(uint64(dataLen))
}

// Len returns the encoded length in bytes.
func (f *CryptoFrame) Len() int { return CryptoOverhead(f.Offset, len(f.Data)) + len(f.Data) }

// Append appends the encoded frame to b and returns it.
func (f *CryptoFrame) Append(b []byte) []byte {
	b = AppendVarint(AppendVarint(append(b, byte(FrameCrypto)), f.Offset), uint64(len(f.Data)))
	return append(b, f.Data...)
}

// ParseCrypto parses a CRYPTO frame.
func ParseCrypto(b []byte) (CryptoFrame, int, error) {
	r, err := expect(b, "CRYPTO", FrameCrypto)
	if err != nil {
		return CryptoFrame{}, 0, err
	}
	f := parseCryptoBody(&r)
	return f, r.off, r.err
}

func parseCryptoBody(r *reader) CryptoFrame {
	var f CryptoFrame
	f.Offset = r.varint("offset")
	n := r.varint("length")
	f.Data = r.bytes("data", n)
	if r.err == nil && f.Offset+n > MaxVarint {
		r.failf("length", "offset %d + length %d exceeds 2^62-1", f.Offset, n)
	}
	return f
}

// NewTokenFrame is NEW_TOKEN (RFC 9000 §19.7). The token is not empty.
type NewTokenFrame struct{ Token []byte }

// Len returns the encoded length in bytes.
func (f *NewTokenFrame) Len() int { return 1 + vl(uint64(len(f.Token))) + len(f.Token) }

// Append appends the encoded frame to b and returns it.
func (f *NewTokenFrame) Append(b []byte) []byte {
	return append(AppendVarint(append(b, byte(FrameNewToken)), uint64(len(f.Token))), f.Token...)
}

// ParseNewToken parses a NEW_TOKEN frame.
func ParseNewToken(b []byte) (NewTokenFrame, int, error) {
	r, err := expect(b, "NEW_TOKEN", FrameNewToken)
	if err != nil {
		return NewTokenFrame{}, 0, err
	}
	f := parseNewTokenBody(&r)
	return f, r.off, r.err
}

func parseNewTokenBody(r *reader) NewTokenFrame {
	n := r.varint("length")
	if r.err == nil && n == 0 {
		r.fail("length", errors.New("empty token"))
	}
	return NewTokenFrame{Token: r.bytes("token", n)}
}

// StreamFrame is STREAM (RFC 9000 §19.8). Parsed Data references the
// packet buffer. OmitLen leaves out the length (the frame then runs to
// the end of the packet; only for the last frame).
type StreamFrame struct {
	StreamID uint64
	Offset   uint64
	Data     []byte
	Fin      bool
	OmitLen  bool
}

// StreamOverhead is the length of a STREAM frame without its data.
func StreamOverhead(id, offset uint64, dataLen int, omitLen bool) int {
	n := 1 + vl(id)
	if offset != 0 {
		n += vl(offset)
	}
	if !omitLen {
		n += vl(uint64(dataLen))
	}
	return n
}

// Len returns the encoded length in bytes.
func (f *StreamFrame) Len() int {
	return StreamOverhead(f.StreamID, f.Offset, len(f.Data), f.OmitLen) + len(f.Data)
}

// Append appends the encoded frame to b and returns it.
func (f *StreamFrame) Append(b []byte) []byte {
	t := byte(FrameStream)
	if f.Offset != 0 {
		t |= 0x04
	}
	if !f.OmitLen {
		t |= 0x02
	}
	if f.Fin {
		t |= 0x01
	}
	b = AppendVarint(append(b, t), f.StreamID)
	if f.Offset != 0 {
		b = AppendVarint(b, f.Offset)
	}
	if !f.OmitLen {
		b = AppendVarint(b, uint64(len(f.Data)))
	}
	return append(b, f.Data...)
}

// ParseStream parses a STREAM frame (types 0x08-0x0f).
func ParseStream(b []byte) (StreamFrame, int, error) {
	t, n, err := parseType(b)
	if err == nil && !t.IsStream() {
		err = &FrameError{Type: t, Field: "type", Err: errors.New("not a STREAM frame")}
	}
	if err != nil {
		return StreamFrame{}, 0, err
	}
	r := reader{b: b, off: n, typ: t}
	f := parseStreamBody(&r)
	return f, r.off, r.err
}

func parseStreamBody(r *reader) StreamFrame {
	var f StreamFrame
	f.StreamID = r.varint("stream ID")
	if r.typ&0x04 != 0 {
		f.Offset = r.varint("offset")
	}
	f.Fin = r.typ&0x01 != 0
	var n uint64
	if r.typ&0x02 != 0 {
		n = r.varint("length")
	} else {
		f.OmitLen = true
		n = uint64(len(r.b) - r.off)
	}
	f.Data = r.bytes("data", n)
	if r.err == nil && f.Offset+n > MaxVarint {
		r.failf("length", "offset %d + length %d exceeds 2^62-1", f.Offset, n)
	}
	return f
}

// MaxDataFrame is MAX_DATA (§19.9) and DataBlockedFrame DATA_BLOCKED (§19.12).
type MaxDataFrame struct{ Max uint64 }

// Len returns the encoded length in bytes.
func (f *MaxDataFrame) Len() int { return 1 + vl(f.Max) }

// Append appends the encoded frame to b and returns it.
func (f *MaxDataFrame) Append(b []byte) []byte {
	return AppendVarint(append(b, byte(FrameMaxData)), f.Max)
}

// ParseMaxData parses a MAX_DATA frame.
func ParseMaxData(b []byte) (MaxDataFrame, int, error) {
	r, err := expect(b, "MAX_DATA", FrameMaxData)
	if err != nil {
		return MaxDataFrame{}, 0, err
	}
	f := MaxDataFrame{Max: r.varint("maximum data")}
	return f, r.off, r.err
}

// DataBlockedFrame is DATA_BLOCKED (RFC 9000 §19.12).
type DataBlockedFrame struct{ Limit uint64 }

// Len returns the encoded length in bytes.
func (f *DataBlockedFrame) Len() int { return 1 + vl(f.Limit) }

// Append appends the encoded frame to b and returns it.
func (f *DataBlockedFrame) Append(b []byte) []byte {
	return AppendVarint(append(b, byte(FrameDataBlocked)), f.Limit)
}

// ParseDataBlocked parses a DATA_BLOCKED frame.
func ParseDataBlocked(b []byte) (DataBlockedFrame, int, error) {
	r, err := expect(b, "DATA_BLOCKED", FrameDataBlocked)
	if err != nil {
		return DataBlockedFrame{}, 0, err
	}
	f := DataBlockedFrame{Limit: r.varint("maximum data")}
	return f, r.off, r.err
}

// MaxStreamDataFrame is MAX_STREAM_DATA (RFC 9000 §19.10).
type MaxStreamDataFrame struct{ StreamID, Max uint64 }

// Len returns the encoded length in bytes.
func (f *MaxStreamDataFrame) Len() int { return 1 + vl(f.StreamID) + vl(f.Max) }

// Append appends the encoded frame to b and returns it.
func (f *MaxStreamDataFrame) Append(b []byte) []byte {
	return AppendVarint(AppendVarint(append(b, byte(FrameMaxStreamData)), f.StreamID), f.Max)
}

// ParseMaxStreamData parses a MAX_STREAM_DATA frame.
func ParseMaxStreamData(b []byte) (MaxStreamDataFrame, int, error) {
	r, err := expect(b, "MAX_STREAM_DATA", FrameMaxStreamData)
	if err != nil {
		return MaxStreamDataFrame{}, 0, err
	}
	f := MaxStreamDataFrame{StreamID: r.varint("stream ID"), Max: r.varint("maximum stream data")}
	return f, r.off, r.err
}

// StreamDataBlockedFrame is STREAM_DATA_BLOCKED (RFC 9000 §19.13).
type StreamDataBlockedFrame struct{ StreamID, Limit uint64 }

// Len returns the encoded length in bytes.
func (f *StreamDataBlockedFrame) Len() int { return 1 + vl(f.StreamID) + vl(f.Limit) }

// Append appends the encoded frame to b and returns it.
func (f *StreamDataBlockedFrame) Append(b []byte) []byte {
	return AppendVarint(AppendVarint(append(b, byte(FrameStreamDataBlocked)), f.StreamID), f.Limit)
}

// ParseStreamDataBlocked parses a STREAM_DATA_BLOCKED frame.
func ParseStreamDataBlocked(b []byte) (StreamDataBlockedFrame, int, error) {
	r, err := expect(b, "STREAM_DATA_BLOCKED", FrameStreamDataBlocked)
	if err != nil {
		return StreamDataBlockedFrame{}, 0, err
	}
	f := StreamDataBlockedFrame{StreamID: r.varint("stream ID"), Limit: r.varint("maximum stream data")}
	return f, r.off, r.err
}

// MaxStreamsFrame is MAX_STREAMS (RFC 9000 §19.11), bidirectional unless
// Uni. Max is at most MaxStreamCount.
type MaxStreamsFrame struct {
	Uni bool
	Max uint64
}

// Len returns the encoded length in bytes.
func (f *MaxStreamsFrame) Len() int { return 1 + vl(f.Max) }

// Append appends the encoded frame to b and returns it.
func (f *MaxStreamsFrame) Append(b []byte) []byte {
	t := FrameMaxStreamsBidi
	if f.Uni {
		t = FrameMaxStreamsUni
	}
	return AppendVarint(append(b, byte(t)), f.Max)
}

// ParseMaxStreams parses a MAX_STREAMS frame.
func ParseMaxStreams(b []byte) (MaxStreamsFrame, int, error) {
	r, err := expect(b, "MAX_STREAMS", FrameMaxStreamsBidi, FrameMaxStreamsUni)
	if err != nil {
		return MaxStreamsFrame{}, 0, err
	}
	f := MaxStreamsFrame{Uni: r.typ == FrameMaxStreamsUni, Max: r.streamCount("maximum streams")}
	return f, r.off, r.err
}

func (r *reader) streamCount(field string) uint64 {
	v := r.varint(field)
	if v > MaxStreamCount {
		r.failf(field, "%d exceeds 2^60", v)
	}
	return v
}

// StreamsBlockedFrame is STREAMS_BLOCKED (RFC 9000 §19.14).
type StreamsBlockedFrame struct {
	Uni   bool
	Limit uint64
}

// Len returns the encoded length in bytes.
func (f *StreamsBlockedFrame) Len() int { return 1 + vl(f.Limit) }

// Append appends the encoded frame to b and returns it.
func (f *StreamsBlockedFrame) Append(b []byte) []byte {
	t := FrameStreamsBlockedBidi
	if f.Uni {
		t = FrameStreamsBlockedUni
	}
	return AppendVarint(append(b, byte(t)), f.Limit)
}

// ParseStreamsBlocked parses a STREAMS_BLOCKED frame.
func ParseStreamsBlocked(b []byte) (StreamsBlockedFrame, int, error) {
	r, err := expect(b, "STREAMS_BLOCKED", FrameStreamsBlockedBidi, FrameStreamsBlockedUni)
	if err != nil {
		return StreamsBlockedFrame{}, 0, err
	}
	f := StreamsBlockedFrame{Uni: r.typ == FrameStreamsBlockedUni, Limit: r.streamCount("maximum streams")}
	return f, r.off, r.err
}

// NewConnectionIDFrame is NEW_CONNECTION_ID (RFC 9000 §19.15) or, with
// Multipath, PATH_NEW_CONNECTION_ID. Parsed CID references the buffer.
type NewConnectionIDFrame struct {
	Multipath     bool
	PathID        uint64
	Seq           uint64
	RetirePriorTo uint64
	CID           []byte
	ResetToken    [ResetTokenLen]byte
}

func (f *NewConnectionIDFrame) typ() FrameType {
	if f.Multipath {
		return FramePathNewConnectionID
	}
	return FrameNewConnectionID
}

// Len returns the encoded length in bytes.
func (f *NewConnectionIDFrame) Len() int {
	n := vl(uint64(f.typ())) + vl(f.Seq) + vl(f.RetirePriorTo) + 1 + len(f.CID) + ResetTokenLen
	if f.Multipath {
		n += vl(f.PathID)
	}
	return n
}

// Append appends the encoded frame to b and returns it.
func (f *NewConnectionIDFrame) Append(b []byte) []byte {
	b = AppendVarint(b, uint64(f.typ()))
	if f.Multipath {
		b = AppendVarint(b, f.PathID)
	}
	b = AppendVarint(AppendVarint(b, f.Seq), f.RetirePriorTo)
	b = append(append(b, byte(len(f.CID))), f.CID...)
	return append(b, f.ResetToken[:]...)
}

// ParseNewConnectionID parses a NEW_CONNECTION_ID or PATH_NEW_CONNECTION_ID
// frame: a 1-20 byte ID, Retire Prior To not above the sequence number.
func ParseNewConnectionID(b []byte) (NewConnectionIDFrame, int, error) {
	r, err := expect(b, "NEW_CONNECTION_ID", FrameNewConnectionID, FramePathNewConnectionID)
	if err != nil {
		return NewConnectionIDFrame{}, 0, err
	}
	f := parseNewConnectionIDBody(&r)
	return f, r.off, r.err
}

func parseNewConnectionIDBody(r *reader) NewConnectionIDFrame {
	var f NewConnectionIDFrame
	if r.typ == FramePathNewConnectionID {
		f.Multipath = true
		f.PathID = r.pathID("path ID")
	}
	f.Seq = r.varint("sequence number")
	f.RetirePriorTo = r.varint("retire prior to")
	if r.err == nil && f.RetirePriorTo > f.Seq {
		r.failf("retire prior to", "%d exceeds sequence number %d", f.RetirePriorTo, f.Seq)
	}
	l := r.bytes("length", 1)
	if r.err != nil {
		return f
	}
	if l[0] < 1 || l[0] > MaxConnIDLen {
		r.failf("length", "%d outside 1..20", l[0])
		return f
	}
	f.CID = r.bytes("connection ID", uint64(l[0]))
	if tok := r.bytes("stateless reset token", ResetTokenLen); r.err == nil {
		f.ResetToken = [ResetTokenLen]byte(tok)
	}
	return f
}

// RetireConnectionIDFrame is RETIRE_CONNECTION_ID (RFC 9000 §19.16) or,
// with Multipath, PATH_RETIRE_CONNECTION_ID.
type RetireConnectionIDFrame struct {
	Multipath bool
	PathID    uint64
	Seq       uint64
}

func (f *RetireConnectionIDFrame) typ() FrameType {
	if f.Multipath {
		return FramePathRetireConnectionID
	}
	return FrameRetireConnectionID
}

// Len returns the encoded length in bytes.
func (f *RetireConnectionIDFrame) Len() int {
	n := vl(uint64(f.typ())) + vl(f.Seq)
	if f.Multipath {
		n += vl(f.PathID)
	}
	return n
}

// Append appends the encoded frame to b and returns it.
func (f *RetireConnectionIDFrame) Append(b []byte) []byte {
	b = AppendVarint(b, uint64(f.typ()))
	if f.Multipath {
		b = AppendVarint(b, f.PathID)
	}
	return AppendVarint(b, f.Seq)
}

// ParseRetireConnectionID parses a RETIRE_CONNECTION_ID or
// PATH_RETIRE_CONNECTION_ID frame.
func ParseRetireConnectionID(b []byte) (RetireConnectionIDFrame, int, error) {
	r, err := expect(b, "RETIRE_CONNECTION_ID", FrameRetireConnectionID, FramePathRetireConnectionID)
	if err != nil {
		return RetireConnectionIDFrame{}, 0, err
	}
	var f RetireConnectionIDFrame
	if r.typ == FramePathRetireConnectionID {
		f.Multipath = true
		f.PathID = r.pathID("path ID")
	}
	f.Seq = r.varint("sequence number")
	return f, r.off, r.err
}

// PathChallengeFrame is PATH_CHALLENGE (§19.17) or, with Response,
// PATH_RESPONSE (§19.18).
type PathChallengeFrame struct {
	Response bool
	Data     [8]byte
}

// Len returns the encoded length in bytes.
func (f *PathChallengeFrame) Len() int { return 9 }

// Append appends the encoded frame to b and returns it.
func (f *PathChallengeFrame) Append(b []byte) []byte {
	t := FramePathChallenge
	if f.Response {
		t = FramePathResponse
	}
	return append(append(b, byte(t)), f.Data[:]...)
}

// ParsePathChallenge parses a PATH_CHALLENGE or PATH_RESPONSE frame.
func ParsePathChallenge(b []byte) (PathChallengeFrame, int, error) {
	r, err := expect(b, "PATH_CHALLENGE", FramePathChallenge, FramePathResponse)
	if err != nil {
		return PathChallengeFrame{}, 0, err
	}
	var f PathChallengeFrame
	f.Response = r.typ == FramePathResponse
	if d := r.bytes("data", 8); r.err == nil {
		f.Data = [8]byte(d)
	}
	return f, r.off, r.err
}

// ConnectionCloseFrame is CONNECTION_CLOSE (RFC 9000 §19.19): type 0x1c
// with the offending FrameType, or with Application type 0x1d. Parsed
// Reason references the buffer.
type ConnectionCloseFrame struct {
	Application bool
	Code        uint64
	FrameType   FrameType
	Reason      []byte
}

// Len returns the encoded length in bytes.
func (f *ConnectionCloseFrame) Len() int {
	n := 1 + vl(f.Code) + vl(uint64(len(f.Reason))) + len(f.Reason)
	if !f.Application {
		n += vl(uint64(f.FrameType))
	}
	return n
}

// Append appends the encoded frame to b and returns it.
func (f *ConnectionCloseFrame) Append(b []byte) []byte {
	t := FrameConnectionClose
	if f.Application {
		t = FrameApplicationClose
	}
	b = AppendVarint(append(b, byte(t)), f.Code)
	if !f.Application {
		b = AppendVarint(b, uint64(f.FrameType))
	}
	return append(AppendVarint(b, uint64(len(f.Reason))), f.Reason...)
}

// ParseConnectionClose parses a CONNECTION_CLOSE frame of either type.
func ParseConnectionClose(b []byte) (ConnectionCloseFrame, int, error) {
	r, err := expect(b, "CONNECTION_CLOSE", FrameConnectionClose, FrameApplicationClose)
	if err != nil {
		return ConnectionCloseFrame{}, 0, err
	}
	f := parseConnectionCloseBody(&r)
	return f, r.off, r.err
}

func parseConnectionCloseBody(r *reader) ConnectionCloseFrame {
	var f ConnectionCloseFrame
	f.Application = r.typ == FrameApplicationClose
	f.Code = r.varint("error code")
	if !f.Application {
		f.FrameType = FrameType(r.varint("frame type"))
	}
	n := r.varint("reason length")
	f.Reason = r.bytes("reason", n)
	return f
}

// DatagramFrame is DATAGRAM (RFC 9221). Parsed Data references the
// buffer; OmitLen uses type 0x30 (data to the end of the packet).
type DatagramFrame struct {
	Data    []byte
	OmitLen bool
}

// DatagramOverhead is the length of a DATAGRAM frame without its data.
func DatagramOverhead(dataLen int, omitLen bool) int {
	if omitLen {
		return 1
	}
	return 1 + vl(uint64(dataLen))
}

// Len returns the encoded length in bytes.
func (f *DatagramFrame) Len() int { return DatagramOverhead(len(f.Data), f.OmitLen) + len(f.Data) }

// Append appends the encoded frame to b and returns it.
func (f *DatagramFrame) Append(b []byte) []byte {
	if f.OmitLen {
		b = append(b, byte(FrameDatagram))
	} else {
		b = AppendVarint(append(b, byte(FrameDatagramLen)), uint64(len(f.Data)))
	}
	return append(b, f.Data...)
}

// ParseDatagram parses a DATAGRAM frame.
func ParseDatagram(b []byte) (DatagramFrame, int, error) {
	r, err := expect(b, "DATAGRAM", FrameDatagram, FrameDatagramLen)
	if err != nil {
		return DatagramFrame{}, 0, err
	}
	f := parseDatagramBody(&r)
	return f, r.off, r.err
}

func parseDatagramBody(r *reader) DatagramFrame {
	var f DatagramFrame
	var n uint64
	if r.typ == FrameDatagramLen {
		n = r.varint("length")
	} else {
		f.OmitLen = true
		n = uint64(len(r.b) - r.off)
	}
	f.Data = r.bytes("data", n)
	return f
}

// AckFrequencyFrame is ACK_FREQUENCY (type 0xaf, as noq implements
// draft-ietf-quic-ack-frequency). RequestMaxAckDelay is in microseconds.
type AckFrequencyFrame struct {
	Seq                   uint64
	AckElicitingThreshold uint64
	RequestMaxAckDelay    uint64
	ReorderingThreshold   uint64
}

// Len returns the encoded length in bytes.
func (f *AckFrequencyFrame) Len() int {
	return 2 + vl(f.Seq) + vl(f.AckElicitingThreshold) + vl(f.RequestMaxAckDelay) + vl(f.ReorderingThreshold)
}

// Append appends the encoded frame to b and returns it.
func (f *AckFrequencyFrame) Append(b []byte) []byte {
	b = AppendVarint(b, uint64(FrameAckFrequency))
	b = AppendVarint(AppendVarint(b, f.Seq), f.AckElicitingThreshold)
	return AppendVarint(AppendVarint(b, f.RequestMaxAckDelay), f.ReorderingThreshold)
}

// ParseAckFrequency parses an ACK_FREQUENCY frame.
func ParseAckFrequency(b []byte) (AckFrequencyFrame, int, error) {
	r, err := expect(b, "ACK_FREQUENCY", FrameAckFrequency)
	if err != nil {
		return AckFrequencyFrame{}, 0, err
	}
	f := AckFrequencyFrame{
		Seq:                   r.varint("sequence number"),
		AckElicitingThreshold: r.varint("ack-eliciting threshold"),
		RequestMaxAckDelay:    r.varint("request max ack delay"),
		ReorderingThreshold:   r.varint("reordering threshold"),
	}
	return f, r.off, r.err
}

// PathAbandonFrame is PATH_ABANDON (multipath).
type PathAbandonFrame struct{ PathID, Code uint64 }

// Len returns the encoded length in bytes.
func (f *PathAbandonFrame) Len() int { return 2 + vl(f.PathID) + vl(f.Code) }

// Append appends the encoded frame to b and returns it.
func (f *PathAbandonFrame) Append(b []byte) []byte {
	return AppendVarint(AppendVarint(AppendVarint(b, uint64(FramePathAbandon)), f.PathID), f.Code)
}

// ParsePathAbandon parses a PATH_ABANDON frame.
func ParsePathAbandon(b []byte) (PathAbandonFrame, int, error) {
	r, err := expect(b, "PATH_ABANDON", FramePathAbandon)
	if err != nil {
		return PathAbandonFrame{}, 0, err
	}
	f := PathAbandonFrame{PathID: r.pathID("path ID"), Code: r.varint("error code")}
	return f, r.off, r.err
}

// PathStatusFrame is PATH_STATUS_AVAILABLE (Available) or
// PATH_STATUS_BACKUP (multipath).
type PathStatusFrame struct {
	Available bool
	PathID    uint64
	Seq       uint64
}

// Len returns the encoded length in bytes.
func (f *PathStatusFrame) Len() int { return 2 + vl(f.PathID) + vl(f.Seq) }

// Append appends the encoded frame to b and returns it.
func (f *PathStatusFrame) Append(b []byte) []byte {
	t := FramePathStatusBackup
	if f.Available {
		t = FramePathStatusAvailable
	}
	return AppendVarint(AppendVarint(AppendVarint(b, uint64(t)), f.PathID), f.Seq)
}

// ParsePathStatus parses a PATH_STATUS_AVAILABLE or PATH_STATUS_BACKUP frame.
func ParsePathStatus(b []byte) (PathStatusFrame, int, error) {
	r, err := expect(b, "PATH_STATUS", FramePathStatusAvailable, FramePathStatusBackup)
	if err != nil {
		return PathStatusFrame{}, 0, err
	}
	f := PathStatusFrame{Available: r.typ == FramePathStatusAvailable, PathID: r.pathID("path ID"), Seq: r.varint("status sequence number")}
	return f, r.off, r.err
}

// MaxPathIDFrame is MAX_PATH_ID, or with Blocked PATHS_BLOCKED (multipath).
type MaxPathIDFrame struct {
	Blocked bool
	PathID  uint64
}

// Len returns the encoded length in bytes.
func (f *MaxPathIDFrame) Len() int { return 2 + vl(f.PathID) }

// Append appends the encoded frame to b and returns it.
func (f *MaxPathIDFrame) Append(b []byte) []byte {
	t := FrameMaxPathID
	if f.Blocked {
		t = FramePathsBlocked
	}
	return AppendVarint(AppendVarint(b, uint64(t)), f.PathID)
}

// ParseMaxPathID parses a MAX_PATH_ID or PATHS_BLOCKED frame.
func ParseMaxPathID(b []byte) (MaxPathIDFrame, int, error) {
	r, err := expect(b, "MAX_PATH_ID", FrameMaxPathID, FramePathsBlocked)
	if err != nil {
		return MaxPathIDFrame{}, 0, err
	}
	f := MaxPathIDFrame{Blocked: r.typ == FramePathsBlocked, PathID: r.pathID("maximum path ID")}
	return f, r.off, r.err
}

// PathCIDsBlockedFrame is PATH_CIDS_BLOCKED (multipath).
type PathCIDsBlockedFrame struct{ PathID, NextSeq uint64 }

// Len returns the encoded length in bytes.
func (f *PathCIDsBlockedFrame) Len() int { return 2 + vl(f.PathID) + vl(f.NextSeq) }

// Append appends the encoded frame to b and returns it.
func (f *PathCIDsBlockedFrame) Append(b []byte) []byte {
	return AppendVarint(AppendVarint(AppendVarint(b, uint64(FramePathCIDsBlocked)), f.PathID), f.NextSeq)
}

// ParsePathCIDsBlocked parses a PATH_CIDS_BLOCKED frame.
func ParsePathCIDsBlocked(b []byte) (PathCIDsBlockedFrame, int, error) {
	r, err := expect(b, "PATH_CIDS_BLOCKED", FramePathCIDsBlocked)
	if err != nil {
		return PathCIDsBlockedFrame{}, 0, err
	}
	f := PathCIDsBlockedFrame{PathID: r.pathID("path ID"), NextSeq: r.varint("next sequence number")}
	return f, r.off, r.err
}

// AddressFrame is one of the address-carrying frames: the QNT frames
// ADD_ADDRESS (Seq is the sequence number) and REACH_OUT (Seq is the
// round), and OBSERVED_ADDRESS of address discovery. Kind is the IPv4
// type of the pair (FrameAddAddressIPv4, FrameReachOutIPv4 or
// FrameObservedAddressIPv4; the IPv6 type is accepted as the same
// kind); Append picks the type of the pair by the address family.
type AddressFrame struct {
	Kind FrameType
	Seq  uint64
	Addr netip.AddrPort
}

func (f *AddressFrame) typ() FrameType {
	if f.Addr.Addr().Is4() {
		return f.Kind &^ 1
	}
	return f.Kind | 1
}

// Len returns the encoded length in bytes.
func (f *AddressFrame) Len() int { return vl(uint64(f.typ())) + vl(f.Seq) + addrLen(f.Addr) }

// Append appends the encoded frame to b and returns it.
func (f *AddressFrame) Append(b []byte) []byte {
	return appendAddrPort(AppendVarint(AppendVarint(b, uint64(f.typ())), f.Seq), f.Addr)
}

// ParseAddress parses an ADD_ADDRESS, REACH_OUT or OBSERVED_ADDRESS frame.
func ParseAddress(b []byte) (AddressFrame, int, error) {
	r, err := expect(b, "address", FrameAddAddressIPv4, FrameAddAddressIPv6, FrameReachOutIPv4,
		FrameReachOutIPv6, FrameObservedAddressIPv4, FrameObservedAddressIPv6)
	if err != nil {
		return AddressFrame{}, 0, err
	}
	f := parseAddressBody(&r)
	return f, r.off, r.err
}

func parseAddressBody(r *reader) AddressFrame {
	// The IPv6 type of each pair is the odd one.
	v6 := r.typ&1 == 1
	kind := r.typ &^ 1
	f := AddressFrame{Kind: kind, Seq: r.varint("sequence number")}
	f.Addr = r.addrPort("address", v6)
	return f
}

// RemoveAddressFrame is the QNT REMOVE_ADDRESS frame.
type RemoveAddressFrame struct{ Seq uint64 }

// Len returns the encoded length in bytes.
func (f *RemoveAddressFrame) Len() int { return vl(uint64(FrameRemoveAddress)) + vl(f.Seq) }

// Append appends the encoded frame to b and returns it.
func (f *RemoveAddressFrame) Append(b []byte) []byte {
	return AppendVarint(AppendVarint(b, uint64(FrameRemoveAddress)), f.Seq)
}

// ParseRemoveAddress parses a REMOVE_ADDRESS frame.
func ParseRemoveAddress(b []byte) (RemoveAddressFrame, int, error) {
	r, err := expect(b, "REMOVE_ADDRESS", FrameRemoveAddress)
	if err != nil {
		return RemoveAddressFrame{}, 0, err
	}
	f := RemoveAddressFrame{Seq: r.varint("sequence number")}
	return f, r.off, r.err
}
