package quic

import (
	"time"

	"github.com/iroh-go/iroh/internal/quic/protect"
)

// packetKeys protect (or unprotect) the packets of one direction at one
// encryption level (internal/quic/protect).
type packetKeys = *protect.Keys

// Key levels, indexing keyState's arrays.
const (
	levelInitial = iota
	levelEarly
	levelHandshake
	levelApp
	numLevels
)

// keyState holds the packet keys of every level and the 1-RTT key phases.
type keyState struct {
	keySchedule
	read, write [numLevels]packetKeys

	// 1-RTT key phases: the next read keys are derived ahead so a peer's
	// update is detected by trying them; the previous read keys stay for
	// three PTOs after an update for reordered packets.
	nextRead  packetKeys
	nextWrite packetKeys
	prevRead  packetKeys
	// Packet numbers delimiting the current read phase: packets below
	// phaseStartPN with the other phase bit use prevRead.
	phaseStartPN uint64
}

func (k *keyState) init(r interface{ Read([]byte) (int, error) }) {
	k.keySchedule.init(r)
}

// installApp sets the 1-RTT keys and derives the next phase's.
func (k *keyState) installAppRead(pk packetKeys) {
	k.read[levelApp] = pk
	k.nextRead = pk.Next()
}

func (k *keyState) installAppWrite(pk packetKeys) {
	k.write[levelApp] = pk
	k.nextWrite = pk.Next()
}

// update moves both directions to the next phase: the peer initiated and
// firstPNOfPhase is its first packet in the new phase, or we initiate and
// it is phaseUnknown: until the peer's first new-phase packet arrives,
// every packet with the old phase bit is opened with the previous keys.
func (k *keyState) update(now time.Time, pto time.Duration, firstPNOfPhase uint64) {
	k.prevRead = k.read[levelApp]
	k.read[levelApp] = k.nextRead
	k.write[levelApp] = k.nextWrite
	k.nextRead = k.read[levelApp].Next()
	k.nextWrite = k.write[levelApp].Next()
	k.phaseStartPN = firstPNOfPhase
	k.advance(now, pto)
	if firstPNOfPhase == phaseUnknown {
		k.dropPrevAt = time.Time{} // set when the peer follows
	}
}

// phaseUnknown marks a phase we initiated whose first packet from the
// peer has not arrived.
const phaseUnknown = ^uint64(0)

// onCurrentPhasePacket notes a packet opened with the current keys: the
// first one after our update starts the phase and the previous keys'
// countdown.
func (k *keyState) onCurrentPhasePacket(now time.Time, pn uint64, pto time.Duration) {
	if k.phaseStartPN == phaseUnknown {
		k.phaseStartPN = pn
		k.dropPrevAt = now.Add(3 * pto)
	} else if pn < k.phaseStartPN {
		k.phaseStartPN = pn
	}
}

// dropPrev forgets the previous phase's read keys when their time is up.
func (k *keyState) dropPrev(now time.Time) {
	if k.prevRead != nil && !k.dropPrevAt.IsZero() && !now.Before(k.dropPrevAt) {
		k.prevRead = nil
		k.dropPrevAt = time.Time{}
	}
}
