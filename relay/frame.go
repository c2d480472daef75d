package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/iroh-go/iroh/key"
)

// FrameType is the first byte of every relay frame (a QUIC varint; every
// defined type is below 64, so it is one byte on the wire).
type FrameType uint8

// The frame types of iroh-relay 1.0 (core.md §5.4).
const (
	FrameServerChallenge            FrameType = 0  // S→C: 16-byte challenge
	FrameClientAuth                 FrameType = 1  // C→S: public key + signature
	FrameServerConfirmsAuth         FrameType = 2  // S→C: empty
	FrameServerDeniesAuth           FrameType = 3  // S→C: reason
	FrameClientToRelayDatagram      FrameType = 4  // C→S: dst + ecn + one datagram
	FrameClientToRelayDatagramBatch FrameType = 5  // C→S: dst + ecn + segment size + datagrams
	FrameRelayToClientDatagram      FrameType = 6  // S→C: src + ecn + one datagram
	FrameRelayToClientDatagramBatch FrameType = 7  // S→C: src + ecn + segment size + datagrams
	FrameEndpointGone               FrameType = 8  // S→C: id
	FramePing                       FrameType = 9  // both: 8 bytes
	FramePong                       FrameType = 10 // both: 8 bytes echoed
	FrameHealth                     FrameType = 11 // S→C, v1 only: problem text
	FrameRestarting                 FrameType = 12 // S→C: reconnect_in, try_for (ms)
	FrameStatus                     FrameType = 13 // S→C, v2 only: status code
)

var frameNames = [...]string{
	"ServerChallenge", "ClientAuth", "ServerConfirmsAuth", "ServerDeniesAuth",
	"ClientToRelayDatagram", "ClientToRelayDatagramBatch", "RelayToClientDatagram",
	"RelayToClientDatagramBatch", "EndpointGone", "Ping", "Pong", "Health", "Restarting", "Status",
}

// String returns the Rust name of the frame type.
func (t FrameType) String() string {
	if int(t) < len(frameNames) {
		return frameNames[t]
	}
	return fmt.Sprintf("FrameType(%d)", uint8(t))
}

// FromClient reports whether a client may send frames of type t.
func (t FrameType) FromClient() bool {
	switch t {
	case FrameClientAuth, FrameClientToRelayDatagram, FrameClientToRelayDatagramBatch, FramePing, FramePong:
		return true
	}
	return false
}

// FromServer reports whether a server may send frames of type t (to a client
// of either protocol version; see Status and Health for the version rules).
func (t FrameType) FromServer() bool {
	return t <= FrameStatus && !t.FromClient() || t == FramePing || t == FramePong
}

// Status codes carried by FrameStatus.
const (
	StatusHealthy                 = 0 // the connection is the active one for its EndpointID
	StatusSameEndpointIDConnected = 1 // another connection took over this EndpointID
)

// Wire limits (core.md §5.3, §5.8).
const (
	// MaxPacketSize bounds the payload of a datagram frame after the type
	// byte (MAX_PACKET_SIZE in iroh-relay); both decoders enforce it.
	MaxPacketSize = 65536
	// MaxFrameSize bounds one WebSocket message (MAX_FRAME_SIZE).
	MaxFrameSize = 1 << 20
	// ChallengeSize is the length of the server's challenge.
	ChallengeSize = 16
	// PingDataSize is the length of Ping and Pong payloads.
	PingDataSize = 8
)

// ECN values are the low two bits of the ECN byte: 0 not-ECT, 1 ECT(1),
// 2 ECT(0), 3 CE. Higher bits are masked off when parsing.
const ecnMask = 0x03

// Frame is one decoded relay frame. Which fields are meaningful depends on
// Type; the others are zero.
//
//   - ServerChallenge: Challenge
//   - ClientAuth: Key (the client), Signature
//   - ServerDeniesAuth, Health: Text
//   - datagram frames: Key (dst for 4/5, src for 6/7), ECN, SegmentSize
//     (0 = single datagram; batch types only), Contents
//   - EndpointGone: Key
//   - Ping, Pong: Data
//   - Restarting: ReconnectIn, TryFor (milliseconds)
//   - Status: Status
//
// Contents and Text alias the buffer passed to ParseFrame.
type Frame struct {
	Type        FrameType
	Key         key.PublicKey
	ECN         uint8
	SegmentSize uint16
	Contents    []byte
	Text        []byte
	Challenge   [ChallengeSize]byte
	Signature   key.Signature
	Data        [PingDataSize]byte
	ReconnectIn uint32
	TryFor      uint32
	Status      uint8
}

// FrameError is a frame that does not parse: which type and what was wrong.
type FrameError struct {
	Type   FrameType
	Reason string
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("relay frame %s: %s", e.Type, e.Reason)
}

// ErrUnknownFrame is wrapped by the error for an undefined frame type.
var ErrUnknownFrame = errors.New("relay frame: unknown type")

// ErrEmptyFrame is returned for a zero-length message.
var ErrEmptyFrame = errors.New("relay frame: empty message")

func frameErr(t FrameType, format string, args ...any) error {
	return &FrameError{Type: t, Reason: fmt.Sprintf(format, args...)}
}

// ParseFrame decodes one relay frame from b, which is one whole WebSocket
// message. It returns the number of bytes used, which is len(b) on success
// (frames fill their message). It checks lengths and structure; it does not
// check that keys are valid Ed25519 points (see ValidKey) nor verify
// signatures, and it does not check the direction (see FromClient).
func ParseFrame(b []byte) (Frame, int, error) {
	var f Frame
	if len(b) == 0 {
		return f, 0, ErrEmptyFrame
	}
	if b[0] >= 64 {
		// A multi-byte QUIC varint: no such type is defined.
		return f, 0, fmt.Errorf("%w %#x (multi-byte varint)", ErrUnknownFrame, b[0])
	}
	f.Type = FrameType(b[0])
	p := b[1:]
	exact := func(n int) error {
		if len(p) != n {
			return frameErr(f.Type, "payload length %d, want %d", len(p), n)
		}
		return nil
	}
	switch f.Type {
	case FrameServerChallenge:
		if err := exact(ChallengeSize); err != nil {
			return Frame{}, 0, err
		}
		copy(f.Challenge[:], p)
	case FrameClientAuth:
		if err := exact(key.Size + 1 + key.SignatureSize); err != nil {
			return Frame{}, 0, err
		}
		copy(f.Key[:], p)
		if p[key.Size] != key.SignatureSize {
			return Frame{}, 0, frameErr(f.Type, "signature length prefix %#x at offset 33, want 0x40", p[key.Size])
		}
		copy(f.Signature[:], p[key.Size+1:])
	case FrameServerConfirmsAuth:
		if err := exact(0); err != nil {
			return Frame{}, 0, err
		}
	case FrameServerDeniesAuth:
		n, w := binary.Uvarint(p)
		if w <= 0 || w != uvarintLen(n) {
			return Frame{}, 0, frameErr(f.Type, "bad reason length varint (truncated, overflowing or not minimal)")
		}
		if uint64(len(p)-w) != n {
			return Frame{}, 0, frameErr(f.Type, "reason length %d, but %d bytes follow", n, len(p)-w)
		}
		f.Text = p[w:]
		if !utf8.Valid(f.Text) {
			return Frame{}, 0, frameErr(f.Type, "reason is not UTF-8")
		}
	case FrameClientToRelayDatagram, FrameClientToRelayDatagramBatch,
		FrameRelayToClientDatagram, FrameRelayToClientDatagramBatch:
		if len(p) > MaxPacketSize {
			return Frame{}, 0, frameErr(f.Type, "length %d exceeds max %d", len(p), MaxPacketSize)
		}
		batch := f.Type == FrameClientToRelayDatagramBatch || f.Type == FrameRelayToClientDatagramBatch
		hl := key.Size + 1
		if batch {
			hl += 2
		}
		if len(p) < hl {
			return Frame{}, 0, frameErr(f.Type, "payload length %d shorter than header %d", len(p), hl)
		}
		copy(f.Key[:], p)
		f.ECN = p[key.Size] & ecnMask
		if batch {
			f.SegmentSize = binary.BigEndian.Uint16(p[key.Size+1:])
		}
		f.Contents = p[hl:]
	case FrameEndpointGone:
		if err := exact(key.Size); err != nil {
			return Frame{}, 0, err
		}
		copy(f.Key[:], p)
	case FramePing, FramePong:
		if err := exact(PingDataSize); err != nil {
			return Frame{}, 0, err
		}
		copy(f.Data[:], p)
	case FrameHealth:
		f.Text = p
		if !utf8.Valid(p) {
			return Frame{}, 0, frameErr(f.Type, "problem text is not UTF-8")
		}
	case FrameRestarting:
		if err := exact(8); err != nil {
			return Frame{}, 0, err
		}
		f.ReconnectIn = binary.BigEndian.Uint32(p)
		f.TryFor = binary.BigEndian.Uint32(p[4:])
	case FrameStatus:
		if err := exact(1); err != nil {
			return Frame{}, 0, err
		}
		f.Status = p[0]
	default:
		return Frame{}, 0, fmt.Errorf("%w %d", ErrUnknownFrame, b[0])
	}
	return f, len(b), nil
}

// EncodedLen returns the number of bytes AppendFrame writes for f.
func (f *Frame) EncodedLen() int {
	switch f.Type {
	case FrameServerChallenge:
		return 1 + ChallengeSize
	case FrameClientAuth:
		return 1 + key.Size + 1 + key.SignatureSize
	case FrameServerConfirmsAuth:
		return 1
	case FrameServerDeniesAuth:
		return 1 + uvarintLen(uint64(len(f.Text))) + len(f.Text)
	case FrameClientToRelayDatagram, FrameRelayToClientDatagram:
		return 1 + key.Size + 1 + len(f.Contents)
	case FrameClientToRelayDatagramBatch, FrameRelayToClientDatagramBatch:
		return 1 + key.Size + 3 + len(f.Contents)
	case FrameEndpointGone:
		return 1 + key.Size
	case FramePing, FramePong:
		return 1 + PingDataSize
	case FrameHealth:
		return 1 + len(f.Text)
	case FrameRestarting:
		return 9
	case FrameStatus:
		return 2
	}
	return 1
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// AppendFrame appends the encoding of f to b. It encodes what it is given;
// limits (MaxPacketSize) are the caller's to check, see CheckSize.
func AppendFrame(b []byte, f *Frame) []byte {
	b = append(b, byte(f.Type))
	switch f.Type {
	case FrameServerChallenge:
		b = append(b, f.Challenge[:]...)
	case FrameClientAuth:
		b = append(b, f.Key[:]...)
		b = append(b, key.SignatureSize)
		b = append(b, f.Signature[:]...)
	case FrameServerDeniesAuth:
		b = binary.AppendUvarint(b, uint64(len(f.Text)))
		b = append(b, f.Text...)
	case FrameClientToRelayDatagram, FrameRelayToClientDatagram:
		b = append(b, f.Key[:]...)
		b = append(b, f.ECN&ecnMask)
		b = append(b, f.Contents...)
	case FrameClientToRelayDatagramBatch, FrameRelayToClientDatagramBatch:
		b = append(b, f.Key[:]...)
		b = append(b, f.ECN&ecnMask)
		b = binary.BigEndian.AppendUint16(b, f.SegmentSize)
		b = append(b, f.Contents...)
	case FrameEndpointGone:
		b = append(b, f.Key[:]...)
	case FramePing, FramePong:
		b = append(b, f.Data[:]...)
	case FrameHealth:
		b = append(b, f.Text...)
	case FrameRestarting:
		b = binary.BigEndian.AppendUint32(b, f.ReconnectIn)
		b = binary.BigEndian.AppendUint32(b, f.TryFor)
	case FrameStatus:
		b = append(b, f.Status)
	}
	return b
}

// ErrEmptyDatagram is returned when sending zero-length datagram contents.
var ErrEmptyDatagram = errors.New("relay: empty datagram contents")

// ErrDatagramTooLarge is returned when a datagram frame would exceed
// MaxPacketSize.
var ErrDatagramTooLarge = fmt.Errorf("relay: datagram frame exceeds %d bytes", MaxPacketSize)

// DatagramFrame returns the client-to-relay frame for contents: type 4 when
// segmentSize is 0, else type 5. It checks the sending rules of iroh-relay:
// contents must not be empty and the payload after the type byte must fit
// MaxPacketSize.
func DatagramFrame(dst key.PublicKey, ecn uint8, segmentSize uint16, contents []byte) (Frame, error) {
	f := Frame{Type: FrameClientToRelayDatagram, Key: dst, ECN: ecn & ecnMask, SegmentSize: segmentSize, Contents: contents}
	if segmentSize != 0 {
		f.Type = FrameClientToRelayDatagramBatch
	}
	if len(contents) == 0 {
		return Frame{}, ErrEmptyDatagram
	}
	if f.EncodedLen()-1 > MaxPacketSize {
		return Frame{}, ErrDatagramTooLarge
	}
	return f, nil
}
