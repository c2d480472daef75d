package quic

import "time"

// frameKind names a frame we sent that needs action when its packet is
// acknowledged or lost.
type frameKind uint8

const (
	frStream frameKind = iota
	frCrypto
	frResetStream
	frStopSending
	frMaxData
	frMaxStreamData
	frMaxStreamsBidi
	frMaxStreamsUni
	frDataBlocked
	frStreamDataBlocked
	frStreamsBlockedBidi
	frStreamsBlockedUni
	frNewConnectionID
	frRetireConnectionID
	frHandshakeDone
	frAck
	frPathChallenge
	frPathResponse
	frPing
	frDatagram
	frAckFrequency
)

// frameRecord is what a sent frame needs remembered: enough to resend it
// on loss and to finish its work on acknowledgement.
type frameRecord struct {
	kind frameKind
	fin  bool
	n    uint32 // stream/crypto length
	id   uint64 // stream id, connection id sequence, path id
	off  uint64 // stream/crypto offset; largest acknowledged for frAck
}

// sentPacket is one packet we sent in a packet number space.
type sentPacket struct {
	pn           uint64
	time         time.Time
	size         uint32
	ackEliciting bool
	inFlight     bool
	frames       []frameRecord
}

// sentLog holds the sent packets of a space that are neither acknowledged
// nor declared lost, in packet number order. Frame slices are recycled.
type sentLog struct {
	pkts  []sentPacket // ascending pn; acknowledged/lost entries removed lazily
	head  int
	spare [][]frameRecord
}

// add appends a packet; its frames slice must come from frames().
func (l *sentLog) add(p sentPacket) { l.pkts = append(l.pkts, p) }

// frames returns an empty frame slice to fill for a new packet.
func (l *sentLog) frames() []frameRecord {
	if n := len(l.spare); n > 0 {
		f := l.spare[n-1]
		l.spare = l.spare[:n-1]
		return f[:0]
	}
	return make([]frameRecord, 0, 8)
}

// find returns the index of the packet pn, or -1.
func (l *sentLog) find(pn uint64) int {
	lo, hi := l.head, len(l.pkts)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l.pkts[m].pn < pn {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(l.pkts) && l.pkts[lo].pn == pn && l.pkts[lo].frames != nil {
		return lo
	}
	return -1
}

// remove takes packet i out of the log, returning it; its frames are
// valid until the next call to frames.
func (l *sentLog) remove(i int) sentPacket {
	p := l.pkts[i]
	l.pkts[i].frames = nil
	if p.frames != nil && len(l.spare) < 64 {
		l.spare = append(l.spare, p.frames)
	}
	for l.head < len(l.pkts) && l.pkts[l.head].frames == nil {
		l.head++
	}
	if l.head == len(l.pkts) {
		l.pkts, l.head = l.pkts[:0], 0
	} else if l.head > 256 && l.head > len(l.pkts)/2 {
		n := copy(l.pkts, l.pkts[l.head:])
		l.pkts, l.head = l.pkts[:n], 0
	}
	return p
}

// live calls f for each packet still in the log, in order.
func (l *sentLog) live(f func(i int, p *sentPacket) bool) {
	for i := l.head; i < len(l.pkts); i++ {
		if l.pkts[i].frames != nil {
			if !f(i, &l.pkts[i]) {
				return
			}
		}
	}
}

// packetSpace is one packet number space: Initial, Handshake, or the
// application data space of one path.
type packetSpace struct {
	nextPN          uint64
	largestAcked    uint64 // largest of our packets the peer acknowledged
	hasLargestAcked bool
	acks            ackTracker
	sent            sentLog
	discarded       bool // keys dropped: nothing is sent or received
}

func newPacketSpace(maxAckDelay time.Duration) packetSpace {
	return packetSpace{acks: newAckTracker(maxAckDelay)}
}
