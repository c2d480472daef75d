package sim

import (
	"fmt"
	"net/netip"
	"time"
)

// LinkConfig describes one direction of a link. The zero value is a
// perfect link: no delay, no loss, unlimited rate, no MTU.
type LinkConfig struct {
	// Delay is the one-way propagation delay.
	Delay time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter) to each
	// datagram; datagrams still arrive in order unless reordered.
	Jitter time.Duration
	// Loss is the probability a datagram is dropped (0 to 1).
	Loss float64
	// Duplicate is the probability a datagram is delivered twice.
	Duplicate float64
	// Reorder is the probability a datagram is held back by ReorderDelay,
	// so datagrams sent after it overtake it.
	Reorder float64
	// ReorderDelay is the hold-back of a reordered datagram; zero means
	// Delay/2 + 1ms.
	ReorderDelay time.Duration
	// Rate is the bandwidth in bits per second; zero means unlimited.
	Rate int64
	// QueueBytes bounds the bytes waiting for the rate limit; a datagram
	// that does not fit is dropped (tail drop). Zero means 64 KiB. Only
	// used with Rate.
	QueueBytes int
	// MTU is the largest datagram (UDP payload) the link carries; larger
	// ones are dropped. Zero means no limit.
	MTU int
	// DropInFlightOnCut: when the link is cut, datagrams already on it are
	// lost too (else they still arrive).
	DropInFlightOnCut bool
	// MarkCEAbove: with Rate, an ECN-capable datagram (ECT(0) or ECT(1))
	// that finds more than this many bytes queued is marked CE instead of
	// waiting for a tail drop, as an AQM does (RFC 3168). Zero means never.
	MarkCEAbove int
	// BleachECN clears the ECN codepoint of every datagram, as a broken
	// middlebox does (the case ECN validation detects).
	BleachECN bool
	// Bottleneck, when set, is a rate limit and queue this link shares
	// with others, passed before the link's own Rate.
	Bottleneck *Bottleneck
}

func (c LinkConfig) validate() error {
	if c.Delay < 0 || c.Jitter < 0 || c.ReorderDelay < 0 || c.Rate < 0 || c.QueueBytes < 0 || c.MTU < 0 {
		return fmt.Errorf("sim: negative link parameter in %+v", c)
	}
	for _, p := range []float64{c.Loss, c.Duplicate, c.Reorder} {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("sim: probability %v outside [0, 1]", p)
		}
	}
	return nil
}

// DropReason says why a link dropped a datagram.
type DropReason uint8

// The drop reasons.
const (
	DropLoss      DropReason = iota // random loss
	DropQueue                       // the rate limit's queue was full
	DropMTU                         // larger than the MTU
	DropPartition                   // the link is cut
	DropNoRoute                     // the destination address went away (rebinding) while in flight
	numDropReasons
)

func (r DropReason) String() string {
	switch r {
	case DropLoss:
		return "loss"
	case DropQueue:
		return "queue"
	case DropMTU:
		return "mtu"
	case DropPartition:
		return "partition"
	case DropNoRoute:
		return "no_route"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// LinkStats counts what happened on one direction of a link.
type LinkStats struct {
	Sent           uint64 // datagrams offered to the link
	BytesSent      uint64
	Delivered      uint64 // copies delivered (duplicates included)
	BytesDelivered uint64
	Dropped        [numDropReasons]uint64 // by DropReason
	Duplicated     uint64
	Reordered      uint64
	CEMarked       uint64
}

// TotalDropped sums the drops of every reason.
func (s LinkStats) TotalDropped() uint64 {
	var n uint64
	for _, d := range s.Dropped {
		n += d
	}
	return n
}

// Link is one direction between two node addresses.
type Link struct {
	from, to netip.AddrPort
	cfg      LinkConfig
	up       bool

	shaper      shaper
	lastArrival time.Time // keeps in-order datagrams in order despite jitter
	stats       LinkStats
}

// Link creates or reconfigures the direction from -> to between two node
// addresses (local addresses, unchanged by Rebind). Reconfiguring mid-run
// keeps the link's counters; datagrams already on it keep their schedule.
// It panics on an invalid config, a programmer error in a test.
func (s *Sim) Link(from, to netip.AddrPort, cfg LinkConfig) *Link {
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	from, to = unmap(from), unmap(to)
	k := linkKey{from, to}
	l := s.links[k]
	if l == nil {
		l = &Link{from: from, to: to, up: true}
		s.links[k] = l
	}
	l.cfg = cfg
	return l
}

// LinkBoth configures both directions between a and b alike.
func (s *Sim) LinkBoth(a, b netip.AddrPort, cfg LinkConfig) (ab, ba *Link) {
	return s.Link(a, b, cfg), s.Link(b, a, cfg)
}

// LinkBetween returns the link from -> to, nil if none.
func (s *Sim) LinkBetween(from, to netip.AddrPort) *Link {
	return s.links[linkKey{unmap(from), unmap(to)}]
}

// Config returns the link's configuration.
func (l *Link) Config() LinkConfig { return l.cfg }

// Stats returns the link's counters.
func (l *Link) Stats() LinkStats { return l.stats }

// Up reports whether the link carries datagrams.
func (l *Link) Up() bool { return l.up }

// SetUp cuts (false) or restores (true) the link: a partition and its
// healing.
func (l *Link) SetUp(up bool) { l.up = up }

// transmit puts a datagram on the link at s.now.
func (l *Link) transmit(s *Sim, fromExt, toExt netip.AddrPort, data []byte, ecn uint8) {
	l.stats.Sent++
	l.stats.BytesSent += uint64(len(data))
	s.traceEvent(TraceSent, fromExt, toExt, len(data), ecn, 0)
	c := &l.cfg
	drop := func(r DropReason) {
		l.stats.Dropped[r]++
		s.traceEvent(TraceDropped, fromExt, toExt, len(data), ecn, r)
	}
	if !l.up {
		drop(DropPartition)
		return
	}
	if c.MTU > 0 && len(data) > c.MTU {
		drop(DropMTU)
		return
	}
	if c.Loss > 0 && s.rng.Float64() < c.Loss {
		drop(DropLoss)
		return
	}
	depart := s.now
	marked := false
	if b := c.Bottleneck; b != nil {
		var ok bool
		depart, marked, ok = b.shaper.admit(depart, len(data), b.rate, b.queue, b.markCEAbove)
		if !ok {
			b.stats.Dropped++
			drop(DropQueue)
			return
		}
		b.stats.Sent++
	}
	if c.Rate > 0 {
		d, m, ok := l.shaper.admit(depart, len(data), c.Rate, c.QueueBytes, c.MarkCEAbove)
		if !ok {
			drop(DropQueue)
			return
		}
		depart, marked = d, marked || m
	}
	if marked && (ecn == ECNECT0 || ecn == ECNECT1) {
		ecn = ECNCE
		l.stats.CEMarked++
	}
	arrive := depart.Add(c.Delay)
	if c.Jitter > 0 {
		arrive = arrive.Add(time.Duration(s.rng.Int64N(int64(c.Jitter))))
	}
	if c.Reorder > 0 && s.rng.Float64() < c.Reorder {
		hold := c.ReorderDelay
		if hold == 0 {
			hold = c.Delay/2 + time.Millisecond
		}
		arrive = arrive.Add(hold)
		l.stats.Reordered++
	} else {
		if arrive.Before(l.lastArrival) {
			arrive = l.lastArrival
		}
		l.lastArrival = arrive
	}
	if c.BleachECN {
		ecn = ECNNotECT
	}
	cp := make([]byte, len(data))
	copy(cp, data)
	s.push(&event{at: arrive, link: l, from: fromExt, to: toExt, data: cp, ecn: ecn})
	if c.Duplicate > 0 && s.rng.Float64() < c.Duplicate {
		l.stats.Duplicated++
		dup := make([]byte, len(data))
		copy(dup, data)
		s.push(&event{at: arrive, link: l, from: fromExt, to: toExt, data: dup, ecn: ecn})
	}
}

// shaper is a rate limit with a bounded FIFO queue.
type shaper struct {
	busyUntil time.Time // the queue drains then
}

// admit queues a datagram of n bytes that reaches the shaper at ready: it
// returns when the datagram leaves, whether it found more
// than markAbove bytes queued, or false when the queue (queueBytes, zero
// meaning 64 KiB) has no room.
func (sh *shaper) admit(ready time.Time, n int, rate int64, queueBytes, markAbove int) (time.Time, bool, bool) {
	start := sh.busyUntil
	if start.Before(ready) {
		start = ready
	}
	queued := int64(start.Sub(ready)) * rate / 8 / int64(time.Second)
	limit := int64(queueBytes)
	if limit == 0 {
		limit = 64 << 10
	}
	if queued+int64(n) > limit {
		return time.Time{}, false, false
	}
	depart := start.Add(time.Duration(int64(n) * 8 * int64(time.Second) / rate))
	sh.busyUntil = depart
	return depart, markAbove > 0 && queued > int64(markAbove), true
}

// Bottleneck is a rate limit with a queue that several links share, as
// flows crossing one access link do: the links' datagrams wait in one
// FIFO. Create it with Sim.NewBottleneck and set LinkConfig.Bottleneck.
type Bottleneck struct {
	rate        int64
	queue       int
	markCEAbove int
	shaper      shaper
	stats       BottleneckStats
}

// BottleneckStats counts datagrams through a Bottleneck.
type BottleneckStats struct {
	Sent    uint64 // admitted to the queue
	Dropped uint64 // tail drops (also counted as DropQueue on their link)
}

// NewBottleneck returns a shared rate limit of rate bits per second with
// a tail-drop queue of queueBytes (zero means 64 KiB); ECN-capable
// datagrams finding more than markCEAbove bytes queued are marked CE
// (zero: never). It panics on a rate that is not positive.
func (s *Sim) NewBottleneck(rate int64, queueBytes, markCEAbove int) *Bottleneck {
	if rate <= 0 || queueBytes < 0 || markCEAbove < 0 {
		panic(fmt.Sprintf("sim: bottleneck rate %d queue %d mark %d", rate, queueBytes, markCEAbove))
	}
	return &Bottleneck{rate: rate, queue: queueBytes, markCEAbove: markCEAbove}
}

// Stats returns the bottleneck's counters.
func (b *Bottleneck) Stats() BottleneckStats { return b.stats }
