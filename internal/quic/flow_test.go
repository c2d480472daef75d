package quic

import (
	"testing"
	"time"
)

func TestRecvFlowLimit(t *testing.T) {
	f := newRecvFlow(1000, 1000)
	if !f.onReceived(1000) {
		t.Fatal("data up to the limit refused")
	}
	if f.onReceived(1) {
		t.Fatal("data past the limit accepted")
	}
}

func TestRecvFlowUpdateAtHalf(t *testing.T) {
	f := newRecvFlow(1000, 1000)
	f.onConsumed(t0, 400, 10*time.Millisecond)
	if _, ok := f.takeUpdate(); ok {
		t.Fatal("update before half the window was used")
	}
	f.onConsumed(t0, 100, 10*time.Millisecond)
	lim, ok := f.takeUpdate()
	if !ok || lim != 1500 {
		t.Fatalf("update %d %v, want 1500", lim, ok)
	}
	if _, ok := f.takeUpdate(); ok {
		t.Fatal("update taken twice")
	}
}

func TestRecvFlowAutotune(t *testing.T) {
	rtt := 10 * time.Millisecond
	// A fast reader: a window consumed every round trip doubles it.
	f := newRecvFlow(1<<16, 1<<20)
	now := t0
	for range 20 {
		now = now.Add(rtt / 2)
		f.onConsumed(now, f.window/2, rtt)
	}
	if f.window != 1<<20 {
		t.Fatalf("fast reader: window %d, want the maximum %d", f.window, 1<<20)
	}
	// A slow reader: half a window every 10 round trips keeps it.
	g := newRecvFlow(1<<16, 1<<20)
	now = t0
	for range 20 {
		now = now.Add(10 * rtt)
		g.onConsumed(now, g.window/2, rtt)
	}
	if g.window != 1<<16 {
		t.Fatalf("slow reader: window grew to %d", g.window)
	}
}

func TestSendFlowBlockedOnce(t *testing.T) {
	f := sendFlow{limit: 100}
	f.onSent(100)
	if !f.blocked || f.available() != 0 {
		t.Fatal("not blocked at the limit")
	}
	f.blocked = false
	f.onSent(0)
	if f.blocked {
		t.Fatal("blocked reported twice for one limit")
	}
	if f.raise(50) || !f.raise(200) || f.available() != 100 {
		t.Fatal("raise")
	}
}
