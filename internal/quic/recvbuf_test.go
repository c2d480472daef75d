package quic

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestRecvBufReassembly(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 3))
		payload := make([]byte, 100_000+rng.IntN(200_000))
		for i := range payload {
			payload[i] = byte(rng.Uint32())
		}
		// Frames of random sizes, shuffled, some duplicated and
		// overlapping, delivered with a window of 64 KiB ahead of the
		// reader.
		type frame struct{ off, end int }
		var frames []frame
		for off := 0; off < len(payload); {
			n := min(1+rng.IntN(3000), len(payload)-off)
			frames = append(frames, frame{off, off + n})
			if rng.IntN(8) == 0 && off > 500 {
				frames = append(frames, frame{off - 500, off + n/2})
			}
			off += n
		}
		var r recvBuf
		var out []byte
		buf := make([]byte, 7000)
		const window = 64 << 10
		var total uint64
		for len(out) < len(payload) {
			progress := false
			// Deliver any frame inside the window, in random order.
			rng.Shuffle(len(frames), func(i, j int) { frames[i], frames[j] = frames[j], frames[i] })
			kept := frames[:0]
			for _, f := range frames {
				if uint64(f.end) > r.readTo+window || rng.IntN(3) == 0 {
					kept = append(kept, f)
					continue
				}
				grew, err := r.push(uint64(f.off), payload[f.off:f.end], f.end == len(payload), r.readTo+window, FlowControlError)
				if err != nil {
					t.Fatalf("seed %d: push %v: %v", seed, f, err)
				}
				total += grew
				progress = true
				if rng.IntN(4) == 0 {
					kept = append(kept, f) // delivered again later
				}
			}
			frames = kept
			n, _ := r.read(buf[:1+rng.IntN(len(buf)-1)])
			out = append(out, buf[:n]...)
			if n == 0 && !progress && len(frames) == 0 {
				t.Fatalf("seed %d: stuck at %d of %d", seed, len(out), len(payload))
			}
			if a := r.data.allocated(); a > window+2*chunkSize {
				t.Fatalf("seed %d: %d bytes buffered with a %d window", seed, a, window)
			}
		}
		if !bytes.Equal(out, payload) {
			t.Fatalf("seed %d: reassembled data differs", seed)
		}
		if total != uint64(len(payload)) || !r.finished() {
			t.Fatalf("seed %d: counted %d of %d, finished %v", seed, total, len(payload), r.finished())
		}
	}
}

func TestRecvBufErrors(t *testing.T) {
	code := func(err *TransportError) TransportErrorCode {
		if err == nil {
			return NoError
		}
		return err.Code
	}
	var r recvBuf
	if _, err := r.push(90, make([]byte, 20), false, 100, FlowControlError); code(err) != FlowControlError {
		t.Fatalf("past the limit: %v", err)
	}
	if _, err := r.push(0, make([]byte, 20), false, 100, CryptoBufferExceeded); err != nil {
		t.Fatal(err)
	}
	if _, err := r.push(10, nil, true, 100, FlowControlError); code(err) != FinalSizeError {
		t.Fatalf("final size below received data: %v", err)
	}
	if _, err := r.push(30, nil, true, 100, FlowControlError); err != nil {
		t.Fatal(err)
	}
	if _, err := r.push(25, make([]byte, 10), false, 100, FlowControlError); code(err) != FinalSizeError {
		t.Fatalf("data past the final size: %v", err)
	}
	if _, err := r.push(20, make([]byte, 11), true, 100, FlowControlError); code(err) != FinalSizeError {
		t.Fatalf("final size changed: %v", err)
	}
	var te *TransportError
	_, err := r.push(1<<62-5, make([]byte, 10), false, 1<<63, FlowControlError)
	if !errors.As(error(err), &te) || te.Code != FrameEncodingError {
		t.Fatalf("offset overflow: %v", err)
	}
}

func TestRecvBufGapsBounded(t *testing.T) {
	var r recvBuf
	var err *TransportError
	for i := uint64(0); i < 4*maxRecvGaps && err == nil; i++ {
		_, err = r.push(2*i+1, []byte{1}, false, 1<<20, FlowControlError)
	}
	if err == nil || err.Code != InternalError {
		t.Fatalf("no error for %d gaps: %v", r.received.numRanges(), err)
	}
	r.free()
}

// FuzzRecvBuf pushes frames decoded from the input (offset, length, fin)
// carrying bytes that are a function of their offset, and checks that
// whatever is read is exactly those bytes, memory stays bounded, and
// nothing panics.
func FuzzRecvBuf(f *testing.F) {
	f.Add([]byte{0, 0, 10, 0, 10, 0, 20, 1})
	f.Add([]byte{0, 200, 255, 1, 0, 0, 255, 0, 0, 10, 5, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var r recvBuf
		const limit = 1 << 16
		buf := make([]byte, 1000)
		var readTo uint64
		for len(in) >= 4 {
			off := uint64(in[0])<<8 | uint64(in[1])
			n := int(in[2]) * 3
			fin := in[3]&1 == 1
			in = in[4:]
			p := make([]byte, n)
			for i := range p {
				p[i] = byte(off + uint64(i))
			}
			if _, err := r.push(off, p, fin, limit, FlowControlError); err != nil {
				return
			}
			m, _ := r.read(buf)
			for i := range m {
				if buf[i] != byte(readTo+uint64(i)) {
					t.Fatalf("byte at %d is %d", readTo+uint64(i), buf[i])
				}
			}
			readTo += uint64(m)
			if r.data.allocated() > limit+chunkSize {
				t.Fatalf("%d bytes allocated", r.data.allocated())
			}
		}
		r.free()
	})
}
