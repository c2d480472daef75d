package recovery

import (
	"errors"
	"fmt"
	"time"
)

// SpaceID names a packet number space of one path. A multipath connection
// has one Recovery per path; only the first path has Initial and Handshake
// spaces, every path has its own Application space (draft-ietf-quic-
// multipath-18 §5.1).
type SpaceID uint8

// The packet number spaces, in the order the PTO considers them.
const (
	Initial SpaceID = iota
	Handshake
	Application
	numSpaces
)

func (s SpaceID) String() string {
	switch s {
	case Initial:
		return "initial"
	case Handshake:
		return "handshake"
	case Application:
		return "application"
	}
	return fmt.Sprintf("space(%d)", uint8(s))
}

// SentPacket is what the tracker remembers of one sent packet.
type SentPacket struct {
	Number uint64
	Time   time.Time
	// Size is the packet's size on the wire, counted in bytes in flight
	// when InFlight.
	Size int
	// Token is the core's own handle, opaque here: e.g. the index of the
	// record of the frames the packet carried, to retransmit them when it
	// is lost or forget them when it is acknowledged.
	Token uint64
	// AckEliciting: the packet carried a frame other than ACK, PADDING or
	// CONNECTION_CLOSE.
	AckEliciting bool
	// InFlight: ack-eliciting or padding; counted against the congestion
	// window.
	InFlight bool
	// NotCongestion: a loss of this packet is no congestion signal (a PMTU
	// probe, RFC 8899 §3 and RFC 9000 §14.4). Its bytes still count in
	// flight.
	NotCongestion bool
	// ECT: the packet was sent with the ECT(0) codepoint (see MarkECT).
	ECT bool
}

// AckRange is one range of acknowledged packet numbers, both ends
// included, as an ACK frame carries it.
type AckRange struct {
	Smallest, Largest uint64
}

// Errors returned by the tracker. They describe a peer or core that broke
// the rules; the connection should close (an ACK of an unsent packet is a
// PROTOCOL_VIOLATION, RFC 9000 §13.1).
var (
	ErrAckUnsent       = errors.New("recovery: ACK of a packet number never sent")
	ErrAckRanges       = errors.New("recovery: ACK ranges not descending and disjoint")
	ErrSpaceFull       = errors.New("recovery: too many packets tracked in one space")
	ErrSpaceDiscarded  = errors.New("recovery: packet number space discarded")
	ErrPacketNumberOld = errors.New("recovery: packet number not above the last one sent")
)

type packetState uint8

const (
	stateOutstanding packetState = iota
	stateAcked
	stateLost
)

type entry struct {
	SentPacket
	state     packetState
	lossEvent uint32 // the congestion event its loss joined (0: none)
}

// space tracks the packets sent in one packet number space: a ring of
// entries in packet number order, acknowledged and lost ones kept as
// tombstones until they reach the front.
type space struct {
	ring  []entry // len is a power of two
	head  int
	n     int
	limit int // the ring never holds more

	hasSent  bool
	lastSent uint64

	hasLargestAcked bool
	largestAcked    uint64

	nonEliciting         int       // packets sent since the last ack-eliciting one
	lossTime             time.Time // earliest time a packet becomes lost by time, zero if none
	lastAckEliciting     time.Time
	ackElicitingInFlight int
	bytesInFlight        int

	// Packets below lowOutstanding are all acknowledged or lost: loss
	// detection starts its scan there instead of at the front.
	lowOutstanding uint64

	ce        uint64 // highest ECN-CE count the peer reported
	discarded bool
}

func (s *space) at(i int) *entry { return &s.ring[(s.head+i)&(len(s.ring)-1)] }

// search returns the index of the first entry with a number >= pn (n if none).
func (s *space) search(pn uint64) int {
	lo, hi := 0, s.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.at(m).Number < pn {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (s *space) push(p SentPacket) error {
	if s.discarded {
		return ErrSpaceDiscarded
	}
	if s.hasSent && p.Number <= s.lastSent {
		return fmt.Errorf("%w: %d after %d", ErrPacketNumberOld, p.Number, s.lastSent)
	}
	if s.n >= s.limit {
		// Lost tombstones kept for spurious-loss detection make room first.
		for s.n > 0 && s.ring[s.head].state != stateOutstanding {
			s.pop()
		}
		if s.n >= s.limit {
			return fmt.Errorf("%w: %d", ErrSpaceFull, s.n)
		}
	}
	if s.n == len(s.ring) {
		size := max(16, 2*len(s.ring))
		ring := make([]entry, size)
		for i := 0; i < s.n; i++ {
			ring[i] = *s.at(i)
		}
		s.ring, s.head = ring, 0
	}
	*s.at(s.n) = entry{SentPacket: p}
	s.n++
	s.hasSent, s.lastSent = true, p.Number
	if p.InFlight {
		s.bytesInFlight += p.Size
	}
	if p.AckEliciting {
		s.ackElicitingInFlight++
		s.lastAckEliciting = p.Time
		s.nonEliciting = 0
	} else {
		s.nonEliciting++
	}
	return nil
}

// remove takes an outstanding entry out of flight as acked or lost.
func (s *space) remove(e *entry, st packetState) {
	e.state = st
	if e.InFlight {
		s.bytesInFlight -= e.Size
	}
	if e.AckEliciting {
		s.ackElicitingInFlight--
	}
}

func (s *space) pop() {
	s.ring[s.head] = entry{}
	s.head = (s.head + 1) & (len(s.ring) - 1)
	s.n--
}

// trim pops tombstones from the front: acknowledged ones at once, lost
// ones once sent before keepLost, so an ACK arriving a little late can
// still reveal a spurious loss.
func (s *space) trim(keepLost time.Time) {
	for s.n > 0 {
		e := &s.ring[s.head]
		if e.state == stateOutstanding || (e.state == stateLost && e.Time.After(keepLost)) {
			return
		}
		s.pop()
	}
}

func (s *space) outstanding() int {
	c := 0
	for i := 0; i < s.n; i++ {
		if s.at(i).state == stateOutstanding {
			c++
		}
	}
	return c
}
