package recovery

import (
	"encoding/binary"
	"testing"
	"time"
)

// FuzzOnAck feeds ACK ranges decoded from arbitrary bytes (as a buggy or
// hostile peer could send them) to a tracker with packets in flight: no
// panic, bytes in flight never negative, and the accounting stays
// consistent.
func FuzzOnAck(f *testing.F) {
	seed := func(rs ...AckRange) []byte {
		var b []byte
		for _, r := range rs {
			b = binary.LittleEndian.AppendUint16(b, uint16(r.Largest))
			b = binary.LittleEndian.AppendUint16(b, uint16(r.Largest-r.Smallest))
		}
		return b
	}
	f.Add(seed(AckRange{0, 9}))
	f.Add(seed(AckRange{50, 60}, AckRange{3, 40}))
	f.Add(seed(AckRange{99, 99}, AckRange{7, 7}, AckRange{0, 0}))
	f.Add(seed(AckRange{200, 300}))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := New(&Options{PathOnly: true, MaxTracked: 256})
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		for pn := uint64(0); pn < 200; pn += 1 + pn%3 {
			r.OnSent(now, Application, SentPacket{Number: pn, Size: 1200, AckEliciting: pn%5 != 0, InFlight: true})
			now = now.Add(ms)
		}
		var res AckResult
		ranges := make([]AckRange, 0, 8)
		for len(data) >= 4 {
			largest := uint64(binary.LittleEndian.Uint16(data))
			span := uint64(binary.LittleEndian.Uint16(data[2:]))
			data = data[4:]
			small := uint64(0)
			if span <= largest {
				small = largest - span
			}
			ranges = append(ranges, AckRange{Smallest: small, Largest: largest})
			if len(ranges) == cap(ranges) || len(data) < 4 {
				now = now.Add(10 * ms)
				r.OnAck(now, Application, &Ack{Ranges: ranges, Delay: time.Duration(largest) * time.Microsecond}, &res)
				ranges = ranges[:0]
				r.HandleTimeout(now.Add(time.Second), &res)
			}
			if r.BytesInFlight() < 0 || r.Window() < 2*1200 {
				t.Fatalf("in flight %d window %d", r.BytesInFlight(), r.Window())
			}
		}
		if got := len(res.Acked) + len(res.Lost) + r.Outstanding(Application); got != 134 {
			t.Fatalf("acked %d + lost %d + outstanding %d != 134 sent", len(res.Acked), len(res.Lost), r.Outstanding(Application))
		}
	})
}
