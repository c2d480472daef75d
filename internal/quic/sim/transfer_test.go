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

	startAt time.Time // sends nothing before
	began   bool

	pmtud *recovery.PMTUD // nil: no path MTU discovery
	ecn   bool            // mark packets as recovery.MarkECT says
}

// probeToken marks a PMTU probe's token; the low bits hold its size.
const probeToken = 1 << 40

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
	if len(d) < 2 || d[0] != 2 || len(d) != 2+16*int(d[1])+24 {
		return
	}
	counts := d[2+16*int(d[1]):]
	s.ranges = s.ranges[:0]
	for i := range int(d[1]) {
		b := d[2+16*i:]
		s.ranges = append(s.ranges, recovery.AckRange{
			Largest: binary.BigEndian.Uint64(b), Smallest: binary.BigEndian.Uint64(b[8:]),
		})
	}
	s.res.Reset()
	ack := recovery.Ack{Ranges: s.ranges}
	if s.ecn {
		ack.ECN = true
		ack.ECT0 = binary.BigEndian.Uint64(counts)
		ack.ECT1 = binary.BigEndian.Uint64(counts[8:])
		ack.CE = binary.BigEndian.Uint64(counts[16:])
	}
	if err := s.rec.OnAck(now, recovery.Application, &ack, &s.res); err != nil {
		panic(err)
	}
	s.settle()
}

func (s *sender) settle() {
	for _, p := range s.res.Acked {
		if p.Token&probeToken != 0 {
			s.pmtud.OnProbeAcked(p.Time, int(p.Token&^probeToken))
			continue
		}
		if s.pmtud != nil {
			s.pmtud.OnAcked(p.Number, p.Size)
		}
		if !s.acked[p.Token] {
			s.acked[p.Token] = true
			s.nAcked++
		}
	}
	for _, p := range s.res.Lost {
		if p.Token&probeToken != 0 {
			s.pmtud.OnProbeLost(p.Time, int(p.Token&^probeToken))
			continue
		}
		if s.pmtud != nil {
			s.pmtud.OnLost(p.Time, p.Number, p.Size)
		}
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
	if s.done() || now.Before(s.startAt) {
		return sim.Datagram{}, false
	}
	s.began = true
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
		if s.pmtud != nil {
			if size, ok := s.pmtud.Probe(now); ok && budget >= size {
				return s.probe(now, buf, size), true
			}
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
	mark := s.ecn && s.rec.MarkECT()
	if err := s.rec.OnSent(now, recovery.Application, recovery.SentPacket{
		Number: s.pn, Size: packetSize, Token: uint64(chunk), AckEliciting: true, InFlight: true, ECT: mark,
	}); err != nil {
		panic(err)
	}
	s.pn++
	d := sim.Datagram{From: s.self, To: s.peer, Data: buf[:packetSize]}
	if mark {
		d.ECN = sim.ECNECT0
	}
	return d, true
}

// probe sends a PING+PADDING-like packet of size bytes that only asks for
// an ACK; its loss is no congestion signal.
func (s *sender) probe(now time.Time, buf []byte, size int) sim.Datagram {
	buf[0] = 3
	binary.BigEndian.PutUint64(buf[1:], s.pn)
	clear(buf[9:size])
	if err := s.rec.OnSent(now, recovery.Application, recovery.SentPacket{
		Number: s.pn, Size: size, Token: probeToken | uint64(size), AckEliciting: true, InFlight: true, NotCongestion: true,
	}); err != nil {
		panic(err)
	}
	s.pmtud.OnProbeSent(size)
	s.pn++
	return sim.Datagram{From: s.self, To: s.peer, Data: buf[:size]}
}

func (s *sender) Timeout() time.Time {
	if !s.began && !s.startAt.IsZero() {
		return s.startAt
	}
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
	ecn     [4]uint64 // packets received per ECN codepoint
}

func (r *receiver) ReceiveECN(now time.Time, from, to netip.AddrPort, ecn uint8, d []byte) {
	if len(d) >= 9 && (d[0] == 1 || d[0] == 3) {
		r.ecn[ecn&3]++
	}
	r.Receive(now, from, to, d)
}

func (r *receiver) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	if len(d) >= 9 && d[0] == 3 { // PMTU probe: acknowledge only
		r.insert(binary.BigEndian.Uint64(d[1:]))
		r.ackTo, r.ackFrom, r.pending = from, to, true
		return
	}
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
	n := 2 + 16*len(r.ranges)
	binary.BigEndian.PutUint64(buf[n:], r.ecn[sim.ECNECT0])
	binary.BigEndian.PutUint64(buf[n+8:], r.ecn[sim.ECNECT1])
	binary.BigEndian.PutUint64(buf[n+16:], r.ecn[sim.ECNCE])
	return sim.Datagram{From: r.ackFrom, To: r.ackTo, Data: buf[:n+24]}, true
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

// TestPMTUDOverLink runs path MTU discovery during a transfer over a link
// whose MTU is 1400: the search settles just under it, and the probes
// lost to the MTU are no congestion signal.
func TestPMTUDOverLink(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:1")
	b := netip.MustParseAddrPort("10.0.0.2:2")
	const chunks = 3000
	s := sim.New(&sim.Options{Seed1: 5, Seed2: 6})
	snd := newSender(t, recovery.CUBIC, chunks, a, b)
	var err error
	snd.pmtud, err = recovery.NewPMTUD(&recovery.PMTUDOptions{Max: 1452})
	if err != nil {
		t.Fatal(err)
	}
	rcv := &receiver{got: make([]bool, chunks)}
	s.AddNode(snd, a)
	s.AddNode(rcv, b)
	ab, _ := s.LinkBoth(a, b, sim.LinkConfig{Delay: 10 * time.Millisecond, Rate: 20e6, QueueBytes: 4 << 20, MTU: 1400})
	if err := s.RunUntil(snd.done, s.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	p := snd.pmtud
	st := snd.rec.Stats()
	t.Logf("PMTU %d (%v), probes %+v, link MTU drops %d, congestion events %d", p.Current(), p.State(), p.Stats(), ab.Stats().Dropped[sim.DropMTU], st.CongestionEvents)
	if c := p.Current(); c > 1400 || c < 1400-16 || p.State() != recovery.PMTUDSearchComplete {
		t.Fatalf("PMTU %d in state %v", c, p.State())
	}
	if drops := ab.Stats().Dropped[sim.DropMTU]; drops == 0 || drops != p.Stats().ProbesLost {
		t.Fatalf("MTU drops %d, probes lost %d", drops, p.Stats().ProbesLost)
	}
	if st.CongestionEvents != 0 || ab.Stats().TotalDropped() != ab.Stats().Dropped[sim.DropMTU] {
		t.Fatalf("congestion events %d from probe losses", st.CongestionEvents)
	}
}

// TestECNOverLink: a link that marks CE above 20 kB queued lets an ECN
// sender back off before the tail drop (drops remain only from the
// slow-start overshoot before the first CE echo returns); a link that
// bleaches the marks fails validation and the transfer completes on
// losses alone.
func TestECNOverLink(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:1")
	b := netip.MustParseAddrPort("10.0.0.2:2")
	const chunks = 3000
	drops := map[bool]uint64{}
	for _, tt := range []struct {
		name   string
		bleach bool
		want   recovery.ECNState
	}{
		{"CE marking", false, recovery.ECNCapable},
		{"bleached", true, recovery.ECNFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := sim.New(&sim.Options{Seed1: 3, Seed2: 4})
			snd := newSender(t, recovery.CUBIC, chunks, a, b)
			snd.ecn = true
			rcv := &receiver{got: make([]bool, chunks)}
			s.AddNode(snd, a)
			s.AddNode(rcv, b)
			ab, _ := s.LinkBoth(a, b, sim.LinkConfig{Delay: 20 * time.Millisecond, Rate: 10e6, QueueBytes: 64 << 10, MarkCEAbove: 20 << 10, BleachECN: tt.bleach})
			start := s.Now()
			if err := s.RunUntil(snd.done, start.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			st, ls := snd.rec.Stats(), ab.Stats()
			el := rcv.doneAt.Sub(start)
			t.Logf("%v: %.2f Mbit/s, ECN %v %s, CE marked %d, CE ACKs %d, queue drops %d, congestion events %d",
				el.Round(time.Millisecond), float64(chunks*chunkSize*8)/el.Seconds()/1e6, snd.rec.ECN().State(), snd.rec.ECN().FailReason(), ls.CEMarked, st.ECNCE, ls.Dropped[sim.DropQueue], st.CongestionEvents)
			if snd.rec.ECN().State() != tt.want {
				t.Fatalf("ECN %v, want %v", snd.rec.ECN().State(), tt.want)
			}
			drops[tt.bleach] = ls.Dropped[sim.DropQueue]
			if !tt.bleach && (st.ECNCE == 0 || ls.CEMarked == 0) {
				t.Fatalf("with CE marking: queue drops %d, CE marked %d, CE signals %d", ls.Dropped[sim.DropQueue], ls.CEMarked, st.ECNCE)
			}
			if tt.bleach && st.ECNCE != 0 {
				t.Fatal("CE acted on over a bleaching path")
			}
		})
	}
	if drops[false]*2 > drops[true] {
		t.Fatalf("queue drops with CE marking %d, without %d", drops[false], drops[true])
	}
}

// TestSharedBottleneck: two flows cross one 10 Mbit/s bottleneck, the
// second starting 2 s after the first; from 4 s to 12 s both have a fair
// share and together they fill the link.
func TestSharedBottleneck(t *testing.T) {
	for _, algs := range [][2]recovery.Algorithm{{recovery.CUBIC, recovery.CUBIC}, {recovery.NewReno, recovery.NewReno}, {recovery.CUBIC, recovery.NewReno}} {
		t.Run(algs[0].String()+"+"+algs[1].String(), func(t *testing.T) {
			s := sim.New(&sim.Options{Seed1: 11, Seed2: 12})
			bn := s.NewBottleneck(10e6, 64<<10, 0)
			var snds [2]*sender
			var rcvs [2]*receiver
			const chunks = 1 << 15 // more than 12 s can carry
			for i := range 2 {
				a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i)}), 1)
				b := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(1 + i)}), 2)
				snds[i] = newSender(t, algs[i], chunks, a, b)
				snds[i].startAt = s.Now().Add(time.Duration(i) * 2 * time.Second)
				rcvs[i] = &receiver{got: make([]bool, chunks)}
				s.AddNode(snds[i], a)
				s.AddNode(rcvs[i], b)
				s.Link(a, b, sim.LinkConfig{Delay: 20 * time.Millisecond, Bottleneck: bn})
				s.Link(b, a, sim.LinkConfig{Delay: 20 * time.Millisecond})
			}
			s.Run(s.Now().Add(4 * time.Second))
			var before [2]int
			for i := range 2 {
				before[i] = rcvs[i].nGot
			}
			const window = 8 * time.Second
			s.Run(s.Now().Add(window))
			var rates [2]float64
			for i := range 2 {
				rates[i] = float64((rcvs[i].nGot-before[i])*chunkSize*8) / window.Seconds()
			}
			x, y := rates[0], rates[1]
			jain := (x + y) * (x + y) / (2 * (x*x + y*y))
			t.Logf("%.2f and %.2f Mbit/s, total %.0f%% of the link, Jain's index %.3f, bottleneck drops %d",
				x/1e6, y/1e6, 100*(x+y)/10e6, jain, bn.Stats().Dropped)
			if x+y < 0.85*10e6 || jain < 0.9 {
				t.Fatalf("unfair or underused: %.2f + %.2f Mbit/s, Jain %.3f", x/1e6, y/1e6, jain)
			}
		})
	}
}

// TestTransferReordering: a link that holds back 2% of the datagrams by
// 15 ms makes the packet threshold declare losses that the late ACKs
// disprove; recovery takes those window reductions back.
func TestTransferReordering(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:1")
	b := netip.MustParseAddrPort("10.0.0.2:2")
	const chunks = 3000
	for _, alg := range []recovery.Algorithm{recovery.NewReno, recovery.CUBIC} {
		t.Run(alg.String(), func(t *testing.T) {
			s := sim.New(&sim.Options{Seed1: 21, Seed2: 22})
			snd := newSender(t, alg, chunks, a, b)
			rcv := &receiver{got: make([]bool, chunks)}
			s.AddNode(snd, a)
			s.AddNode(rcv, b)
			ab := s.Link(a, b, sim.LinkConfig{Delay: 20 * time.Millisecond, Rate: 10e6, QueueBytes: 1 << 20, Reorder: 0.02, ReorderDelay: 15 * time.Millisecond})
			s.Link(b, a, sim.LinkConfig{Delay: 20 * time.Millisecond})
			start := s.Now()
			if err := s.RunUntil(snd.done, start.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			st := snd.rec.Stats()
			el := rcv.doneAt.Sub(start)
			t.Logf("%v: %.2f Mbit/s, declared lost %d (queue drops %d), spurious %d, reductions %d, undone %d", el.Round(time.Millisecond),
				float64(chunks*chunkSize*8)/el.Seconds()/1e6, st.PacketsLost, ab.Stats().Dropped[sim.DropQueue], st.SpuriousLosses, st.CongestionEvents, st.CongestionUndone)
			if st.SpuriousLosses == 0 || st.CongestionUndone == 0 || rcv.nGot != chunks {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestRateChange: the bottleneck falls from 10 to 2 Mbit/s mid-transfer
// (a link reconfigured with Sim.Link); the sender's window follows it down
// and the transfer completes.
func TestRateChange(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:1")
	b := netip.MustParseAddrPort("10.0.0.2:2")
	const chunks = 2000
	for _, alg := range []recovery.Algorithm{recovery.NewReno, recovery.CUBIC} {
		t.Run(alg.String(), func(t *testing.T) {
			s := sim.New(&sim.Options{Seed1: 41, Seed2: 42})
			snd := newSender(t, alg, chunks, a, b)
			rcv := &receiver{got: make([]bool, chunks)}
			s.AddNode(snd, a)
			s.AddNode(rcv, b)
			cfg := sim.LinkConfig{Delay: 20 * time.Millisecond, Rate: 10e6, QueueBytes: 64 << 10}
			s.LinkBoth(a, b, cfg)
			s.Run(s.Now().Add(time.Second))
			before := snd.rec.Window()
			cfg.Rate = 2e6
			s.Link(a, b, cfg)
			got := rcv.nGot
			s.Run(s.Now().Add(3 * time.Second))
			rate := float64((rcv.nGot-got)*chunkSize*8) / 3
			after := snd.rec.Window()
			t.Logf("window %d at 10 Mbit/s, %d at 2 Mbit/s; %.2f Mbit/s after the drop", before, after, rate/1e6)
			// 2 Mbit/s * 40 ms + 64 KiB of queue is about 75 kB. The
			// datagrams queued before the change still leave at the old
			// rate, hence a little over 2 Mbit/s.
			if after >= before || after > 100_000 || rate < 1.6e6 || rate > 2.3e6 {
				t.Fatalf("window %d -> %d, %.2f Mbit/s", before, after, rate/1e6)
			}
			if err := s.RunUntil(snd.done, s.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
