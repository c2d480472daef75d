package recovery

import "time"

// Pacing parameters.
const (
	// pacingGainNum/pacingGainDen is the 1.25 of RFC 9002 §7.7: pacing a
	// little faster than cwnd/srtt keeps the window full despite timer
	// slack.
	pacingGainNum = 5
	pacingGainDen = 4
	// MinBurstPackets is the smallest burst the pacer allows, in datagrams.
	MinBurstPackets = 10
	// MaxBurstPackets is the largest burst, in datagrams: one GSO batch of
	// up to 64 segments.
	MaxBurstPackets = 64
	// burstInterval sizes the burst between the two: what the rate earns
	// in this long, so fast paths send full GSO batches.
	burstInterval = 2 * time.Millisecond
	// batchInterval: a blocked sender is woken when the bucket holds this
	// long's worth of sending (bounded by one datagram and the burst).
	batchInterval = time.Millisecond
)

// Pacer spreads a window of sends over a round trip (RFC 9002 §7.7): a
// token bucket filled at 1.25*cwnd/srtt with a burst capacity of 10 to 64
// datagrams. The zero value is ready; Recovery owns one per path.
type Pacer struct {
	tokens float64 // bytes; may go negative after an oversend
	last   time.Time
	init   bool
}

// rate is the pacing rate in bytes per nanosecond.
func pacingRate(cwnd int, srtt time.Duration) float64 {
	if srtt <= 0 {
		srtt = 1
	}
	return float64(cwnd) * pacingGainNum / pacingGainDen / float64(srtt)
}

// burst is the bucket's capacity in bytes.
func pacingBurst(cwnd, mss int, rate float64) float64 {
	b := rate * float64(burstInterval)
	b = min(max(b, float64(MinBurstPackets*mss)), float64(MaxBurstPackets*mss))
	return max(min(b, float64(cwnd)), float64(mss))
}

func (p *Pacer) refill(now time.Time, cwnd, mss int, srtt time.Duration) (rate, capacity float64) {
	rate = pacingRate(cwnd, srtt)
	capacity = pacingBurst(cwnd, mss, rate)
	if !p.init {
		p.init, p.tokens, p.last = true, capacity, now
		return rate, capacity
	}
	if now.After(p.last) {
		p.tokens = min(p.tokens+rate*float64(now.Sub(p.last)), capacity)
		p.last = now
	}
	return rate, capacity
}

// Budget returns how many bytes may leave at now, and when that is less
// than one datagram of mss bytes, the time to come back: when the bucket
// holds what the rate earns in batchInterval (at least one datagram, at
// most the burst), so a fast sender wakes once per batch, not once per
// datagram.
func (p *Pacer) Budget(now time.Time, cwnd, mss int, srtt time.Duration) (int, time.Time) {
	rate, capacity := p.refill(now, cwnd, mss, srtt)
	if p.tokens >= float64(mss) {
		return int(p.tokens), time.Time{}
	}
	target := min(max(float64(mss), rate*float64(batchInterval)), capacity)
	wait := time.Duration((target-p.tokens)/rate) + 1
	return 0, now.Add(wait)
}

// OnSent takes bytes from the bucket.
func (p *Pacer) OnSent(now time.Time, bytes, cwnd, mss int, srtt time.Duration) {
	_, capacity := p.refill(now, cwnd, mss, srtt)
	p.tokens = max(p.tokens-float64(bytes), -capacity)
}
