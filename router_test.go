package iroh_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/iroh-go/iroh"
)

type blockingHandler struct {
	accepted chan struct{}
	shutdown atomic.Bool
	ctxDone  atomic.Bool
}

func (h *blockingHandler) Accept(ctx context.Context, c *iroh.Connection) error {
	h.accepted <- struct{}{}
	<-ctx.Done() // runs until the router shuts down
	h.ctxDone.Store(true)
	return nil
}

func (h *blockingHandler) Shutdown(ctx context.Context) error {
	h.shutdown.Store(true)
	return nil
}

func TestRouterDispatchAndShutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep, err := iroh.Bind(ctx, &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &blockingHandler{accepted: make(chan struct{}, 1)}
	echoed := make(chan string, 1)
	r := iroh.NewRouter(ep).
		Handle("block/1", h).
		Handle("echo/1", iroh.ProtocolHandlerFunc(func(ctx context.Context, c *iroh.Connection) error {
			s, err := c.AcceptStream(ctx)
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(s)
			echoed <- string(b)
			s.Write(b)
			return s.Close()
		}))
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err == nil {
		t.Fatal("second Start succeeded")
	}
	client := bind(t)
	c1, err := client.Connect(ctx, ep.Addr(), "block/1")
	if err != nil {
		t.Fatal(err)
	}
	<-h.accepted
	c2, err := client.Connect(ctx, ep.Addr(), "echo/1")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c2.OpenStream(ctx)
	s.Write([]byte("routed"))
	s.Close()
	if got := <-echoed; got != "routed" {
		t.Fatalf("echo handler got %q", got)
	}
	if _, err := client.Connect(ctx, ep.Addr(), "nobody/1"); err == nil || !strings.Contains(err.Error(), "ALPN") {
		t.Fatalf("unregistered ALPN: %v", err)
	}
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if err := r.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if !h.shutdown.Load() || !h.ctxDone.Load() {
		t.Fatalf("handler shutdown=%v ctxDone=%v", h.shutdown.Load(), h.ctxDone.Load())
	}
	select {
	case <-c1.Context().Done():
	case <-ctx.Done():
		t.Fatal("connection of the blocked handler still open after shutdown")
	}
}

// TestShutdownBounded: a handler that ignores its context does not make
// Shutdown hang past its deadline.
func TestShutdownBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep, err := iroh.Bind(ctx, &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	started := make(chan struct{})
	r := iroh.NewRouter(ep).Handle("stuck/1", iroh.ProtocolHandlerFunc(func(context.Context, *iroh.Connection) error {
		close(started)
		<-release
		return nil
	}))
	r.Start()
	client := bind(t)
	if _, err := client.Connect(ctx, ep.Addr(), "stuck/1"); err != nil {
		t.Fatal(err)
	}
	<-started
	sctx, scancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer scancel()
	start := time.Now()
	err = r.Shutdown(sctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown with a stuck handler: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("shutdown took %s", d)
	}
	close(release)
}

// TestPeerWithoutKeyRefused: a plain quic-go client with no certificate
// and a plain quic-go server with an ECDSA certificate are both refused.
func TestPeerWithoutKeyRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ep := bind(t, "x")
	// Own transports, closed before the test ends, so goleak sees no
	// quic-go goroutines left behind.
	tr := newTransport(t)
	qc, err := tr.Dial(ctx, net.UDPAddrFromAddrPort(ep.LocalAddrs()[0]),
		&tls.Config{InsecureSkipVerify: true, NextProtos: []string{"x"}}, nil)
	if err == nil {
		// The server refuses after our (missing) certificate: the
		// connection dies at once.
		select {
		case <-qc.Context().Done():
		case <-time.After(5 * time.Second):
			t.Fatal("certificate-less client kept its connection")
		}
	}

	// An ECDSA server.
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	ln, err := newTransport(t).Listen(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: priv}}, NextProtos: []string{"x"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			go func() { <-c.Context().Done() }()
		}
	}()
	addr := iroh.EndpointAddr{ID: iroh.NewSecretKey().Public(), Direct: []netip.AddrPort{ln.Addr().(*net.UDPAddr).AddrPort()}}
	defer ln.Close()
	_, err = ep.Connect(ctx, addr, "x")
	if err == nil || !strings.Contains(err.Error(), "want Ed25519") {
		t.Fatalf("ECDSA server: %v", err)
	}
}

func newTransport(t *testing.T) *quic.Transport {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: pc}
	t.Cleanup(func() { tr.Close(); pc.Close() })
	return tr
}
