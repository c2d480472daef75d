package quic

import "time"

// recvFlow is receive-side flow control for a stream or the connection:
// the limit we advertise (MAX_DATA / MAX_STREAM_DATA), the highest offset
// the peer reached, and what the application consumed. The window grows
// (autotuning) when the application consumes a window in little more than
// a round trip: then the window, not the reader, is the bottleneck.
type recvFlow struct {
	limit     uint64 // advertised: the peer may send up to here
	window    uint64 // current window size
	maxWindow uint64
	received  uint64 // highest offset (or sum over streams) received
	consumed  uint64 // read by the application

	epochStart    time.Time // when the last limit update was sent
	epochConsumed uint64    // consumed at epochStart
	pending       bool      // a limit update should be sent
}

func newRecvFlow(window, maxWindow uint64) recvFlow {
	if maxWindow < window {
		maxWindow = window
	}
	return recvFlow{limit: window, window: window, maxWindow: maxWindow}
}

// onReceived accounts for data arriving up to a new highest offset grew
// bytes beyond the previous one, failing if the peer exceeded our limit.
func (f *recvFlow) onReceived(grew uint64) bool {
	f.received += grew
	return f.received <= f.limit
}

// onConsumed accounts for n bytes read by the application and decides
// whether to raise the limit: once half the window is used, so the peer
// never stalls while the update travels.
func (f *recvFlow) onConsumed(now time.Time, n uint64, rtt time.Duration) {
	f.consumed += n
	if f.limit-f.consumed > f.window/2 {
		return
	}
	f.autotune(now, rtt)
	f.limit = f.consumed + f.window
	f.pending = true
	f.epochStart = now
	f.epochConsumed = f.consumed
}

// autotune doubles the window if the reader went through the data since
// the last update fast: the fraction of a window consumed took less than
// 2 round trips per window (quic-go and quinn use the same idea).
func (f *recvFlow) autotune(now time.Time, rtt time.Duration) {
	if f.epochStart.IsZero() || rtt <= 0 || f.window >= f.maxWindow {
		return
	}
	used := f.consumed - f.epochConsumed
	elapsed := now.Sub(f.epochStart)
	// elapsed / (used/window) < 2*rtt, without floats.
	if uint64(elapsed)*f.window < 2*uint64(rtt)*used {
		f.window = min(2*f.window, f.maxWindow)
	}
}

// ensureWindow raises the window to at least w (the connection window
// follows the largest stream window), up to the maximum.
func (f *recvFlow) ensureWindow(w uint64) {
	if w > f.window {
		f.window = min(w, f.maxWindow)
	}
}

// takeUpdate returns the new limit to advertise, if an update is pending.
func (f *recvFlow) takeUpdate() (uint64, bool) {
	if !f.pending {
		return 0, false
	}
	f.pending = false
	return f.limit, true
}

// sendFlow is send-side flow control: the peer's limit and what we sent.
type sendFlow struct {
	limit     uint64
	sent      uint64
	blockedAt uint64 // the limit at which we last reported being blocked
	blocked   bool   // a DATA_BLOCKED / STREAM_DATA_BLOCKED should be sent
}

// available returns how many new bytes may be sent.
func (f *sendFlow) available() uint64 {
	if f.sent >= f.limit {
		return 0
	}
	return f.limit - f.sent
}

// raise applies a MAX_DATA / MAX_STREAM_DATA; limits never go down.
// It reports whether the limit grew.
func (f *sendFlow) raise(limit uint64) bool {
	if limit <= f.limit {
		return false
	}
	f.limit = limit
	return true
}

// onSent counts n new bytes sent; reaching the limit schedules one
// blocked frame for this limit.
func (f *sendFlow) onSent(n uint64) {
	f.sent += n
	if f.sent >= f.limit && f.blockedAt != f.limit {
		f.blockedAt = f.limit
		f.blocked = true
	}
}
