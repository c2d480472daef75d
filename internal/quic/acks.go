package quic

import "time"

// maxAckRanges bounds the ranges one packet number space remembers for
// acknowledgement; older ranges are forgotten (and packets below them
// treated as duplicates), so a peer cannot grow the set by skipping packet
// numbers.
const maxAckRanges = 64

// Defaults of the ACK-frequency draft (draft-ietf-quic-ack-frequency) that
// apply until the peer sends ACK_FREQUENCY: acknowledge every second
// ack-eliciting packet, and at once when packets arrive out of order.
const (
	defaultAckElicitingThreshold = 1
	defaultReorderingThreshold   = 1
)

// ackTracker remembers the packet numbers received in one packet number
// space and decides when an ACK frame is due. Not safe for concurrent use.
type ackTracker struct {
	received rangeSet
	// floor: packet numbers below it are treated as already received
	// (their ranges were acknowledged and forgotten, or trimmed).
	floor uint64

	largest     uint64
	largestTime time.Time // when largest arrived, for ACK Delay
	hasLargest  bool

	// Since the last ACK we sent.
	newPackets   bool // anything to acknowledge at all
	eliciting    int  // ack-eliciting packets not yet acknowledged
	ackDeadline  time.Time
	ackImmediate bool

	// Acknowledgement policy; the peer tunes it with ACK_FREQUENCY.
	threshold     int           // ack-eliciting packets tolerated before an immediate ACK
	maxAckDelay   time.Duration // zero: acknowledge at once (Initial, Handshake)
	reorderThresh uint64        // 0: do not acknowledge at once for reordering
	freqSeq       uint64        // highest ACK_FREQUENCY sequence number applied
	freqSeen      bool

	// ECN counts (ECT0, ECT1, CE) of received packets.
	ecn [3]uint64
}

func newAckTracker(maxAckDelay time.Duration) ackTracker {
	return ackTracker{
		received:      rangeSet{max: maxAckRanges},
		maxAckDelay:   maxAckDelay,
		threshold:     defaultAckElicitingThreshold,
		reorderThresh: defaultReorderingThreshold,
	}
}

// isDuplicate reports whether pn was already received (or is too old to
// tell, which counts as received).
func (a *ackTracker) isDuplicate(pn uint64) bool {
	return pn < a.floor || a.received.contains(pn)
}

// onReceived records a packet that decrypted and parsed. ecn is the
// packet's ECN codepoint (0 not-ECT, 1 ECT1, 2 ECT0, 3 CE).
func (a *ackTracker) onReceived(now time.Time, pn uint64, ackEliciting bool, ecn uint8) {
	if a.isDuplicate(pn) {
		return
	}
	// Out of order: lower than the largest, or leaving a gap. Checked
	// before the insertion changes the picture (RFC 9000 §13.2.1; the
	// draft's reordering threshold generalises it).
	reordered := false
	if a.hasLargest {
		if pn < a.largest {
			reordered = a.reorderThresh > 0 && a.largest-pn >= a.reorderThresh
		} else if pn > a.largest+1 && a.reorderThresh > 0 {
			reordered = true
		}
	}
	a.received.add(pn, pn+1)
	if n := a.received.numRanges(); n > 0 && a.received.min() > a.floor {
		// Trimming dropped old ranges: what is below is forgotten.
		if n == maxAckRanges {
			a.floor = a.received.min()
		}
	}
	if !a.hasLargest || pn > a.largest {
		a.largest, a.largestTime, a.hasLargest = pn, now, true
	}
	switch ecn {
	case 1:
		a.ecn[1]++
	case 2:
		a.ecn[0]++
	case 3:
		a.ecn[2]++
		if ackEliciting {
			a.ackImmediate = true
		}
	}
	a.newPackets = true
	if !ackEliciting {
		return
	}
	a.eliciting++
	if reordered || a.eliciting > a.threshold || a.maxAckDelay == 0 {
		a.ackImmediate = true
	}
	if a.ackDeadline.IsZero() {
		a.ackDeadline = now.Add(a.maxAckDelay)
	}
}

// onImmediateAck handles an IMMEDIATE_ACK frame.
func (a *ackTracker) onImmediateAck() { a.ackImmediate = true }

// onAckFrequency applies an ACK_FREQUENCY frame unless an equal or newer
// one was applied. minAckDelay is what we advertised: a requested delay
// below it is a protocol violation (the caller checks).
func (a *ackTracker) onAckFrequency(seq, threshold uint64, maxAckDelay time.Duration, reorder uint64) {
	if a.freqSeen && seq <= a.freqSeq {
		return
	}
	a.freqSeq, a.freqSeen = seq, true
	if threshold > 1<<20 {
		threshold = 1 << 20
	}
	a.threshold = int(threshold)
	a.maxAckDelay = maxAckDelay
	a.reorderThresh = reorder
}

// ackDue reports whether an ACK frame should go out now.
func (a *ackTracker) ackDue(now time.Time) bool {
	if !a.newPackets || a.eliciting == 0 {
		return false
	}
	return a.ackImmediate || !now.Before(a.ackDeadline)
}

// wantsAck reports whether there is anything to acknowledge (an ACK may
// ride along in a packet that goes out anyway).
func (a *ackTracker) wantsAck() bool { return a.newPackets }

// deadline is when an ACK becomes due, zero if none is pending.
func (a *ackTracker) deadline() time.Time {
	if !a.newPackets || a.eliciting == 0 {
		return time.Time{}
	}
	if a.ackImmediate {
		return a.largestTime
	}
	return a.ackDeadline
}

// ackDelay is the time since the largest packet arrived.
func (a *ackTracker) ackDelay(now time.Time) time.Duration {
	if d := now.Sub(a.largestTime); d > 0 {
		return d
	}
	return 0
}

// ranges returns the received ranges, ascending. The slice is the
// tracker's own: the caller encodes it before the next change.
func (a *ackTracker) ranges() []byteRange { return a.received.r }

// onAckSent resets the counters after an ACK frame went out.
func (a *ackTracker) onAckSent() {
	a.newPackets = false
	a.eliciting = 0
	a.ackDeadline = time.Time{}
	a.ackImmediate = false
}

// onAckAcked handles the acknowledgement of a packet that carried our ACK
// frame with the given largest acknowledged: the peer knows about
// everything up to it, so those ranges need not be repeated (RFC 9000
// §13.2.4). Later packets below it count as duplicates.
func (a *ackTracker) onAckAcked(largestAcked uint64) {
	if largestAcked+1 > a.floor && largestAcked < a.largest {
		a.floor = largestAcked + 1
		a.received.removeBelow(a.floor)
	}
}
