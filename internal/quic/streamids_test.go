package quic

import "testing"

func TestStreamIDBits(t *testing.T) {
	for _, c := range []struct {
		id          StreamID
		server, uni bool
		num         uint64
	}{{0, false, false, 0}, {1, true, false, 0}, {2, false, true, 0}, {3, true, true, 0}, {4, false, false, 1}, {15, true, true, 3}} {
		if c.id.ServerInitiated() != c.server || c.id.IsUni() != c.uni || c.id.num() != c.num {
			t.Errorf("%d: server %v uni %v num %d", c.id, c.id.ServerInitiated(), c.id.IsUni(), c.id.num())
		}
		if makeStreamID(c.num, c.server, c.uni) != c.id {
			t.Errorf("makeStreamID(%d,%v,%v) != %d", c.num, c.server, c.uni, c.id)
		}
	}
}

func TestLocalStreamsLimit(t *testing.T) {
	l := localStreams{server: true, uni: true, max: 2}
	a, ok1 := l.open()
	b, ok2 := l.open()
	if !ok1 || !ok2 || a != 3 || b != 7 {
		t.Fatalf("ids %d %d", a, b)
	}
	if _, ok := l.open(); ok || !l.blocked {
		t.Fatal("opened past the limit or no STREAMS_BLOCKED")
	}
	l.blocked = false
	l.open()
	if l.blocked {
		t.Fatal("STREAMS_BLOCKED queued twice for one limit")
	}
	if err := l.raise(1 << 61); err == nil || err.Code != FrameEncodingError {
		t.Fatalf("MAX_STREAMS 2^61: %v", err)
	}
	if l.raise(3); l.max != 3 {
		t.Fatal("raise")
	}
	if id, ok := l.open(); !ok || id != 11 {
		t.Fatalf("after raise: %d %v", id, ok)
	}
}

func TestRemoteStreamsCredit(t *testing.T) {
	r := newRemoteStreams(4)
	if n, err := r.onReferenced(2); err != nil || n != 3 {
		t.Fatalf("implicit open: %d %v", n, err)
	}
	if n, _ := r.onReferenced(1); n != 0 {
		t.Fatal("reopened a stream")
	}
	if _, err := r.onReferenced(4); err == nil || err.Code != StreamLimitError {
		t.Fatalf("above the limit: %v", err)
	}
	r.onClosed()
	if _, ok := r.takeUpdate(); ok {
		t.Fatal("update after one credit of four")
	}
	r.onClosed()
	if m, ok := r.takeUpdate(); !ok || m != 6 {
		t.Fatalf("update %d %v, want 6", m, ok)
	}
	if _, err := r.onReferenced(5); err != nil {
		t.Fatal(err)
	}
}
