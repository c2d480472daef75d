package quic

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestAckTrackerEverySecondPacket(t *testing.T) {
	a := newAckTracker(25 * time.Millisecond)
	a.onReceived(t0, 0, true, 0)
	if a.ackDue(t0) {
		t.Fatal("ack due after one packet")
	}
	if got := a.deadline(); !got.Equal(t0.Add(25 * time.Millisecond)) {
		t.Fatalf("deadline %v", got)
	}
	a.onReceived(t0, 1, true, 0)
	if !a.ackDue(t0) {
		t.Fatal("no ack due after two ack-eliciting packets")
	}
	a.onAckSent()
	if a.ackDue(t0) || !a.deadline().IsZero() {
		t.Fatal("ack still due after sending one")
	}
	a.onReceived(t0, 2, false, 0)
	if a.ackDue(t0.Add(time.Hour)) {
		t.Fatal("ack due for a non-eliciting packet only")
	}
	if !a.wantsAck() {
		t.Fatal("non-eliciting packet not acknowledgeable")
	}
}

func TestAckTrackerDelayExpires(t *testing.T) {
	a := newAckTracker(25 * time.Millisecond)
	a.onReceived(t0, 0, true, 0)
	if a.ackDue(t0.Add(24 * time.Millisecond)) {
		t.Fatal("due too early")
	}
	if !a.ackDue(t0.Add(25 * time.Millisecond)) {
		t.Fatal("not due at the deadline")
	}
	if d := a.ackDelay(t0.Add(10 * time.Millisecond)); d != 10*time.Millisecond {
		t.Fatalf("ack delay %v", d)
	}
}

func TestAckTrackerReorderImmediate(t *testing.T) {
	a := newAckTracker(25 * time.Millisecond)
	a.onReceived(t0, 0, true, 0)
	a.onAckSent()
	a.onReceived(t0, 2, true, 0) // gap: 1 missing
	if !a.ackDue(t0) {
		t.Fatal("gap did not trigger an immediate ack")
	}
	a.onAckSent()
	a.onReceived(t0, 1, true, 0) // fills the gap, below largest
	if !a.ackDue(t0) {
		t.Fatal("reordered packet did not trigger an immediate ack")
	}
	if got := a.ranges(); len(got) != 1 || got[0] != (byteRange{0, 3}) {
		t.Fatalf("ranges %v", got)
	}
	if !a.isDuplicate(1) || a.isDuplicate(3) {
		t.Fatal("duplicate detection")
	}
}

func TestAckTrackerAckFrequency(t *testing.T) {
	a := newAckTracker(25 * time.Millisecond)
	a.onAckFrequency(1, 9, 50*time.Millisecond, 0)
	a.onAckFrequency(0, 1, time.Millisecond, 1) // older: ignored
	for pn := uint64(0); pn < 9; pn++ {
		a.onReceived(t0, pn*2, true, 0) // gaps, but reordering threshold 0
		if a.ackDue(t0) {
			t.Fatalf("ack due after %d packets with threshold 9", pn+1)
		}
	}
	a.onReceived(t0, 100, true, 0)
	if !a.ackDue(t0) {
		t.Fatal("no ack after threshold+1 packets")
	}
	a.onAckSent()
	a.onReceived(t0, 101, true, 0)
	a.onImmediateAck()
	if !a.ackDue(t0) {
		t.Fatal("IMMEDIATE_ACK ignored")
	}
}

func TestAckTrackerBounded(t *testing.T) {
	a := newAckTracker(0)
	for pn := uint64(0); pn < 10000; pn += 2 {
		a.onReceived(t0, pn, true, 0)
	}
	if n := len(a.ranges()); n > maxAckRanges {
		t.Fatalf("%d ranges kept", n)
	}
	if !a.isDuplicate(2) {
		t.Fatal("forgotten packet number not treated as duplicate")
	}
	a.onAckAcked(9000)
	for _, r := range a.ranges() {
		if r.start <= 9000 {
			t.Fatalf("range %v below acknowledged ack kept", r)
		}
	}
}

func TestAckTrackerECN(t *testing.T) {
	a := newAckTracker(time.Second)
	a.onReceived(t0, 0, true, 2)
	a.onReceived(t0, 1, false, 1)
	a.onReceived(t0, 2, true, 3)
	if a.ecn != [3]uint64{1, 1, 1} {
		t.Fatalf("ecn counts %v", a.ecn)
	}
	if !a.ackDue(t0) {
		t.Fatal("CE mark did not trigger an immediate ack")
	}
}
