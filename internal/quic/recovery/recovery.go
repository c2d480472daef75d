package recovery

import (
	"fmt"
	"time"
)

// DefaultMaxTracked bounds the packets one space tracks when Options says
// nothing: far above any window the core lets fly, small enough that a
// peer that never acknowledges cannot grow memory without bound.
const DefaultMaxTracked = 1 << 16

// Options configure a Recovery. A nil *Options means all defaults.
type Options struct {
	// Algorithm is the congestion controller; zero means CUBIC.
	Algorithm Algorithm
	// MaxDatagramSize is the path's current maximum datagram size; zero
	// means MinDatagramSize (1200). Raise it later with SetMaxDatagramSize.
	MaxDatagramSize int
	// InitialRTT is assumed until the first sample; zero means 333 ms.
	InitialRTT time.Duration
	// MaxAckDelay is the peer's max_ack_delay; zero means 25 ms until
	// SetMaxAckDelay gives the transport parameter's value.
	MaxAckDelay time.Duration
	// MaxTracked bounds the packets tracked per space (OnSent fails with
	// ErrSpaceFull beyond it); zero means DefaultMaxTracked.
	MaxTracked int
	// Server: the peer's address needs no validation by us, so no PTO is
	// armed with nothing in flight (RFC 9002 §6.2.2.1).
	Server bool
	// PathOnly: a multipath path other than the first. It has only the
	// Application space, on a connection whose handshake is confirmed.
	PathOnly bool
}

// Recovery is loss detection, congestion control and pacing for one path
// (RFC 9002; per path in draft-ietf-quic-multipath-18): its RTT, its
// congestion controller, its pacer, and the sent packets of the packet
// number spaces it carries. Not safe for concurrent use; it reads no
// clock, starts nothing and never blocks.
type Recovery struct {
	spaces      [numSpaces]space
	alg         Algorithm
	initialRTT  time.Duration
	rtt         RTT
	cc          Controller
	pacer       Pacer
	mss         int
	maxAckDelay time.Duration

	ptoCount           int
	handshakeConfirmed bool
	peerValidated      bool // the peer completed validation of our address
	ampBlocked         bool
	firstSampleTime    time.Time
	lastAckEliciting   time.Time // over all spaces, discarded ones included

	// Undo of a reduction whose losses all prove spurious: losses tagged
	// with loss events in [undoFrom, undoTo] must all be acknowledged.
	lossEvents  uint32
	undoFrom    uint32
	undoTo      uint32
	undoPending int
	undoArmed   bool
	ecn         ECNValidator

	stats Stats
}

// Stats counts what a Recovery saw.
type Stats struct {
	PacketsSent       uint64
	PacketsAcked      uint64
	PacketsLost       uint64
	BytesSent         uint64
	BytesLost         uint64
	CongestionEvents  uint64 // losses or ECN-CE that reduced the window
	ECNCE             uint64 // ACKs that raised the CE count
	PTOs              uint64
	PersistentCongest uint64
	SpuriousLosses    uint64 // packets declared lost, then acknowledged
	CongestionUndone  uint64 // reductions taken back: all their losses were spurious
}

// AckResult collects the packets an ACK or a timeout settled. The caller
// owns the slices and resets them (Acked[:0], Lost[:0]) between calls;
// Recovery only appends, so a reused result allocates nothing once its
// slices are large enough.
type AckResult struct {
	Acked []SentPacket
	Lost  []SentPacket
}

// Reset empties both slices, keeping their memory.
func (r *AckResult) Reset() { r.Acked, r.Lost = r.Acked[:0], r.Lost[:0] }

// Ack is an ACK frame as Recovery needs it.
type Ack struct {
	// Ranges are the acknowledged ranges, largest first, disjoint, as the
	// frame lists them. Recovery does not keep the slice.
	Ranges []AckRange
	// Delay is the frame's ACK Delay, already scaled by the peer's
	// ack_delay_exponent (ignored in the Initial space).
	Delay time.Duration
	// ECN: the frame carried ECN counts (type 0x03): ECT0, ECT1 and CE.
	ECN            bool
	ECT0, ECT1, CE uint64
}

// New returns a Recovery for one path.
func New(opts *Options) (*Recovery, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxDatagramSize == 0 {
		o.MaxDatagramSize = MinDatagramSize
	}
	if o.MaxDatagramSize < MinDatagramSize || o.MaxDatagramSize > 65527 {
		return nil, fmt.Errorf("recovery: max datagram size %d outside [%d, 65527]", o.MaxDatagramSize, MinDatagramSize)
	}
	if o.InitialRTT < 0 || o.MaxAckDelay < 0 || o.MaxTracked < 0 {
		return nil, fmt.Errorf("recovery: negative option: initial RTT %v, max ack delay %v, max tracked %d", o.InitialRTT, o.MaxAckDelay, o.MaxTracked)
	}
	if o.MaxAckDelay == 0 {
		o.MaxAckDelay = DefaultMaxAckDelay
	}
	if o.MaxTracked == 0 {
		o.MaxTracked = DefaultMaxTracked
	}
	r := &Recovery{
		alg:           o.Algorithm,
		initialRTT:    o.InitialRTT,
		rtt:           NewRTT(o.InitialRTT),
		mss:           o.MaxDatagramSize,
		maxAckDelay:   o.MaxAckDelay,
		peerValidated: o.Server || o.PathOnly,
	}
	switch o.Algorithm {
	case CUBIC:
		r.cc = NewCubic(o.MaxDatagramSize)
	case NewReno:
		r.cc = NewNewReno(o.MaxDatagramSize)
	default:
		return nil, fmt.Errorf("recovery: unknown congestion algorithm %d", o.Algorithm)
	}
	for i := range r.spaces {
		r.spaces[i].limit = o.MaxTracked
	}
	if o.PathOnly {
		r.spaces[Initial].discarded = true
		r.spaces[Handshake].discarded = true
		r.handshakeConfirmed = true
	}
	return r, nil
}

// ResetCongestion starts the path's congestion controller, RTT estimate
// and pacer afresh, as after a migration to a new peer address (RFC 9000
// §9.4: not when only the port changed). Packets in flight stay tracked
// and counted; the PTO backoff and ECN validation restart too.
func (r *Recovery) ResetCongestion() {
	switch r.alg {
	case NewReno:
		r.cc = NewNewReno(r.mss)
	default:
		r.cc = NewCubic(r.mss)
	}
	r.rtt = NewRTT(r.initialRTT)
	r.pacer = Pacer{}
	r.firstSampleTime = time.Time{}
	r.ptoCount = 0
	r.undoArmed = false
	r.ecn = ECNValidator{}
	for i := range r.spaces {
		r.spaces[i].ce = 0
	}
}

// MarkECT reports whether the next packet on this path should be sent
// with ECT(0); record it with SentPacket.ECT. ECN validation (RFC 9000
// §13.4.2) runs on the ACKs' counts: the first ten packets are marked,
// the path turns capable when the counts match and failed when they do
// not, after which nothing is marked and CE counts are ignored.
func (r *Recovery) MarkECT() bool { return r.ecn.Mark() }

// ECN returns the path's ECN validation state.
func (r *Recovery) ECN() *ECNValidator { return &r.ecn }

// RTT returns the path's RTT estimator (read it, do not update it).
func (r *Recovery) RTT() *RTT { return &r.rtt }

// Controller returns the congestion controller.
func (r *Recovery) Controller() Controller { return r.cc }

// Window is the congestion window in bytes.
func (r *Recovery) Window() int { return r.cc.Window() }

// BytesInFlight counts the in-flight packets not yet acknowledged or lost,
// over all spaces.
func (r *Recovery) BytesInFlight() int {
	return r.spaces[0].bytesInFlight + r.spaces[1].bytesInFlight + r.spaces[2].bytesInFlight
}

// PTOCount is the number of probe timeouts since the last ACK.
func (r *Recovery) PTOCount() int { return r.ptoCount }

// Stats returns the counters.
func (r *Recovery) Stats() Stats { return r.stats }

// MaxDatagramSize is the current maximum datagram size.
func (r *Recovery) MaxDatagramSize() int { return r.mss }

// SetMaxDatagramSize changes the datagram size (after path MTU discovery);
// windows scale with it. Values below MinDatagramSize are ignored.
func (r *Recovery) SetMaxDatagramSize(n int) {
	if n < MinDatagramSize || n == r.mss {
		return
	}
	r.mss = n
	r.cc.SetMaxDatagramSize(n)
}

// SetMaxAckDelay sets the peer's max_ack_delay from its transport parameters.
func (r *Recovery) SetMaxAckDelay(d time.Duration) {
	if d >= 0 {
		r.maxAckDelay = d
	}
}

// ConfirmHandshake records handshake confirmation (RFC 9001 §4.1.2): ack
// delays are capped from now on, the Application space's PTO counts, and
// the peer has validated our address.
func (r *Recovery) ConfirmHandshake() {
	r.handshakeConfirmed = true
	r.peerValidated = true
}

// SetAmplificationBlocked tells a server whether the anti-amplification
// limit stops it sending; while it does, no PTO is armed (§6.2.2.1).
func (r *Recovery) SetAmplificationBlocked(b bool) { r.ampBlocked = b }

// HasInFlight reports whether any ack-eliciting packet awaits an ACK.
func (r *Recovery) HasInFlight() bool { return r.ackElicitingInFlight() }

func (r *Recovery) ackElicitingInFlight() bool {
	return r.spaces[0].ackElicitingInFlight+r.spaces[1].ackElicitingInFlight+r.spaces[2].ackElicitingInFlight > 0
}

// OnSent records a sent packet in space. Packet numbers must increase
// within a space. A full space fails with ErrSpaceFull: the core should
// stop sending there until ACKs or losses free room.
func (r *Recovery) OnSent(now time.Time, id SpaceID, p SentPacket) error {
	if id >= numSpaces {
		return fmt.Errorf("recovery: no space %d", id)
	}
	if p.Size < 0 {
		return fmt.Errorf("recovery: packet size %d", p.Size)
	}
	p.Time = now
	if err := r.spaces[id].push(p); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if p.AckEliciting {
		r.lastAckEliciting = now
	}
	r.stats.PacketsSent++
	r.stats.BytesSent += uint64(p.Size)
	r.ecn.onSent(id, p.ECT)
	if p.InFlight {
		r.cc.OnSent(now, p.Size)
		r.pacer.OnSent(now, p.Size, r.cc.Window(), r.mss, r.rtt.Smoothed())
	}
	return nil
}

// MaxNonEliciting is how many packets in a row a space may send without
// one that elicits an ACK before ShouldElicitAck says to add a PING.
const MaxNonEliciting = 20

// ShouldElicitAck reports whether the next packet in space id should
// carry an ack-eliciting frame (a PING if nothing else): a receiver that
// sends only ACKs never has them acknowledged, so without an occasional
// PING its tracked packets would pile up to MaxTracked and its peer would
// keep ACK ranges forever (RFC 9000 §13.2.4).
func (r *Recovery) ShouldElicitAck(id SpaceID) bool {
	return id < numSpaces && r.spaces[id].nonEliciting >= MaxNonEliciting
}

// SendBudget answers the core's question once per batch: how many bytes
// may leave now, and, when none, the time the pacer allows the next
// datagram. Zero bytes with a zero time means the congestion window is
// full: wait for an ACK or the loss detection timer. A datagram may leave
// while the budget is positive, even if larger (the window then overshoots
// by less than one datagram, as RFC 9002 §7 allows); ACK-only packets are
// not limited. PTO probes are sent even when the budget is zero (§7.5).
func (r *Recovery) SendBudget(now time.Time) (int, time.Time) {
	cwnd := r.cc.Window()
	room := cwnd - r.BytesInFlight()
	if room <= 0 {
		return 0, time.Time{}
	}
	n, next := r.pacer.Budget(now, cwnd, r.mss, r.rtt.Smoothed())
	if n == 0 {
		return 0, next
	}
	return min(n, room), time.Time{}
}

// PacingRate is the current pacing rate in bytes per second.
func (r *Recovery) PacingRate() float64 {
	return pacingRate(r.cc.Window(), r.rtt.Smoothed()) * float64(time.Second)
}

// OnAck processes an ACK frame received at now in space id (RFC 9002
// §A.7). Newly acknowledged and newly lost packets are appended to out.
// It fails on malformed ranges or an ACK of a packet number above any sent;
// ranges naming packets not tracked (already settled, or skipped numbers)
// are ignored.
func (r *Recovery) OnAck(now time.Time, id SpaceID, ack *Ack, out *AckResult) error {
	if id >= numSpaces {
		return fmt.Errorf("recovery: no space %d", id)
	}
	s := &r.spaces[id]
	if s.discarded {
		return nil // late ACKs for a dropped space are harmless
	}
	rs := ack.Ranges
	if len(rs) == 0 {
		return fmt.Errorf("recovery: ACK with no ranges: %w", ErrAckRanges)
	}
	for i, rg := range rs {
		if rg.Smallest > rg.Largest || (i > 0 && (rg.Largest >= rs[i-1].Smallest || rs[i-1].Smallest-rg.Largest < 2)) {
			return fmt.Errorf("recovery: range %d [%d,%d]: %w", i, rg.Smallest, rg.Largest, ErrAckRanges)
		}
	}
	if !s.hasSent || rs[0].Largest > s.lastSent {
		return fmt.Errorf("%s: %w: %d", id, ErrAckUnsent, rs[0].Largest)
	}
	priorInFlight := r.BytesInFlight()
	cwnd := r.cc.Window()
	if !s.hasLargestAcked || rs[0].Largest > s.largestAcked {
		s.hasLargestAcked, s.largestAcked = true, rs[0].Largest
	}

	// Mark newly acknowledged packets, largest first.
	first := len(out.Acked)
	var largestNew *entry
	anyEliciting := false
	for _, rg := range rs {
		i := s.search(rg.Largest+1) - 1
		for ; i >= 0; i-- {
			e := s.at(i)
			if e.Number < rg.Smallest {
				break
			}
			switch e.state {
			case stateOutstanding:
				if largestNew == nil {
					largestNew = e
				}
				anyEliciting = anyEliciting || e.AckEliciting
				s.remove(e, stateAcked)
				out.Acked = append(out.Acked, e.SentPacket)
			case stateLost:
				e.state = stateAcked
				r.stats.SpuriousLosses++
				r.onSpurious(e)
			}
		}
	}
	if largestNew == nil {
		return nil
	}
	newly := out.Acked[first:]
	r.stats.PacketsAcked += uint64(len(newly))

	if largestNew.Number == rs[0].Largest && anyEliciting {
		delay := ack.Delay
		if id == Initial {
			delay = 0
		}
		r.rtt.Update(now.Sub(largestNew.Time), delay, r.handshakeConfirmed, r.maxAckDelay)
		if r.firstSampleTime.IsZero() {
			r.firstSampleTime = now
		}
		r.cc.OnRTTSample(now, largestNew.Time, &r.rtt)
	}
	if id == Handshake {
		// A Handshake ACK proves the peer validated our address
		// (§6.2.2.1, client side).
		r.peerValidated = true
	}

	if r.ecn.onAck(id, ack, newly) && ack.CE > s.ce {
		s.ce = ack.CE
		r.stats.ECNCE++
		before := r.cc.Window()
		r.cc.OnCongestion(now, newly[0].Time, false)
		if r.cc.Window() < before {
			r.stats.CongestionEvents++
		}
		r.undoArmed = false // CE is never spurious
	}

	r.detectLost(now, s, out)

	cwndLimited := isCwndLimited(priorInFlight, cwnd, r.mss, r.cc.InSlowStart())
	for _, p := range newly {
		if p.InFlight {
			r.cc.OnAcked(now, p.Time, p.Size, &r.rtt, cwndLimited)
		}
	}
	if r.peerValidated {
		r.ptoCount = 0
	}
	s.trim(r.keepLostSince(now))
	return nil
}

// isCwndLimited reports whether the sender used its window before an ACK:
// at least half of it in slow start, all but three datagrams otherwise.
// An app-limited sender's window does not grow (RFC 9002 §7.8).
func isCwndLimited(inFlight, cwnd, mss int, slowStart bool) bool {
	if inFlight >= cwnd {
		return true
	}
	if slowStart && 2*inFlight >= cwnd {
		return true
	}
	return cwnd-inFlight <= 3*mss
}

// detectLost declares lost the outstanding packets below the largest
// acknowledged by packet or time threshold (§6.1), sets the space's loss
// time, and signals congestion.
func (r *Recovery) detectLost(now time.Time, s *space, out *AckResult) {
	s.lossTime = time.Time{}
	if !s.hasLargestAcked {
		return
	}
	lossDelay := r.rtt.LossDelay()
	lostSendTime := now.Add(-lossDelay)
	first := len(out.Lost)

	// Persistent congestion (§7.6): a run of lost ack-eliciting packets,
	// no acknowledged one among them, spanning the duration.
	pcDuration := (r.rtt.Smoothed() + max(4*r.rtt.Variance(), Granularity) + r.maxAckDelay) * 3
	var runStart time.Time
	persistent := false
	var lastLostSent time.Time
	congestion := false
	event := r.lossEvents + 1
	tagged := 0

	settled := true // every entry so far is acknowledged or lost
	for i := s.search(s.lowOutstanding); i < s.n; i++ {
		e := s.at(i)
		if e.Number > s.largestAcked {
			break
		}
		if e.state == stateAcked {
			runStart = time.Time{}
		}
		if e.state != stateOutstanding {
			if settled {
				s.lowOutstanding = e.Number + 1
			}
			continue
		}
		if !e.Time.After(lostSendTime) || s.largestAcked-e.Number >= PacketThreshold {
			s.remove(e, stateLost)
			if settled {
				s.lowOutstanding = e.Number + 1
			}
			out.Lost = append(out.Lost, e.SentPacket)
			r.stats.PacketsLost++
			r.stats.BytesLost += uint64(e.Size)
			r.ecn.onLost(&e.SentPacket)
			if e.InFlight && !e.NotCongestion {
				congestion = true
				lastLostSent = e.Time
				e.lossEvent = event
				tagged++
			}
			if e.AckEliciting && !e.NotCongestion && !r.firstSampleTime.IsZero() && e.Time.After(r.firstSampleTime) {
				if runStart.IsZero() {
					runStart = e.Time
				} else if e.Time.Sub(runStart) > pcDuration {
					persistent = true
				}
			}
			continue
		}
		// Outstanding and not yet lost: it will be at lossTime.
		settled = false
		t := e.Time.Add(lossDelay)
		if s.lossTime.IsZero() || t.Before(s.lossTime) {
			s.lossTime = t
		}
	}
	if len(out.Lost) == first || !congestion {
		return
	}
	r.lossEvents = event
	before := r.cc.Window()
	r.cc.OnCongestion(now, lastLostSent, persistent)
	switch {
	case persistent:
		r.stats.PersistentCongest++
		r.undoArmed = false
	case r.cc.Window() < before:
		// A new reduction: it is undone if all these losses prove spurious.
		r.undoArmed, r.undoFrom, r.undoTo, r.undoPending = true, event, event, tagged
	case r.undoArmed:
		// More losses in the same recovery period: they must prove
		// spurious too.
		r.undoTo = event
		r.undoPending += tagged
	}
	if r.cc.Window() < before {
		r.stats.CongestionEvents++
	}
}

// onSpurious notes that a packet declared lost was acknowledged after all;
// when every loss behind the last reduction did, the reduction is undone
// (RFC 9438 §4.9).
func (r *Recovery) onSpurious(e *entry) {
	if !r.undoArmed || e.lossEvent < r.undoFrom || e.lossEvent > r.undoTo {
		return
	}
	if r.undoPending--; r.undoPending > 0 {
		return
	}
	r.undoArmed = false
	if u, ok := r.cc.(undoer); ok {
		u.undoCongestion()
		r.stats.CongestionUndone++
	}
}

// keepLostSince: lost packets sent after it stay tracked, so an ACK for
// them still counts as a spurious loss; one PTO covers a late ACK.
func (r *Recovery) keepLostSince(now time.Time) time.Time {
	return now.Add(-r.rtt.PTO(r.maxAckDelay))
}

// LossDetectionTimeout is when HandleTimeout must run next (§A.8); zero
// when no timer is armed.
func (r *Recovery) LossDetectionTimeout() time.Time {
	if t, _ := r.earliestLossTime(); !t.IsZero() {
		return t
	}
	if r.ampBlocked {
		return time.Time{}
	}
	if !r.ackElicitingInFlight() && r.peerValidated {
		return time.Time{}
	}
	t, _ := r.ptoTime(time.Time{})
	return t
}

func (r *Recovery) earliestLossTime() (time.Time, SpaceID) {
	var t time.Time
	var id SpaceID
	for i := range r.spaces {
		lt := r.spaces[i].lossTime
		if !lt.IsZero() && (t.IsZero() || lt.Before(t)) {
			t, id = lt, SpaceID(i)
		}
	}
	return t, id
}

// ptoTime is GetPtoTimeAndSpace of §A.8. With nothing in flight (a client
// whose address is not yet validated) the anti-deadlock probe is due a PTO
// after the last ack-eliciting packet sent (or after now, if none was).
func (r *Recovery) ptoTime(now time.Time) (time.Time, SpaceID) {
	d := backoff(r.rtt.PTO(0), r.ptoCount)
	if !r.ackElicitingInFlight() {
		id := Initial
		if r.spaces[Initial].discarded {
			id = Handshake
		}
		base := r.lastAckEliciting // kept across discarded spaces
		if base.IsZero() {
			if now.IsZero() {
				return time.Time{}, id // nothing ever sent: no timer
			}
			base = now
		}
		return base.Add(d), id
	}
	var t time.Time
	var id SpaceID
	for i := range r.spaces {
		s := &r.spaces[i]
		if s.ackElicitingInFlight == 0 {
			continue
		}
		sd := d
		if SpaceID(i) == Application {
			if !r.handshakeConfirmed {
				break
			}
			sd += backoff(r.maxAckDelay, r.ptoCount)
		}
		pt := s.lastAckEliciting.Add(sd)
		if t.IsZero() || pt.Before(t) {
			t, id = pt, SpaceID(i)
		}
	}
	return t, id
}

// Timeout says what HandleTimeout asks of the core.
type Timeout struct {
	// Probes is how many ack-eliciting probe packets to send in
	// ProbeSpace now, regardless of the congestion window: 0 when the
	// timer found losses instead, else 1 or 2 (§6.2.4). With nothing new
	// to send, a probe retransmits data in flight or is a PING.
	Probes     int
	ProbeSpace SpaceID
}

// HandleTimeout runs the loss detection timer (OnLossDetectionTimeout of
// §A.9) if it is due at now: time-threshold losses are appended to out, or
// a PTO fires and asks for probes.
func (r *Recovery) HandleTimeout(now time.Time, out *AckResult) Timeout {
	deadline := r.LossDetectionTimeout()
	if deadline.IsZero() || now.Before(deadline) {
		return Timeout{}
	}
	if t, id := r.earliestLossTime(); !t.IsZero() {
		r.detectLost(now, &r.spaces[id], out)
		r.spaces[id].trim(r.keepLostSince(now))
		return Timeout{}
	}
	_, id := r.ptoTime(now)
	r.ptoCount++
	r.stats.PTOs++
	n := 2
	if !r.ackElicitingInFlight() {
		n = 1 // anti-deadlock: one padded Initial, or a Handshake packet
	}
	return Timeout{Probes: n, ProbeSpace: id}
}

// Discard drops a space whose keys are gone (Initial or Handshake, RFC
// 9002 §6.4), or the Application space of an abandoned multipath path:
// its packets leave the bytes in flight without a congestion signal and
// are appended to out.Lost, and the PTO backoff restarts. For Initial and
// Handshake the core forgets their frames; for an abandoned path it may
// requeue their frames on another path.
func (r *Recovery) Discard(id SpaceID, out *AckResult) {
	if id >= numSpaces || r.spaces[id].discarded {
		return
	}
	s := &r.spaces[id]
	for i := 0; i < s.n; i++ {
		if e := s.at(i); e.state == stateOutstanding {
			out.Lost = append(out.Lost, e.SentPacket)
		}
	}
	*s = space{discarded: true, limit: s.limit}
	r.ptoCount = 0
}

// Tracked is the number of packets space id holds, tombstones included
// (for tests and memory accounting).
func (r *Recovery) Tracked(id SpaceID) int {
	if id >= numSpaces {
		return 0
	}
	return r.spaces[id].n
}

// Outstanding counts packets of space id neither acknowledged nor lost.
func (r *Recovery) Outstanding(id SpaceID) int {
	if id >= numSpaces {
		return 0
	}
	return r.spaces[id].outstanding()
}
