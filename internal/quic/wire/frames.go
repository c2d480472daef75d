package wire

import (
	"errors"
)

// Frame holds any one parsed frame: Type says which field is set. All
// STREAM types (0x08-0x0f) parse to Type FrameStream and both DATAGRAM
// types to FrameDatagram; their flags are in the StreamFrame and
// DatagramFrame. It is
// filled by ParseFrame and FrameIter without allocating (the ACK ranges
// reuse the slice of the previous ACK parsed into the same Frame).
type Frame struct {
	Type FrameType
	// Padding is the number of PADDING bytes (a run counts as one frame).
	Padding int

	Ack                AckFrame
	ResetStream        ResetStreamFrame
	StopSending        StopSendingFrame
	Crypto             CryptoFrame
	NewToken           NewTokenFrame
	Stream             StreamFrame
	MaxData            MaxDataFrame
	MaxStreamData      MaxStreamDataFrame
	MaxStreams         MaxStreamsFrame
	DataBlocked        DataBlockedFrame
	StreamDataBlocked  StreamDataBlockedFrame
	StreamsBlocked     StreamsBlockedFrame
	NewConnectionID    NewConnectionIDFrame
	RetireConnectionID RetireConnectionIDFrame
	PathChallenge      PathChallengeFrame
	ConnectionClose    ConnectionCloseFrame
	Datagram           DatagramFrame
	AckFrequency       AckFrequencyFrame
	PathAbandon        PathAbandonFrame
	PathStatus         PathStatusFrame
	MaxPathID          MaxPathIDFrame
	PathCIDsBlocked    PathCIDsBlockedFrame
	Address            AddressFrame
	RemoveAddress      RemoveAddressFrame

	ackBuf []AckRange
}

// ParseFrame parses the frame at the start of b into f and returns the
// bytes consumed. An unknown type is an error (RFC 9000 §12.4:
// FRAME_ENCODING_ERROR).
func ParseFrame(b []byte, f *Frame) (int, error) {
	// Fast paths for the frames of bulk transfer: one-byte types parsed
	// once, straight into f.
	if len(b) > 0 {
		switch t := FrameType(b[0]); {
		case t.IsStream():
			f.Type = FrameStream
			if n, ok := parseStreamFast(b, t, &f.Stream); ok {
				return n, nil
			}
			r := reader{b: b, off: 1, typ: t}
			f.Stream = parseStreamBody(&r)
			return r.off, r.err
		case t == FrameAck || t == FrameAckECN:
			r := reader{b: b, off: 1, typ: t}
			f.Type = t
			f.Ack = parseAckBody(&r, f.ackBuf)
			if cap(f.Ack.Ranges) > cap(f.ackBuf) {
				f.ackBuf = f.Ack.Ranges[:0]
			}
			return r.off, r.err
		}
	}
	return parseFrameSlow(b, f)
}

// parseFrameSlow is ParseFrame for all types; kept apart so that the
// fast paths above do not pay for its large stack frame.
func parseFrameSlow(b []byte, f *Frame) (int, error) {
	t, _, err := parseType(b)
	if err != nil {
		return 0, err
	}
	f.Type = t
	var n int
	switch {
	case t == FramePadding:
		f.Padding = PaddingLen(b)
		return f.Padding, nil
	case t == FramePing || t == FrameHandshakeDone || t == FrameImmediateAck:
		_, n, err = ParseSimpleFrame(b)
	case t == FrameAck || t == FrameAckECN || t == FramePathAck || t == FramePathAckECN:
		f.Ack, n, err = ParseAck(b, f.ackBuf)
		if cap(f.Ack.Ranges) > cap(f.ackBuf) {
			f.ackBuf = f.Ack.Ranges[:0]
		}
	case t == FrameResetStream:
		f.ResetStream, n, err = ParseResetStream(b)
	case t == FrameStopSending:
		f.StopSending, n, err = ParseStopSending(b)
	case t == FrameCrypto:
		f.Crypto, n, err = ParseCrypto(b)
	case t == FrameNewToken:
		f.NewToken, n, err = ParseNewToken(b)
	case t.IsStream():
		f.Type = FrameStream
		f.Stream, n, err = ParseStream(b)
	case t == FrameMaxData:
		f.MaxData, n, err = ParseMaxData(b)
	case t == FrameMaxStreamData:
		f.MaxStreamData, n, err = ParseMaxStreamData(b)
	case t == FrameMaxStreamsBidi || t == FrameMaxStreamsUni:
		f.MaxStreams, n, err = ParseMaxStreams(b)
	case t == FrameDataBlocked:
		f.DataBlocked, n, err = ParseDataBlocked(b)
	case t == FrameStreamDataBlocked:
		f.StreamDataBlocked, n, err = ParseStreamDataBlocked(b)
	case t == FrameStreamsBlockedBidi || t == FrameStreamsBlockedUni:
		f.StreamsBlocked, n, err = ParseStreamsBlocked(b)
	case t == FrameNewConnectionID || t == FramePathNewConnectionID:
		f.NewConnectionID, n, err = ParseNewConnectionID(b)
	case t == FrameRetireConnectionID || t == FramePathRetireConnectionID:
		f.RetireConnectionID, n, err = ParseRetireConnectionID(b)
	case t == FramePathChallenge || t == FramePathResponse:
		f.PathChallenge, n, err = ParsePathChallenge(b)
	case t == FrameConnectionClose || t == FrameApplicationClose:
		f.ConnectionClose, n, err = ParseConnectionClose(b)
	case t == FrameDatagram || t == FrameDatagramLen:
		f.Type = FrameDatagram
		f.Datagram, n, err = ParseDatagram(b)
	case t == FrameAckFrequency:
		f.AckFrequency, n, err = ParseAckFrequency(b)
	case t == FramePathAbandon:
		f.PathAbandon, n, err = ParsePathAbandon(b)
	case t == FramePathStatusAvailable || t == FramePathStatusBackup:
		f.PathStatus, n, err = ParsePathStatus(b)
	case t == FrameMaxPathID || t == FramePathsBlocked:
		f.MaxPathID, n, err = ParseMaxPathID(b)
	case t == FramePathCIDsBlocked:
		f.PathCIDsBlocked, n, err = ParsePathCIDsBlocked(b)
	case t == FrameAddAddressIPv4 || t == FrameAddAddressIPv6 || t == FrameReachOutIPv4 ||
		t == FrameReachOutIPv6 || t == FrameObservedAddressIPv4 || t == FrameObservedAddressIPv6:
		f.Address, n, err = ParseAddress(b)
	case t == FrameRemoveAddress:
		f.RemoveAddress, n, err = ParseRemoveAddress(b)
	default:
		return 0, &FrameError{Type: t, Field: "type", Err: errUnknownFrame}
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

var errUnknownFrame = errors.New("unknown frame type")

// AppendFrame appends f's frame (the field Type selects). PADDING appends
// f.Padding bytes. It panics on an unknown type (a programmer error).
func AppendFrame(b []byte, f *Frame) []byte {
	t := f.Type
	switch {
	case t == FramePadding:
		return AppendPadding(b, f.Padding)
	case t == FramePing || t == FrameHandshakeDone || t == FrameImmediateAck:
		return SimpleFrame{Type: t}.Append(b)
	case t == FrameAck || t == FrameAckECN || t == FramePathAck || t == FramePathAckECN:
		return f.Ack.Append(b)
	case t == FrameResetStream:
		return f.ResetStream.Append(b)
	case t == FrameStopSending:
		return f.StopSending.Append(b)
	case t == FrameCrypto:
		return f.Crypto.Append(b)
	case t == FrameNewToken:
		return f.NewToken.Append(b)
	case t.IsStream():
		return f.Stream.Append(b)
	case t == FrameMaxData:
		return f.MaxData.Append(b)
	case t == FrameMaxStreamData:
		return f.MaxStreamData.Append(b)
	case t == FrameMaxStreamsBidi || t == FrameMaxStreamsUni:
		return f.MaxStreams.Append(b)
	case t == FrameDataBlocked:
		return f.DataBlocked.Append(b)
	case t == FrameStreamDataBlocked:
		return f.StreamDataBlocked.Append(b)
	case t == FrameStreamsBlockedBidi || t == FrameStreamsBlockedUni:
		return f.StreamsBlocked.Append(b)
	case t == FrameNewConnectionID || t == FramePathNewConnectionID:
		return f.NewConnectionID.Append(b)
	case t == FrameRetireConnectionID || t == FramePathRetireConnectionID:
		return f.RetireConnectionID.Append(b)
	case t == FramePathChallenge || t == FramePathResponse:
		return f.PathChallenge.Append(b)
	case t == FrameConnectionClose || t == FrameApplicationClose:
		return f.ConnectionClose.Append(b)
	case t == FrameDatagram || t == FrameDatagramLen:
		return f.Datagram.Append(b)
	case t == FrameAckFrequency:
		return f.AckFrequency.Append(b)
	case t == FramePathAbandon:
		return f.PathAbandon.Append(b)
	case t == FramePathStatusAvailable || t == FramePathStatusBackup:
		return f.PathStatus.Append(b)
	case t == FrameMaxPathID || t == FramePathsBlocked:
		return f.MaxPathID.Append(b)
	case t == FramePathCIDsBlocked:
		return f.PathCIDsBlocked.Append(b)
	case t == FrameAddAddressIPv4 || t == FrameAddAddressIPv6 || t == FrameReachOutIPv4 ||
		t == FrameReachOutIPv6 || t == FrameObservedAddressIPv4 || t == FrameObservedAddressIPv6:
		return f.Address.Append(b)
	case t == FrameRemoveAddress:
		return f.RemoveAddress.Append(b)
	}
	panic("wire: AppendFrame of unknown type " + t.String())
}

// Len returns the encoded length of the frame the field Type selects
// (Padding bytes for PADDING).
func (f *Frame) Len() int {
	t := f.Type
	switch {
	case t == FramePadding:
		return f.Padding
	case t == FramePing || t == FrameHandshakeDone || t == FrameImmediateAck:
		return SimpleFrame{Type: t}.Len()
	case t == FrameAck || t == FrameAckECN || t == FramePathAck || t == FramePathAckECN:
		return f.Ack.Len()
	case t == FrameResetStream:
		return f.ResetStream.Len()
	case t == FrameStopSending:
		return f.StopSending.Len()
	case t == FrameCrypto:
		return f.Crypto.Len()
	case t == FrameNewToken:
		return f.NewToken.Len()
	case t.IsStream():
		return f.Stream.Len()
	case t == FrameMaxData:
		return f.MaxData.Len()
	case t == FrameMaxStreamData:
		return f.MaxStreamData.Len()
	case t == FrameMaxStreamsBidi || t == FrameMaxStreamsUni:
		return f.MaxStreams.Len()
	case t == FrameDataBlocked:
		return f.DataBlocked.Len()
	case t == FrameStreamDataBlocked:
		return f.StreamDataBlocked.Len()
	case t == FrameStreamsBlockedBidi || t == FrameStreamsBlockedUni:
		return f.StreamsBlocked.Len()
	case t == FrameNewConnectionID || t == FramePathNewConnectionID:
		return f.NewConnectionID.Len()
	case t == FrameRetireConnectionID || t == FramePathRetireConnectionID:
		return f.RetireConnectionID.Len()
	case t == FramePathChallenge || t == FramePathResponse:
		return f.PathChallenge.Len()
	case t == FrameConnectionClose || t == FrameApplicationClose:
		return f.ConnectionClose.Len()
	case t == FrameDatagram || t == FrameDatagramLen:
		return f.Datagram.Len()
	case t == FrameAckFrequency:
		return f.AckFrequency.Len()
	case t == FramePathAbandon:
		return f.PathAbandon.Len()
	case t == FramePathStatusAvailable || t == FramePathStatusBackup:
		return f.PathStatus.Len()
	case t == FrameMaxPathID || t == FramePathsBlocked:
		return f.MaxPathID.Len()
	case t == FramePathCIDsBlocked:
		return f.PathCIDsBlocked.Len()
	case t == FrameRemoveAddress:
		return f.RemoveAddress.Len()
	default:
		return f.Address.Len()
	}
}

// FrameIter walks the frames of a decrypted packet payload:
//
//	it := wire.NewFrameIter(payload)
//	for it.Next() {
//		f := it.Frame()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
//
// It does not allocate per frame. Frame data references the payload; the
// returned *Frame is overwritten by the next call of Next.
type FrameIter struct {
	b     []byte
	start int
	off   int
	f     Frame
	err   error
}

// NewFrameIter returns an iterator over the frames of payload.
func NewFrameIter(payload []byte) *FrameIter {
	it := &FrameIter{}
	it.Reset(payload)
	return it
}

// Reset restarts the iterator on a new payload, keeping its buffers.
func (it *FrameIter) Reset(payload []byte) {
	it.b, it.start, it.off, it.err = payload, 0, 0, nil
}

// Next parses the next frame. It returns false at the end of the payload
// or on an error (see Err).
func (it *FrameIter) Next() bool {
	if it.err != nil || it.off >= len(it.b) {
		return false
	}
	n, err := ParseFrame(it.b[it.off:], &it.f)
	if err != nil {
		it.err = err
		return false
	}
	it.start = it.off
	it.off += n
	return true
}

// Frame returns the frame Next parsed.
func (it *FrameIter) Frame() *Frame { return &it.f }

// Bytes returns the encoding of the current frame (a slice of the
// payload), for logs or for keeping it as it was received.
func (it *FrameIter) Bytes() []byte { return it.b[it.start:it.off] }

// Offset returns the payload offset after the current frame.
func (it *FrameIter) Offset() int { return it.off }

// Err returns the parse error that stopped the iteration, if any.
func (it *FrameIter) Err() error { return it.err }

// parseStreamFast parses a well-formed STREAM frame with straight-line
// code; on anything unusual (truncation, limits) it reports false and the
// checked parser runs instead, to produce the error.
func parseStreamFast(b []byte, t FrameType, f *StreamFrame) (int, bool) {
	off := 1
	id, n, err := ParseVarint(b[off:])
	if err != nil {
		return 0, false
	}
	off += n
	var offset uint64
	if t&0x04 != 0 {
		if offset, n, err = ParseVarint(b[off:]); err != nil {
			return 0, false
		}
		off += n
	}
	var l uint64
	if t&0x02 != 0 {
		if l, n, err = ParseVarint(b[off:]); err != nil || l > uint64(len(b)-off-n) {
			return 0, false
		}
		off += n
	} else {
		l = uint64(len(b) - off)
	}
	if offset+l > MaxVarint {
		return 0, false
	}
	*f = StreamFrame{StreamID: id, Offset: offset, Data: b[off : off+int(l)], Fin: t&0x01 != 0, OmitLen: t&0x02 == 0}
	return off + int(l), true
}
