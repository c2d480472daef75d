package wire

import "fmt"

// MinPayloadForSample is how many bytes of packet number and payload a
// protected packet needs before its AEAD tag so that header protection
// finds its 16-byte sample 4 bytes after the start of the packet number
// (RFC 9001 §5.4.2): with a 16-byte tag, 4.
const MinPayloadForSample = 4

// Builder lays out one UDP datagram of one or more coalesced packets
// (RFC 9000 §12.2) within a size budget: header, packet number, frames,
// room for the AEAD tag, and padding (Initial datagrams to 1200 bytes,
// short packets to the header protection sample). It writes plaintext;
// the caller seals each finished packet in place with package protect:
//
//	var b wire.Builder
//	b.Reset(buf[:0], maxDatagram)
//	if b.StartLong(&hdr, pn, pnLen, protect.TagLen) {
//		b.AddFrame(&ack)
//		n := b.AddCrypto(off, data)
//		p, ok := b.Finish(wire.MinInitialDatagramSize)
//		if ok {
//			_, err := keys.SealPacket(p.Plain, p.PNOffset, p.PNLen, pn)
//		}
//	}
//	datagram := b.Datagram()
//
// The tag's bytes are already counted in the datagram when Finish
// returns: sealing writes them in place. A Builder does not allocate
// when buf has capacity for the budget.
type Builder struct {
	buf []byte
	max int

	// The open packet; open is false between packets.
	open         bool
	typ          PacketType
	start        int
	lenOff       int // long headers only
	pnOff        int
	pnLen        int
	payloadStart int
	tagLen       int
	limit        int // buffer offset the payload may reach (max - tag)
	ackEliciting bool
	frames       int
	openEnded    bool // the last frame runs to the end of the packet
	full         bool // a 1-RTT packet was finished: nothing may follow
}

// BuiltPacket describes a packet Finish closed.
type BuiltPacket struct {
	Type PacketType
	// Plain is the packet's header and plaintext payload, without the
	// tag; its capacity covers the tag, so sealing it writes in place.
	Plain []byte
	// PNOffset and PNLen locate the packet number within Plain.
	PNOffset, PNLen int
	// Size is the packet's length on the wire, tag included.
	Size int
	// AckEliciting says a frame other than ACK, PADDING or
	// CONNECTION_CLOSE was added (loss recovery tracks it).
	AckEliciting bool
}

// Reset starts a new datagram in buf[:0] with at most maxSize bytes.
func (b *Builder) Reset(buf []byte, maxSize int) {
	b.buf, b.max, b.open, b.full = buf[:0], maxSize, false, false
}

// Datagram returns the datagram built so far.
func (b *Builder) Datagram() []byte { return b.buf }

// Len returns the datagram's length so far (finished packets).
func (b *Builder) Len() int { return len(b.buf) }

// Open reports whether a packet is being built.
func (b *Builder) Open() bool { return b.open }

// StartLong opens an Initial, 0-RTT or Handshake packet. It returns false,
// writing nothing, if the budget cannot hold the header, the minimum
// payload and the tag, or if the datagram already ends with a 1-RTT
// packet (which has no length, so nothing can follow it). It panics if a
// packet is open.
func (b *Builder) StartLong(h *LongHeader, pn uint64, pnLen, tagLen int) bool {
	b.mustBeClosed()
	if b.full || len(b.buf)+h.Len(pnLen)+max(MinPayloadForSample-pnLen, 1)+tagLen > b.max {
		return false
	}
	b.start = len(b.buf)
	b.buf, b.lenOff = h.Append(b.buf, pn, pnLen)
	b.begin(h.Type, pnLen, tagLen)
	// The 2-byte Length field bounds the packet.
	b.limit = min(b.limit, b.lenOff+LongLengthFieldLen+(1<<14-1)-tagLen)
	return true
}

// StartShort opens a 1-RTT packet, which will be the last of the
// datagram; see StartLong.
func (b *Builder) StartShort(dcid []byte, pn uint64, pnLen int, keyPhase, spin bool, tagLen int) bool {
	b.mustBeClosed()
	if b.full || len(b.buf)+ShortHeaderLen(len(dcid), pnLen)+max(MinPayloadForSample-pnLen, 1)+tagLen > b.max {
		return false
	}
	b.start = len(b.buf)
	b.buf = AppendShortHeader(b.buf, dcid, pn, pnLen, keyPhase, spin)
	b.lenOff = -1
	b.begin(Packet1RTT, pnLen, tagLen)
	return true
}

func (b *Builder) begin(t PacketType, pnLen, tagLen int) {
	b.open, b.typ = true, t
	b.pnLen, b.tagLen = pnLen, tagLen
	b.pnOff = len(b.buf) - pnLen
	b.payloadStart = len(b.buf)
	b.limit = b.max - tagLen
	b.ackEliciting, b.frames, b.openEnded = false, 0, false
}

func (b *Builder) mustBeClosed() {
	if b.open {
		panic("wire: Builder: a packet is already open")
	}
}

func (b *Builder) mustBeOpen() {
	if !b.open {
		panic("wire: Builder: no packet open")
	}
}

// mustAllow panics unless a packet is open and allows frames of type t
// (RFC 9000 Table 3): the Add methods' programmer-error check.
func (b *Builder) mustAllow(t FrameType) {
	b.mustBeOpen()
	if !t.Allowed(b.typ) {
		panic(fmt.Sprintf("wire: Builder: %v frame in a %v packet", t, b.typ))
	}
}

// Room returns how many bytes of frames still fit in the open packet:
// 0 after a frame that runs to the end of the packet.
func (b *Builder) Room() int {
	b.mustBeOpen()
	if b.openEnded {
		return 0
	}
	return max(b.limit-len(b.buf), 0)
}

// Frames returns how many frames were added to the open packet.
func (b *Builder) Frames() int { return b.frames }

func (b *Builder) added(t FrameType) {
	b.frames++
	if t.AckEliciting() {
		b.ackEliciting = true
	}
}

// AddFrame appends f if it fits and reports whether it did. For STREAM
// and DATAGRAM frames that should fill what is left, see AddStream and
// AddDatagram. It panics if f's type is not allowed in the packet type
// (a programmer error; the other Add methods check the same).
func (b *Builder) AddFrame(f *Frame) bool {
	b.mustAllow(f.Type)
	if f.Len() > b.Room() {
		return false
	}
	b.buf = AppendFrame(b.buf, f)
	b.added(f.Type)
	return true
}

// AddAck appends an ACK or PATH_ACK frame, dropping its oldest ranges
// (f.FitTo) if that makes it fit, and reports whether it was added.
func (b *Builder) AddAck(f *AckFrame) bool {
	b.mustAllow(FrameAck)
	if !f.FitTo(b.Room()) {
		return false
	}
	b.buf = f.Append(b.buf)
	b.added(FrameAck)
	return true
}

// AddStream appends a STREAM frame with as much of data as fits, from
// offset, and returns how many bytes of data it carries; fin is sent only
// if all of data fits. A frame cut short fills the packet and leaves out
// its length. It returns 0 and adds nothing if no byte fits (or, for an
// empty data with fin, if the empty frame does not fit).
func (b *Builder) AddStream(id, offset uint64, data []byte, fin bool) int {
	b.mustAllow(FrameStream)
	room := b.Room()
	base := StreamOverhead(id, offset, 0, true)
	if room <= base || (len(data) == 0 && !fin) {
		return 0
	}
	f := StreamFrame{StreamID: id, Offset: offset}
	if n := len(data); base+VarintLen(uint64(n))+n <= room {
		f.Data, f.Fin = data, fin
	} else {
		f.Data, f.OmitLen = data[:room-base], true
		b.openEnded = true
	}
	b.buf = f.Append(b.buf)
	b.added(FrameStream)
	return len(f.Data)
}

// AddCrypto appends a CRYPTO frame with as much of data as fits and
// returns how many bytes it carries (0: nothing added).
func (b *Builder) AddCrypto(offset uint64, data []byte) int {
	b.mustAllow(FrameCrypto)
	room := b.Room()
	n := len(data)
	for n > 0 && CryptoOverhead(offset, n)+n > room {
		// Shrinking by the excess converges in at most two steps (the
		// length varint only gets shorter).
		n -= CryptoOverhead(offset, n) + n - room
	}
	if n <= 0 {
		return 0
	}
	f := CryptoFrame{Offset: offset, Data: data[:n]}
	b.buf = f.Append(b.buf)
	b.added(FrameCrypto)
	return n
}

// AddDatagram appends a DATAGRAM frame if data fits whole (datagrams are
// never split) and reports whether it did. last leaves out the length
// (then nothing may follow: the caller finishes the packet).
func (b *Builder) AddDatagram(data []byte, last bool) bool {
	b.mustAllow(FrameDatagram)
	f := DatagramFrame{Data: data, OmitLen: last}
	if f.Len() > b.Room() {
		return false
	}
	b.buf = f.Append(b.buf)
	b.openEnded = last
	b.added(FrameDatagram)
	return true
}

// Abort drops the open packet.
func (b *Builder) Abort() {
	b.mustBeOpen()
	b.buf = b.buf[:b.start]
	b.open = false
}

// Finish closes the open packet: it pads the payload with PADDING frames
// so that the datagram (tag included) reaches minDatagram bytes (0 for
// none; the budget caps it) and the header protection sample exists,
// sets a long header's Length, and reserves the tag. A packet without
// frames is dropped (false). Padding follows the frames, except after a
// STREAM or DATAGRAM frame without length, which must stay last: then it
// goes before them.
func (b *Builder) Finish(minDatagram int) (BuiltPacket, bool) {
	b.mustBeOpen()
	b.open = false
	if b.frames == 0 {
		b.buf = b.buf[:b.start]
		return BuiltPacket{}, false
	}
	pad := 0
	if need := min(minDatagram, b.max) - (len(b.buf) + b.tagLen); need > 0 {
		pad = min(need, max(b.limit-len(b.buf), 0)) // a long header's Length caps it too
	}
	if short := MinPayloadForSample - (b.pnLen + len(b.buf) - b.payloadStart); short > pad {
		pad = short
	}
	if pad > 0 && !b.openEnded {
		b.buf = AppendPadding(b.buf, pad)
	} else if pad > 0 {
		n := len(b.buf)
		b.buf = AppendPadding(b.buf, pad)
		copy(b.buf[b.payloadStart+pad:], b.buf[b.payloadStart:n])
		clear(b.buf[b.payloadStart : b.payloadStart+pad])
	}
	if b.lenOff >= 0 {
		PutVarint2(b.buf[b.lenOff:], uint64(len(b.buf)-b.pnOff+b.tagLen))
	}
	end := len(b.buf)
	b.full = b.typ == Packet1RTT
	b.buf = AppendPadding(b.buf, b.tagLen)
	return BuiltPacket{
		Type:         b.typ,
		Plain:        b.buf[b.start:end],
		PNOffset:     b.pnOff - b.start,
		PNLen:        b.pnLen,
		Size:         len(b.buf) - b.start,
		AckEliciting: b.ackEliciting,
	}, true
}
