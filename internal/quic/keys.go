package quic

import (
	"time"

	"github.com/iroh-go/iroh/internal/quic/tls13"
)

// packetKeys protect (or unprotect) the packets of one direction at one
// encryption level: the AEAD over the payload with the header as
// associated data, and header protection (RFC 9001 §5).
type packetKeys interface {
	// overhead is the AEAD tag length.
	overhead() int
	// seal encrypts pkt[hdrLen:] in place with pkt[:hdrLen] as associated
	// data and appends the tag; pkt must have room for it.
	seal(pkt []byte, hdrLen int, pn uint64) []byte
	// open decrypts pkt[hdrLen:] in place and returns the plaintext.
	open(pkt []byte, hdrLen int, pn uint64) ([]byte, error)
	// protectHeader masks the first byte and the packet number.
	protectHeader(pkt []byte, pnOffset, pnLen int)
	// unprotectHeader removes the mask; it returns the packet number
	// length, or an error if the packet is too short to sample.
	unprotectHeader(pkt []byte, pnOffset int) (int, error)
	// next derives the keys of the next key phase (same header
	// protection key).
	next() packetKeys
}

// newKeys derives packet keys from a TLS traffic secret.
var newKeys func(suite tls13.CipherSuite, secret []byte) (packetKeys, error)

// newInitialKeys derives the Initial keys from the client's first
// destination connection id (RFC 9001 §5.2).
var newInitialKeys func(dcid []byte) (client, server packetKeys)

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
	k.nextRead = pk.next()
}

func (k *keyState) installAppWrite(pk packetKeys) {
	k.write[levelApp] = pk
	k.nextWrite = pk.next()
}

// update moves both directions to the next phase (we initiate, or the
// peer did and we respond).
func (k *keyState) update(now time.Time, pto time.Duration, firstPNOfPhase uint64) {
	k.prevRead = k.read[levelApp]
	k.read[levelApp] = k.nextRead
	k.write[levelApp] = k.nextWrite
	k.nextRead = k.read[levelApp].next()
	k.nextWrite = k.write[levelApp].next()
	k.phaseStartPN = firstPNOfPhase
	k.advance(now, pto)
}

// dropPrev forgets the previous phase's read keys when their time is up.
func (k *keyState) dropPrev(now time.Time) {
	if k.prevRead != nil && !k.dropPrevAt.IsZero() && !now.Before(k.dropPrevAt) {
		k.prevRead = nil
		k.dropPrevAt = time.Time{}
	}
}
