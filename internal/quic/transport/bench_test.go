package transport

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/key"
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

// BenchmarkConnectEcho: dial, open a stream, echo one byte, close (the
// figure Rust iroh 1.0 does in about 2.7 ms on loopback).
func BenchmarkConnectEcho(b *testing.B) {
	sk := key.NewSecretKey()
	srv, err := Listen("127.0.0.1:0", &Options{Config: quic.Config{TLS: tls13.Config{SecretKey: sk, ALPNs: []string{testALPN}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				s, err := c.AcceptStream(context.Background())
				if err != nil {
					return
				}
				io.Copy(s, s)
				s.Close()
			}()
		}
	}()
	cli, err := New(mustUDP(b), &Options{Config: quic.Config{TLS: tls13.Config{SecretKey: key.NewSecretKey(), ALPNs: []string{testALPN}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	one := []byte{42}
	for b.Loop() {
		c, err := cli.Dial(b.Context(), srv.LocalAddr(), sk.Public(), testALPN)
		if err != nil {
			b.Fatal(err)
		}
		s, _ := c.OpenStream(b.Context())
		s.Write(one)
		s.Close()
		if got, err := io.ReadAll(s); err != nil || len(got) != 1 {
			b.Fatalf("echo %v %v", got, err)
		}
		c.Close(0, "")
	}
}

// BenchmarkIdleConnMemory reports the heap each idle connection holds on
// both sides together; run it with -benchtime 1x (later iterations see the
// previous one's connections still closing).
func BenchmarkIdleConnMemory(b *testing.B) {
	sk := key.NewSecretKey()
	srv, err := Listen("127.0.0.1:0", &Options{Config: quic.Config{TLS: tls13.Config{SecretKey: sk, ALPNs: []string{testALPN}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	cli, err := New(mustUDP(b), &Options{Config: quic.Config{TLS: tls13.Config{SecretKey: key.NewSecretKey(), ALPNs: []string{testALPN}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	const n = 200
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var conns []*Conn
		for range n {
			c, err := cli.Dial(b.Context(), srv.LocalAddr(), sk.Public(), testALPN)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := srv.Accept(b.Context()); err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-bytes/conn")
		for _, c := range conns {
			c.Close(0, "")
		}
	}
}

func mustUDP(b testing.TB) *UDPSocket {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	return NewUDPSocket(c)
}
