package docs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/internal/postcard"
)

// ALPN is the protocol of document sync, the same in iroh-docs 0.35 and
// 0.100.
const ALPN = "/iroh-sync/1"

// MaxFrameSize bounds a sync frame's body. Rust accepts up to 1 GiB; we
// refuse more than 64 MiB (about 250,000 entries in one message, what a
// replica sends when the peer's range is empty), and the body is read as
// it arrives, so a header alone cannot make us allocate it.
const MaxFrameSize = 64 << 20

// ProtocolMessage is a ranger message over signed entries.
type ProtocolMessage = ranger.Message[*SignedEntry]

// MessageKind is the variant of a sync Message.
type MessageKind uint8

// Message variants, numbered as on the wire.
const (
	MsgInit  MessageKind = 0
	MsgSync  MessageKind = 1
	MsgAbort MessageKind = 2
)

// AbortReason says why an acceptor refused a sync.
type AbortReason uint8

// Abort reasons, numbered as on the wire.
const (
	AbortNotFound            AbortReason = 0
	AbortAlreadySyncing      AbortReason = 1
	AbortInternalServerError AbortReason = 2
)

// String names the reason.
func (r AbortReason) String() string {
	switch r {
	case AbortNotFound:
		return "not found"
	case AbortAlreadySyncing:
		return "already syncing"
	case AbortInternalServerError:
		return "internal server error"
	}
	return fmt.Sprintf("AbortReason(%d)", uint8(r))
}

// AbortError is returned by an initiator whose peer aborted the sync.
type AbortError struct{ Reason AbortReason }

func (e *AbortError) Error() string { return "docs: sync aborted by peer: " + e.Reason.String() }

// Message is one frame of /iroh-sync/1 (spec §6.1).
type Message struct {
	Kind      MessageKind
	Namespace NamespaceID     // Init
	Msg       ProtocolMessage // Init, Sync
	Reason    AbortReason     // Abort
}

// AppendBinary appends the postcard body of m (without the frame length).
func (m *Message) AppendBinary(b []byte) []byte {
	b = append(b, byte(m.Kind))
	switch m.Kind {
	case MsgInit:
		b = append(b, m.Namespace[:]...)
		b = ranger.AppendMessage(b, entryCodec{}, m.Msg)
	case MsgSync:
		b = ranger.AppendMessage(b, entryCodec{}, m.Msg)
	case MsgAbort:
		b = append(b, byte(m.Reason))
	}
	return b
}

// ParseMessage decodes a frame body; the whole body must be consumed.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if len(b) == 0 {
		return m, fmt.Errorf("sync message: empty")
	}
	m.Kind = MessageKind(b[0])
	off := 1
	switch m.Kind {
	case MsgInit:
		if len(b) < 33 {
			return m, fmt.Errorf("sync init namespace: %w", postcard.ErrTruncated)
		}
		copy(m.Namespace[:], b[1:33])
		off = 33
		fallthrough
	case MsgSync:
		pm, n, err := ranger.ParseMessage(b[off:], entryCodec{})
		if err != nil {
			return m, fmt.Errorf("sync message: %w", err)
		}
		m.Msg = pm
		off += n
	case MsgAbort:
		if len(b) < 2 {
			return m, fmt.Errorf("sync abort reason: %w", postcard.ErrTruncated)
		}
		m.Reason = AbortReason(b[1])
		if m.Reason > AbortInternalServerError {
			return m, fmt.Errorf("sync abort: reason %d unknown", b[1])
		}
		off = 2
	default:
		return m, fmt.Errorf("sync message: kind %d unknown", b[0])
	}
	if off != len(b) {
		return m, fmt.Errorf("sync message: %d bytes left over", len(b)-off)
	}
	return m, nil
}

// ErrFrameTooLarge is wrapped by ReadFrame for a frame over MaxFrameSize.
var ErrFrameTooLarge = errors.New("docs: sync frame too large")

// WriteFrame writes m as u32 BE length || body.
func WriteFrame(w io.Writer, m *Message) (int, error) {
	b := m.AppendBinary(make([]byte, 4, 256))
	if len(b)-4 > MaxFrameSize {
		return 0, fmt.Errorf("%w: %d bytes, max %d", ErrFrameTooLarge, len(b)-4, MaxFrameSize)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return w.Write(b)
}

// ReadFrame reads and decodes one frame. It returns io.EOF at a clean end
// of stream before a frame, and the frame's size on the wire.
func ReadFrame(r io.Reader) (Message, int, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			err = fmt.Errorf("sync frame header: %w", err)
		}
		return Message{}, 0, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrameSize {
		return Message{}, 0, fmt.Errorf("%w: %d bytes, max %d", ErrFrameTooLarge, n, MaxFrameSize)
	}
	var buf bytes.Buffer
	buf.Grow(int(min(n, 64<<10)))
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return Message{}, 0, fmt.Errorf("sync frame body of %d bytes: %w", n, noEOF(err))
	}
	m, err := ParseMessage(buf.Bytes())
	return m, 4 + int(n), err
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// OpKind is the variant of a gossip Op.
type OpKind uint8

// Op variants, numbered as on the wire (spec §7.2).
const (
	OpPut          OpKind = 0
	OpContentReady OpKind = 1
	OpSyncReport   OpKind = 2
)

// Op is a live-sync message broadcast on the document's gossip topic.
type Op struct {
	Kind      OpKind
	Entry     *SignedEntry // Put
	Hash      blobs.Hash   // ContentReady
	Namespace NamespaceID  // SyncReport
	Heads     []byte       // SyncReport: postcard Vec<(u64, AuthorId)>
}

// AppendBinary appends the postcard encoding of op.
func (op *Op) AppendBinary(b []byte) []byte {
	b = append(b, byte(op.Kind))
	switch op.Kind {
	case OpPut:
		b = op.Entry.AppendBinary(b)
	case OpContentReady:
		b = append(b, op.Hash[:]...)
	case OpSyncReport:
		b = append(b, op.Namespace[:]...)
		b = postcard.AppendBytes(b, op.Heads)
	}
	return b
}

// maxHeadsSize bounds a SyncReport's heads (gossip messages are small).
const maxHeadsSize = 64 << 10

// ParseOp decodes a gossip Op; the whole input must be consumed.
func ParseOp(b []byte) (Op, error) {
	var op Op
	if len(b) == 0 {
		return op, fmt.Errorf("docs op: empty")
	}
	op.Kind = OpKind(b[0])
	off := 1
	switch op.Kind {
	case OpPut:
		e, n, err := ParseSignedEntry(b[1:])
		if err != nil {
			return op, fmt.Errorf("docs op put: %w", err)
		}
		op.Entry = e
		off += n
	case OpContentReady:
		if len(b) < 1+blobs.HashSize {
			return op, fmt.Errorf("docs op content ready: %w", postcard.ErrTruncated)
		}
		copy(op.Hash[:], b[1:])
		off += blobs.HashSize
	case OpSyncReport:
		if len(b) < 33 {
			return op, fmt.Errorf("docs op sync report: %w", postcard.ErrTruncated)
		}
		copy(op.Namespace[:], b[1:33])
		h, n, err := postcard.Bytes(b[33:], maxHeadsSize)
		if err != nil {
			return op, fmt.Errorf("docs op sync report heads: %w", err)
		}
		op.Heads = h
		off = 33 + n
	default:
		return op, fmt.Errorf("docs op: kind %d unknown", b[0])
	}
	if off != len(b) {
		return op, fmt.Errorf("docs op: %d bytes left over", len(b)-off)
	}
	return op, nil
}

// Head is one author's newest timestamp in a SyncReport.
type Head struct {
	Timestamp uint64
	Author    AuthorID
}

// AppendHeads encodes heads (newest first) as postcard Vec<(u64, [u8;32])>,
// stopping before the encoding would exceed max bytes.
func AppendHeads(b []byte, heads []Head, max int) []byte {
	n := 0
	size := 1
	for _, h := range heads {
		s := postcard.UvarintLen(h.Timestamp) + 32
		if size+s > max {
			break
		}
		size += s
		n++
	}
	b = postcard.AppendUvarint(b, uint64(n))
	for _, h := range heads[:n] {
		b = postcard.AppendUvarint(b, h.Timestamp)
		b = append(b, h.Author[:]...)
	}
	return b
}

// ParseHeads decodes the heads of a SyncReport.
func ParseHeads(b []byte) ([]Head, error) {
	n, off, err := postcard.Uvarint(b)
	if err != nil {
		return nil, fmt.Errorf("heads count: %w", err)
	}
	if n > uint64(len(b)-off)/33 {
		return nil, fmt.Errorf("heads: %d heads cannot fit in %d bytes", n, len(b)-off)
	}
	heads := make([]Head, 0, n)
	for i := uint64(0); i < n; i++ {
		ts, m, err := postcard.Uvarint(b[off:])
		if err != nil {
			return nil, fmt.Errorf("head %d timestamp: %w", i, err)
		}
		off += m
		if len(b)-off < 32 {
			return nil, fmt.Errorf("head %d author: %w", i, postcard.ErrTruncated)
		}
		heads = append(heads, Head{Timestamp: ts, Author: AuthorID(b[off : off+32])})
		off += 32
	}
	if off != len(b) {
		return nil, fmt.Errorf("heads: %d bytes left over", len(b)-off)
	}
	return heads, nil
}
