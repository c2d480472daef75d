package wire

import "fmt"

// FrameType is a QUIC frame type (RFC 9000 §12.4, §19 and extensions).
type FrameType uint64

// Frame types. FrameStream covers 0x08-0x0f (the low bits are the OFF,
// LEN and FIN flags) and FrameDatagram 0x30-0x31 (LEN flag).
const (
	FramePadding            FrameType = 0x00
	FramePing               FrameType = 0x01
	FrameAck                FrameType = 0x02
	FrameAckECN             FrameType = 0x03
	FrameResetStream        FrameType = 0x04
	FrameStopSending        FrameType = 0x05
	FrameCrypto             FrameType = 0x06
	FrameNewToken           FrameType = 0x07
	FrameStream             FrameType = 0x08
	FrameMaxData            FrameType = 0x10
	FrameMaxStreamData      FrameType = 0x11
	FrameMaxStreamsBidi     FrameType = 0x12
	FrameMaxStreamsUni      FrameType = 0x13
	FrameDataBlocked        FrameType = 0x14
	FrameStreamDataBlocked  FrameType = 0x15
	FrameStreamsBlockedBidi FrameType = 0x16
	FrameStreamsBlockedUni  FrameType = 0x17
	FrameNewConnectionID    FrameType = 0x18
	FrameRetireConnectionID FrameType = 0x19
	FramePathChallenge      FrameType = 0x1a
	FramePathResponse       FrameType = 0x1b
	FrameConnectionClose    FrameType = 0x1c
	FrameApplicationClose   FrameType = 0x1d
	FrameHandshakeDone      FrameType = 0x1e

	// draft-ietf-quic-ack-frequency as noq implements it.
	FrameImmediateAck FrameType = 0x1f
	FrameAckFrequency FrameType = 0xaf

	// RFC 9221. 0x30 has no length (data to the end of the packet).
	FrameDatagram    FrameType = 0x30
	FrameDatagramLen FrameType = 0x31

	// draft-ietf-quic-multipath-18 as noq implements it.
	FramePathAck                FrameType = 0x3e
	FramePathAckECN             FrameType = 0x3f
	FramePathAbandon            FrameType = 0x3e75
	FramePathStatusBackup       FrameType = 0x3e76
	FramePathStatusAvailable    FrameType = 0x3e77
	FramePathNewConnectionID    FrameType = 0x3e78
	FramePathRetireConnectionID FrameType = 0x3e79
	FrameMaxPathID              FrameType = 0x3e7a
	FramePathsBlocked           FrameType = 0x3e7b
	FramePathCIDsBlocked        FrameType = 0x3e7c

	// n0 NAT traversal (QNT), noq-proto n0_nat_traversal.rs.
	FrameAddAddressIPv4 FrameType = 0x3d7f90
	FrameAddAddressIPv6 FrameType = 0x3d7f91
	FrameReachOutIPv4   FrameType = 0x3d7f92
	FrameReachOutIPv6   FrameType = 0x3d7f93
	FrameRemoveAddress  FrameType = 0x3d7f94

	// QUIC address discovery (draft-seemann-quic-address-discovery), as
	// noq implements it; used on relay QAD connections.
	FrameObservedAddressIPv4 FrameType = 0x9f81a6
	FrameObservedAddressIPv6 FrameType = 0x9f81a7
)

var frameNames = map[FrameType]string{
	FramePadding: "PADDING", FramePing: "PING", FrameAck: "ACK", FrameAckECN: "ACK_ECN",
	FrameResetStream: "RESET_STREAM", FrameStopSending: "STOP_SENDING", FrameCrypto: "CRYPTO",
	FrameNewToken: "NEW_TOKEN", FrameMaxData: "MAX_DATA", FrameMaxStreamData: "MAX_STREAM_DATA",
	FrameMaxStreamsBidi: "MAX_STREAMS_BIDI", FrameMaxStreamsUni: "MAX_STREAMS_UNI",
	FrameDataBlocked: "DATA_BLOCKED", FrameStreamDataBlocked: "STREAM_DATA_BLOCKED",
	FrameStreamsBlockedBidi: "STREAMS_BLOCKED_BIDI", FrameStreamsBlockedUni: "STREAMS_BLOCKED_UNI",
	FrameNewConnectionID: "NEW_CONNECTION_ID", FrameRetireConnectionID: "RETIRE_CONNECTION_ID",
	FramePathChallenge: "PATH_CHALLENGE", FramePathResponse: "PATH_RESPONSE",
	FrameConnectionClose: "CONNECTION_CLOSE", FrameApplicationClose: "CONNECTION_CLOSE_APP",
	FrameHandshakeDone: "HANDSHAKE_DONE", FrameImmediateAck: "IMMEDIATE_ACK",
	FrameAckFrequency: "ACK_FREQUENCY", FrameDatagram: "DATAGRAM", FrameDatagramLen: "DATAGRAM",
	FramePathAck: "PATH_ACK", FramePathAckECN: "PATH_ACK_ECN", FramePathAbandon: "PATH_ABANDON",
	FramePathStatusBackup: "PATH_STATUS_BACKUP", FramePathStatusAvailable: "PATH_STATUS_AVAILABLE",
	FramePathNewConnectionID: "PATH_NEW_CONNECTION_ID", FramePathRetireConnectionID: "PATH_RETIRE_CONNECTION_ID",
	FrameMaxPathID: "MAX_PATH_ID", FramePathsBlocked: "PATHS_BLOCKED", FramePathCIDsBlocked: "PATH_CIDS_BLOCKED",
	FrameAddAddressIPv4: "ADD_ADDRESS", FrameAddAddressIPv6: "ADD_ADDRESS",
	FrameReachOutIPv4: "REACH_OUT", FrameReachOutIPv6: "REACH_OUT", FrameRemoveAddress: "REMOVE_ADDRESS",
	FrameObservedAddressIPv4: "OBSERVED_ADDRESS", FrameObservedAddressIPv6: "OBSERVED_ADDRESS",
}

// String returns the name.
func (t FrameType) String() string {
	if t.IsStream() {
		return "STREAM"
	}
	if s, ok := frameNames[t]; ok {
		return s
	}
	return fmt.Sprintf("FrameType(%#x)", uint64(t))
}

// IsStream reports whether t is one of the STREAM types 0x08-0x0f.
func (t FrameType) IsStream() bool { return t >= 0x08 && t <= 0x0f }

// Known reports whether t is a frame type this package parses.
func (t FrameType) Known() bool {
	_, ok := frameNames[t]
	return ok || t.IsStream()
}

// AckEliciting reports whether a frame of type t makes its packet
// ack-eliciting (RFC 9002 §2): all but PADDING, ACK and CONNECTION_CLOSE
// (and the multipath PATH_ACK).
func (t FrameType) AckEliciting() bool {
	switch t {
	case FramePadding, FrameAck, FrameAckECN, FramePathAck, FramePathAckECN,
		FrameConnectionClose, FrameApplicationClose:
		return false
	}
	return true
}

// Allowed reports whether a frame of type t may appear in a packet of
// type p (RFC 9000 Table 3, RFC 9221 §4 for DATAGRAM). Extension frames
// (ACK frequency, multipath, QNT, address discovery) are 1-RTT only.
// Receiving a frame in a packet type that does not allow it is a
// PROTOCOL_VIOLATION (RFC 9000 §12.4).
func (t FrameType) Allowed(p PacketType) bool {
	switch p {
	case PacketInitial, PacketHandshake:
		switch t {
		case FramePadding, FramePing, FrameAck, FrameAckECN, FrameCrypto, FrameConnectionClose:
			return true
		}
		return false
	case Packet0RTT:
		switch t {
		case FrameAck, FrameAckECN, FrameCrypto, FrameNewToken, FramePathResponse, FrameHandshakeDone:
			return false
		}
		return t.IsStream() || t <= FrameHandshakeDone || t == FrameDatagram || t == FrameDatagramLen
	case Packet1RTT:
		return t.Known()
	}
	return false
}
