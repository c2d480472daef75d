package quic

import (
	"net/netip"
	"time"

	"github.com/iroh-go/iroh/internal/quic/recovery"
)

// pathState is where a path stands in validation (RFC 9000 §8.2).
type pathState uint8

const (
	pathUnvalidated pathState = iota // anti-amplification applies
	pathValidating                   // PATH_CHALLENGE in flight
	pathValidated
	pathAbandoned // multipath: PATH_ABANDON sent or received
)

// path is one network path of a connection. Without multipath only path
// 0 exists; draft-ietf-quic-multipath-18 gives each path its own id,
// packet number space for application data, connection ids, RTT and
// congestion state, which is why they live here rather than in the Conn.
type path struct {
	id     uint64
	remote netip.AddrPort // the peer's address (magicsock maps relay paths to addresses)
	state  pathState

	// Anti-amplification (RFC 9000 §8.1): before validation we send at
	// most three times what we received on the path.
	bytesRecv uint64
	bytesSent uint64

	// Path validation.
	challenge        [8]byte
	challengePending bool // PATH_CHALLENGE to send
	challengeSent    time.Time
	responses        [][8]byte // PATH_RESPONSE to send, bounded

	// Connection ids: the peer's to send to, ours for it to send to.
	remoteCIDs remoteCIDs
	localCIDs  localCIDs

	// The application-data packet number space of this path.
	app packetSpace
	// Loss detection, congestion control and pacing of this path (path
	// 0's also tracks the Initial and Handshake spaces).
	rec *recovery.Recovery
	res recovery.AckResult // reused for every ACK and timeout
	mtu int                // current maximum datagram size
	// Path MTU discovery, started once the handshake is confirmed.
	pmtud *recovery.PMTUD

	// Status (multipath): backup paths carry data only when no
	// available path works.
	backup bool
}

// maxPathResponses bounds the PATH_RESPONSE frames queued on a path: a
// peer flooding PATH_CHALLENGE gets answers to the latest only.
const maxPathResponses = 4

// amplificationRoom returns how many bytes may be sent before validation.
func (p *path) amplificationRoom() uint64 {
	if p.state == pathValidated {
		return 1 << 62
	}
	limit := 3 * p.bytesRecv
	if p.bytesSent >= limit {
		return 0
	}
	return limit - p.bytesSent
}

// onPathChallenge queues a PATH_RESPONSE with the challenge's data.
func (p *path) onPathChallenge(data [8]byte) {
	if len(p.responses) >= maxPathResponses {
		copy(p.responses, p.responses[1:])
		p.responses = p.responses[:maxPathResponses-1]
	}
	p.responses = append(p.responses, data)
}

// onPathResponse validates the path if data answers our challenge.
func (p *path) onPathResponse(data [8]byte) bool {
	if p.state != pathValidating || data != p.challenge {
		return false
	}
	p.state = pathValidated
	return true
}

// rtt is the path's smoothed RTT.
func (p *path) rtt() time.Duration { return p.rec.RTT().Smoothed() }
