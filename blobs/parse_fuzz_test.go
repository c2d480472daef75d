package blobs_test

import (
	"bytes"
	"testing"

	"github.com/iroh-go/iroh/blobs"
)

// FuzzParseHashSeq: a hash sequence arrives from providers (collections).
// No panic; what parses re-encodes to the same bytes.
func FuzzParseHashSeq(f *testing.F) {
	a, b := blobs.ComputeHash([]byte("a")), blobs.ComputeHash([]byte("b"))
	f.Add(blobs.HashSeq{a, b}.Bytes())
	f.Add([]byte{})
	f.Add(make([]byte, 33))
	f.Fuzz(func(t *testing.T, in []byte) {
		// Past a few hashes a longer input only runs the same loop again.
		// Parsing at most 4 (and a partial one) keeps the fuzzer from
		// growing inputs of many KB for new loop-count coverage: each took
		// up to a minute to minimize (892 execs/s over a CPU-minute).
		in = in[:min(len(in), 4*blobs.HashSize+7)]
		s, err := blobs.ParseHashSeq(in)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Bytes(), in) {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzParseHashAndFormat: the text form (tickets, CLI, gateway URLs) and
// the binary form (tags, requests). No panic; round trips are exact.
func FuzzParseHashAndFormat(f *testing.F) {
	h := blobs.ComputeHash([]byte("x"))
	for _, hf := range []blobs.HashAndFormat{{Hash: h, Format: blobs.Raw}, {Hash: h, Format: blobs.HashSeqFormat}} {
		f.Add(hf.String(), hf.AppendBinary(nil))
	}
	f.Add("", []byte{})
	f.Add("s", []byte{2})
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		if hf, err := blobs.ParseHashAndFormat(s); err == nil {
			back, err := blobs.ParseHashAndFormat(hf.String())
			if err != nil || back != hf {
				t.Fatalf("text round trip of %q: %v", s, err)
			}
		}
		if hf, n, err := blobs.ParseHashAndFormatBinary(b); err == nil {
			if n > len(b) {
				t.Fatalf("consumed %d of %d bytes", n, len(b))
			}
			if !bytes.Equal(hf.AppendBinary(nil), b[:n]) {
				t.Fatal("binary re-encoding differs")
			}
		}
	})
}
