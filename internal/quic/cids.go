package quic

import (
	"crypto/subtle"

	"github.com/iroh-go/iroh/internal/quic/wire"
)

// MaxConnectionIDLen is the longest connection id QUIC v1 allows.
const MaxConnectionIDLen = 20

// ConnectionID is a QUIC connection id of 0 to 20 bytes; comparable, so
// usable as a map key.
type ConnectionID = wire.ConnID

// MakeConnectionID copies b; bytes past the 20th are dropped (parsers
// reject longer ids before).
func MakeConnectionID(b []byte) ConnectionID {
	c, _ := wire.NewConnID(b[:min(len(b), MaxConnectionIDLen)])
	return c
}

// ResetToken is a stateless reset token (RFC 9000 §10.3).
type ResetToken [16]byte

// CIDSource makes the connection ids a connection issues and is told when
// they retire. The driver implements it over its demultiplexing table
// (ids route datagrams to the connection); the simulator over a map. It is
// called with the connection's lock held and must not call back into it.
type CIDSource interface {
	// NewConnectionID returns a fresh id, registered for this
	// connection, and its stateless reset token.
	NewConnectionID() (ConnectionID, ResetToken)
	// RetireConnectionID unregisters an id.
	RetireConnectionID(ConnectionID)
}

// localCID is a connection id we issued.
type localCID struct {
	seq   uint64
	id    ConnectionID
	token ResetToken
	sent  bool // its NEW_CONNECTION_ID is in flight or acknowledged
}

// maxLocalCIDs bounds the ids we keep active however high the peer's
// active_connection_id_limit.
const maxLocalCIDs = 8

// localCIDs are the connection ids we issue on one path (multipath gives
// each path its own sequence space).
type localCIDs struct {
	active  []localCID
	nextSeq uint64
	limit   uint64 // the peer's active_connection_id_limit
}

// addInitial records the id of our first packets (sequence 0), issued
// before the handshake.
func (l *localCIDs) addInitial(id ConnectionID, token ResetToken) {
	l.active = append(l.active, localCID{seq: l.nextSeq, id: id, token: token, sent: true})
	l.nextSeq++
}

// fill issues ids up to min(limit, maxLocalCIDs) active ones; their
// NEW_CONNECTION_ID frames are pending until taken by nextUnsent.
func (l *localCIDs) fill(src CIDSource) {
	want := min(l.limit, maxLocalCIDs)
	for uint64(len(l.active)) < want {
		id, tok := src.NewConnectionID()
		l.active = append(l.active, localCID{seq: l.nextSeq, id: id, token: tok})
		l.nextSeq++
	}
}

// nextUnsent returns an issued id whose NEW_CONNECTION_ID is not sent and
// marks it sent.
func (l *localCIDs) nextUnsent() (localCID, bool) {
	for i := range l.active {
		if !l.active[i].sent {
			l.active[i].sent = true
			return l.active[i], true
		}
	}
	return localCID{}, false
}

// onLost schedules the NEW_CONNECTION_ID of seq again if still active.
func (l *localCIDs) onLost(seq uint64) {
	for i := range l.active {
		if l.active[i].seq == seq {
			l.active[i].sent = false
		}
	}
}

// onRetire handles RETIRE_CONNECTION_ID: the id is dropped and
// unregistered, and a replacement issued. dcid is the destination id of
// the packet carrying the frame, which must not be the one retired.
func (l *localCIDs) onRetire(seq uint64, dcid ConnectionID, src CIDSource) *TransportError {
	if seq >= l.nextSeq {
		return errf(ProtocolViolation, "retired connection id sequence %d never issued", seq)
	}
	for i, c := range l.active {
		if c.seq != seq {
			continue
		}
		if c.id == dcid {
			return errf(ProtocolViolation, "connection id %d retired in a packet sent to it", seq)
		}
		src.RetireConnectionID(c.id)
		l.active = append(l.active[:i], l.active[i+1:]...)
		l.fill(src)
		return nil
	}
	return nil // retired before: a retransmission
}

// retireAll unregisters every id (the connection is gone).
func (l *localCIDs) retireAll(src CIDSource) {
	for _, c := range l.active {
		src.RetireConnectionID(c.id)
	}
	l.active = nil
}

// remoteCID is a connection id the peer gave us to send to.
type remoteCID struct {
	seq      uint64
	id       ConnectionID
	token    ResetToken
	hasToken bool
}

// remoteCIDs are the peer's connection ids for one path: the one in use
// and spares, bounded by our active_connection_id_limit.
type remoteCIDs struct {
	active        []remoteCID // sorted by sequence; active[0] is in use
	retirePrior   uint64      // largest Retire Prior To seen
	limit         uint64      // our active_connection_id_limit
	pendingRetire []uint64    // RETIRE_CONNECTION_ID frames to send
}

// setInitial sets the id of sequence 0: the peer's source id from its
// first packet (with the server's reset token once its transport
// parameters arrive).
func (r *remoteCIDs) setInitial(id ConnectionID) {
	if len(r.active) > 0 && r.active[0].seq == 0 {
		r.active[0].id = id
		return
	}
	r.active = append([]remoteCID{{seq: 0, id: id}}, r.active...)
}

// setInitialToken records the stateless_reset_token transport parameter
// for sequence 0.
func (r *remoteCIDs) setInitialToken(tok ResetToken) {
	if len(r.active) > 0 && r.active[0].seq == 0 {
		r.active[0].token, r.active[0].hasToken = tok, true
	}
}

// current returns the id to send to.
func (r *remoteCIDs) current() ConnectionID {
	if len(r.active) == 0 {
		return ConnectionID{}
	}
	return r.active[0].id
}

// onNew handles NEW_CONNECTION_ID.
func (r *remoteCIDs) onNew(seq, retirePriorTo uint64, id ConnectionID, tok ResetToken) *TransportError {
	if retirePriorTo > seq {
		return errf(FrameEncodingError, "retire prior to %d above sequence %d", retirePriorTo, seq)
	}
	if len(r.active) > 0 && r.active[0].id.Len() == 0 {
		return errf(ProtocolViolation, "NEW_CONNECTION_ID to an endpoint using a zero-length id")
	}
	for _, c := range r.active {
		if c.seq == seq {
			if c.id != id || c.token != tok {
				return errf(ProtocolViolation, "connection id sequence %d reused with another id", seq)
			}
			return nil
		}
	}
	if seq < r.retirePrior {
		r.pendingRetire = append(r.pendingRetire, seq)
		return r.checkPending()
	}
	if retirePriorTo > r.retirePrior {
		r.retirePrior = retirePriorTo
		kept := r.active[:0]
		for _, c := range r.active {
			if c.seq < retirePriorTo {
				r.pendingRetire = append(r.pendingRetire, c.seq)
				continue
			}
			kept = append(kept, c)
		}
		r.active = kept
	}
	i := len(r.active)
	for i > 0 && r.active[i-1].seq > seq {
		i--
	}
	r.active = append(r.active, remoteCID{})
	copy(r.active[i+1:], r.active[i:])
	r.active[i] = remoteCID{seq: seq, id: id, token: tok, hasToken: true}
	if uint64(len(r.active)) > r.limit {
		return errf(ConnectionIDLimitError, "%d active connection ids, limit %d", len(r.active), r.limit)
	}
	return r.checkPending()
}

func (r *remoteCIDs) checkPending() *TransportError {
	if uint64(len(r.pendingRetire)) > 4*r.limit+8 {
		return errf(ConnectionIDLimitError, "%d connection id retirements outstanding", len(r.pendingRetire))
	}
	return nil
}

// rotate retires the id in use and moves to the next spare (after a path
// change, or to avoid linkability). It reports false if there is no spare.
func (r *remoteCIDs) rotate() bool {
	if len(r.active) < 2 {
		return false
	}
	r.pendingRetire = append(r.pendingRetire, r.active[0].seq)
	r.active = r.active[1:]
	return true
}

// isStatelessReset reports whether tok is the reset token of one of the
// peer's ids (compared in constant time).
func (r *remoteCIDs) isStatelessReset(tok []byte) bool {
	found := 0
	for _, c := range r.active {
		if c.hasToken {
			found |= subtle.ConstantTimeCompare(c.token[:], tok)
		}
	}
	return found == 1
}
