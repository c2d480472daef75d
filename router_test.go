package iroh_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/internal/testutil"
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
	testutil.WaitFor(t, h.accepted, 10*time.Second, "block/1 handler called")
	c2, err := client.Connect(ctx, ep.Addr(), "echo/1")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c2.OpenStream(ctx)
	s.Write([]byte("routed"))
	s.Close()
	if got := testutil.WaitFor(t, echoed, 10*time.Second, "echo/1 handler reading the stream"); got != "routed" {
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
	testutil.WaitFor(t, started, 10*time.Second, "stuck/1 handler called")
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

// earlyEcho echoes one stream per connection and opts in to 0-RTT.
type earlyEcho struct{}

func (earlyEcho) Accept(ctx context.Context, c *iroh.Connection) error {
	s, err := c.AcceptStream(ctx)
	if err != nil {
		return err
	}
	io.Copy(s, s)
	return s.Close()
}

func (earlyEcho) AcceptsEarlyData() bool { return true }

// TestRouterEarlyDataOptIn: the Router allows 0-RTT on the ALPNs of
// handlers that implement EarlyDataHandler, and only on those.
func TestRouterEarlyDataOptIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ep := bind(t)
	r := iroh.NewRouter(ep).
		Handle("early/1", earlyEcho{}).
		Handle("late/1", iroh.ProtocolHandlerFunc(earlyEcho{}.Accept))
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second) // a stuck handler fails, not hangs
		defer scancel()
		r.Shutdown(sctx)
	}()
	client := bind(t)
	for _, alpn := range []string{"early/1", "late/1"} {
		for i := range 2 {
			c, err := client.ConnectEarly(ctx, ep.Addr(), alpn)
			if err != nil {
				t.Fatal(err)
			}
			s, err := c.OpenStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			bound(s)
			s.Write([]byte("hi"))
			s.Close()
			if got, err := io.ReadAll(s); string(got) != "hi" {
				t.Fatalf("%s round %d: %q, %v", alpn, i, got, err)
			}
			want := i == 1 && alpn == "early/1"
			if c.Used0RTT() != want {
				t.Errorf("%s round %d: 0-RTT %v, want %v", alpn, i, c.Used0RTT(), want)
			}
			c.Close(0, "")
		}
	}
}
