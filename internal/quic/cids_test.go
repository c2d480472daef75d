package quic

import (
	"crypto/rand"
	"testing"
)

// mapCIDs is a CIDSource over a map, as the simulator would use.
type mapCIDs map[ConnectionID]bool

func (m mapCIDs) NewConnectionID() (ConnectionID, ResetToken) {
	var b [8]byte
	var tok ResetToken
	rand.Read(b[:])
	rand.Read(tok[:])
	id := MakeConnectionID(b[:])
	m[id] = true
	return id, tok
}

func (m mapCIDs) RetireConnectionID(id ConnectionID) { delete(m, id) }

func TestLocalCIDsIssueAndRetire(t *testing.T) {
	src := mapCIDs{}
	first, tok := src.NewConnectionID()
	var l localCIDs
	l.addInitial(first, tok)
	l.limit = 5
	l.fill(src)
	if len(l.active) != 5 || len(src) != 5 {
		t.Fatalf("%d active, %d registered", len(l.active), len(src))
	}
	n := 0
	for {
		c, ok := l.nextUnsent()
		if !ok {
			break
		}
		n++
		if c.seq == 0 {
			t.Fatal("the initial id announced")
		}
	}
	if n != 4 {
		t.Fatalf("%d NEW_CONNECTION_ID frames, want 4", n)
	}
	if err := l.onRetire(0, first, src); err == nil || err.Code != ProtocolViolation {
		t.Fatalf("retiring the packet's own id: %v", err)
	}
	if err := l.onRetire(0, l.active[1].id, src); err != nil {
		t.Fatal(err)
	}
	if src[first] || len(l.active) != 5 || l.active[4].seq != 5 {
		t.Fatalf("retired id still registered or not replaced: %v", l.active)
	}
	if err := l.onRetire(9, ConnectionID{}, src); err == nil || err.Code != ProtocolViolation {
		t.Fatalf("retiring an unissued id: %v", err)
	}
	l.retireAll(src)
	if len(src) != 0 {
		t.Fatalf("%d ids still registered", len(src))
	}
}

func TestLocalCIDsBounded(t *testing.T) {
	src := mapCIDs{}
	l := localCIDs{limit: 1 << 40}
	l.fill(src)
	if len(l.active) != maxLocalCIDs {
		t.Fatalf("%d active ids for a huge limit", len(l.active))
	}
}

func cid(b byte) ConnectionID { return MakeConnectionID([]byte{b, b, b, b}) }

func TestRemoteCIDs(t *testing.T) {
	r := remoteCIDs{limit: 3}
	r.setInitial(cid(0))
	r.setInitialToken(ResetToken{0: 9})
	if err := r.onNew(1, 0, cid(1), ResetToken{1: 1}); err != nil {
		t.Fatal(err)
	}
	if err := r.onNew(1, 0, cid(1), ResetToken{1: 1}); err != nil {
		t.Fatalf("repeated frame: %v", err)
	}
	if err := r.onNew(1, 0, cid(7), ResetToken{}); err == nil || err.Code != ProtocolViolation {
		t.Fatalf("reused sequence: %v", err)
	}
	if err := r.onNew(2, 0, cid(2), ResetToken{2: 2}); err != nil {
		t.Fatal(err)
	}
	if err := r.onNew(3, 0, cid(3), ResetToken{}); err == nil || err.Code != ConnectionIDLimitError {
		t.Fatalf("past the limit: %v", err)
	}
	r = remoteCIDs{limit: 3}
	r.setInitial(cid(0))
	r.onNew(1, 0, cid(1), ResetToken{1: 1})
	if err := r.onNew(2, 2, cid(2), ResetToken{2: 2}); err != nil {
		t.Fatal(err)
	}
	if r.current() != cid(2) || len(r.pendingRetire) != 2 {
		t.Fatalf("retire prior to: current %v, pending %v", r.current(), r.pendingRetire)
	}
	if !r.isStatelessReset((&ResetToken{2: 2})[:]) || r.isStatelessReset((&ResetToken{1: 1})[:]) {
		t.Fatal("stateless reset token match")
	}
	if err := r.onNew(1, 0, cid(1), ResetToken{}); err != nil || len(r.pendingRetire) != 3 {
		t.Fatalf("old sequence not retired at once: %v %v", err, r.pendingRetire)
	}
	if err := r.onNew(1, 2, cid(1), ResetToken{}); err == nil || err.Code != FrameEncodingError {
		t.Fatalf("retire prior to above sequence: %v", err)
	}
}

func TestRemoteCIDsRetireFlood(t *testing.T) {
	r := remoteCIDs{limit: 2}
	r.setInitial(cid(0))
	var err *TransportError
	for seq := uint64(1); seq < 1000 && err == nil; seq++ {
		err = r.onNew(seq, seq, MakeConnectionID([]byte{byte(seq), byte(seq >> 8), 1}), ResetToken{})
	}
	if err == nil || err.Code != ConnectionIDLimitError {
		t.Fatalf("unbounded retirements: %v (%d pending)", err, len(r.pendingRetire))
	}
}
