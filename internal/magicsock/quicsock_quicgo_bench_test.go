package magicsock_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/magicsock"
	"github.com/iroh-go/iroh/internal/tlsconfig"
	"github.com/iroh-go/iroh/key"
)

// BenchmarkQUICGoStream is BenchmarkQUICStream's transfer with quic-go on
// the same magic sockets (through their net.PacketConn face, as the root
// package runs today), for comparison in the same run:
//
//	go test -run X -bench 'QUIC(Go)?Stream' -benchtime 3x ./internal/magicsock
func BenchmarkQUICGoStream(b *testing.B) {
	open := func() (*magicsock.Conn, key.SecretKey) {
		sk := key.NewSecretKey()
		c, err := magicsock.New(&magicsock.Options{
			SecretKey: sk,
			BindV4:    netip.MustParseAddrPort("127.0.0.1:0"),
			DisableV6: true,
			Logger:    slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		return c, sk
	}
	cs, ck := open()
	ss, sk := open()
	conf := &quicgo.Config{MaxIdleTimeout: 30 * time.Second}
	ctr, str := &quicgo.Transport{Conn: cs}, &quicgo.Transport{Conn: ss}
	b.Cleanup(func() {
		ctr.Close()
		str.Close()
		cs.Close()
		ss.Close()
	})
	scert, err := tlsconfig.Certificate(sk)
	if err != nil {
		b.Fatal(err)
	}
	ccert, err := tlsconfig.Certificate(ck)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := str.Listen(tlsconfig.Server(sk, scert, func() []string { return []string{quicALPN} }), conf)
	if err != nil {
		b.Fatal(err)
	}
	mapped, err := cs.AddRemote(endpointaddr.Addr{ID: sk.Public(), Direct: ss.LocalAddrs()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Second)
	defer cancel()
	accepted := make(chan *quicgo.Conn, 1)
	go func() {
		c, err := ln.Accept(ctx)
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err := ctr.Dial(ctx, mapped, tlsconfig.Client(ck, ccert, sk.Public(), []string{quicALPN}, nil), conf)
	if err != nil {
		b.Fatal(err)
	}
	server := <-accepted
	if server == nil {
		b.Fatal("accept failed")
	}
	defer client.CloseWithError(0, "")

	const size = 256 << 20
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
		s, err := client.OpenStreamSync(b.Context())
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
