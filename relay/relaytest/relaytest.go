// Package relaytest starts an in-process iroh relay on 127.0.0.1 for tests
// of other packages:
//
//	relayURL := relaytest.Start(t, nil).URL
//
// The relay is a relayserver.Server on plain HTTP (as the relay command's
// --dev mode); it is shut down in t.Cleanup, and waits for its goroutines,
// so goleak stays quiet.
package relaytest

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/iroh-go/iroh/relay/relayserver"
)

// Relay is a running in-process relay.
type Relay struct {
	// URL is the relay URL as in tickets, "http://127.0.0.1:PORT/".
	URL string
	// Addr is the listening address.
	Addr string
	// Server is the relay server.
	Server *relayserver.Server
}

// Start starts a relay with opts (nil: defaults; a nil Logger discards
// logs) listening on
// 127.0.0.1:0 and registers its shutdown with t.Cleanup. It fails the test
// if the relay cannot start.
func Start(t testing.TB, opts *relayserver.Options) *Relay {
	t.Helper()
	var o relayserver.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := relayserver.New(&o)
	if err != nil {
		t.Fatalf("relaytest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("relaytest: listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	scheme := "http"
	if opts != nil && opts.TLSConfig != nil {
		scheme = "https"
	}
	return &Relay{URL: scheme + "://" + ln.Addr().String() + "/", Addr: ln.Addr().String(), Server: srv}
}

// URL starts a default relay (see Start) and returns its URL.
func URL(t testing.TB) string {
	t.Helper()
	return Start(t, nil).URL
}
