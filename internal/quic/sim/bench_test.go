package sim

import (
	"testing"
	"time"
)

// BenchmarkDatagram is the cost of one datagram through a delayed,
// rate-limited link: poll, link decisions, event queue, delivery.
func BenchmarkDatagram(b *testing.B) {
	bl := &blaster{size: 1200, interval: time.Microsecond}
	k := &sink{}
	s := New(&Options{Seed1: 1})
	bl.from, bl.to = addrA, addrB
	s.AddNode(bl, addrA)
	s.AddNode(k, addrB)
	s.LinkBoth(addrA, addrB, LinkConfig{Delay: 10 * time.Millisecond, Rate: 10e9, Loss: 0.01})
	b.ReportAllocs()
	for b.Loop() {
		bl.remaining = 1
		s.Wake(bl)
		s.Run(s.Now().Add(time.Microsecond))
		if len(k.got) > 1<<16 {
			k.got, k.times, k.froms = k.got[:0], k.times[:0], k.froms[:0]
		}
	}
}
