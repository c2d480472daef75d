package recovery

import (
	"testing"
	"time"
)

// steady is a sender in steady state: window packets in flight, each step
// sends one and acknowledges the oldest with an ACK frame of two ranges
// (so the search, not only the fast path, runs).
type steady struct {
	r      *Recovery
	now    time.Time
	next   uint64 // next packet number to send
	acked  uint64 // packets below are acknowledged
	ranges [2]AckRange
	res    AckResult
}

func newSteady(tb testing.TB, window int, alg Algorithm) *steady {
	s := &steady{r: newRec(tb, &Options{PathOnly: true, Algorithm: alg, MaxTracked: 2 * window}), now: t0}
	s.res.Acked = make([]SentPacket, 0, 16)
	s.res.Lost = make([]SentPacket, 0, 16)
	for range window {
		s.send()
	}
	return s
}

func (s *steady) send() {
	s.now = s.now.Add(time.Microsecond)
	if err := s.r.OnSent(s.now, Application, SentPacket{Number: s.next, Size: 1200, Token: s.next, AckEliciting: true, InFlight: true}); err != nil {
		panic(err)
	}
	s.next++
}

func (s *steady) step() {
	s.send()
	s.res.Reset()
	// ACK [acked, acked] plus an older already-acknowledged range.
	s.ranges[0] = AckRange{Smallest: s.acked, Largest: s.acked}
	s.ranges[1] = AckRange{Smallest: 0, Largest: 0}
	ranges := s.ranges[:1]
	if s.acked > 1 {
		ranges = s.ranges[:2]
	}
	ack := Ack{Ranges: ranges}
	if err := s.r.OnAck(s.now, Application, &ack, &s.res); err != nil {
		panic(err)
	}
	s.acked++
}

func TestAllocsSteadyState(t *testing.T) {
	for _, alg := range []Algorithm{NewReno, CUBIC} {
		t.Run(alg.String(), func(t *testing.T) {
			s := newSteady(t, 1000, alg)
			for range 2000 {
				s.step() // the ring reaches its size
			}
			if a := testing.AllocsPerRun(1000, s.step); a != 0 {
				t.Errorf("%v allocations per send+ACK", a)
			}
			if a := testing.AllocsPerRun(1000, func() { s.r.SendBudget(s.now); s.r.LossDetectionTimeout() }); a != 0 {
				t.Errorf("%v allocations per budget+timer query", a)
			}
			if s.r.Tracked(Application) > 1001 {
				t.Errorf("tracking %d packets", s.r.Tracked(Application))
			}
		})
	}
}

// BenchmarkAckWindow10000 acknowledges one packet per ACK while 10,000 are
// in flight, sending one more each time (a sliding window).
func BenchmarkAckWindow10000(b *testing.B) {
	s := newSteady(b, 10000, CUBIC)
	b.ReportAllocs()
	for b.Loop() {
		s.step()
	}
}

// BenchmarkAckManyRanges acknowledges a window of 10,000 packets with ACK
// frames of 32 ranges, every 16th packet missing (declared lost).
func BenchmarkAckManyRanges(b *testing.B) {
	r := newRec(b, &Options{PathOnly: true, MaxTracked: 1 << 15})
	var res AckResult
	res.Acked = make([]SentPacket, 0, 1024)
	res.Lost = make([]SentPacket, 0, 1024)
	ranges := make([]AckRange, 0, 32)
	now := t0
	var next uint64
	b.ReportAllocs()
	for b.Loop() {
		base := next
		for range 10000 {
			now = now.Add(time.Microsecond)
			r.OnSent(now, Application, SentPacket{Number: next, Size: 1200, AckEliciting: true, InFlight: true})
			next++
		}
		// Acknowledge in ACKs of 32 ranges of 15 packets.
		for lo := base; lo+512 <= next; lo += 512 {
			ranges = ranges[:0]
			for i := 31; i >= 0; i-- {
				s := lo + uint64(i)*16
				ranges = append(ranges, AckRange{Smallest: s, Largest: s + 14})
			}
			res.Reset()
			if err := r.OnAck(now, Application, &Ack{Ranges: ranges}, &res); err != nil {
				b.Fatal(err)
			}
		}
		// The tail in one range; whatever remains is lost by time.
		res.Reset()
		if err := r.OnAck(now, Application, &Ack{Ranges: []AckRange{{Smallest: next - 10000 + 19*512, Largest: next - 1}}}, &res); err != nil {
			b.Fatal(err)
		}
		res.Reset()
		now = now.Add(time.Hour)
		r.HandleTimeout(now, &res)
		if r.BytesInFlight() != 0 {
			b.Fatalf("%d bytes in flight", r.BytesInFlight())
		}
	}
	b.ReportMetric(10000, "packets/op")
}
