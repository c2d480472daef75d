package recovery

import "fmt"

// ECNTestPackets is how many packets a new path marks ECT(0) while ECN is
// tested (RFC 9000 §13.4.2 suggests the first ten).
const ECNTestPackets = 10

// ECNState is where ECN validation of a path stands (RFC 9000 §13.4.2,
// Appendix A.4).
type ECNState uint8

// The states.
const (
	ECNTesting ECNState = iota // marking the first packets ECT(0)
	ECNUnknown                 // test packets sent; waiting for ACKs to tell
	ECNCapable                 // validated: mark every packet ECT(0), react to CE
	ECNFailed                  // the path or peer mangles ECN: stop marking, ignore counts
)

func (s ECNState) String() string {
	switch s {
	case ECNTesting:
		return "testing"
	case ECNUnknown:
		return "unknown"
	case ECNCapable:
		return "capable"
	case ECNFailed:
		return "failed"
	}
	return fmt.Sprintf("ecn(%d)", uint8(s))
}

// ECNValidator is the ECN validation state machine of one path. Recovery
// runs one: the core marks a packet ECT(0) when Recovery.MarkECT says so,
// records it with SentPacket.ECT set, and hands Recovery the ACK frames'
// ECN counts in Ack. The zero value is ready (testing).
type ECNValidator struct {
	state      ECNState
	testMarked int // packets marked while testing
	testLost   int
	sent       [numSpaces]uint64    // packets sent ECT(0) per space
	counts     [numSpaces][3]uint64 // the peer's ECT(0), ECT(1), CE counts last validated
	reason     string
}

// State is the validation state.
func (v *ECNValidator) State() ECNState { return v.state }

// FailReason says why validation failed ("" unless ECNFailed).
func (v *ECNValidator) FailReason() string { return v.reason }

// Mark reports whether the next packet should carry ECT(0).
func (v *ECNValidator) Mark() bool {
	return v.state == ECNCapable || (v.state == ECNTesting && v.testMarked < ECNTestPackets)
}

func (v *ECNValidator) fail(why string) {
	v.state, v.reason = ECNFailed, why
}

func (v *ECNValidator) onSent(id SpaceID, marked bool) {
	if !marked || v.state == ECNFailed {
		return
	}
	v.sent[id]++
	if v.state == ECNTesting {
		v.testMarked++
		if v.testMarked >= ECNTestPackets {
			v.state = ECNUnknown
		}
	}
}

func (v *ECNValidator) onLost(p *SentPacket) {
	if !p.ECT || v.state == ECNFailed || v.state == ECNCapable {
		return
	}
	v.testLost++
	if v.state == ECNUnknown && v.testLost >= v.testMarked {
		v.fail("every ECT(0) test packet was lost")
	}
}

// onAck validates an ACK's counts against the newly acknowledged packets
// (largest first). It reports whether the CE count may be acted on.
func (v *ECNValidator) onAck(id SpaceID, ack *Ack, newly []SentPacket) bool {
	if v.state == ECNFailed {
		return false
	}
	marked := uint64(0)
	for i := range newly {
		if newly[i].ECT {
			marked++
		}
	}
	// Reordered ACKs (not raising the largest acknowledged) must not fail
	// validation (§13.4.2.1): skip them.
	if len(newly) == 0 || newly[0].Number != ack.Ranges[0].Largest {
		return ack.ECN
	}
	if !ack.ECN {
		if marked > 0 {
			v.fail("ACK of ECT(0) packets without ECN counts")
		}
		return false
	}
	last := &v.counts[id]
	if ack.ECT0 < last[0] || ack.ECT1 < last[1] || ack.CE < last[2] {
		v.fail("ECN counts decreased")
		return false
	}
	if ack.ECT0+ack.CE-last[0]-last[2] < marked {
		v.fail("ECT(0)+CE counts grew less than the ECT(0) packets acknowledged")
		return false
	}
	if ack.ECT0 > v.sent[id] || ack.CE > v.sent[id] {
		v.fail("ECN counts exceed the ECT(0) packets sent")
		return false
	}
	if ack.ECT1 > 0 {
		v.fail("ECT(1) counted but never sent")
		return false
	}
	last[0], last[1], last[2] = ack.ECT0, ack.ECT1, ack.CE
	if marked > 0 && (v.state == ECNTesting || v.state == ECNUnknown) {
		v.state = ECNCapable
	}
	return true
}
