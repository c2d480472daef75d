package recovery

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func TestNewReno(t *testing.T) {
	rtt := NewRTT(0)
	rtt.Update(100*ms, 0, true, 0)
	c := NewNewReno(1200)
	if c.Window() != 12000 || !c.InSlowStart() {
		t.Fatalf("initial %d", c.Window())
	}
	// Slow start: a window acknowledged doubles it.
	for i := range 10 {
		c.OnAcked(t0.Add(ms), t0.Add(time.Duration(i)), 1200, &rtt, true)
	}
	if c.Window() != 24000 {
		t.Fatalf("after one round %d, want 24000", c.Window())
	}
	// App-limited: no growth.
	c.OnAcked(t0.Add(ms), t0, 1200, &rtt, false)
	if c.Window() != 24000 {
		t.Fatalf("grew while app-limited: %d", c.Window())
	}
	// Loss halves, once per recovery period.
	now := t0.Add(time.Second)
	c.OnCongestion(now, now.Add(-ms), false)
	if c.Window() != 12000 || c.SlowStartThreshold() != 12000 || c.InSlowStart() {
		t.Fatalf("after loss %d ssthresh %d", c.Window(), c.SlowStartThreshold())
	}
	c.OnCongestion(now.Add(50*ms), now.Add(-time.Nanosecond), false)
	c.OnCongestion(now.Add(50*ms), now, false)
	if c.Window() != 12000 {
		t.Fatalf("second reduction in one recovery period: %d", c.Window())
	}
	// Packets sent before the recovery period do not grow the window.
	c.OnAcked(now.Add(60*ms), now.Add(-ms), 1200, &rtt, true)
	if c.Window() != 12000 {
		t.Fatalf("grew in recovery: %d", c.Window())
	}
	// Congestion avoidance: one datagram per window acknowledged.
	sent := now.Add(time.Millisecond)
	for range 10 {
		c.OnAcked(now.Add(200*ms), sent, 1200, &rtt, true)
	}
	if c.Window() != 13200 {
		t.Fatalf("congestion avoidance %d, want 13200", c.Window())
	}
	// A loss after the period: halve again, never below 2 datagrams.
	for i := range 20 {
		at := now.Add(time.Duration(i+1) * time.Second)
		c.OnCongestion(at, at.Add(-time.Nanosecond), false)
	}
	if c.Window() != 2400 {
		t.Fatalf("window %d, want the minimum 2400", c.Window())
	}
	c.OnCongestion(now.Add(time.Hour), now.Add(time.Hour), true)
	if c.Window() != 2400 {
		t.Fatalf("persistent %d", c.Window())
	}
}

// cubicAfterLoss returns a CUBIC controller that just reduced from a
// window of w segments.
func cubicAfterLoss(w int, at time.Time) *CubicController {
	c := NewCubic(1200)
	c.cwnd = float64(w * 1200)
	c.OnCongestion(at, at.Add(-time.Nanosecond), false)
	return c
}

func TestCubicReduction(t *testing.T) {
	c := cubicAfterLoss(100, t0)
	if c.Window() != 84000 || c.SlowStartThreshold() != 84000 || c.wMax != 120000 {
		t.Fatalf("window %d ssthresh %d wmax %v", c.Window(), c.SlowStartThreshold(), c.wMax)
	}
	// Fast convergence: the next loss below W_max lowers the plateau to
	// cwnd*(1+beta)/2.
	c.OnCongestion(t0.Add(time.Second), t0.Add(time.Second), false)
	if want := 84000 * 1.7 / 2; math.Abs(c.wMax-want) > 1e-6 || math.Abs(float64(c.Window())-84000*0.7) > 1 {
		t.Fatalf("wmax %v want %v, window %d", c.wMax, want, c.Window())
	}
}

// TestCubicCurve drives a CUBIC sender one window per RTT and checks the
// window against W_cubic(t) = C*(t-K)^3 + W_max of RFC 9438 §4.2.
func TestCubicCurve(t *testing.T) {
	const rttD = 100 * time.Millisecond
	rtt := NewRTT(0)
	rtt.Update(rttD, 0, true, 0)
	c := cubicAfterLoss(100, t0)
	wMax, cwndEpoch := 100.0, 70.0 // segments
	k := math.Cbrt((wMax - cwndEpoch) / cubicC)
	if math.Abs(k-math.Cbrt(75)) > 1e-9 {
		t.Fatalf("K %v", k)
	}
	w := func(t float64) float64 { return cubicC*math.Pow(t-k, 3) + wMax }
	now := t0
	epoch := t0.Add(ms) // the first ACK starts the epoch
	for step := 0; step < 100; step++ {
		now = epoch.Add(time.Duration(step) * rttD)
		// One window of ACKs, spread over the RTT.
		segs := c.Window() / 1200
		for i := range segs {
			at := now.Add(time.Duration(i) * rttD / time.Duration(segs))
			c.OnAcked(at, at.Add(-rttD), 1200, &rtt, true)
		}
		tt := now.Add(rttD).Sub(epoch).Seconds()
		got := float64(c.Window()) / 1200
		// The window tracks the curve one RTT ahead; allow a segment and a
		// few percent for the per-ACK steps.
		lo, hi := min(w(tt), w(tt+rttD.Seconds())), max(w(tt), w(tt+rttD.Seconds()))
		if got < lo*0.97-1 || got > hi*1.03+1 {
			t.Fatalf("t=%.1fs: window %.1f segments, curve %.1f..%.1f", tt, got, lo, hi)
		}
		if step%20 == 0 {
			t.Logf("t=%.1fs window %.1f W_cubic %.1f", tt, got, w(tt))
		}
	}
	// After K the window passed W_max (convex region).
	if float64(c.Window())/1200 <= wMax {
		t.Fatalf("window %d never passed W_max", c.Window())
	}
}

// TestCubicRenoFriendly: with a short RTT, Reno's linear growth beats the
// cubic curve near the start of an epoch, and the window follows W_est
// (RFC 9438 §4.3).
func TestCubicRenoFriendly(t *testing.T) {
	const rttD = 5 * time.Millisecond
	rtt := NewRTT(0)
	rtt.Update(rttD, 0, true, 0)
	c := cubicAfterLoss(100, t0)
	epoch := t0.Add(ms)
	rounds := 40
	for step := range rounds {
		now := epoch.Add(time.Duration(step) * rttD)
		segs := c.Window() / 1200
		for i := range segs {
			at := now.Add(time.Duration(i) * rttD / time.Duration(segs))
			c.OnAcked(at, at.Add(-rttD), 1200, &rtt, true)
		}
	}
	// W_est grows alpha per RTT: 70 + 40*0.529 = 91.2 segments; the cubic
	// curve at 0.2s is only ~74.
	wEst := 70 + float64(rounds)*cubicAlpha
	k := math.Cbrt(30 / cubicC)
	wc := cubicC*math.Pow(float64(rounds)*rttD.Seconds()+rttD.Seconds()-k, 3) + 100
	got := float64(c.Window()) / 1200
	if math.Abs(got-wEst) > 1.5 || got <= wc+5 {
		t.Fatalf("window %.1f segments, want W_est %.1f (cubic %.1f)", got, wEst, wc)
	}
}

type hyStarter interface {
	Controller
	InConservativeSlowStart() bool
	SlowStartThreshold() int
}

func TestHyStart(t *testing.T) {
	for _, c := range []hyStarter{NewCubic(1200), NewNewReno(1200)} {
		t.Run(fmt.Sprintf("%T", c), func(t *testing.T) { testHyStart(t, c) })
	}
}

func testHyStart(t *testing.T, c hyStarter) {
	const base = 50 * time.Millisecond
	rtt := NewRTT(0)
	round := func(i int, latest time.Duration) {
		now := t0.Add(time.Duration(i) * 100 * ms)
		prev := t0.Add(time.Duration(i-1) * 100 * ms)
		for range hyNRTTSample {
			rtt.Update(latest, 0, false, 0)
			c.OnRTTSample(now, prev, &rtt)
			c.OnAcked(now, prev.Add(ms), 100, &rtt, true)
		}
	}
	for i := range 3 {
		round(i, base)
	}
	if !c.InSlowStart() || c.InConservativeSlowStart() {
		t.Fatal("left slow start at a steady RTT")
	}
	// The delay rises by more than max(4ms, base/8): conservative slow start.
	round(3, base+8*ms)
	if !c.InConservativeSlowStart() {
		t.Fatal("no CSS after the RTT rose")
	}
	w := c.Window()
	c.OnAcked(t0.Add(time.Second), t0.Add(time.Second), 1200, &rtt, true)
	if c.Window() != w+300 {
		t.Fatalf("CSS growth %d, want a quarter", c.Window()-w)
	}
	// A drop below the baseline: back to slow start.
	round(4, base)
	if c.InConservativeSlowStart() || !c.InSlowStart() {
		t.Fatal("still in CSS after the RTT fell")
	}
	round(5, base+10*ms)
	if !c.InConservativeSlowStart() {
		t.Fatal("no CSS after the second rise")
	}
	for i := range hyCSSRounds {
		round(6+i, base+10*ms)
	}
	if c.InSlowStart() || c.SlowStartThreshold() > c.Window() || c.SlowStartThreshold() < w {
		t.Fatalf("still in slow start after %d CSS rounds (ssthresh %d window %d)", hyCSSRounds, c.SlowStartThreshold(), c.Window())
	}
}

func TestCubicPersistentAndMSS(t *testing.T) {
	c := cubicAfterLoss(100, t0)
	c.OnCongestion(t0.Add(time.Second), t0.Add(time.Second), true)
	if c.Window() != 2400 || !c.InSlowStart() {
		t.Fatalf("persistent: window %d", c.Window())
	}
	c.SetMaxDatagramSize(1500)
	if c.Window() != 3000 {
		t.Fatalf("window %d after MSS change", c.Window())
	}
	if NewCubic(0).Window() != 12000 || NewNewReno(0).Window() != 12000 {
		t.Fatal("zero mss")
	}
}

// TestCubicAppLimited: an application-limited pause does not count as
// time on the curve.
func TestCubicAppLimited(t *testing.T) {
	rtt := NewRTT(0)
	rtt.Update(100*ms, 0, true, 0)
	c := cubicAfterLoss(100, t0)
	c.OnAcked(t0.Add(ms), t0.Add(ms), 1200, &rtt, true)
	w := c.Window()
	// Ten seconds of app-limited ACKs.
	for i := range 100 {
		at := t0.Add(time.Duration(i+1) * 100 * ms)
		c.OnAcked(at, at, 1200, &rtt, false)
	}
	if c.Window() != w {
		t.Fatalf("grew while app-limited: %d -> %d", w, c.Window())
	}
	at := t0.Add(11 * time.Second)
	c.OnAcked(at, at, 1200, &rtt, true)
	// Without the epoch restart, t=11s would be far past K and the target
	// 1.5 cwnd, adding ~half a segment per ACK; with it, t=0 again.
	if d := c.Window() - w; d > 100 {
		t.Fatalf("window leapt by %d bytes on the first ACK after the pause", d)
	}
}
