package recovery

import (
	"testing"
	"time"
)

// search runs a PMTUD against a path carrying datagrams up to pathMTU,
// answering each probe at once, and returns the probes sent.
func search(t *testing.T, p *PMTUD, now time.Time, pathMTU int) int {
	t.Helper()
	n := 0
	for {
		size, ok := p.Probe(now)
		if !ok {
			return n
		}
		if n++; n > 100 {
			t.Fatal("search does not end")
		}
		p.OnProbeSent(size)
		if _, again := p.Probe(now); again {
			t.Fatal("second probe while one is in flight")
		}
		if size <= pathMTU {
			p.OnProbeAcked(now, size)
		} else {
			p.OnProbeLost(now, size)
		}
	}
}

func TestPMTUDSearch(t *testing.T) {
	tests := []struct {
		name      string
		max, path int
		want      int // lowest acceptable result
		probes    int // at most
	}{
		{"path carries the max", 1452, 1500, 1452, 1},
		{"path 1400", 1452, 1400, 1400 - pmtudMinStep, 3 + 3*MaxProbes},
		{"path 1280 of 9000", 9000, 1280, 1280 - pmtudMinStep, 10 * MaxProbes},
		{"path below nothing", 1452, 1200, 1200, 10 * MaxProbes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPMTUD(&PMTUDOptions{Max: tt.max})
			if err != nil {
				t.Fatal(err)
			}
			n := search(t, p, t0, tt.path)
			if p.Current() < tt.want || p.Current() > tt.path || n > tt.probes || p.State() != PMTUDSearchComplete {
				t.Fatalf("current %d after %d probes, state %v; want >= %d within %d", p.Current(), n, p.State(), tt.want, tt.probes)
			}
			if p.Timeout() != t0.Add(DefaultRaiseInterval) {
				t.Fatalf("raise timer %v", p.Timeout())
			}
		})
	}
}

func TestPMTUDRaiseAndBlackHole(t *testing.T) {
	p, _ := NewPMTUD(&PMTUDOptions{Max: 1500})
	search(t, p, t0, 1400)
	got := p.Current()
	// The path grows: after the raise timer the search finds more.
	if n := search(t, p, t0.Add(time.Second), 1500); n != 0 {
		t.Fatalf("probed %d before the raise timer", n)
	}
	later := t0.Add(DefaultRaiseInterval)
	search(t, p, later, 1500)
	if p.Current() != 1500 {
		t.Fatalf("after raise %d (was %d)", p.Current(), got)
	}
	pn := uint64(100)
	// Random losses interleaved with ACKs are no black hole.
	for range 20 {
		if p.OnLost(later, pn, 1500) {
			t.Fatal("black hole from sparse losses")
		}
		p.OnAcked(pn+1, 1500)
		pn += 3
	}
	// Congestion drops: long bursts, each followed by later packets of
	// the same size acknowledged (what made them lost), are no black hole.
	for range 20 {
		p.OnAcked(pn+50, 1500)
		for i := range uint64(40) {
			if p.OnLost(later, pn+i, 1500) {
				t.Fatal("black hole from congestion bursts")
			}
		}
		pn += 60
	}
	// Losses of base-sized packets do not count, nor do bursts that lost
	// one too.
	for range 20 {
		if p.OnLost(later, pn, 1200) || p.OnLost(later, pn+1, 1500) {
			t.Fatal("black hole from small packets")
		}
		pn += 5
	}
	// One long burst of large packets with nothing acknowledged is one
	// suspicious burst, not many.
	for i := range uint64(50) {
		if p.OnLost(later, pn+i, 1500) {
			t.Fatal("black hole from one burst")
		}
	}
	pn += 60
	var hole bool
	for i := range DefaultBlackHoleThreshold - 1 {
		if hole {
			t.Fatalf("black hole after %d bursts", i+1)
		}
		hole = p.OnLost(later, pn, 1500)
		hole = hole || p.OnLost(later, pn+1, 1500)
		pn += 10
	}
	if !hole || p.Current() != 1200 || p.State() != PMTUDBase || p.Stats().BlackHoles != 1 {
		t.Fatalf("hole %v current %d state %v", hole, p.Current(), p.State())
	}
	if _, ok := p.Probe(later.Add(time.Second)); ok {
		t.Fatal("probing right after a black hole")
	}
	if p.Timeout() != later.Add(time.Minute) {
		t.Fatalf("next search %v", p.Timeout().Sub(later))
	}
	search(t, p, later.Add(time.Minute), 1300)
	if c := p.Current(); c < 1300-pmtudMinStep || c > 1300 {
		t.Fatalf("after re-search %d", c)
	}
}

func TestPMTUDProbeRetries(t *testing.T) {
	p, _ := NewPMTUD(nil)
	size, _ := p.Probe(t0)
	for i := range MaxProbes - 1 {
		p.OnProbeSent(size)
		p.OnProbeLost(t0, size)
		if s, ok := p.Probe(t0); !ok || s != size {
			t.Fatalf("retry %d: %d %v", i, s, ok)
		}
	}
	p.OnProbeSent(size)
	p.OnProbeLost(t0, size)
	if s, _ := p.Probe(t0); s >= size {
		t.Fatalf("after %d losses still probing %d", MaxProbes, s)
	}
	// Stale reports about other sizes are ignored.
	p.OnProbeLost(t0, 9999)
	p.OnProbeAcked(t0, 1000)
	if p.Current() != 1200 {
		t.Fatal("stale report changed the size")
	}
}

func TestPMTUDOptions(t *testing.T) {
	for _, o := range []PMTUDOptions{{Base: 1000}, {Max: 1100}, {Max: 70000}, {RaiseInterval: -1}} {
		if _, err := NewPMTUD(&o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	p, _ := NewPMTUD(&PMTUDOptions{Max: 1200})
	if _, ok := p.Probe(t0); ok || p.State() != PMTUDDisabled {
		t.Fatal("probing with max = base")
	}
}
