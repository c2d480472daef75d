package recovery

import (
	"fmt"
	"time"
)

// Algorithm selects a congestion controller.
type Algorithm uint8

// The congestion controllers. The zero value is CUBIC.
const (
	CUBIC Algorithm = iota
	NewReno
)

func (a Algorithm) String() string {
	switch a {
	case CUBIC:
		return "cubic"
	case NewReno:
		return "newreno"
	}
	return fmt.Sprintf("algorithm(%d)", uint8(a))
}

// MinDatagramSize is the smallest maximum datagram size QUIC allows (RFC
// 9000 §14), the default before path MTU discovery raises it.
const MinDatagramSize = 1200

// Controller is a byte-based congestion controller (RFC 9002 §7). Recovery
// drives it; a core only reads Window through Recovery. Implementations are
// not safe for concurrent use and read no clock.
type Controller interface {
	// Window is the congestion window in bytes.
	Window() int
	// InSlowStart reports whether the window grows exponentially.
	InSlowStart() bool
	// OnSent is called for every in-flight packet sent.
	OnSent(now time.Time, bytes int)
	// OnRTTSample is called once per ACK that produced an RTT sample,
	// before OnAcked for its packets; largestSent is when the largest
	// newly acknowledged packet was sent.
	OnRTTSample(now, largestSent time.Time, rtt *RTT)
	// OnAcked is called for every newly acknowledged in-flight packet.
	// cwndLimited is false when the sender did not fill the window before
	// this ACK (app-limited): the window must not grow then (§7.8).
	OnAcked(now, sent time.Time, bytes int, rtt *RTT, cwndLimited bool)
	// OnCongestion signals a loss or ECN-CE of a packet sent at sent. At
	// most one reduction happens per recovery period: signals about
	// packets sent before the period began are ignored. persistent
	// collapses the window to the minimum (§7.6).
	OnCongestion(now, sent time.Time, persistent bool)
	// SetMaxDatagramSize changes the unit of the window (after PMTUD).
	SetMaxDatagramSize(n int)
}

// initialWindow is RFC 9002 §7.2's: ten datagrams, limited to
// max(14720, 2*size).
func initialWindow(mss int) int {
	return min(10*mss, max(14720, 2*mss))
}

// minWindow is two datagrams (§7.2).
func minWindow(mss int) int { return 2 * mss }

// NewRenoController implements RFC 9002 §7's NewReno: slow start doubling
// per round trip (left early by HyStart++, RFC 9406, when the delay
// rises), halving on congestion, then one datagram per window
// acknowledged.
type NewRenoController struct {
	renoState
	prior renoState // before the last reduction, for undoCongestion
	hs    hystart
}

type renoState struct {
	mss           int
	cwnd          int
	ssthresh      int
	recoveryStart time.Time
	bytesAcked    int // in congestion avoidance, since the last increase
}

// NewNewReno returns a NewReno controller for datagrams of mss bytes (zero
// means MinDatagramSize).
func NewNewReno(mss int) *NewRenoController {
	if mss <= 0 {
		mss = MinDatagramSize
	}
	c := &NewRenoController{renoState: renoState{mss: mss, cwnd: initialWindow(mss), ssthresh: int(^uint(0) >> 1)}}
	c.hs.reset()
	return c
}

// Window implements Controller.
func (c *NewRenoController) Window() int { return c.cwnd }

// SlowStartThreshold is ssthresh in bytes (max int until the first
// congestion event).
func (c *NewRenoController) SlowStartThreshold() int { return c.ssthresh }

// InSlowStart implements Controller.
func (c *NewRenoController) InSlowStart() bool { return c.cwnd < c.ssthresh }

// OnSent implements Controller.
func (c *NewRenoController) OnSent(time.Time, int) {}

// OnRTTSample implements Controller: HyStart++.
func (c *NewRenoController) OnRTTSample(now, largestSent time.Time, rtt *RTT) {
	if c.InSlowStart() && c.hs.onRTTSample(now, largestSent, rtt.Latest()) {
		c.ssthresh = c.cwnd
	}
}

// InConservativeSlowStart reports whether HyStart++ saw the delay rise and
// slows the growth to a quarter.
func (c *NewRenoController) InConservativeSlowStart() bool { return c.InSlowStart() && c.hs.css }

// OnAcked implements Controller.
func (c *NewRenoController) OnAcked(now, sent time.Time, bytes int, rtt *RTT, cwndLimited bool) {
	if !sent.After(c.recoveryStart) || !cwndLimited {
		return
	}
	if c.cwnd < c.ssthresh {
		c.cwnd += int(c.hs.growth(bytes))
		return
	}
	c.bytesAcked += bytes
	if c.bytesAcked >= c.cwnd {
		c.bytesAcked -= c.cwnd
		c.cwnd += c.mss
	}
}

// OnCongestion implements Controller.
func (c *NewRenoController) OnCongestion(now, sent time.Time, persistent bool) {
	if sent.After(c.recoveryStart) {
		c.prior = c.renoState
		c.recoveryStart = now
		c.ssthresh = max(c.cwnd/2, minWindow(c.mss))
		c.cwnd = c.ssthresh
		c.bytesAcked = 0
		c.hs.css = false
	}
	if persistent {
		c.cwnd = minWindow(c.mss)
		c.recoveryStart = time.Time{}
		c.bytesAcked = 0
		c.hs.reset()
	}
}

// undoCongestion implements undoer.
func (c *NewRenoController) undoCongestion() {
	if c.prior.mss != c.mss {
		return
	}
	cwnd := max(c.cwnd, c.prior.cwnd)
	c.renoState = c.prior
	c.cwnd = cwnd
}

// undoer is a Controller that can take back its last reduction when the
// losses behind it prove spurious (RFC 9438 §4.9).
type undoer interface {
	undoCongestion()
}

// SetMaxDatagramSize implements Controller.
func (c *NewRenoController) SetMaxDatagramSize(n int) {
	if n <= 0 {
		return
	}
	if c.cwnd == initialWindow(c.mss) {
		c.cwnd = initialWindow(n)
	} else {
		c.cwnd = max(c.cwnd*n/c.mss, minWindow(n))
	}
	c.mss = n
	c.prior.mss = 0 // a datagram size change voids the undo
}
