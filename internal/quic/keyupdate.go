package quic

import (
	"encoding/binary"
	"io"
	"time"
)

// Key update schedule (RFC 9001 §6). Like noq, we update the 1-RTT keys
// after a random 10 to 1000 packets, then periodically: peers that expect
// updates (and implementations that limit packets per key) see them, and
// the code path is exercised in every long transfer.
const (
	firstKeyUpdateMin = 10
	firstKeyUpdateMax = 1000
	keyUpdateInterval = 10000 // packets per key phase after the first update (±50%)
)

// keySchedule decides when we initiate a key update and tracks the state
// RFC 9001 §6 requires around one: a new update only once a packet of the
// current phase was acknowledged; the previous phase's read keys kept for
// three PTOs to open reordered packets.
type keySchedule struct {
	rand io.Reader

	phase       uint64 // number of updates so far; bit 0 is the key phase bit
	sentInPhase uint64 // packets sent with the current keys
	updateAt    uint64 // sentInPhase at which we initiate
	ackedPhase  bool   // a packet sent in the current phase was acknowledged
	firstPN     uint64 // first packet number sent in the current phase
	hasFirstPN  bool

	dropPrevAt time.Time // when the previous read keys go; zero if none
	updates    uint64    // updates done (both directions), for tests and stats
}

func (k *keySchedule) init(r io.Reader) {
	k.rand = r
	k.updateAt = firstKeyUpdateMin + k.rnd()%(firstKeyUpdateMax-firstKeyUpdateMin+1)
}

func (k *keySchedule) rnd() uint64 {
	var b [8]byte
	io.ReadFull(k.rand, b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// onSent counts a 1-RTT packet sent in the current phase.
func (k *keySchedule) onSent(pn uint64) {
	if !k.hasFirstPN {
		k.firstPN, k.hasFirstPN = pn, true
	}
	k.sentInPhase++
}

// onAcked notes the acknowledgement of 1-RTT packet pn.
func (k *keySchedule) onAcked(pn uint64) {
	if k.hasFirstPN && pn >= k.firstPN {
		k.ackedPhase = true
	}
}

// shouldInitiate reports whether we should move to the next phase now.
// confirmed: the handshake is confirmed (RFC 9001 §6.1).
func (k *keySchedule) shouldInitiate(confirmed bool) bool {
	return confirmed && k.ackedPhase && k.sentInPhase >= k.updateAt
}

// advance moves to the next key phase (initiated by us or the peer); the
// previous read keys are kept for three PTOs.
func (k *keySchedule) advance(now time.Time, pto time.Duration) {
	k.phase++
	k.updates++
	k.sentInPhase = 0
	k.ackedPhase = false
	k.hasFirstPN = false
	k.dropPrevAt = now.Add(3 * pto)
	half := uint64(keyUpdateInterval / 2)
	k.updateAt = half + k.rnd()%(2*half)
}

// keyPhaseBit is the bit our short headers carry.
func (k *keySchedule) keyPhaseBit() bool { return k.phase&1 == 1 }
