package sim

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"testing"
	"time"
)

var (
	addrA = netip.MustParseAddrPort("10.0.0.1:4433")
	addrB = netip.MustParseAddrPort("10.0.0.2:4433")
	addrC = netip.MustParseAddrPort("192.0.2.7:61000")
)

// blaster sends count datagrams of size bytes, one every interval (all at
// once when zero), each starting with its sequence number.
type blaster struct {
	from, to  netip.AddrPort
	size      int
	interval  time.Duration
	remaining int
	next      time.Time
	seq       uint64
	received  []Datagram
}

func (b *blaster) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	b.received = append(b.received, Datagram{From: from, To: to, Data: d})
}

func (b *blaster) Poll(now time.Time, buf []byte) (Datagram, bool) {
	if b.remaining == 0 || now.Before(b.next) {
		return Datagram{}, false
	}
	b.remaining--
	if b.next.IsZero() {
		b.next = now
	}
	b.next = b.next.Add(b.interval)
	binary.BigEndian.PutUint64(buf, b.seq)
	b.seq++
	return Datagram{From: b.from, To: b.to, Data: buf[:b.size]}, true
}

func (b *blaster) Timeout() time.Time {
	if b.remaining == 0 {
		return time.Time{}
	}
	return b.next
}

func (b *blaster) HandleTimeout(time.Time) {}

// sink records what arrives and can echo it back.
type sink struct {
	echo    bool
	got     []uint64
	times   []time.Time
	froms   []netip.AddrPort
	pending []Datagram
}

func (k *sink) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	k.got = append(k.got, binary.BigEndian.Uint64(d))
	k.times = append(k.times, now)
	k.froms = append(k.froms, from)
	if k.echo {
		k.pending = append(k.pending, Datagram{From: to, To: from, Data: d})
	}
}

func (k *sink) Poll(now time.Time, buf []byte) (Datagram, bool) {
	if len(k.pending) == 0 {
		return Datagram{}, false
	}
	d := k.pending[0]
	k.pending = k.pending[1:]
	return d, true
}

func (k *sink) Timeout() time.Time      { return time.Time{} }
func (k *sink) HandleTimeout(time.Time) {}

func pair(t *testing.T, seed uint64, cfg LinkConfig, b *blaster, k *sink) (*Sim, *Link) {
	t.Helper()
	s := New(&Options{Seed1: seed, Seed2: seed * 7})
	b.from, b.to = addrA, addrB
	if err := s.AddNode(b, addrA); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNode(k, addrB); err != nil {
		t.Fatal(err)
	}
	ab, _ := s.LinkBoth(addrA, addrB, cfg)
	return s, ab
}

func TestDelayAndOrder(t *testing.T) {
	b := &blaster{size: 100, remaining: 100, interval: time.Millisecond}
	k := &sink{}
	s, l := pair(t, 1, LinkConfig{Delay: 20 * time.Millisecond, Jitter: 5 * time.Millisecond}, b, k)
	if err := s.Run(s.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(k.got) != 100 || l.Stats().Delivered != 100 {
		t.Fatalf("delivered %d", len(k.got))
	}
	for i, seq := range k.got {
		if seq != uint64(i) {
			t.Fatalf("datagram %d arrived as %d: jitter reordered", seq, i)
		}
		d := k.times[i].Sub(DefaultStart.Add(time.Duration(i) * time.Millisecond))
		if d < 20*time.Millisecond || d >= 25*time.Millisecond+time.Millisecond {
			t.Fatalf("datagram %d took %v", i, d)
		}
	}
	if s.Now() != DefaultStart.Add(time.Second) {
		t.Fatalf("clock at %v", s.Now())
	}
}

func scenario(t *testing.T, seed uint64) (uint64, LinkStats) {
	b := &blaster{size: 200, remaining: 2000, interval: 100 * time.Microsecond}
	k := &sink{echo: true}
	s, l := pair(t, seed, LinkConfig{
		Delay: 10 * time.Millisecond, Jitter: 3 * time.Millisecond, Loss: 0.05,
		Duplicate: 0.02, Reorder: 0.05, Rate: 8e6, QueueBytes: 20000,
	}, b, k)
	if err := s.Run(s.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return s.TraceHash(), l.Stats()
}

func TestReproducible(t *testing.T) {
	h1, st1 := scenario(t, 42)
	h2, st2 := scenario(t, 42)
	h3, _ := scenario(t, 43)
	if h1 != h2 || st1 != st2 {
		t.Fatalf("same seed, different runs: %x %x", h1, h2)
	}
	if h1 == h3 {
		t.Fatal("different seeds, same trace")
	}
	t.Logf("trace %x stats %+v", h1, st1)
}

func TestLossAndDuplicationRates(t *testing.T) {
	const n = 20000
	tests := []struct {
		name      string
		loss, dup float64
	}{
		{"loss 1%", 0.01, 0},
		{"loss 10%", 0.10, 0},
		{"dup 5%", 0, 0.05},
		{"loss 3% dup 3%", 0.03, 0.03},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &blaster{size: 64, remaining: n}
			k := &sink{}
			s, l := pair(t, 7, LinkConfig{Delay: time.Millisecond, Loss: tt.loss, Duplicate: tt.dup}, b, k)
			if err := s.Run(s.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			// Tolerance: 4 standard deviations of a binomial.
			check := func(what string, got uint64, p float64) {
				sd := math.Sqrt(n * p * (1 - p))
				if math.Abs(float64(got)-n*p) > 4*sd+1 {
					t.Errorf("%s: %d of %d, want %.0f ± %.0f", what, got, n, n*p, 4*sd)
				}
			}
			check("lost", st.Dropped[DropLoss], tt.loss)
			check("duplicated", st.Duplicated, tt.dup*(1-tt.loss))
			if st.Delivered != uint64(len(k.got)) || st.Delivered != n-st.Dropped[DropLoss]+st.Duplicated {
				t.Errorf("delivered %d, received %d, stats %+v", st.Delivered, len(k.got), st)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name    string
		offered time.Duration // interval between 1250-byte datagrams
		drops   bool
	}{
		{"under the rate", 2 * time.Millisecond, false},  // 5 Mbit/s offered
		{"twice the rate", 500 * time.Microsecond, true}, // 20 Mbit/s offered
	}
	const rate = 10e6
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &blaster{size: 1250, remaining: int(2 * time.Second / tt.offered), interval: tt.offered}
			k := &sink{}
			s, l := pair(t, 1, LinkConfig{Delay: 10 * time.Millisecond, Rate: rate, QueueBytes: 50000}, b, k)
			if err := s.Run(s.Now().Add(3 * time.Second)); err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			if got := st.Dropped[DropQueue] > 0; got != tt.drops {
				t.Fatalf("queue drops %d", st.Dropped[DropQueue])
			}
			// Throughput over the second second, when the queue is full.
			var bytes int
			from, to := DefaultStart.Add(time.Second), DefaultStart.Add(2*time.Second)
			for _, at := range k.times {
				if !at.Before(from) && at.Before(to) {
					bytes += 1250
				}
			}
			want := min(rate, 1250*8/tt.offered.Seconds())
			if got := float64(bytes) * 8; math.Abs(got-want) > 0.02*want {
				t.Fatalf("throughput %.2f Mbit/s, want %.2f", got/1e6, want/1e6)
			}
			if tt.drops {
				// Queueing delay is bounded by the queue: 50 kB at 10 Mbit/s is 40 ms.
				last := k.times[len(k.times)-1].Sub(DefaultStart.Add(time.Duration(k.got[len(k.got)-1]) * tt.offered))
				if last > 10*time.Millisecond+41*time.Millisecond {
					t.Fatalf("delay %v beyond the queue's bound", last)
				}
			}
		})
	}
}

func TestMTU(t *testing.T) {
	b := &blaster{size: 1400, remaining: 10}
	k := &sink{}
	s, l := pair(t, 1, LinkConfig{MTU: 1280}, b, k)
	s.Run(s.Now().Add(time.Second))
	if st := l.Stats(); st.Dropped[DropMTU] != 10 || len(k.got) != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestReorder(t *testing.T) {
	b := &blaster{size: 100, remaining: 1000, interval: 100 * time.Microsecond}
	k := &sink{}
	s, l := pair(t, 3, LinkConfig{Delay: 10 * time.Millisecond, Reorder: 0.1}, b, k)
	s.Run(s.Now().Add(time.Second))
	inversions := 0
	for i := 1; i < len(k.got); i++ {
		if k.got[i] < k.got[i-1] {
			inversions++
		}
	}
	st := l.Stats()
	if len(k.got) != 1000 || st.Reordered < 70 || st.Reordered > 130 || inversions < int(st.Reordered)/2 {
		t.Fatalf("received %d, reordered %d, inversions %d", len(k.got), st.Reordered, inversions)
	}
}

func TestRebind(t *testing.T) {
	// The client pings every 10 ms; the server echoes to whatever source
	// it saw.
	b := &blaster{size: 16, remaining: 100, interval: 10 * time.Millisecond}
	k := &sink{echo: true}
	s, _ := pair(t, 1, LinkConfig{Delay: 5 * time.Millisecond}, b, k)
	s.Run(s.Now().Add(200 * time.Millisecond))
	if err := s.Rebind(addrA, addrC); err != nil {
		t.Fatal(err)
	}
	if s.External(addrA) != addrC {
		t.Fatal("external address")
	}
	s.Run(s.Now().Add(2 * time.Second))
	if len(k.got) != 100 {
		t.Fatalf("server got %d", len(k.got))
	}
	var before, after int
	for i, f := range k.froms {
		switch f {
		case addrA:
			before++
			if k.times[i].After(DefaultStart.Add(205 * time.Millisecond)) {
				t.Fatalf("old address after rebinding")
			}
		case addrC:
			after++
		default:
			t.Fatalf("from %v", f)
		}
	}
	if before == 0 || after == 0 {
		t.Fatalf("before %d after %d", before, after)
	}
	// Echoes in flight to the old address were lost; the others arrive at
	// the client's local address.
	// (in flight: a link drop; sent after: the server's own no-route).
	lost := s.LinkBetween(addrB, addrA).Stats().Dropped[DropNoRoute] + s.Stats().NoRoute
	if len(b.received)+int(lost) != 100 || lost > 2 || lost == 0 {
		t.Fatalf("client got %d echoes, %d lost in the rebinding", len(b.received), lost)
	}
	for _, d := range b.received {
		if d.To != addrA || d.From != addrB {
			t.Fatalf("echo %v -> %v", d.From, d.To)
		}
	}
	// Errors.
	if s.Rebind(addrC, addrA) == nil || s.Rebind(addrA, addrB) == nil {
		t.Fatal("bad rebinding accepted")
	}
}

func TestPartition(t *testing.T) {
	b := &blaster{size: 16, remaining: 300, interval: 10 * time.Millisecond}
	k := &sink{}
	s, l := pair(t, 1, LinkConfig{Delay: 5 * time.Millisecond}, b, k)
	s.Run(s.Now().Add(time.Second))
	l.SetUp(false)
	s.Run(s.Now().Add(time.Second))
	mid := len(k.got)
	l.SetUp(true)
	s.Run(s.Now().Add(2 * time.Second))
	st := l.Stats()
	if st.Dropped[DropPartition] < 99 || st.Dropped[DropPartition] > 101 || mid > 102 || len(k.got) != 300-int(st.Dropped[DropPartition]) {
		t.Fatalf("partition drops %d, got %d at the cut, %d in the end", st.Dropped[DropPartition], mid, len(k.got))
	}
	if !l.Up() {
		t.Fatal("link down after healing")
	}
}

func TestNoRoute(t *testing.T) {
	s := New(nil)
	b := &blaster{from: addrA, to: addrC, size: 10, remaining: 3}
	s.AddNode(b, addrA)
	s.Run(s.Now().Add(time.Second))
	if s.Stats().NoRoute != 3 {
		t.Fatalf("no-route %d", s.Stats().NoRoute)
	}
	if s.AddNode(&sink{}, addrA) == nil || s.AddNode(&sink{}) == nil {
		t.Fatal("bad AddNode accepted")
	}
	// A default link connects unlinked addresses.
	s = New(&Options{DefaultLink: &LinkConfig{Delay: time.Millisecond}})
	k := &sink{}
	s.AddNode(&blaster{from: addrA, to: addrB, size: 10, remaining: 3}, addrA)
	s.AddNode(k, addrB)
	s.Run(s.Now().Add(time.Second))
	if len(k.got) != 3 {
		t.Fatalf("default link delivered %d", len(k.got))
	}
}

type stuck struct{ sink }

func (s *stuck) Timeout() time.Time { return DefaultStart }

func TestStalled(t *testing.T) {
	s := New(&Options{MaxEventsAtOnce: 1000})
	s.AddNode(&stuck{}, addrA)
	if err := s.Run(s.Now().Add(time.Second)); !errors.Is(err, ErrStalled) {
		t.Fatalf("timer loop: err %v", err)
	}
	// A node that always has one more datagram.
	s = New(&Options{MaxEventsAtOnce: 1000})
	s.AddNode(&blaster{from: addrA, to: addrB, size: 10, remaining: -1}, addrA)
	if err := s.Run(s.Now().Add(time.Second)); !errors.Is(err, ErrStalled) {
		t.Fatalf("poll loop: err %v", err)
	}
}

func TestRunUntil(t *testing.T) {
	b := &blaster{size: 16, remaining: 10, interval: 10 * time.Millisecond}
	k := &sink{}
	s, _ := pair(t, 1, LinkConfig{Delay: 5 * time.Millisecond}, b, k)
	if err := s.RunUntil(func() bool { return len(k.got) == 5 }, s.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := s.Now().Sub(DefaultStart); got != 45*time.Millisecond {
		t.Fatalf("stopped at %v", got)
	}
	if err := s.RunUntil(func() bool { return len(k.got) == 11 }, s.Now().Add(time.Second)); err == nil {
		t.Fatal("impossible condition met")
	}
}

func TestLinkConfigValidation(t *testing.T) {
	s := New(nil)
	for _, c := range []LinkConfig{{Loss: 1.5}, {Duplicate: -0.1}, {Reorder: math.NaN()}, {Delay: -1}, {Rate: -5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v accepted", c)
				}
			}()
			s.Link(addrA, addrB, c)
		}()
	}
}

// multi sends each datagram alternately from its two addresses, as a
// multipath endpoint does over two paths.
type multi struct {
	blaster
	addrs [2]netip.AddrPort
}

func (m *multi) Poll(now time.Time, buf []byte) (Datagram, bool) {
	d, ok := m.blaster.Poll(now, buf)
	d.From = m.addrs[m.seq%2]
	return d, ok
}

func TestMultipathNode(t *testing.T) {
	a2 := netip.MustParseAddrPort("[fd00::1]:4433")
	m := &multi{blaster: blaster{to: addrB, size: 32, remaining: 100, interval: time.Millisecond}, addrs: [2]netip.AddrPort{addrA, a2}}
	k := &sink{}
	s := New(&Options{Seed1: 9})
	if err := s.AddNode(m, addrA, a2); err != nil {
		t.Fatal(err)
	}
	s.AddNode(k, addrB)
	fast, _ := s.LinkBoth(addrA, addrB, LinkConfig{Delay: 5 * time.Millisecond})
	slow, _ := s.LinkBoth(a2, addrB, LinkConfig{Delay: 50 * time.Millisecond})
	s.Run(s.Now().Add(50 * time.Millisecond))
	fast.SetUp(false) // the first path dies; the second carries on
	s.Run(s.Now().Add(time.Second))
	var viaA, viaA2 int
	for _, f := range k.froms {
		switch f {
		case addrA:
			viaA++
		case a2:
			viaA2++
		}
	}
	if viaA2 != 50 || viaA < 24 || viaA > 26 || slow.Stats().Delivered != 50 || fast.Stats().Dropped[DropPartition] < 24 {
		t.Fatalf("via A %d, via A2 %d; fast %+v slow %+v", viaA, viaA2, fast.Stats(), slow.Stats())
	}
}

// ecnBlaster marks its datagrams ECT(0).
type ecnBlaster struct{ blaster }

func (b *ecnBlaster) Poll(now time.Time, buf []byte) (Datagram, bool) {
	d, ok := b.blaster.Poll(now, buf)
	d.ECN = ECNECT0
	return d, ok
}

type ecnSink struct {
	sink
	ecn [4]int
}

func (k *ecnSink) ReceiveECN(now time.Time, from, to netip.AddrPort, ecn uint8, d []byte) {
	k.ecn[ecn]++
	k.Receive(now, from, to, d)
}

func TestECNMarking(t *testing.T) {
	for _, tt := range []struct {
		name   string
		cfg    LinkConfig
		ect0   bool // some arrive ECT(0)
		ce     bool // some arrive CE
		notECT bool
	}{
		{"plain", LinkConfig{}, true, false, false},
		{"AQM marks above 10 kB", LinkConfig{Rate: 1e6, QueueBytes: 1 << 20, MarkCEAbove: 10000}, true, true, false},
		{"bleached", LinkConfig{Rate: 1e6, QueueBytes: 1 << 20, MarkCEAbove: 10000, BleachECN: true}, false, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &ecnBlaster{blaster{from: addrA, to: addrB, size: 1000, remaining: 100}}
			k := &ecnSink{}
			s := New(nil)
			s.AddNode(b, addrA)
			s.AddNode(k, addrB)
			l := s.Link(addrA, addrB, tt.cfg)
			s.Run(s.Now().Add(10 * time.Second))
			if (k.ecn[ECNECT0] > 0) != tt.ect0 || (k.ecn[ECNCE] > 0) != tt.ce || (k.ecn[ECNNotECT] > 0) != tt.notECT || len(k.got) != 100 {
				t.Fatalf("received by codepoint %v, total %d", k.ecn, len(k.got))
			}
			if tt.ce && (uint64(k.ecn[ECNCE]) != l.Stats().CEMarked || k.ecn[ECNECT0] < 10) {
				t.Fatalf("CE %d, marked %d, ECT0 %d", k.ecn[ECNCE], l.Stats().CEMarked, k.ecn[ECNECT0])
			}
		})
	}
}

func TestBottleneckShared(t *testing.T) {
	s := New(&Options{Seed1: 1})
	bn := s.NewBottleneck(10e6, 50000, 0)
	k := &sink{}
	s.AddNode(k, addrB)
	var links [2]*Link
	for i, a := range []netip.AddrPort{addrA, addrC} {
		// Each offers 8 Mbit/s: 1000 bytes every ms.
		s.AddNode(&blaster{from: a, to: addrB, size: 1000, remaining: 2000, interval: time.Millisecond}, a)
		links[i] = s.Link(a, addrB, LinkConfig{Delay: 5 * time.Millisecond, Bottleneck: bn})
	}
	s.Run(s.Now().Add(3 * time.Second))
	var bytes int
	from, to := DefaultStart.Add(500*time.Millisecond), DefaultStart.Add(1500*time.Millisecond)
	for _, at := range k.times {
		if !at.Before(from) && at.Before(to) {
			bytes += 1000
		}
	}
	if got := float64(bytes * 8); got < 0.98*10e6 || got > 1.02*10e6 {
		t.Fatalf("%.2f Mbit/s through a 10 Mbit/s bottleneck", got/1e6)
	}
	st := bn.Stats()
	drops := links[0].Stats().Dropped[DropQueue] + links[1].Stats().Dropped[DropQueue]
	if st.Dropped == 0 || st.Dropped != drops || st.Sent+st.Dropped != 4000 {
		t.Fatalf("bottleneck %+v, link queue drops %d", st, drops)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("zero-rate bottleneck accepted")
			}
		}()
		s.NewBottleneck(0, 0, 0)
	}()
}

func TestNATMappingTimeout(t *testing.T) {
	pub := netip.MustParseAddr("203.0.113.1")
	// The client (behind the NAT) pings every 10 ms for 100 ms, then
	// again after two seconds of silence; the server echoes each ping and
	// also sends its own datagram to the old mapping during the silence.
	b := &blaster{from: addrA, to: addrB, size: 16, remaining: 10, interval: 10 * time.Millisecond}
	k := &sink{echo: true}
	s, _ := pair(t, 1, LinkConfig{Delay: 5 * time.Millisecond}, b, k)
	if err := s.SetNAT(addrA, pub, time.Second); err != nil {
		t.Fatal(err)
	}
	first := s.External(addrA)
	if first.Addr() != pub {
		t.Fatalf("external %v", first)
	}
	s.Run(s.Now().Add(500 * time.Millisecond))
	if len(b.received) != 10 {
		t.Fatalf("echoes through the fresh mapping: %d", len(b.received))
	}
	// After the mapping expired, the server's datagram to it is dropped.
	s.Run(s.Now().Add(time.Second))
	k.pending = append(k.pending, Datagram{From: addrB, To: first, Data: make([]byte, 8)})
	s.Wake(k)
	s.Run(s.Now().Add(100 * time.Millisecond))
	if len(b.received) != 10 || s.Stats().NoRoute != 1 {
		t.Fatalf("expired mapping still delivers: %d received, %d no-route", len(b.received), s.Stats().NoRoute)
	}
	b.remaining = 5
	s.Wake(b)
	s.Run(s.Now().Add(time.Second))
	second := s.External(addrA)
	if second == first || second.Addr() != pub || s.Stats().NATRemaps != 1 {
		t.Fatalf("mapping %v after %v, remaps %d", second, first, s.Stats().NATRemaps)
	}
	if len(b.received) != 15 || k.froms[len(k.froms)-1] != second || k.froms[0] != first {
		t.Fatalf("received %d echoes; server saw %v then %v", len(b.received), k.froms[0], k.froms[len(k.froms)-1])
	}
	if s.SetNAT(addrC, pub, time.Second) == nil || s.SetNAT(addrA, pub, 0) == nil {
		t.Fatal("bad NAT accepted")
	}
}

func TestTrace(t *testing.T) {
	var events [3]int
	var reasons [numDropReasons]int
	s := New(&Options{Seed1: 2, Trace: func(e TraceEvent) {
		events[e.Kind]++
		if e.Kind == TraceDropped {
			reasons[e.Reason]++
		}
		if e.From != addrA || e.To != addrB || e.Size != 100 {
			t.Errorf("event %+v", e)
		}
	}})
	b := &blaster{from: addrA, to: addrB, size: 100, remaining: 1000}
	k := &sink{}
	s.AddNode(b, addrA)
	s.AddNode(k, addrB)
	l := s.Link(addrA, addrB, LinkConfig{Loss: 0.2, Rate: 1e6, QueueBytes: 20000})
	s.Run(s.Now().Add(time.Minute))
	st := l.Stats()
	if events[TraceSent] != 1000 || events[TraceDelivered] != len(k.got) || uint64(reasons[DropLoss]) != st.Dropped[DropLoss] ||
		uint64(reasons[DropQueue]) != st.Dropped[DropQueue] || uint64(events[TraceDropped]) != st.TotalDropped() {
		t.Fatalf("trace %v %v, stats %+v", events, reasons, st)
	}
}

func TestRemoveNode(t *testing.T) {
	// The client pings every 10 ms; the server goes away at 100 ms and a
	// new one comes up at its address at 300 ms.
	b := &blaster{size: 16, remaining: 50, interval: 10 * time.Millisecond}
	k := &sink{echo: true}
	s, _ := pair(t, 1, LinkConfig{Delay: 5 * time.Millisecond}, b, k)
	s.Run(s.Now().Add(100 * time.Millisecond))
	got := len(k.got)
	s.RemoveNode(k)
	s.Run(s.Now().Add(200 * time.Millisecond))
	if len(k.got) > got+1 {
		t.Fatalf("removed node received %d more", len(k.got)-got)
	}
	k2 := &sink{echo: true}
	if err := s.AddNode(k2, addrB); err != nil {
		t.Fatal(err)
	}
	s.Run(s.Now().Add(time.Second))
	if len(k2.got) < 19 || len(k2.got) > 21 {
		t.Fatalf("successor received %d", len(k2.got))
	}
	if s.Stats().NoRoute < 19 {
		t.Fatalf("no-route drops while nobody listened: %d", s.Stats().NoRoute)
	}
	s.RemoveNode(&sink{}) // unknown: nothing happens
}

func TestMappedAddresses(t *testing.T) {
	mapped := netip.AddrPortFrom(netip.AddrFrom16(addrB.Addr().As16()), addrB.Port())
	b := &blaster{from: addrA, to: mapped, size: 10, remaining: 3}
	k := &sink{}
	s := New(nil)
	s.AddNode(b, addrA)
	s.AddNode(k, addrB)
	s.Link(addrA, mapped, LinkConfig{})
	s.Run(s.Now().Add(time.Second))
	if len(k.got) != 3 || s.LinkBetween(addrA, addrB).Stats().Delivered != 3 {
		t.Fatalf("got %d through a link named by a mapped address", len(k.got))
	}
}
