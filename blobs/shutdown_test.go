package blobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

// slowAcceptor's AcceptStream blocks until its context ends, then takes a
// while to return, as a connection with streams still finishing does.
type slowAcceptor struct {
	entered  chan struct{}
	returned atomic.Bool
}

func newSlowAcceptor() *slowAcceptor { return &slowAcceptor{entered: make(chan struct{}, 1)} }

func (a *slowAcceptor) AcceptStream(ctx context.Context) (*iroh.Stream, error) {
	select {
	case a.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	time.Sleep(200 * time.Millisecond)
	a.returned.Store(true)
	return nil, ctx.Err()
}

func (a *slowAcceptor) RemoteID() key.PublicKey { return key.PublicKey{1} }

// TestProviderShutdownWaits: Shutdown returns only after every ServeConn
// has returned, and ServeConn after Shutdown is refused.
func TestProviderShutdownWaits(t *testing.T) {
	p := blobs.NewProvider(mem.New(), nil)
	a := newSlowAcceptor()
	served := make(chan error, 1)
	go func() { served <- p.ServeConn(context.Background(), a) }()
	testutil.WaitFor(t, a.entered, 10*time.Second, "ServeConn calling AcceptStream")
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := p.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	if !a.returned.Load() {
		t.Fatal("Shutdown returned while a connection was still being served")
	}
	if err := testutil.WaitFor(t, served, 10*time.Second, "ServeConn returning after Shutdown"); err != nil {
		t.Fatalf("ServeConn: %v", err)
	}
	if err := p.ServeConn(context.Background(), newSlowAcceptor()); !errors.Is(err, blobs.ErrShutdown) {
		t.Fatalf("ServeConn after Shutdown: %v", err)
	}
	// Bounded by ctx.
	p2 := blobs.NewProvider(mem.New(), nil)
	a2 := newSlowAcceptor()
	go p2.ServeConn(context.Background(), a2)
	testutil.WaitFor(t, a2.entered, 10*time.Second, "second ServeConn calling AcceptStream")
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := p2.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a short ctx: %v", err)
	}
	p2.Shutdown(sctx)
}
