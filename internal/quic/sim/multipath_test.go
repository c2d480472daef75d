package sim_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic/recovery"
	"github.com/iroh-go/iroh/internal/quic/sim"
)

// A multipath sender as draft-ietf-quic-multipath lays it out: one
// recovery.Recovery per path (its own packet number space, RTT, window
// and pacer), chunks scheduled on whichever path has room, and lost chunks
// sent again on any path.

type mpPath struct {
	self, peer netip.AddrPort
	rec        *recovery.Recovery
	res        recovery.AckResult
	pn         uint64
	probes     int
	pacerNext  time.Time
}

type mpSender struct {
	paths  []*mpPath
	ranges []recovery.AckRange
	chunks int
	next   int
	acked  []bool
	nAcked int
	retx   []uint32
	rr     int
}

func (s *mpSender) done() bool { return s.nAcked == s.chunks }

func (s *mpSender) path(local netip.AddrPort) *mpPath {
	for _, p := range s.paths {
		if p.self == local {
			return p
		}
	}
	return nil
}

func (s *mpSender) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	p := s.path(to)
	if p == nil || len(d) < 2 || d[0] != 2 || len(d) != 2+16*int(d[1])+24 {
		return
	}
	s.ranges = s.ranges[:0]
	for i := range int(d[1]) {
		b := d[2+16*i:]
		s.ranges = append(s.ranges, recovery.AckRange{Largest: binary.BigEndian.Uint64(b), Smallest: binary.BigEndian.Uint64(b[8:])})
	}
	p.res.Reset()
	if err := p.rec.OnAck(now, recovery.Application, &recovery.Ack{Ranges: s.ranges}, &p.res); err != nil {
		panic(err)
	}
	s.settle(p)
}

func (s *mpSender) settle(p *mpPath) {
	for _, a := range p.res.Acked {
		if !s.acked[a.Token] {
			s.acked[a.Token] = true
			s.nAcked++
		}
	}
	for _, l := range p.res.Lost {
		if !s.acked[l.Token] {
			s.retx = append(s.retx, uint32(l.Token))
		}
	}
}

func (s *mpSender) pick() (uint32, bool) {
	for len(s.retx) > 0 {
		c := s.retx[0]
		s.retx = s.retx[1:]
		if !s.acked[c] {
			return c, true
		}
	}
	if s.next < s.chunks {
		s.next++
		return uint32(s.next - 1), true
	}
	return 0, false
}

func (s *mpSender) Poll(now time.Time, buf []byte) (sim.Datagram, bool) {
	if s.done() {
		return sim.Datagram{}, false
	}
	for range s.paths {
		p := s.paths[s.rr%len(s.paths)]
		s.rr++
		if p.probes == 0 {
			budget, next := p.rec.SendBudget(now)
			if budget < packetSize {
				p.pacerNext = next
				continue
			}
		}
		c, ok := s.pick()
		if !ok {
			if p.probes == 0 {
				continue
			}
			c = 0
			for s.acked[c] {
				c++
			}
		}
		if p.probes > 0 {
			p.probes--
		}
		buf[0] = 1
		binary.BigEndian.PutUint64(buf[1:], p.pn)
		binary.BigEndian.PutUint32(buf[9:], c)
		if err := p.rec.OnSent(now, recovery.Application, recovery.SentPacket{
			Number: p.pn, Size: packetSize, Token: uint64(c), AckEliciting: true, InFlight: true,
		}); err != nil {
			panic(err)
		}
		p.pn++
		return sim.Datagram{From: p.self, To: p.peer, Data: buf[:packetSize]}, true
	}
	return sim.Datagram{}, false
}

func (s *mpSender) Timeout() time.Time {
	var t time.Time
	for _, p := range s.paths {
		for _, pt := range []time.Time{p.rec.LossDetectionTimeout(), p.pacerNext} {
			if !pt.IsZero() && (t.IsZero() || pt.Before(t)) {
				t = pt
			}
		}
	}
	return t
}

func (s *mpSender) HandleTimeout(now time.Time) {
	for _, p := range s.paths {
		if !p.pacerNext.IsZero() && !now.Before(p.pacerNext) {
			p.pacerNext = time.Time{}
		}
		p.res.Reset()
		to := p.rec.HandleTimeout(now, &p.res)
		p.probes += to.Probes
		s.settle(p)
	}
}

// mpReceiver acknowledges each path's packets on that path.
type mpReceiver struct {
	per  map[netip.AddrPort]*receiver // by local address
	got  []bool
	nGot int
}

func (r *mpReceiver) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	pr := r.per[to]
	if pr == nil || len(d) != packetSize || d[0] != 1 {
		return
	}
	pr.Receive(now, from, to, d)
	c := binary.BigEndian.Uint32(d[9:])
	if int(c) < len(r.got) && !r.got[c] {
		r.got[c] = true
		r.nGot++
	}
}

func (r *mpReceiver) Poll(now time.Time, buf []byte) (sim.Datagram, bool) {
	for _, a := range []netip.AddrPort{mpB[0], mpB[1]} {
		if d, ok := r.per[a].Poll(now, buf); ok {
			return d, true
		}
	}
	return sim.Datagram{}, false
}

func (r *mpReceiver) Timeout() time.Time      { return time.Time{} }
func (r *mpReceiver) HandleTimeout(time.Time) {}

var (
	mpA = [2]netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("[fd00::1]:1")}
	mpB = [2]netip.AddrPort{netip.MustParseAddrPort("10.0.1.1:2"), netip.MustParseAddrPort("[fd00::2]:2")}
)

// TestMultipathTransfer sends over two paths at once, 10 Mbit/s with 20 ms
// and 5 Mbit/s with 50 ms one way, 0.5% loss on both: each path's window
// follows its own link, and together they carry more than either alone.
func TestMultipathTransfer(t *testing.T) {
	const chunks = 4000
	s := sim.New(&sim.Options{Seed1: 31, Seed2: 32})
	snd := &mpSender{chunks: chunks, acked: make([]bool, chunks), ranges: make([]recovery.AckRange, 0, maxRanges)}
	rcv := &mpReceiver{per: map[netip.AddrPort]*receiver{}, got: make([]bool, chunks)}
	rates := [2]int64{10e6, 5e6}
	delays := [2]time.Duration{20 * time.Millisecond, 50 * time.Millisecond}
	var links [2]*sim.Link
	for i := range 2 {
		rec, err := recovery.New(&recovery.Options{PathOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		snd.paths = append(snd.paths, &mpPath{self: mpA[i], peer: mpB[i], rec: rec})
		rcv.per[mpB[i]] = &receiver{got: make([]bool, chunks)}
	}
	s.AddNode(snd, mpA[0], mpA[1])
	s.AddNode(rcv, mpB[0], mpB[1])
	for i := range 2 {
		links[i] = s.Link(mpA[i], mpB[i], sim.LinkConfig{Delay: delays[i], Rate: rates[i], QueueBytes: 64 << 10, Loss: 0.005})
		s.Link(mpB[i], mpA[i], sim.LinkConfig{Delay: delays[i], Loss: 0.005})
	}
	start := s.Now()
	if err := s.RunUntil(snd.done, start.Add(time.Minute)); err != nil {
		t.Fatalf("%v: %d of %d chunks", err, rcv.nGot, chunks)
	}
	el := s.Now().Sub(start)
	goodput := float64(chunks*chunkSize*8) / el.Seconds()
	var share [2]float64
	for i, p := range snd.paths {
		st := p.rec.Stats()
		share[i] = float64(links[i].Stats().BytesDelivered*8) / el.Seconds()
		t.Logf("path %d: %.2f Mbit/s of %.0f, srtt %v, cwnd %d, lost %d, PTOs %d", i, share[i]/1e6, float64(rates[i])/1e6,
			p.rec.RTT().Smoothed().Round(time.Millisecond), p.rec.Window(), st.PacketsLost, st.PTOs)
	}
	t.Logf("%d chunks in %v: %.2f Mbit/s", chunks, el.Round(time.Millisecond), goodput/1e6)
	if rcv.nGot != chunks {
		t.Fatalf("receiver has %d of %d", rcv.nGot, chunks)
	}
	// More than the slower link could carry alone, and both in use.
	if goodput < 7.5e6 || share[0] < 3e6 || share[1] < 2e6 {
		t.Fatalf("goodput %.2f Mbit/s, paths %.2f and %.2f: not using both", goodput/1e6, share[0]/1e6, share[1]/1e6)
	}
	// Each path's RTT is its own.
	if r0, r1 := snd.paths[0].rec.RTT().Min(), snd.paths[1].rec.RTT().Min(); r0 < 40*time.Millisecond || r0 > 45*time.Millisecond || r1 < 100*time.Millisecond || r1 > 105*time.Millisecond {
		t.Fatalf("min RTTs %v and %v", r0, r1)
	}
}
