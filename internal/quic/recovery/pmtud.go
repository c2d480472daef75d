package recovery

import (
	"fmt"
	"time"
)

// Defaults of the path MTU discovery (RFC 8899 §5.1.2 and §5.1.3).
const (
	// MaxProbes is how many times a probe size is tried before it is
	// taken as too large (MAX_PROBES).
	MaxProbes = 3
	// DefaultRaiseInterval is how long a completed search rests before
	// probing for a larger size again (PMTU_RAISE_TIMER).
	DefaultRaiseInterval = 600 * time.Second
	// DefaultBlackHoleThreshold: this many suspicious loss bursts (see
	// PMTUD.OnLost), with no packet of the current size acknowledged
	// between them, mean the path stopped carrying large packets. Four is
	// quinn's (more than three).
	DefaultBlackHoleThreshold = 4
	// pmtudMinStep ends the binary search when the bounds are this close.
	pmtudMinStep = 16
)

// PMTUDState is where the path MTU discovery stands (RFC 8899 §5.2).
type PMTUDState uint8

// The states. Disabled and Error are terminal until Reset.
const (
	PMTUDBase           PMTUDState = iota // using the base size, about to search
	PMTUDSearching                        // probing larger sizes
	PMTUDSearchComplete                   // found; probing again after the raise interval
	PMTUDDisabled                         // the maximum is the base: nothing to search
)

func (s PMTUDState) String() string {
	switch s {
	case PMTUDBase:
		return "base"
	case PMTUDSearching:
		return "searching"
	case PMTUDSearchComplete:
		return "search_complete"
	case PMTUDDisabled:
		return "disabled"
	}
	return fmt.Sprintf("pmtud(%d)", uint8(s))
}

// PMTUDOptions configure a PMTUD.
type PMTUDOptions struct {
	// Base is the size known to work; zero means MinDatagramSize (1200).
	Base int
	// Max is the largest size worth trying: the smaller of the local
	// interface's limit and the peer's max_udp_payload_size. Zero means
	// 1452 (a 1500-byte Ethernet MTU minus IPv6 and UDP headers).
	Max int
	// RaiseInterval: zero means DefaultRaiseInterval.
	RaiseInterval time.Duration
	// BlackHoleThreshold is how many suspicious loss bursts make a black
	// hole; zero means DefaultBlackHoleThreshold.
	BlackHoleThreshold int
}

// PMTUD is datagram packetization layer path MTU discovery (RFC 8899) for
// one path, I/O-free. The core asks Probe whether to send a probe now (a
// PING and PADDING packet of that size, recorded in Recovery with
// NotCongestion set), reports what became of it with OnProbeAcked or
// OnProbeLost, reports the fate of ordinary packets for black-hole
// detection with OnAcked and OnLost, and sends datagrams of at most
// Current bytes (raising Recovery's size with SetMaxDatagramSize).
//
// The search tries Max first, the common case where the path carries it
// all, then bisects between the largest acknowledged and the smallest
// failed size until they are 16 bytes apart.
type PMTUD struct {
	o     PMTUDOptions
	state PMTUDState

	current int // confirmed
	lo, hi  int // lo works; hi is the smallest size not yet excluded (the next candidate's upper bound)

	probeSize     int
	probeInFlight bool
	attempts      int // losses at probeSize
	nextSearch    time.Time

	// Black-hole detection. Losses are grouped into bursts of
	// consecutive packet numbers: one drop event (a queue overflowing)
	// loses many packets at once, and it says no more about the path's
	// MTU than one lost packet does.
	suspect      int    // suspicious bursts since a packet of the current size was acknowledged
	ackedLarge   uint64 // 1 + the largest packet number acknowledged at the current size; 0 if none
	burstEnd     uint64 // 1 + the last lost packet number; 0 if none
	burstCounted bool   // the burst ending at burstEnd is counted in suspect
	burstClean   bool   // the burst ending at burstEnd lost a packet of the base size or less

	blackHoles  uint64
	probesSent  uint64
	probesLost  uint64
	searchCount uint64
}

// NewPMTUD returns a PMTUD starting at the base size.
func NewPMTUD(opts *PMTUDOptions) (*PMTUD, error) {
	var o PMTUDOptions
	if opts != nil {
		o = *opts
	}
	if o.Base == 0 {
		o.Base = MinDatagramSize
	}
	if o.Max == 0 {
		o.Max = 1452
	}
	if o.RaiseInterval == 0 {
		o.RaiseInterval = DefaultRaiseInterval
	}
	if o.BlackHoleThreshold == 0 {
		o.BlackHoleThreshold = DefaultBlackHoleThreshold
	}
	if o.Base < MinDatagramSize || o.Max > 65527 || o.Max < o.Base || o.RaiseInterval < 0 || o.BlackHoleThreshold < 0 {
		return nil, fmt.Errorf("recovery: PMTUD base %d max %d outside [%d, 65527] or negative option", o.Base, o.Max, MinDatagramSize)
	}
	p := &PMTUD{o: o}
	p.restart(time.Time{})
	return p, nil
}

func (p *PMTUD) restart(at time.Time) {
	p.current, p.lo = p.o.Base, p.o.Base
	p.hi = p.o.Max
	p.probeInFlight, p.attempts, p.suspect = false, 0, 0
	p.burstCounted = false
	p.nextSearch = at
	p.state = PMTUDBase
	if p.o.Max == p.o.Base {
		p.state = PMTUDDisabled
	}
}

// Current is the largest datagram the path is known to carry.
func (p *PMTUD) Current() int { return p.current }

// State is the discovery's state.
func (p *PMTUD) State() PMTUDState { return p.state }

// Probe returns the size of the probe to send at now, or false when none
// is due (one is in flight, the search is complete and resting, or there
// is nothing to search).
func (p *PMTUD) Probe(now time.Time) (int, bool) {
	switch p.state {
	case PMTUDDisabled:
		return 0, false
	case PMTUDBase, PMTUDSearchComplete:
		if now.Before(p.nextSearch) {
			return 0, false
		}
		if p.state == PMTUDSearchComplete {
			// Raise timer: look again above what we have.
			p.lo, p.hi = p.current, p.o.Max
			if p.lo >= p.hi {
				p.nextSearch = now.Add(p.o.RaiseInterval)
				return 0, false
			}
		}
		p.state = PMTUDSearching
		p.searchCount++
		p.probeSize = p.hi
		p.attempts = 0
	}
	if p.probeInFlight {
		return 0, false
	}
	return p.probeSize, true
}

// Timeout is when Probe may next say yes on its own (the raise timer);
// zero when that depends on the core's calls only.
func (p *PMTUD) Timeout() time.Time {
	if (p.state == PMTUDSearchComplete || p.state == PMTUDBase) && !p.nextSearch.IsZero() {
		return p.nextSearch
	}
	return time.Time{}
}

// OnProbeSent records that a probe of the size Probe gave was sent.
func (p *PMTUD) OnProbeSent(size int) {
	if p.state == PMTUDSearching && size == p.probeSize {
		p.probeInFlight = true
		p.probesSent++
	}
}

// OnProbeAcked: the probe of size arrived; the path carries it.
func (p *PMTUD) OnProbeAcked(now time.Time, size int) {
	if size > p.current {
		p.current = size
	}
	p.suspect = 0
	if p.state != PMTUDSearching || size != p.probeSize {
		return
	}
	p.probeInFlight = false
	p.lo = max(p.lo, size)
	p.next(now)
}

// OnProbeLost: the probe of size was declared lost. After MaxProbes
// losses the size is taken as too large.
func (p *PMTUD) OnProbeLost(now time.Time, size int) {
	if p.state != PMTUDSearching || size != p.probeSize {
		return
	}
	p.probesLost++
	p.probeInFlight = false
	p.attempts++
	if p.attempts < MaxProbes {
		return
	}
	p.hi = size - 1
	p.next(now)
}

// next picks the next probe size or ends the search.
func (p *PMTUD) next(now time.Time) {
	p.attempts = 0
	if p.hi-p.lo < pmtudMinStep {
		p.state = PMTUDSearchComplete
		p.nextSearch = now.Add(p.o.RaiseInterval)
		return
	}
	p.probeSize = (p.lo + p.hi + 1) / 2
}

// OnAcked reports an ordinary packet (number pn, size bytes)
// acknowledged. A packet of the current size getting through means the
// path carries it: the suspicion count starts again.
func (p *PMTUD) OnAcked(pn uint64, size int) {
	if size > p.o.Base && size >= p.current {
		p.suspect = 0
		p.burstCounted = false
		p.ackedLarge = max(p.ackedLarge, pn+1)
	}
}

// OnLost reports an ordinary packet (number pn, size bytes) declared
// lost, in increasing packet number order within one ACK's losses. It
// returns true when this completes a black hole: BlackHoleThreshold
// suspicious loss bursts with no packet of the current size acknowledged
// since the first. Current is then back at the base, and a new search
// starts a minute later (or after RaiseInterval, if shorter).
//
// A burst is a run of lost packets with consecutive numbers. It is
// suspicious when it lost a packet larger than the base size that was
// sent after the last packet of the current size the peer acknowledged,
// and no packet of the base size or less: congestion drops are followed
// by acknowledged packets as large as the lost ones (that is how packet
// and time thresholds find them), and a black hole spares small packets.
// This is quinn's heuristic, without its tracking of every size.
func (p *PMTUD) OnLost(now time.Time, pn uint64, size int) bool {
	if p.state == PMTUDDisabled {
		return false
	}
	if p.burstEnd == 0 || pn != p.burstEnd {
		// pn does not continue the burst: a new one.
		p.burstCounted, p.burstClean = false, false
	}
	p.burstEnd = pn + 1
	if size <= p.o.Base {
		if p.burstCounted {
			p.suspect--
			p.burstCounted = false
		}
		p.burstClean = true
		return false
	}
	if p.burstClean || p.burstCounted || pn < p.ackedLarge {
		return false
	}
	p.burstCounted = true
	p.suspect++
	if p.suspect < p.o.BlackHoleThreshold {
		return false
	}
	p.blackHoles++
	p.restart(now.Add(min(time.Minute, p.o.RaiseInterval)))
	return true
}

// PMTUDStats counts what a PMTUD did.
type PMTUDStats struct {
	Searches, ProbesSent, ProbesLost, BlackHoles uint64
}

// Stats returns the counters.
func (p *PMTUD) Stats() PMTUDStats {
	return PMTUDStats{Searches: p.searchCount, ProbesSent: p.probesSent, ProbesLost: p.probesLost, BlackHoles: p.blackHoles}
}
