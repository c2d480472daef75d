package transport

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/key"
)

// BenchmarkStream1Jumbo is BenchmarkStream1 with 16 KiB datagrams allowed
// (loopback carries them): what path MTU discovery reaches between two Go
// endpoints configured for it.
func BenchmarkStream1Jumbo(b *testing.B) {
	sk := key.NewSecretKey()
	cfg := func(k key.SecretKey) *Options {
		return &Options{Config: quic.Config{TLS: tls13.Config{SecretKey: k, ALPNs: []string{testALPN}}, MaxUDPPayloadSize: 16384}}
	}
	srv, err := Listen("127.0.0.1:0", cfg(sk))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cli, err := New(mustUDP(b), cfg(key.NewSecretKey()))
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	var server *Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); server, _ = srv.Accept(context.Background()) }()
	client, err := cli.Dial(b.Context(), srv.LocalAddr(), sk.Public(), testALPN)
	if err != nil {
		b.Fatal(err)
	}
	wg.Wait()
	const size = 64 << 20
	done := make(chan int64)
	go func() {
		for {
			s, err := server.AcceptStream(context.Background())
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
	for b.Loop() {
		s, _ := client.OpenStream(b.Context())
		for range size / len(chunk) {
			s.Write(chunk)
		}
		s.Close()
		<-done
	}
	b.ReportMetric(float64(client.Stats().MTU), "mtu")
	client.mu.Lock()
	b.Log(client.core.PMTUDStatsForTest())
	client.mu.Unlock()
}
