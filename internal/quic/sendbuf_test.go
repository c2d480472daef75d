package quic

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestSendBufLossyTransfer sends a random payload through a sendBuf whose
// frames are lost, acknowledged late, or acknowledged out of order, and
// checks that the receiver's view (the union of acknowledged frames) is
// the payload, that the FIN arrives, and that memory is released.
func TestSendBufLossyTransfer(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		payload := make([]byte, 200_000+rng.IntN(100_000))
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		var s sendBuf
		got := make([]byte, len(payload))
		type frame struct {
			off uint64
			n   int
			fin bool
		}
		var inflight []frame
		written := 0
		finGot := false
		for steps := 0; !s.done(); steps++ {
			if steps > 100000 {
				t.Fatalf("seed %d: no progress, acked to %d of %d", seed, s.ackedTo, len(payload))
			}
			if written < len(payload) && s.buffered() < 64<<10 {
				n := min(len(payload)-written, rng.IntN(5000)+1)
				s.write(payload[written : written+n])
				written += n
				if written == len(payload) {
					s.close()
				}
			}
			limit := uint64(written)
			if off, n, fin, ok := s.next(1+rng.IntN(1400), limit); ok {
				buf := make([]byte, n)
				s.read(off, buf)
				if !bytes.Equal(buf, payload[off:off+uint64(n)]) {
					t.Fatalf("seed %d: frame at %d has wrong bytes", seed, off)
				}
				inflight = append(inflight, frame{off, n, fin})
			}
			for len(inflight) > 0 && rng.IntN(3) == 0 {
				i := rng.IntN(len(inflight))
				f := inflight[i]
				inflight = append(inflight[:i], inflight[i+1:]...)
				if rng.IntN(5) == 0 {
					s.onLost(f.off, f.n, f.fin)
					if rng.IntN(3) == 0 { // spuriously lost: acknowledged after all
						copy(got[f.off:], payload[f.off:f.off+uint64(f.n)])
						finGot = finGot || f.fin
						s.onAck(f.off, f.n, f.fin)
					}
					continue
				}
				copy(got[f.off:], payload[f.off:f.off+uint64(f.n)])
				finGot = finGot || f.fin
				s.onAck(f.off, f.n, f.fin)
			}
		}
		if !bytes.Equal(got, payload) || !finGot {
			t.Fatalf("seed %d: received data differs (fin %v)", seed, finGot)
		}
		if a := s.data.allocated(); a != 0 {
			t.Fatalf("seed %d: %d bytes still allocated", seed, a)
		}
	}
}

func TestSendBufFlowLimit(t *testing.T) {
	var s sendBuf
	s.write(make([]byte, 1000))
	off, n, _, ok := s.next(1200, 300)
	if !ok || off != 0 || n != 300 {
		t.Fatalf("got %d+%d %v", off, n, ok)
	}
	if s.hasData(300) {
		t.Fatal("data past the limit")
	}
	if _, _, _, ok := s.next(1200, 300); ok {
		t.Fatal("sent past the limit")
	}
	s.onLost(0, 300, false)
	if off, n, _, ok := s.next(100, 300); !ok || off != 0 || n != 100 {
		t.Fatalf("retransmission %d+%d %v", off, n, ok)
	}
}

func TestSendBufEmptyFin(t *testing.T) {
	var s sendBuf
	s.close()
	off, n, fin, ok := s.next(0, 0)
	if !ok || off != 0 || n != 0 || !fin {
		t.Fatalf("got %d+%d fin %v ok %v", off, n, fin, ok)
	}
	s.onLost(0, 0, true)
	if _, _, fin, ok := s.next(0, 0); !ok || !fin {
		t.Fatal("lost FIN not resent")
	}
	s.onAck(0, 0, true)
	if !s.done() {
		t.Fatal("not done")
	}
}
