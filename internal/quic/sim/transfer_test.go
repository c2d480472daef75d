package sim_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic/recovery"
	"github.com/iroh-go/iroh/internal/quic/sim"
)

// A tiny reliable transfer over the simulator, driven by the recovery
// package: the sender numbers packets, each carrying one chunk; the
// receiver acknowledges every packet with ACK ranges; losses found by
// recovery are sent again. It shows how a sans-IO sender uses Recovery
// (OnSent, OnAck, SendBudget, LossDetectionTimeout, HandleTimeout).

const (
	packetSize = 1200
	headerSize = 1 + 8 + 4
	chunkSize  = packetSize - headerSize
	maxRanges  = 32
)

type sender struct {
	self, peer netip.AddrPort
	rec        *recovery.Recovery
	res        recovery.AckResult
	ranges     []recovery.AckRange

	chunks    int
	next      int // next new chunk
	acked     []bool
	nAcked    int
	lowUnack  int
	retx      []uint32
	pn        uint64
	probes    int
	pacerNext time.Time
}

func newSender(t *testing.T, alg recovery.Algorithm, chunks int, self, peer netip.AddrPort) *sender {
	rec, err := recovery.New(&recovery.Options{Algorithm: alg, PathOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return &sender{self: self, peer: peer, rec: rec, chunks: chunks, acked: make([]bool, chunks),
		ranges: make([]recovery.AckRange, 0, maxRanges)}
}

func (s *sender) done() bool { return s.nAcked == s.chunks }

func (s *sender) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	if len(d) < 2 || d[0] != 2 || len(d) != 2+16*int(d[1]) {
		return
	}
	s.ranges = s.ranges[:0]
	for i := range int(d[1]) {
		b := d[2+16*i:]
		s.ranges = append(s.ranges, recovery.AckRange{
			Largest: binary.BigEndian.Uint64(b), Smallest: binary.BigEndian.Uint64(b[8:]),
		})
	}
	s.res.Reset()
	if err := s.rec.OnAck(now, recovery.Application, &recovery.Ack{Ranges: s.ranges}, &s.res); err != nil {
		panic(err)
	}
	s.settle()
}

func (s *sender) settle() {
	for _, p := range s.res.Acked {
		if !s.acked[p.Token] {
			s.acked[p.Token] = true
			s.nAcked++
		}
	}
	for _, p := range s.res.Lost {
		if !s.acked[p.Token] {
			s.retx = append(s.retx, uint32(p.Token))
		}
	}
}

func (s *sender) pick() (uint32, bool) {
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

func (s *sender) Poll(now time.Time, buf []byte) (sim.Datagram, bool) {
	if s.done() {
		return sim.Datagram{}, false
	}
	var chunk uint32
	if s.probes > 0 {
		s.probes--
		c, ok := s.pick()
		if !ok {
			// Nothing new: probe with the oldest unacknowledged chunk.
			for s.acked[s.lowUnack] {
				s.lowUnack++
			}
			c = uint32(s.lowUnack)
		}
		chunk = c
	} else {
		budget, next := s.rec.SendBudget(now)
		if budget < packetSize {
			s.pacerNext = next
			return sim.Datagram{}, false
		}
		c, ok := s.pick()
		if !ok {
			return sim.Datagram{}, false
		}
		chunk = c
	}
	buf[0] = 1
	binary.BigEndian.PutUint64(buf[1:], s.pn)
	binary.BigEndian.PutUint32(buf[9:], chunk)
	if err := s.rec.OnSent(now, recovery.Application, recovery.SentPacket{
		Number: s.pn, Size: packetSize, Token: uint64(chunk), AckEliciting: true, InFlight: true,
	}); err != nil {
		panic(err)
	}
	s.pn++
	return sim.Datagram{From: s.self, To: s.peer, Data: buf[:packetSize]}, true
}

func (s *sender) Timeout() time.Time {
	t := s.rec.LossDetectionTimeout()
	if !s.pacerNext.IsZero() && (t.IsZero() || s.pacerNext.Before(t)) {
		t = s.pacerNext
	}
	return t
}

func (s *sender) HandleTimeout(now time.Time) {
	s.pacerNext = time.Time{}
	s.res.Reset()
	to := s.rec.HandleTimeout(now, &s.res)
	s.probes += to.Probes
	s.settle()
}

// receiver acknowledges every packet with up to maxRanges ranges.
type receiver struct {
	got     []bool
	nGot    int
	ranges  []recovery.AckRange // descending
	ackTo   netip.AddrPort
	ackFrom netip.AddrPort
	pending bool
	doneAt  time.Time
	dups    int
}

func (r *receiver) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	if len(d) != packetSize || d[0] != 1 {
		return
	}
	pn := binary.BigEndian.Uint64(d[1:])
	chunk := binary.BigEndian.Uint32(d[9:])
	r.insert(pn)
	if int(chunk) < len(r.got) && !r.got[chunk] {
		r.got[chunk] = true
		r.nGot++
		if r.nGot == len(r.got) {
			r.doneAt = now
		}
	} else {
		r.dups++
	}
	r.ackTo, r.ackFrom, r.pending = from, to, true
}

// insert adds pn to the descending, disjoint ranges, merging neighbours
// and forgetting the oldest range beyond maxRanges.
func (r *receiver) insert(pn uint64) {
	i := 0
	for i < len(r.ranges) && r.ranges[i].Smallest > pn {
		i++
	}
	if i < len(r.ranges) && r.ranges[i].Largest >= pn {
		return // duplicate
	}
	switch {
	case i > 0 && r.ranges[i-1].Smallest == pn+1 && i < len(r.ranges) && r.ranges[i].Largest+1 == pn:
		r.ranges[i-1].Smallest = r.ranges[i].Smallest
		r.ranges = append(r.ranges[:i], r.ranges[i+1:]...)
	case i > 0 && r.ranges[i-1].Smallest == pn+1:
		r.ranges[i-1].Smallest = pn
	case i < len(r.ranges) && r.ranges[i].Largest+1 == pn:
		r.ranges[i].Largest = pn
	default:
		r.ranges = append(r.ranges, recovery.AckRange{})
		copy(r.ranges[i+1:], r.ranges[i:])
		r.ranges[i] = recovery.AckRange{Smallest: pn, Largest: pn}
	}
	if len(r.ranges) > maxRanges {
		r.ranges = r.ranges[:maxRanges]
	}
}

func (r *receiver) Poll(now time.Time, buf []byte) (sim.Datagram, bool) {
	if !r.pending {
		return sim.Datagram{}, false
	}
	r.pending = false
	buf[0], buf[1] = 2, byte(len(r.ranges))
	for i, rg := range r.ranges {
		binary.BigEndian.PutUint64(buf[2+16*i:], rg.Largest)
		binary.BigEndian.PutUint64(buf[10+16*i:], rg.Smallest)
	}
	return sim.Datagram{From: r.ackFrom, To: r.ackTo, Data: buf[:2+16*len(r.ranges)]}, true
}

func (r *receiver) Timeout() time.Time      { return time.Time{} }
func (r *receiver) HandleTimeout(time.Time) {}

func TestTransferOverLossyLink(t *testing.T) {
	const (
		size = 2 << 20
		rate = 10e6
	)
	a := netip.MustParseAddrPort("10.0.0.1:1")
	b := netip.MustParseAddrPort("10.0.0.2:2")
	chunks := (size + chunkSize - 1) / chunkSize
	tests := []struct {
		alg      recovery.Algorithm
		loss     float64
		minShare float64 // of the link rate
	}{
		{recovery.NewReno, 0, 0.7},
		{recovery.CUBIC, 0, 0.7},
		{recovery.NewReno, 0.01, 0.2},
		{recovery.CUBIC, 0.01, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.alg.String()+"/loss="+formatPct(tt.loss), func(t *testing.T) {
			s := sim.New(&sim.Options{Seed1: 1, Seed2: 2})
			snd := newSender(t, tt.alg, chunks, a, b)
			rcv := &receiver{got: make([]bool, chunks)}
			s.AddNode(snd, a)
			s.AddNode(rcv, b)
			ab, _ := s.LinkBoth(a, b, sim.LinkConfig{
				Delay: 20 * time.Millisecond, Loss: tt.loss, Rate: rate, QueueBytes: 64 << 10, MTU: 1500,
			})
			start := s.Now()
			if err := s.RunUntil(snd.done, start.Add(5*time.Minute)); err != nil {
				t.Fatalf("%v: receiver has %d of %d chunks", err, rcv.nGot, chunks)
			}
			if rcv.nGot != chunks {
				t.Fatalf("sender done, receiver has %d of %d", rcv.nGot, chunks)
			}
			el := rcv.doneAt.Sub(start)
			goodput := float64(chunks*chunkSize*8) / el.Seconds()
			st := snd.rec.Stats()
			ls := ab.Stats()
			t.Logf("%v in %v: %.2f Mbit/s (%.0f%% of the link), cwnd %d, srtt %v, sent %d lost %d (link drops: loss %d queue %d), spurious %d, PTOs %d",
				tt.alg, el.Round(time.Millisecond), goodput/1e6, 100*goodput/rate, snd.rec.Window(), snd.rec.RTT().Smoothed().Round(time.Millisecond),
				st.PacketsSent, st.PacketsLost, ls.Dropped[sim.DropLoss], ls.Dropped[sim.DropQueue], st.SpuriousLosses, st.PTOs)
			if goodput < tt.minShare*rate {
				t.Errorf("goodput %.2f Mbit/s below %.0f%% of %.0f Mbit/s", goodput/1e6, 100*tt.minShare, rate/1e6)
			}
		})
	}
}

func formatPct(p float64) string {
	return string(rune('0'+int(p*100)%10)) + "%"
}
