package magicsock_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/transport"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay/relaytest"
)

// BenchmarkQUICStream moves 256 MiB over one stream of our QUIC between
// two transports in this process, on loopback: over two magic sockets
// with a direct path (magicsock), and over plain UDP sockets (udp, the
// baseline), in the same run; and 32 MiB relay-only through an in-process
// relay (magicsock-relay). MB/s is the figure to compare.
//
//	go test -run X -bench QUICStream -benchtime 3x ./internal/magicsock
func BenchmarkQUICStream(b *testing.B) {
	b.Run("magicsock", func(b *testing.B) {
		a, s := newEndpoint(b, sockMode{}), newEndpoint(b, sockMode{})
		client, server := dial(b, a, s, endpointaddr.Addr{ID: s.sk.Public(), Direct: s.sock.LocalAddrs()})
		benchStream(b, client, server, 256<<20)
	})
	b.Run("udp", func(b *testing.B) {
		client, server := udpPair(b)
		benchStream(b, client, server, 256<<20)
	})
	// Relay-only through an in-process relay: 32 MiB, as it is slower.
	b.Run("magicsock-relay", func(b *testing.B) {
		url := relaytest.URL(b)
		m := sockMode{relayURL: url, relayOnly: true}
		a, s := newEndpoint(b, m), newEndpoint(b, m)
		client, server := dial(b, a, s, endpointaddr.Addr{ID: s.sk.Public(), RelayURLs: []endpointaddr.RelayURL{endpointaddr.RelayURL(url)}})
		benchStream(b, client, server, 32<<20)
	})
}

// udpPair dials between two transports on plain UDP sockets.
func udpPair(b *testing.B) (client, server *transport.Conn) {
	sk, ck := key.NewSecretKey(), key.NewSecretKey()
	srv, err := transport.Listen("127.0.0.1:0", &transport.Options{Config: quic.Config{TLS: tls13.Config{SecretKey: sk, ALPNs: []string{quicALPN}}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	cli, err := transport.Listen("127.0.0.1:0", &transport.Options{Config: quic.Config{TLS: tls13.Config{SecretKey: ck, ALPNs: []string{quicALPN}}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var aerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		server, aerr = srv.Accept(ctx)
	}()
	client, err = cli.Dial(ctx, srv.LocalAddr(), sk.Public(), quicALPN)
	wg.Wait()
	if err != nil || aerr != nil {
		b.Fatal(err, aerr)
	}
	return client, server
}

func benchStream(b *testing.B, client, server *transport.Conn, size int) {
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
	b.SetBytes(int64(size))
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
		if n := <-done; n != int64(size) {
			b.Fatalf("received %d", n)
		}
	}
}
