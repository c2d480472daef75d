package recovery

import "time"

// Constants of RFC 9002 §6 and Appendix A.2.
const (
	// PacketThreshold is the reordering threshold in packets: a packet is
	// lost once a packet sent three numbers later is acknowledged (§6.1.1).
	PacketThreshold = 3
	// Granularity is the timer granularity, the floor of the loss delay and
	// of the PTO's variance term (§6.1.2).
	Granularity = time.Millisecond
	// DefaultInitialRTT is the RTT assumed before the first sample (§6.2.2).
	DefaultInitialRTT = 333 * time.Millisecond
	// DefaultMaxAckDelay is the peer's max_ack_delay when its transport
	// parameters do not say (RFC 9000 §18.2).
	DefaultMaxAckDelay = 25 * time.Millisecond
	// maxPTOBackoff caps the exponent of the PTO backoff so the shift never
	// overflows; 2^16 times any sane PTO is already hours.
	maxPTOBackoff = 16
)

// timeThreshold is 9/8, the time reordering threshold of §6.1.2, as a
// fraction.
const (
	timeThresholdNum = 9
	timeThresholdDen = 8
)

// RTT estimates the round-trip time of one path (RFC 9002 §5). The zero
// value is not ready: use NewRTT.
type RTT struct {
	initial   time.Duration
	latest    time.Duration
	min       time.Duration
	smoothed  time.Duration
	variance  time.Duration
	hasSample bool
}

// NewRTT returns an estimator that assumes initial (zero means
// DefaultInitialRTT) until the first sample.
func NewRTT(initial time.Duration) RTT {
	if initial <= 0 {
		initial = DefaultInitialRTT
	}
	return RTT{initial: initial, smoothed: initial, variance: initial / 2}
}

// Update folds in one sample: latest is the time from sending the largest
// newly acknowledged packet to receiving its ACK, ackDelay the delay the
// peer reported in that ACK (zero in the Initial space). Once the handshake
// is confirmed the ack delay is capped by maxAckDelay (§5.3); it is never
// subtracted below the minimum RTT.
func (r *RTT) Update(latest, ackDelay time.Duration, handshakeConfirmed bool, maxAckDelay time.Duration) {
	if latest <= 0 {
		latest = 1 // a clock that did not move: keep the estimator positive
	}
	r.latest = latest
	if !r.hasSample {
		r.hasSample = true
		r.min = latest
		r.smoothed = latest
		r.variance = latest / 2
		return
	}
	r.min = min(r.min, latest)
	if ackDelay < 0 {
		ackDelay = 0
	}
	if handshakeConfirmed {
		ackDelay = min(ackDelay, maxAckDelay)
	}
	adjusted := latest
	if latest >= r.min+ackDelay {
		adjusted = latest - ackDelay
	}
	diff := r.smoothed - adjusted
	if diff < 0 {
		diff = -diff
	}
	r.variance = (3*r.variance + diff) / 4
	r.smoothed = (7*r.smoothed + adjusted) / 8
}

// HasSample reports whether Update has been called.
func (r *RTT) HasSample() bool { return r.hasSample }

// Latest is the most recent sample (zero before the first).
func (r *RTT) Latest() time.Duration { return r.latest }

// Min is the smallest sample seen, ack delay not subtracted (zero before
// the first).
func (r *RTT) Min() time.Duration { return r.min }

// Smoothed is the smoothed RTT; the initial RTT before the first sample.
func (r *RTT) Smoothed() time.Duration { return r.smoothed }

// Variance is the RTT variation (rttvar); half the initial RTT before the
// first sample.
func (r *RTT) Variance() time.Duration { return r.variance }

// LossDelay is the time threshold of §6.1.2: 9/8 of the larger of the
// smoothed and latest RTT, at least Granularity.
func (r *RTT) LossDelay() time.Duration {
	d := max(r.smoothed, r.latest) * timeThresholdNum / timeThresholdDen
	return max(d, Granularity)
}

// PTO is the probe timeout of §6.2.1 before backoff: smoothed RTT plus
// max(4*rttvar, Granularity), plus maxAckDelay (pass zero for the Initial
// and Handshake spaces, and before the handshake is confirmed).
func (r *RTT) PTO(maxAckDelay time.Duration) time.Duration {
	return r.smoothed + max(4*r.variance, Granularity) + maxAckDelay
}

// backoff multiplies d by 2^count, saturating.
func backoff(d time.Duration, count int) time.Duration {
	count = min(count, maxPTOBackoff)
	return d << uint(count)
}
