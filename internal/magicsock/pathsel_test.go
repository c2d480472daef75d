package magicsock

import (
	"net/netip"
	"testing"
	"time"
)

// TestBetter: lower latency wins within a family; across families IPv6
// wins unless it is more than 10/9 slower, IPv4 only when 10/9 faster.
func TestBetter(t *testing.T) {
	v4 := netip.MustParseAddrPort("127.0.0.1:1")
	v6 := netip.MustParseAddrPort("[::1]:1")
	ms := time.Millisecond
	for _, c := range []struct {
		name   string
		a      netip.AddrPort
		la     time.Duration
		b      netip.AddrPort
		lb     time.Duration
		better bool
	}{
		{"v4 faster v4", v4, 5 * ms, v4, 6 * ms, true},
		{"v4 equal v4", v4, 5 * ms, v4, 5 * ms, false},
		{"v4 slower v4", v4, 7 * ms, v4, 6 * ms, false},
		{"v6 equal to v4", v6, 10 * ms, v4, 10 * ms, true},
		{"v6 a bit slower than v4", v6, 11 * ms, v4, 10 * ms, true}, // 99 < 100
		{"v6 10/9 slower than v4", v6, 11200 * time.Microsecond, v4, 10 * ms, false},
		{"v4 equal to v6", v4, 10 * ms, v6, 10 * ms, false},
		{"v4 10/9 faster than v6", v4, 9 * ms, v6, 10 * ms, true}, // 90 <= 90
		{"v4 a bit faster than v6", v4, 9500 * time.Microsecond, v6, 10 * ms, false},
	} {
		if got := better(c.a, c.la, c.b, c.lb); got != c.better {
			t.Errorf("%s: better = %v, want %v", c.name, got, c.better)
		}
	}
}

// TestConsiderBest: the first confirmed path becomes best and trusted; a
// worse one does not replace a trusted best, a better one does; once the
// best's trust lapsed any confirmed path replaces it; a pong on the best
// path refreshes its trust and latency.
func TestConsiderBest(t *testing.T) {
	c := newTestConn(t)
	r := c.remoteFor(fakeID(7))
	a := netip.MustParseAddrPort("127.0.0.1:40001")
	b := netip.MustParseAddrPort("127.0.0.1:40002")
	now := time.Now()
	r.considerBest(a, 10*time.Millisecond, now)
	if bp := r.best.Load(); bp == nil || bp.addr != a || r.info(now).Kind != PathDirect {
		t.Fatalf("first path not best: %+v", bp)
	}
	r.considerBest(b, 20*time.Millisecond, now)
	if r.best.Load().addr != a {
		t.Fatal("a worse path replaced a trusted best")
	}
	r.considerBest(b, 5*time.Millisecond, now)
	if r.best.Load().addr != b {
		t.Fatal("a better path did not replace the best")
	}
	later := now.Add(trustUDPAddrDuration + time.Second)
	if r.info(later).Kind == PathDirect {
		t.Fatal("best still trusted after its trust lapsed")
	}
	r.considerBest(a, 50*time.Millisecond, later)
	if bp := r.best.Load(); bp.addr != a || r.info(later).Kind != PathDirect {
		t.Fatal("a confirmed path did not replace a lapsed best")
	}
	r.considerBest(a, 40*time.Millisecond, later.Add(time.Second))
	if bp := r.best.Load(); bp.latency != 40*time.Millisecond ||
		bp.trustedUntil.Load() != later.Add(time.Second+trustUDPAddrDuration).UnixNano() {
		t.Fatalf("pong on the best path did not refresh it: latency %v", bp.latency)
	}
}

// TestHeartbeat: an active remote without a trusted path pings every
// candidate (call-me-maybe round); with a trusted best it pings the best
// path once per heartbeat interval; a best path whose trust lapsed and
// whose pings went unanswered is forgotten; an idle remote sends nothing.
func TestHeartbeat(t *testing.T) {
	c := newTestConn(t)
	r := c.remoteFor(fakeID(8))
	a := netip.MustParseAddrPort("127.0.0.1:40003")
	b := netip.MustParseAddrPort("127.0.0.1:40004")
	r.mu.Lock()
	r.addPathLocked(a)
	r.addPathLocked(b)
	r.mu.Unlock()
	pings := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.pings)
	}
	now := time.Now()

	// Idle: nothing sent.
	r.heartbeat(now)
	if n := pings(); n != 0 {
		t.Fatalf("idle remote sent %d pings", n)
	}

	// Active, no trusted path: a round pings both candidates.
	r.lastSend.Store(now.UnixNano())
	r.heartbeat(now)
	if n := pings(); n != 2 {
		t.Fatalf("active remote without a path: %d pings, want 2", n)
	}
	r.mu.Lock()
	clear(r.pings)
	r.mu.Unlock()

	// Trusted best: one ping to it when the interval has passed, none
	// before.
	r.considerBest(a, time.Millisecond, now)
	r.mu.Lock()
	r.paths[a].lastPing = now
	r.paths[a].lastPong = now
	r.mu.Unlock()
	r.heartbeat(now.Add(time.Millisecond))
	if n := pings(); n != 0 {
		t.Fatalf("pinged the best path %d times within the heartbeat interval", n)
	}
	t1 := now.Add(heartbeatInterval)
	r.lastSend.Store(t1.UnixNano())
	r.heartbeat(t1)
	r.mu.Lock()
	var toBest int
	for _, p := range r.pings {
		if p.to.udp == a {
			toBest++
		}
	}
	total := len(r.pings)
	r.mu.Unlock()
	if toBest != 1 || total != 1 {
		t.Fatalf("heartbeat sent %d pings (%d to the best path), want one to the best path", total, toBest)
	}

	// Trust lapsed and no pong since: the best path is dropped.
	dead := now.Add(trustUDPAddrDuration + pingTimeout + 2*time.Second)
	r.lastSend.Store(dead.UnixNano())
	r.heartbeat(dead)
	if r.best.Load() != nil {
		t.Fatal("a dead best path was kept")
	}
}
