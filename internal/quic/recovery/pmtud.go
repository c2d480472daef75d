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
	// DefaultBlackHoleThreshold: this many losses of packets larger than
	// the base size, with no such packet acknowledged between them, mean
	// the path stopped carrying them.
	DefaultBlackHoleThreshold = 6
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
	// BlackHoleThreshold: zero means DefaultBlackHoleThreshold.
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

	suspect     int // large packets lost since one was acknowledged
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

// OnAcked reports an ordinary packet of size acknowledged.
func (p *PMTUD) OnAcked(size int) {
	if size > p.o.Base {
		p.suspect = 0
	}
}

// OnLost reports an ordinary packet of size declared lost. It returns
// true when this completes a black hole (BlackHoleThreshold losses of
// packets above the base size with none acknowledged between): the path
// stopped carrying them, Current is back at the base, and a new search
// starts a minute later (or after RaiseInterval, if shorter).
func (p *PMTUD) OnLost(now time.Time, size int) bool {
	if size <= p.o.Base || p.state == PMTUDDisabled {
		return false
	}
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
