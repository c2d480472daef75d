package recovery

import (
	"testing"
	"time"
)

func TestPacerRateAndBurst(t *testing.T) {
	tests := []struct {
		name       string
		cwnd       int
		srtt       time.Duration
		burst      int
		rate       float64 // bytes per second
		sendPeriod time.Duration
	}{
		{"slow path: 10 datagrams", 120000, 100 * ms, 12000, 1.5e6, time.Second},
		{"fast path: 64 datagrams", 10 << 20, 10 * ms, 64 * 1200, 1.25 * float64(10<<20) / 0.01, 50 * ms},
		{"tiny window: the window", 2400, 100 * ms, 2400, 30000, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Pacer
			n, next := p.Budget(t0, tt.cwnd, 1200, tt.srtt)
			if n != tt.burst || !next.IsZero() {
				t.Fatalf("first budget %d next %v, want burst %d", n, next, tt.burst)
			}
			// Send whenever allowed over the period, datagram by datagram.
			now, sent := t0, 0
			end := t0.Add(tt.sendPeriod)
			for now.Before(end) {
				n, next := p.Budget(now, tt.cwnd, 1200, tt.srtt)
				if n < 1200 {
					if next.IsZero() || !next.After(now) {
						t.Fatalf("blocked with next %v", next)
					}
					now = next
					continue
				}
				p.OnSent(now, 1200, tt.cwnd, 1200, tt.srtt)
				sent += 1200
			}
			want := tt.rate*tt.sendPeriod.Seconds() + float64(tt.burst)
			if got := float64(sent); got < want*0.98-1200 || got > want*1.02+1200 {
				t.Fatalf("sent %d bytes in %v, want %.0f", sent, tt.sendPeriod, want)
			}
		})
	}
}

func TestPacerNext(t *testing.T) {
	var p Pacer
	p.Budget(t0, 120000, 1200, 100*ms)
	p.OnSent(t0, 12000, 120000, 1200, 100*ms)
	n, next := p.Budget(t0, 120000, 1200, 100*ms)
	// A millisecond's worth at 1.5 MB/s (1500 bytes): 1ms.
	if n != 0 || next.Sub(t0) < time.Millisecond || next.Sub(t0) > time.Millisecond+time.Microsecond {
		t.Fatalf("budget %d next %v", n, next.Sub(t0))
	}
	// At a slow rate, one datagram is the target: 1200 bytes at 30 kB/s.
	var slow Pacer
	slow.Budget(t0, 2400, 1200, 100*ms)
	slow.OnSent(t0, 2400, 2400, 1200, 100*ms)
	if _, next := slow.Budget(t0, 2400, 1200, 100*ms); next.Sub(t0) < 40*ms || next.Sub(t0) > 40*ms+time.Microsecond {
		t.Fatalf("slow next %v", next.Sub(t0))
	}
	// At a fast rate, the whole burst: 64 datagrams at 1.25 GB/s.
	var fast Pacer
	fast.Budget(t0, 10<<20, 1200, 10*ms)
	fast.OnSent(t0, 64*1200, 10<<20, 1200, 10*ms)
	if _, next := fast.Budget(t0, 10<<20, 1200, 10*ms); next.Sub(t0) < 58*time.Microsecond || next.Sub(t0) > 59*time.Microsecond {
		t.Fatalf("fast next %v", next.Sub(t0))
	}
	// Idle time refills only up to the burst.
	if n, _ := p.Budget(t0.Add(time.Hour), 120000, 1200, 100*ms); n != 12000 {
		t.Fatalf("after idle %d", n)
	}
}

func TestSendBudget(t *testing.T) {
	r := newRec(t, &Options{PathOnly: true})
	n, next := r.SendBudget(t0)
	if n != 12000 || !next.IsZero() {
		t.Fatalf("budget %d", n)
	}
	for pn := range uint64(10) {
		send(t, r, t0, Application, pn)
	}
	if n, next := r.SendBudget(t0.Add(time.Hour)); n != 0 || !next.IsZero() {
		t.Fatalf("full window: budget %d next %v", n, next)
	}
	ack(t, r, t0.Add(100*ms), Application, AckRange{0, 1})
	// Two acked in slow start: window 14400, in flight 9600: room 4800;
	// the pacer refilled during the RTT.
	if n, _ := r.SendBudget(t0.Add(100 * ms)); n != 4800 {
		t.Fatalf("budget %d, want 4800", n)
	}
	if r.PacingRate() <= 0 {
		t.Fatal("pacing rate")
	}
}
