package recovery

import (
	"math"
	"time"
)

// Constants of RFC 9438.
const (
	cubicC    = 0.4 // §5.1, in segments per second cubed
	cubicBeta = 0.7 // §4.6, the multiplicative decrease factor
	// cubicAlpha is the Reno-friendly additive increase of §4.3,
	// 3*(1-beta)/(1+beta).
	cubicAlpha = 3 * (1 - cubicBeta) / (1 + cubicBeta)
)

// Constants of HyStart++ (RFC 9406 §4.3).
const (
	hyMinRTTThresh   = 4 * time.Millisecond
	hyMaxRTTThresh   = 16 * time.Millisecond
	hyMinRTTDivisor  = 8
	hyNRTTSample     = 8
	hyCSSGrowthDiv   = 4
	hyCSSRounds      = 5
	hyNoRTT          = time.Duration(math.MaxInt64)
	cubicMaxIncrease = 1.5 // §4.2: the target never exceeds 1.5 cwnd
)

// CubicController implements CUBIC (RFC 9438) in bytes: the cubic window
// curve around W_max, the Reno-friendly region, fast convergence, and
// HyStart++ (RFC 9406) to leave slow start on rising delay before losses.
type CubicController struct {
	cubicState
	prior cubicState // before the last reduction, for undoCongestion (§4.9)
	hs    hystart
}

type cubicState struct {
	mss           int
	cwnd          float64 // bytes
	ssthresh      float64
	recoveryStart time.Time

	// The current congestion avoidance epoch.
	epochStart time.Time // zero: starts at the next ACK in congestion avoidance
	wMax       float64   // bytes; zero until the first reduction or slow start exit
	k          float64   // seconds
	wEst       float64   // Reno-friendly estimate, bytes
	cwndPrior  float64   // window before the last reduction
}

// hystart is RFC 9406's state, rounds delimited by send time: a round
// ends when a packet sent after it began is acknowledged.
type hystart struct {
	roundStart   time.Time
	lastRoundMin time.Duration
	curRoundMin  time.Duration
	samples      int
	css          bool
	cssBaseline  time.Duration
	cssRounds    int
}

func (h *hystart) reset() {
	*h = hystart{lastRoundMin: hyNoRTT, curRoundMin: hyNoRTT, cssBaseline: hyNoRTT}
}

// NewCubic returns a CUBIC controller for datagrams of mss bytes (zero
// means MinDatagramSize).
func NewCubic(mss int) *CubicController {
	if mss <= 0 {
		mss = MinDatagramSize
	}
	c := &CubicController{cubicState: cubicState{mss: mss, cwnd: float64(initialWindow(mss)), ssthresh: math.Inf(1)}}
	c.hs.reset()
	return c
}

// Window implements Controller.
func (c *CubicController) Window() int { return int(c.cwnd) }

// SlowStartThreshold is ssthresh in bytes (max int until slow start ends).
func (c *CubicController) SlowStartThreshold() int {
	if math.IsInf(c.ssthresh, 1) {
		return int(^uint(0) >> 1)
	}
	return int(c.ssthresh)
}

// InSlowStart implements Controller (conservative slow start counts).
func (c *CubicController) InSlowStart() bool { return c.cwnd < c.ssthresh }

// InConservativeSlowStart reports whether HyStart++ saw the delay rise and
// slows the growth to a quarter.
func (c *CubicController) InConservativeSlowStart() bool { return c.InSlowStart() && c.hs.css }

// OnSent implements Controller.
func (c *CubicController) OnSent(time.Time, int) {}

// OnRTTSample implements Controller: HyStart++'s per-round minimum RTT.
func (c *CubicController) OnRTTSample(now, largestSent time.Time, rtt *RTT) {
	if c.InSlowStart() && c.hs.onRTTSample(now, largestSent, rtt.Latest()) {
		c.exitSlowStart()
	}
}

// onRTTSample feeds HyStart++ one RTT sample during slow start; it reports
// true when slow start should end (CSS_ROUNDS rounds of conservative slow
// start passed).
func (h *hystart) onRTTSample(now, largestSent time.Time, latest time.Duration) bool {
	if h.roundStart.IsZero() || !largestSent.Before(h.roundStart) {
		// A new round: packets sent from now on belong to it.
		h.roundStart = now
		h.lastRoundMin = h.curRoundMin
		h.curRoundMin = hyNoRTT
		h.samples = 0
		if h.css {
			h.cssRounds++
			if h.cssRounds >= hyCSSRounds {
				h.css = false
				return true
			}
		}
	}
	h.curRoundMin = min(h.curRoundMin, latest)
	h.samples++
	if h.samples < hyNRTTSample || h.curRoundMin == hyNoRTT || h.lastRoundMin == hyNoRTT {
		return false
	}
	if !h.css {
		thresh := min(max(h.lastRoundMin/hyMinRTTDivisor, hyMinRTTThresh), hyMaxRTTThresh)
		if h.curRoundMin >= h.lastRoundMin+thresh {
			h.css = true
			h.cssBaseline = h.curRoundMin
			h.cssRounds = 0
		}
	} else if h.curRoundMin < h.cssBaseline {
		// The delay fell again: the rise was spurious, back to slow start.
		h.css = false
		h.cssBaseline = hyNoRTT
	}
	return false
}

// growth is the slow-start increase for bytes acknowledged: all of them,
// a quarter in conservative slow start.
func (h *hystart) growth(bytes int) float64 {
	if h.css {
		return float64(bytes) / hyCSSGrowthDiv
	}
	return float64(bytes)
}

func (c *CubicController) exitSlowStart() {
	c.ssthresh = c.cwnd
	c.hs.css = false
	c.epochStart = time.Time{}
}

// OnAcked implements Controller.
func (c *CubicController) OnAcked(now, sent time.Time, bytes int, rtt *RTT, cwndLimited bool) {
	if !sent.After(c.recoveryStart) {
		return
	}
	if !cwndLimited {
		// App-limited (RFC 9438 §5.8): no growth, and the epoch restarts
		// when the window is used again, so idle time does not count as
		// time on the curve (the window would leap by half at once).
		c.epochStart = time.Time{}
		return
	}
	if c.InSlowStart() {
		c.cwnd += c.hs.growth(bytes)
		return
	}
	mss := float64(c.mss)
	if c.epochStart.IsZero() {
		c.epochStart = now
		if c.wMax <= 0 {
			// Left slow start without a loss (HyStart++): the plateau is
			// here (§4.10).
			c.wMax = c.cwnd
		}
		if c.wMax < c.cwnd {
			c.k = 0
		} else {
			c.k = math.Cbrt((c.wMax - c.cwnd) / mss / cubicC)
		}
		c.wEst = c.cwnd
	}
	t := now.Sub(c.epochStart).Seconds()
	// Reno-friendly estimate (§4.3); alpha becomes 1 once it passes the
	// window before the last reduction.
	alpha := cubicAlpha
	if c.wEst >= c.cwndPrior {
		alpha = 1
	}
	c.wEst += alpha * float64(bytes) / c.cwnd * mss
	if c.wCubic(t) < c.wEst {
		c.cwnd = max(c.cwnd, c.wEst)
		return
	}
	// Concave or convex region (§4.4, §4.5): grow towards the curve one
	// RTT ahead, at most 1.5 times the window.
	target := c.wCubic(t + rtt.Smoothed().Seconds())
	target = min(max(target, c.cwnd), cubicMaxIncrease*c.cwnd)
	c.cwnd += (target - c.cwnd) / c.cwnd * float64(bytes)
}

// wCubic is W_cubic(t) of RFC 9438 Figure 1, in bytes.
func (c *CubicController) wCubic(t float64) float64 {
	d := t - c.k
	return cubicC*d*d*d*float64(c.mss) + c.wMax
}

// OnCongestion implements Controller.
func (c *CubicController) OnCongestion(now, sent time.Time, persistent bool) {
	if sent.After(c.recoveryStart) {
		c.prior = c.cubicState
		c.recoveryStart = now
		c.epochStart = time.Time{}
		// Fast convergence (§4.7): a flow that lost at a lower plateau
		// than last time releases bandwidth for newcomers.
		if c.cwnd < c.wMax {
			c.wMax = c.cwnd * (1 + cubicBeta) / 2
		} else {
			c.wMax = c.cwnd
		}
		c.cwndPrior = c.cwnd
		c.ssthresh = max(c.cwnd*cubicBeta, float64(minWindow(c.mss)))
		c.cwnd = c.ssthresh
		c.hs.css = false
	}
	if persistent {
		c.cwnd = float64(minWindow(c.mss))
		c.recoveryStart = time.Time{}
		c.epochStart = time.Time{}
		c.wMax = 0
		c.cwndPrior = 0
		c.hs.reset()
	}
}

// undoCongestion implements undoer: the state before the last reduction
// comes back (RFC 9438 §4.9), keeping any growth since.
func (c *CubicController) undoCongestion() {
	if c.prior.mss != c.mss {
		return
	}
	cwnd := max(c.cwnd, c.prior.cwnd)
	c.cubicState = c.prior
	c.cwnd = cwnd
}

// SetMaxDatagramSize implements Controller.
func (c *CubicController) SetMaxDatagramSize(n int) {
	if n <= 0 {
		return
	}
	c.prior.mss = 0 // a datagram size change voids the undo
	f := float64(n) / float64(c.mss)
	if c.cwnd == float64(initialWindow(c.mss)) {
		c.cwnd = float64(initialWindow(n))
	} else {
		c.cwnd = max(c.cwnd*f, float64(minWindow(n)))
	}
	c.wMax *= f
	c.wEst *= f
	c.cwndPrior *= f
	if !math.IsInf(c.ssthresh, 1) {
		c.ssthresh = max(c.ssthresh*f, float64(minWindow(n)))
	}
	c.mss = n
}
