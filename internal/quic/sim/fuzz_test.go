package sim

import (
	"encoding/binary"
	"testing"
	"time"
)

// FuzzLinkAccounting drives a link configured from arbitrary bytes (delay,
// jitter, loss, duplication, reordering, rate, queue, MTU, cuts) with
// datagrams of arbitrary sizes: no panic, and every datagram offered is
// accounted for: delivered (duplicates included) plus dropped equals sent
// plus duplicated.
func FuzzLinkAccounting(f *testing.F) {
	f.Add([]byte{10, 3, 20, 5, 5, 100, 200, 4, 0, 0, 50, 60, 70})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1, 2, 3})
	f.Add([]byte{1, 0, 128, 0, 0, 10, 1, 1, 1, 1, 200, 200, 200, 200})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 10 {
			return
		}
		p := func(b byte) float64 { return float64(b) / 255 }
		cfg := LinkConfig{
			Delay:             time.Duration(data[0]) * time.Millisecond,
			Jitter:            time.Duration(data[1]) * time.Millisecond,
			Loss:              p(data[2]),
			Duplicate:         p(data[3]),
			Reorder:           p(data[4]),
			Rate:              int64(data[5]) * 100_000,
			QueueBytes:        int(data[6]) * 512,
			MTU:               int(binary.BigEndian.Uint16(data[7:9])),
			DropInFlightOnCut: data[9]&1 != 0,
			MarkCEAbove:       int(data[9]) * 64,
		}
		s := New(&Options{Seed1: uint64(len(data)), Seed2: uint64(data[0])})
		b := &blaster{from: addrA, to: addrB, size: 1, remaining: 0, interval: time.Millisecond}
		k := &sink{}
		s.AddNode(b, addrA)
		s.AddNode(k, addrB)
		l := s.Link(addrA, addrB, cfg)
		for i, c := range data[10:] {
			b.size = 8 + int(c)*5
			b.remaining = 1 + int(c)%4
			if c%7 == 0 {
				l.SetUp(!l.Up())
			}
			s.Wake(b)
			if err := s.Run(s.Now().Add(time.Duration(i%5) * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		l.SetUp(true)
		if err := s.Run(s.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		st := l.Stats()
		if st.Delivered+st.TotalDropped() != st.Sent+st.Duplicated || uint64(len(k.got)) != st.Delivered {
			t.Fatalf("stats %+v, received %d", st, len(k.got))
		}
	})
}
