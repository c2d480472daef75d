package proto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/iroh-go/iroh/internal/postcard"
	"github.com/iroh-go/iroh/key"
	"github.com/zeebo/blake3"
)

// PeerID identifies a peer: its endpoint id (32 raw bytes on the wire).
type PeerID = key.PublicKey

// TopicID names a topic: 32 arbitrary bytes.
type TopicID [32]byte

// MessageID is the BLAKE3 hash of a Gossip message's content.
type MessageID [32]byte

// NewMessageID returns the id of content: its BLAKE3 hash.
func NewMessageID(content []byte) MessageID { return MessageID(blake3.Sum256(content)) }

// TopicFromName hashes a human-readable name to a TopicID (BLAKE3), as the
// chat example of iroh-gossip does.
func TopicFromName(name string) TopicID { return TopicID(blake3.Sum256([]byte(name))) }

// String returns the lowercase hex of the id.
func (t TopicID) String() string { return fmt.Sprintf("%x", t[:]) }

// String returns the lowercase hex of the id.
func (m MessageID) String() string { return fmt.Sprintf("%x", m[:]) }

// MsgType is the kind of a TopicMessage. The first six are HyParView
// (Swarm) messages, the last four PlumTree (Gossip) messages, in the
// order of their postcard enum indices.
type MsgType uint8

// The message types of spec §2.1.
const (
	MsgJoin MsgType = iota
	MsgForwardJoin
	MsgShuffle
	MsgShuffleReply
	MsgNeighbor
	MsgDisconnect
	MsgGossip
	MsgPrune
	MsgGraft
	MsgIHave
)

var msgTypeNames = [...]string{"Join", "ForwardJoin", "Shuffle", "ShuffleReply", "Neighbor", "Disconnect", "Gossip", "Prune", "Graft", "IHave"}

func (t MsgType) String() string {
	if int(t) < len(msgTypeNames) {
		return msgTypeNames[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// IsSwarm reports whether t is a HyParView message.
func (t MsgType) IsSwarm() bool { return t <= MsgDisconnect }

// Priority of a Neighbor request: High always succeeds (evicting a random
// active peer when full), Low only when there is a free slot.
type Priority uint8

// Priorities with their wire values.
const (
	High Priority = 0
	Low  Priority = 1
)

// Scope is the DeliveryScope of a Gossip message: the swarm with the
// number of hops so far (Round), or the sender's neighbours only.
type Scope struct {
	Neighbors bool
	Round     uint16
}

// IsDirect reports whether the message came straight from its author:
// Neighbors scope or round 0.
func (s Scope) IsDirect() bool { return s.Neighbors || s.Round == 0 }

func (s Scope) String() string {
	if s.Neighbors {
		return "neighbors"
	}
	return fmt.Sprintf("swarm(%d)", s.Round)
}

// PeerInfo is a peer id with its optional peer data (nil means none).
type PeerInfo struct {
	ID   PeerID
	Data []byte
}

// IHave announces a message id and the round at which it was received.
type IHave struct {
	ID    MessageID
	Round uint16
}

// Message is one TopicMessage. Type selects which fields are meaningful:
//
//	Join         Data (nil: None)
//	ForwardJoin  Peer, TTL
//	Shuffle      Origin, Nodes, TTL
//	ShuffleReply Nodes
//	Neighbor     Priority, Data
//	Disconnect   Alive, Respond
//	Gossip       ID, Content, Scope
//	Prune        -
//	Graft        HasID, ID, Round
//	IHave        IHaves
type Message struct {
	Type     MsgType
	Data     []byte
	Peer     PeerInfo
	TTL      uint16
	Origin   PeerID
	Nodes    []PeerInfo
	Priority Priority
	Alive    bool
	Respond  bool
	ID       MessageID
	HasID    bool
	Content  []byte
	Scope    Scope
	Round    uint16
	IHaves   []IHave
}

// Limits of the wire format.
const (
	// DefaultMaxMessageSize is the default limit of a frame's postcard
	// body (spec §1); it must be equal network-wide.
	DefaultMaxMessageSize = 4096
	// MinMaxMessageSize is the smallest allowed limit.
	MinMaxMessageSize = 512
	// frameHeaderLen is the u32 big-endian length prefix.
	frameHeaderLen = 4
)

// ErrFrameTooLarge is returned for a frame whose length exceeds the limit.
var ErrFrameTooLarge = errors.New("gossip frame: too large")

// ParseError says what was wrong with a message and at which offset.
type ParseError struct {
	Off int
	Msg string
	Err error
}

func (e *ParseError) Error() string {
	s := fmt.Sprintf("gossip message: %s at offset %d", e.Msg, e.Off)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ParseError) Unwrap() error { return e.Err }

// MaxContentLen returns the largest content a Gossip message may carry so
// that its frame body stays below maxMessageSize (the sender's rule:
// body length < max).
func MaxContentLen(maxMessageSize int) int {
	// body = 01 00 id[32] varint(len) content scope(<= 1+3)
	n := maxMessageSize - 1 - 2 - 32 - 4
	for n > 0 && n+postcard.UvarintLen(uint64(n)) > maxMessageSize-1-2-32-4 {
		n--
	}
	return n
}

// IHavesPerMessage is how many IHave entries fit one message with the
// given limit: floor((max - 33 - 3) / 35), as Rust computes it.
func IHavesPerMessage(maxMessageSize int) int {
	n := (maxMessageSize - 33 - 3) / 35
	if n < 1 {
		n = 1
	}
	return n
}

func appendOptData(b, d []byte) []byte {
	if d == nil {
		return append(b, 0)
	}
	return postcard.AppendBytes(append(b, 1), d)
}

func appendPeerInfo(b []byte, p PeerInfo) []byte {
	b = append(b, p.ID[:]...)
	return appendOptData(b, p.Data)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendMessage appends the postcard encoding of m (a TopicMessage, as
// carried after the stream header in 0.101).
func AppendMessage(b []byte, m *Message) []byte {
	if m.Type.IsSwarm() {
		b = append(b, 0, byte(m.Type))
	} else {
		b = append(b, 1, byte(m.Type-MsgGossip))
	}
	switch m.Type {
	case MsgJoin:
		b = appendOptData(b, m.Data)
	case MsgForwardJoin:
		b = appendPeerInfo(b, m.Peer)
		b = postcard.AppendUvarint(b, uint64(m.TTL))
	case MsgShuffle:
		b = append(b, m.Origin[:]...)
		b = postcard.AppendUvarint(b, uint64(len(m.Nodes)))
		for _, n := range m.Nodes {
			b = appendPeerInfo(b, n)
		}
		b = postcard.AppendUvarint(b, uint64(m.TTL))
	case MsgShuffleReply:
		b = postcard.AppendUvarint(b, uint64(len(m.Nodes)))
		for _, n := range m.Nodes {
			b = appendPeerInfo(b, n)
		}
	case MsgNeighbor:
		b = append(b, byte(m.Priority))
		b = appendOptData(b, m.Data)
	case MsgDisconnect:
		b = appendBool(b, m.Alive)
		b = appendBool(b, m.Respond)
	case MsgGossip:
		b = append(b, m.ID[:]...)
		b = postcard.AppendBytes(b, m.Content)
		if m.Scope.Neighbors {
			b = append(b, 1)
		} else {
			b = append(b, 0)
			b = postcard.AppendUvarint(b, uint64(m.Scope.Round))
		}
	case MsgPrune:
	case MsgGraft:
		if m.HasID {
			b = append(b, 1)
			b = append(b, m.ID[:]...)
		} else {
			b = append(b, 0)
		}
		b = postcard.AppendUvarint(b, uint64(m.Round))
	case MsgIHave:
		b = postcard.AppendUvarint(b, uint64(len(m.IHaves)))
		for _, ih := range m.IHaves {
			b = append(b, ih.ID[:]...)
			b = postcard.AppendUvarint(b, uint64(ih.Round))
		}
	}
	return b
}

// MessageLen returns the length of m's encoding.
func MessageLen(m *Message) int {
	// Messages are small; encoding into a stack buffer is cheap enough.
	var buf [256]byte
	return len(AppendMessage(buf[:0], m))
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) fail(msg string, err error) error {
	return &ParseError{Off: r.off, Msg: msg, Err: err}
}

func (r *reader) byte1(what string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.fail(what, postcard.ErrTruncated)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) fixed32(what string) ([32]byte, error) {
	if len(r.b)-r.off < 32 {
		return [32]byte{}, r.fail(what, postcard.ErrTruncated)
	}
	var v [32]byte
	copy(v[:], r.b[r.off:])
	r.off += 32
	return v, nil
}

func (r *reader) u16(what string) (uint16, error) {
	v, n, err := postcard.Uvarint(r.b[r.off:])
	if err != nil {
		return 0, r.fail(what, err)
	}
	if v > 0xffff {
		return 0, r.fail(fmt.Sprintf("%s %d exceeds u16", what, v), nil)
	}
	r.off += n
	return uint16(v), nil
}

func (r *reader) boolean(what string) (bool, error) {
	c, err := r.byte1(what)
	if err != nil {
		return false, err
	}
	if c > 1 {
		return false, r.fail(fmt.Sprintf("%s: bool byte %d", what, c), nil)
	}
	return c == 1, nil
}

func (r *reader) bytes(what string) ([]byte, error) {
	v, n, err := postcard.Bytes(r.b[r.off:], len(r.b))
	if err != nil {
		return nil, r.fail(what, err)
	}
	r.off += n
	return v, nil
}

func (r *reader) optData(what string) ([]byte, error) {
	tag, err := r.byte1(what)
	if err != nil {
		return nil, err
	}
	switch tag {
	case 0:
		return nil, nil
	case 1:
		d, err := r.bytes(what)
		if err != nil {
			return nil, err
		}
		if d == nil {
			d = []byte{}
		}
		return d, nil
	}
	r.off--
	return nil, r.fail(fmt.Sprintf("%s: option tag %d", what, tag), nil)
}

func (r *reader) peerInfo() (PeerInfo, error) {
	id, err := r.fixed32("peer id")
	if err != nil {
		return PeerInfo{}, err
	}
	d, err := r.optData("peer data")
	if err != nil {
		return PeerInfo{}, err
	}
	return PeerInfo{ID: PeerID(id), Data: d}, nil
}

// count reads a sequence length and checks that each of its elements,
// at least min bytes long, could fit in what is left.
func (r *reader) count(what string, min int) (int, error) {
	v, n, err := postcard.Uvarint(r.b[r.off:])
	if err != nil {
		return 0, r.fail(what, err)
	}
	if v > uint64((len(r.b)-r.off-n)/min) {
		return 0, r.fail(fmt.Sprintf("%s: %d entries cannot fit in %d bytes", what, v, len(r.b)-r.off-n), nil)
	}
	r.off += n
	return int(v), nil
}

func (r *reader) peerInfos() ([]PeerInfo, error) {
	c, err := r.count("node count", 33)
	if err != nil {
		return nil, err
	}
	nodes := make([]PeerInfo, 0, c)
	for range c {
		p, err := r.peerInfo()
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, p)
	}
	return nodes, nil
}

// ParseMessage decodes one TopicMessage from the start of b and returns it
// with the number of bytes used. Byte slices in the result alias b.
func ParseMessage(b []byte) (Message, int, error) {
	r := &reader{b: b}
	var m Message
	layer, err := r.byte1("layer")
	if err != nil {
		return m, 0, err
	}
	kind, err := r.byte1("kind")
	if err != nil {
		return m, 0, err
	}
	switch {
	case layer == 0 && kind <= byte(MsgDisconnect):
		m.Type = MsgType(kind)
	case layer == 1 && kind <= byte(MsgIHave-MsgGossip):
		m.Type = MsgGossip + MsgType(kind)
	case layer > 1:
		return m, 0, &ParseError{Off: 0, Msg: fmt.Sprintf("layer %d (want 0 Swarm or 1 Gossip)", layer)}
	default:
		return m, 0, &ParseError{Off: 1, Msg: fmt.Sprintf("unknown message kind %d in layer %d", kind, layer)}
	}
	switch m.Type {
	case MsgJoin:
		m.Data, err = r.optData("join data")
	case MsgForwardJoin:
		if m.Peer, err = r.peerInfo(); err == nil {
			m.TTL, err = r.u16("ttl")
		}
	case MsgShuffle:
		var o [32]byte
		if o, err = r.fixed32("origin"); err == nil {
			m.Origin = PeerID(o)
			if m.Nodes, err = r.peerInfos(); err == nil {
				m.TTL, err = r.u16("ttl")
			}
		}
	case MsgShuffleReply:
		m.Nodes, err = r.peerInfos()
	case MsgNeighbor:
		var p byte
		if p, err = r.byte1("priority"); err == nil {
			if p > 1 {
				return m, 0, &ParseError{Off: r.off - 1, Msg: fmt.Sprintf("priority %d (want 0 High or 1 Low)", p)}
			}
			m.Priority = Priority(p)
			m.Data, err = r.optData("neighbor data")
		}
	case MsgDisconnect:
		if m.Alive, err = r.boolean("alive"); err == nil {
			m.Respond, err = r.boolean("respond")
		}
	case MsgGossip:
		var id [32]byte
		if id, err = r.fixed32("message id"); err == nil {
			m.ID = id
			if m.Content, err = r.bytes("content"); err == nil {
				if m.Content == nil {
					m.Content = []byte{}
				}
				var s byte
				if s, err = r.byte1("scope"); err == nil {
					switch s {
					case 0:
						m.Scope.Round, err = r.u16("round")
					case 1:
						m.Scope.Neighbors = true
					default:
						return m, 0, &ParseError{Off: r.off - 1, Msg: fmt.Sprintf("delivery scope %d (want 0 Swarm or 1 Neighbors)", s)}
					}
				}
			}
		}
	case MsgPrune:
	case MsgGraft:
		var tag byte
		if tag, err = r.byte1("graft id"); err == nil {
			switch tag {
			case 0:
			case 1:
				var id [32]byte
				if id, err = r.fixed32("graft id"); err == nil {
					m.ID, m.HasID = id, true
				}
			default:
				return m, 0, &ParseError{Off: r.off - 1, Msg: fmt.Sprintf("graft id: option tag %d", tag)}
			}
			if err == nil {
				m.Round, err = r.u16("round")
			}
		}
	case MsgIHave:
		var c int
		if c, err = r.count("ihave count", 33); err == nil {
			m.IHaves = make([]IHave, 0, c)
			for range c {
				var ih IHave
				var id [32]byte
				if id, err = r.fixed32("ihave id"); err != nil {
					break
				}
				ih.ID = id
				if ih.Round, err = r.u16("ihave round"); err != nil {
					break
				}
				m.IHaves = append(m.IHaves, ih)
			}
		}
	}
	if err != nil {
		return m, 0, err
	}
	return m, r.off, nil
}

// DecodeMessage parses b as exactly one message: trailing bytes are an
// error.
func DecodeMessage(b []byte) (Message, error) {
	m, n, err := ParseMessage(b)
	if err != nil {
		return m, err
	}
	if n != len(b) {
		return m, &ParseError{Off: n, Msg: fmt.Sprintf("%d trailing bytes after %s", len(b)-n, m.Type)}
	}
	return m, nil
}

// AppendStreamHeader appends the postcard StreamHeader{topic_id} body that
// opens every 0.101 uni stream.
func AppendStreamHeader(b []byte, t TopicID) []byte { return append(b, t[:]...) }

// ParseStreamHeader decodes a StreamHeader body (exactly 32 bytes).
func ParseStreamHeader(b []byte) (TopicID, error) {
	if len(b) != 32 {
		return TopicID{}, &ParseError{Msg: fmt.Sprintf("stream header of %d bytes (want 32)", len(b))}
	}
	return TopicID(b), nil
}

// AppendFrame appends body as a frame: its u32 big-endian length, then
// the bytes.
func AppendFrame(b, body []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

// ReadFrame reads one frame from r into buf (grown as needed) and returns
// its body. A length above max is ErrFrameTooLarge, checked before reading
// the body. io.EOF means the stream ended cleanly between frames.
func ReadFrame(r io.Reader, buf []byte, max int) ([]byte, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("gossip frame: truncated length prefix: %w", err)
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: length %d exceeds max %d", ErrFrameTooLarge, n, max)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("gossip frame: body of %d bytes: %w", n, err)
	}
	return buf, nil
}

// ALPN is the protocol of iroh-gossip 0.101 (spec §3.3).
const ALPN = "/iroh-gossip/1"

// ALPN035 is the protocol of iroh-gossip 0.35 (spec §3.2): one
// bidirectional stream per connection whose frames carry ProtoMessage
// bodies (topic, then the message).
const ALPN035 = "/iroh-gossip/0"

// topicLen is the size of the topic that starts every 0.35 frame body.
const topicLen = 32

// AppendProtoMessage appends the body of a 0.35 frame: the postcard
// ProtoMessage{topic, message}, i.e. the 32 topic bytes followed by the
// TopicMessage.
func AppendProtoMessage(b []byte, t TopicID, m *Message) []byte {
	return AppendMessage(append(b, t[:]...), m)
}

// ProtoMessageLen is the encoded length of a 0.35 frame body.
func ProtoMessageLen(m *Message) int { return topicLen + MessageLen(m) }

// DecodeProtoMessage parses a 0.35 frame body: a topic and exactly one
// message after it (trailing bytes are an error).
func DecodeProtoMessage(b []byte) (TopicID, Message, error) {
	if len(b) < topicLen {
		return TopicID{}, Message{}, &ParseError{Off: len(b), Msg: fmt.Sprintf("0.35 message of %d bytes truncated in its topic (want at least %d)", len(b), topicLen+1)}
	}
	m, err := DecodeMessage(b[topicLen:])
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.Off += topicLen
		}
		return TopicID{}, m, err
	}
	return TopicID(b[:topicLen]), m, nil
}

// MaxContentLen035 is MaxContentLen for a swarm that includes 0.35 peers,
// whose frame bodies also carry the 32-byte topic.
func MaxContentLen035(maxMessageSize int) int { return MaxContentLen(maxMessageSize - topicLen) }
