package transport

import (
	"io"
	"testing"
)

// BenchmarkStream1 moves data over one stream between our client and
// server on loopback UDP (both in this process).
func BenchmarkStream1(b *testing.B) {
	client, server := pair(b)
	const size = 64 << 20
	done := make(chan int64)
	go func() {
		for {
			s, err := server.AcceptStream(b.Context())
			if err != nil {
				return
			}
			n, _ := io.Copy(io.Discard, s)
			s.Close()
			done <- n
		}
	}()
	chunk := make([]byte, 1<<20)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		s, err := client.OpenStream(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		for range size / len(chunk) {
			if _, err := s.Write(chunk); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
		if n := <-done; n != size {
			b.Fatalf("received %d", n)
		}
	}
}
