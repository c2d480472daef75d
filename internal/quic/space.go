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
	frMTUProbe // n is the probed size
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

// frameStore keeps the frame records of sent packets until recovery
// settles them; a packet's recovery.SentPacket.Token is its slot index
// plus one (zero: no frames to remember). Slots and their slices are
// recycled, so steady-state sending allocates nothing.
type frameStore struct {
	slots [][]frameRecord
	live  []bool
	free  []uint64
}

// alloc returns a token and an empty record slice to fill; the caller
// stores the filled slice back with set.
func (f *frameStore) alloc() (uint64, []frameRecord) {
	if n := len(f.free); n > 0 {
		t := f.free[n-1]
		f.free = f.free[:n-1]
		f.live[t-1] = true
		return t, f.slots[t-1][:0]
	}
	f.slots = append(f.slots, make([]frameRecord, 0, 4))
	f.live = append(f.live, true)
	return uint64(len(f.slots)), f.slots[len(f.slots)-1]
}

// set stores the records of token (the slice may have grown).
func (f *frameStore) set(token uint64, recs []frameRecord) { f.slots[token-1] = recs }

// take returns the records of token and frees the slot; they stay valid
// until the next alloc.
func (f *frameStore) take(token uint64) []frameRecord {
	if token == 0 || token > uint64(len(f.slots)) || !f.live[token-1] {
		return nil // settled before (a late ACK of a packet declared lost)
	}
	recs := f.slots[token-1]
	f.live[token-1] = false
	f.free = append(f.free, token)
	return recs
}

// packetSpace is one packet number space: Initial, Handshake, or the
// application data space of one path.
type packetSpace struct {
	nextPN          uint64
	largestAcked    uint64 // largest of our packets the peer acknowledged
	hasLargestAcked bool
	acks            ackTracker
	discarded       bool // keys dropped: nothing is sent or received
}

func newPacketSpace(maxAckDelay time.Duration) packetSpace {
	return packetSpace{acks: newAckTracker(maxAckDelay)}
}
