package iroh_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/relay/relaytest"
)

// TestSecondCloseWaitsForFirst: a Close that finds the endpoint closing
// returns only once it is closed: its UDP port is free again.
func TestSecondCloseWaitsForFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, _, _, _ := connectPair(t, ctx)
	port := a.LocalAddrs()[0]
	first := make(chan error, 1)
	go func() { first <- a.Close(ctx) }()
	// Let the first Close start; the second must not overtake it.
	for range 100 {
		if _, err := a.Connect(ctx, iroh.EndpointAddr{ID: iroh.NewSecretKey().Public(), Direct: []netip.AddrPort{port}}, "x"); errors.Is(err, iroh.ErrClosed) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(port))
	if err != nil {
		t.Fatalf("second Close returned while the port was still bound: %v", err)
	}
	pc.Close()
	if err := testutil.WaitFor(t, first, 20*time.Second, "first Close returning"); err != nil {
		t.Fatal(err)
	}
}

// TestSubscribePathsChannelCloses: the channel of a path subscription is
// closed when the subscription ends and when the endpoint closes.
func TestSubscribePathsChannelCloses(t *testing.T) {
	ep := bind(t)
	id := iroh.NewSecretKey().Public()
	ch, stop := ep.SubscribePaths(id)
	stop()
	stop() // twice is fine
	waitClosed(t, ch, "after stop")
	ch2, stop2 := ep.SubscribePaths(id)
	defer stop2()
	ep.Close(context.Background())
	waitClosed(t, ch2, "after the endpoint closed")
	ch3, stop3 := ep.SubscribePaths(id)
	defer stop3()
	waitClosed(t, ch3, "subscribed on a closed endpoint")
}

func waitClosed(t *testing.T, ch <-chan iroh.PathChanged, when string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("path channel not closed %s", when)
		}
	}
}

// TestConnectDoesNotWaitForNetReport: with a direct address to dial,
// Connect does not wait for the first net report, which here cannot end
// soon (its STUN server never answers).
func TestConnectDoesNotWaitForNetReport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	silent, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	a := bind(t, "echo/1")
	done := echoOnce(t, a)
	b, err := iroh.Bind(ctx, &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true, STUNServers: []string{silent.LocalAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	start := time.Now()
	c, err := b.Connect(ctx, a.Addr(), "echo/1")
	if err != nil {
		t.Fatal(err)
	}
	// Before the fix it waited up to 2 s for the report.
	if d := time.Since(start); d > 1900*time.Millisecond {
		t.Errorf("Connect to a direct address took %v", d)
	}
	c.Close(0, "")
	testutil.WaitFor(t, done, 30*time.Second, "echo server end")
}

// TestCloseReachesPeerThroughRelay: an endpoint's Close sends its
// CONNECTION_CLOSE through the relay before the relay client goes: the
// peer sees code 0 from the remote at once, not an idle timeout.
func TestCloseReachesPeerThroughRelay(t *testing.T) {
	r := relaytest.Start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := bindRelay(t, r.URL, true, "echo/1")
	b := bindRelay(t, r.URL, true)
	accepted := make(chan error, 1)
	go func() {
		_, err := a.Accept(ctx)
		accepted <- err
	}()
	c, err := b.Connect(ctx, iroh.EndpointAddr{ID: a.ID(), RelayURLs: []iroh.RelayURL{a.HomeRelay()}}, "echo/1")
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.WaitFor(t, accepted, 30*time.Second, "accept of the relayed connection"); err != nil {
		t.Fatalf("accept: %v", err)
	}
	start := time.Now()
	a.Close(ctx)
	select {
	case <-c.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the peer did not learn of the close")
	}
	var ae *iroh.ApplicationError
	if err := c.Err(); !errors.As(err, &ae) || !ae.Remote || ae.Code != 0 {
		t.Fatalf("peer's connection ended with %v", err)
	}
	t.Logf("close seen by the peer after %v", time.Since(start))
}

// TestAcceptorRepliesAtOnce: the endpoint that accepts learns the dialer's
// address from its authenticated disco ping, and its handshake replies go
// there at once rather than being dropped until its own ping round-trips
// (which cost a retransmission, about 1 s, before).
func TestAcceptorRepliesAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	a, err := iroh.Bind(ctx, &iroh.Options{ALPNs: []string{"echo/1"}, BindAddrV4: loopback4, DisableIPv6: true, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	done := echoOnce(t, a)
	b := bind(t)
	c, err := b.Connect(ctx, a.Addr(), "echo/1")
	if err != nil {
		t.Fatal(err)
	}
	c.Close(0, "")
	testutil.WaitFor(t, done, 30*time.Second, "echo server end")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "iroh_magicsock_dropped_packets_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "no_path" && counterValue(m) > 0 {
					t.Fatalf("the acceptor dropped %v packets for want of a path", counterValue(m))
				}
			}
		}
	}
}

// TestAcceptSeesConnectionClosedAtOnce: a connection whose peer closes it
// right after the handshake is still handed to Accept, with the peer's close
// as its error. Before, the endpoint dropped connections closed while waiting
// for Accept, so a few percent of them were never seen (and a test that
// waited for them hung).
func TestAcceptSeesConnectionClosedAtOnce(t *testing.T) {
	a := bind(t, "echo/1")
	b := bind(t)
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := b.Connect(ctx, a.Addr(), "echo/1")
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		c.Close(7, "at once")
		in, err := a.Accept(ctx)
		if err != nil {
			cancel()
			t.Fatalf("round %d: the connection closed at once was not accepted: %v", i, err)
		}
		select {
		case <-in.Context().Done():
		case <-ctx.Done():
		}
		cancel()
		var ae *iroh.ApplicationError
		if err := in.Err(); !errors.As(err, &ae) || ae.Code != 7 || !ae.Remote {
			t.Fatalf("round %d: accepted connection ended with %v, want the peer's code 7", i, err)
		}
	}
}
