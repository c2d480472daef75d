package sim_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/iroh-go/iroh/internal/quic/sim"
)

// pinger sends a ping every 100 ms and measures the round trip of each
// pong; ponger answers every ping.
type pinger struct {
	self, peer netip.AddrPort
	next       time.Time
	sentAt     map[byte]time.Time
	seq        byte
	rtts       []time.Duration
}

func (p *pinger) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	if len(d) == 1 {
		p.rtts = append(p.rtts, now.Sub(p.sentAt[d[0]]))
	}
}

func (p *pinger) Poll(now time.Time, buf []byte) (sim.Datagram, bool) {
	if now.Before(p.next) || p.seq == 5 {
		return sim.Datagram{}, false
	}
	p.sentAt[p.seq] = now
	buf[0] = p.seq
	p.seq++
	p.next = now.Add(100 * time.Millisecond)
	return sim.Datagram{From: p.self, To: p.peer, Data: buf[:1]}, true
}

func (p *pinger) Timeout() time.Time {
	if p.seq == 5 {
		return time.Time{}
	}
	return p.next
}

func (p *pinger) HandleTimeout(time.Time) {}

type ponger struct{ out []sim.Datagram }

func (p *ponger) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	p.out = append(p.out, sim.Datagram{From: to, To: from, Data: d})
}

func (p *ponger) Poll(now time.Time, buf []byte) (sim.Datagram, bool) {
	if len(p.out) == 0 {
		return sim.Datagram{}, false
	}
	d := p.out[0]
	p.out = p.out[1:]
	return d, true
}

func (p *ponger) Timeout() time.Time      { return time.Time{} }
func (p *ponger) HandleTimeout(time.Time) {}

// Ping-pong over a link of 15 ms each way with up to 2 ms of jitter.
func Example() {
	a := netip.MustParseAddrPort("10.0.0.1:1000")
	b := netip.MustParseAddrPort("10.0.0.2:2000")
	s := sim.New(&sim.Options{Seed1: 1, Seed2: 2})
	ping := &pinger{self: a, peer: b, sentAt: map[byte]time.Time{}}
	s.AddNode(ping, a)
	s.AddNode(&ponger{}, b)
	s.LinkBoth(a, b, sim.LinkConfig{Delay: 15 * time.Millisecond, Jitter: 2 * time.Millisecond})
	if err := s.RunUntil(func() bool { return len(ping.rtts) == 5 }, s.Now().Add(time.Minute)); err != nil {
		panic(err)
	}
	for _, rtt := range ping.rtts {
		fmt.Println(rtt >= 30*time.Millisecond && rtt < 34*time.Millisecond)
	}
	fmt.Println("simulated", s.Now().Sub(sim.DefaultStart).Round(10*time.Millisecond))
	// Output:
	// true
	// true
	// true
	// true
	// true
	// simulated 430ms
}
