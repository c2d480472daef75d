package relayserver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
	"github.com/iroh-go/iroh/relay/internal/ws"
	"github.com/iroh-go/iroh/relay/relayserver"
	"github.com/iroh-go/iroh/relay/relaytest"
)

// startServer starts a relay like relaytest.Start, with hook applied to
// the server before it accepts anything.
func startServer(t *testing.T, opts *relayserver.Options, hook func(*relayserver.Server)) (*relayserver.Server, net.Listener, string) {
	t.Helper()
	srv, err := relayserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(srv)
	}
	ln := listen(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return srv, ln, "http://" + ln.Addr().String() + "/"
}

func TestDuplicateEndpointID(t *testing.T) {
	for _, proto := range []string{relay.ProtocolV2, relay.ProtocolV1} {
		t.Run(proto, func(t *testing.T) {
			r := relaytest.Start(t, nil)
			sender := newTestClient(t, r.URL, nil)
			waitConnected(t, sender)
			sk := key.NewSecretKey()
			first, _ := dialRaw(t, r.Addr, proto, nil, nil)
			if f := first.auth(sk); f.Type != relay.FrameServerConfirmsAuth {
				t.Fatalf("first: %s", f.Type)
			}
			second, _ := dialRaw(t, r.Addr, proto, nil, nil)
			if f := second.auth(sk); f.Type != relay.FrameServerConfirmsAuth {
				t.Fatalf("second: %s", f.Type)
			}
			// The first connection is told it was taken over.
			checkStatus := func(rc *rawConn, code uint8, text string) {
				t.Helper()
				if proto == relay.ProtocolV2 {
					f := rc.readUntil(relay.FrameStatus)
					if f.Status != code {
						t.Fatalf("status %d, want %d", f.Status, code)
					}
				} else {
					f := rc.readUntil(relay.FrameHealth)
					if string(f.Text) != text {
						t.Fatalf("health %q, want %q", f.Text, text)
					}
				}
			}
			checkStatus(first, relay.StatusSameEndpointIDConnected, "Another endpoint connected with the same endpoint id. No more messages will be received.")
			// Datagrams go to the newest (active) connection only.
			sender.Send(sk.Public(), 0, 0, []byte("to-second"))
			if f := second.readUntil(relay.FrameRelayToClientDatagram); string(f.Contents) != "to-second" || f.Key != sender.id() {
				t.Fatalf("second got %q from %s", f.Contents, f.Key.ShortString())
			}
			// The active one leaves: the first is promoted and told so.
			second.nc.Close()
			checkStatus(first, relay.StatusHealthy, "The connection is healthy and has recovered from previous problems")
			sender.Send(sk.Public(), 0, 0, []byte("to-first"))
			// The first must see "to-first" as its first datagram ever.
			if f := first.readUntil(relay.FrameRelayToClientDatagram); string(f.Contents) != "to-first" {
				t.Fatalf("first got %q", f.Contents)
			}
		})
	}
}

func TestEndpointGone(t *testing.T) {
	r := relaytest.Start(t, nil)
	a := newTestClient(t, r.URL, nil)
	b := newTestClient(t, r.URL, nil)
	c := newTestClient(t, r.URL, nil)
	waitConnected(t, a, b, c)
	a.Send(b.id(), 0, 0, []byte("hi"))
	b.expect(t, 5*time.Second)
	// c never sent to b: its leaving is not reported to b.
	c.Close()
	a.Close()
	select {
	case id := <-b.gone:
		if id != a.id() {
			t.Fatalf("EndpointGone(%s), want %s", id.ShortString(), a.id().ShortString())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no EndpointGone")
	}
	select {
	case id := <-b.gone:
		t.Fatalf("unexpected EndpointGone(%s)", id.ShortString())
	case <-time.After(100 * time.Millisecond):
	}
}

func TestRateLimitFloodDoesNotStarveOthers(t *testing.T) {
	const rateBps, burst = 200_000, 20_000
	r := relaytest.Start(t, &relayserver.Options{RateLimit: relayserver.RateLimit{BytesPerSecond: rateBps, MaxBurstBytes: burst}})
	m := r.Server.Metrics()
	flooder := newTestClient(t, r.URL, nil)
	victim := newTestClient(t, r.URL, nil)
	c := newTestClient(t, r.URL, nil)
	d := newTestClient(t, r.URL, nil)
	waitConnected(t, flooder, victim, c, d)

	ctx, cancel := context.WithCancel(t.Context())
	floodDone := make(chan struct{})
	payload := make([]byte, 1200)
	go func() {
		defer close(floodDone)
		for ctx.Err() == nil {
			for range 50 {
				flooder.Send(victim.id(), 0, 0, payload)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	start := time.Now()
	// While the flood runs, c's datagrams to d arrive promptly.
	var worst time.Duration
	for i := range 20 {
		t0 := time.Now()
		c.Send(d.id(), 0, 0, []byte{byte(i)})
		got := d.expect(t, 2*time.Second)
		if got.contents[0] != byte(i) {
			t.Fatalf("d got %d, want %d", got.contents[0], i)
		}
		worst = max(worst, time.Since(t0))
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-floodDone
	elapsed := time.Since(start)
	// The flood got through at about the limit, no more.
	n := len(victim.recv)
	limit := (rateBps*elapsed.Seconds() + burst) / 1200
	if float64(n) > 1.3*limit+20 {
		t.Fatalf("victim received %d datagrams in %v, limit allows about %.0f", n, elapsed, limit)
	}
	if n == 0 {
		t.Fatal("flood did not get through at all")
	}
	if testutil.MetricValue(m.RateLimited) == 0 {
		t.Fatal("rate limit never engaged")
	}
	t.Logf("flood: %d datagrams in %v (limit ~%.0f); worst other-pair latency %v", n, elapsed.Round(time.Millisecond), limit, worst)
}

// invalidPoint returns 32 bytes that are not an Ed25519 point.
func invalidPoint(t *testing.T) key.PublicKey {
	var k key.PublicKey
	for i := range 256 {
		k[0] = byte(i)
		k[31] = 0x7f
		if !k.Valid() {
			return k
		}
	}
	t.Fatal("no invalid point found")
	return k
}

func TestMalformedFramesCloseOnlyThatClient(t *testing.T) {
	r := relaytest.Start(t, nil)
	m := r.Server.Metrics()
	a := newTestClient(t, r.URL, nil)
	b := newTestClient(t, r.URL, nil)
	waitConnected(t, a, b)
	bad := invalidPoint(t)
	other := key.NewSecretKey()
	relayed := relay.Frame{Type: relay.FrameRelayToClientDatagram, Key: a.id(), Contents: []byte("x")}
	auth := relay.SignChallenge(other, [16]byte{})
	big := relay.Frame{Type: relay.FrameClientToRelayDatagram, Key: b.id(), Contents: make([]byte, relay.MaxPacketSize)}
	cases := []struct {
		name   string
		frame  []byte
		raw    []byte // written to the socket as is
		reason string
	}{
		{name: "unknown type", frame: []byte{14, 1, 2}, reason: relayserver.DisconnectProtocol},
		{name: "multi-byte type", frame: []byte{0x40, 0x10}, reason: relayserver.DisconnectProtocol},
		{name: "short ping", frame: []byte{9, 1, 2}, reason: relayserver.DisconnectProtocol},
		{name: "empty message", frame: []byte{}, reason: relayserver.DisconnectProtocol},
		{name: "server frame from client", frame: relay.AppendFrame(nil, &relayed), reason: relayserver.DisconnectProtocol},
		{name: "second ClientAuth", frame: relay.AppendFrame(nil, &auth), reason: relayserver.DisconnectProtocol},
		{name: "datagram to invalid key", frame: append(append([]byte{4}, bad[:]...), 0, 'x'), reason: relayserver.DisconnectProtocol},
		{name: "datagram above 64 KiB", frame: relay.AppendFrame(nil, &big), reason: relayserver.DisconnectProtocol},
		{name: "message above 1 MiB", frame: make([]byte, relay.MaxFrameSize+1), reason: relayserver.DisconnectTooLarge},
		{name: "websocket reserved bits", raw: []byte{0xc2, 0x80, 1, 2, 3, 4}, reason: relayserver.DisconnectProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := testutil.MetricValue(m.Disconnects.WithLabelValues(c.reason))
			rc, _ := dialRaw(t, r.Addr, relay.ProtocolV2, nil, nil)
			if f := rc.auth(key.NewSecretKey()); f.Type != relay.FrameServerConfirmsAuth {
				t.Fatal(f.Type)
			}
			if c.raw != nil {
				rc.nc.Write(c.raw)
			} else {
				rc.wc.WriteMessage(ws.OpBinary, c.frame, time.Now().Add(5*time.Second))
			}
			rc.expectClosed()
			eventually(t, "disconnect counted as "+c.reason, func() bool {
				return testutil.MetricValue(m.Disconnects.WithLabelValues(c.reason))-before == 1
			})
			// Everyone else is unaffected.
			a.Send(b.id(), 0, 0, []byte(c.name))
			if got := b.expect(t, 5*time.Second); string(got.contents) != c.name {
				t.Fatalf("b got %q", got.contents)
			}
		})
	}
	if !a.State().Connected || !b.State().Connected {
		t.Fatal("good clients lost their connection")
	}
}

func TestSlowReaderIsBounded(t *testing.T) {
	r := relaytest.Start(t, nil)
	m := r.Server.Metrics()
	flooder := newTestClient(t, r.URL, nil)
	c := newTestClient(t, r.URL, nil)
	d := newTestClient(t, r.URL, nil)
	waitConnected(t, flooder, c, d)
	// The slow reader authenticates and then never reads.
	slowKey := key.NewSecretKey()
	slow, _ := dialRaw(t, r.Addr, relay.ProtocolV2, nil, nil)
	if tc, ok := slow.nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	if f := slow.auth(slowKey); f.Type != relay.FrameServerConfirmsAuth {
		t.Fatal(f.Type)
	}
	payload := make([]byte, 1200)
	deadline := time.Now().Add(15 * time.Second)
	i := 0
	for testutil.MetricValue(m.DatagramDrops.WithLabelValues(relayserver.DropQueueFull)) == 0 ||
		testutil.MetricValue(m.Disconnects.WithLabelValues(relayserver.DisconnectWriteTimeout)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("slow reader: no queue_full drop (%v) or write timeout (%v)",
				testutil.MetricValue(m.DatagramDrops.WithLabelValues(relayserver.DropQueueFull)),
				testutil.MetricValue(m.Disconnects.WithLabelValues(relayserver.DisconnectWriteTimeout)))
		}
		for range 100 {
			flooder.Send(slowKey.Public(), 0, 0, payload)
		}
		// Meanwhile another pair works.
		if i%10 == 0 {
			c.Send(d.id(), 0, 0, []byte{byte(i)})
			d.expect(t, 2*time.Second)
		}
		i++
		time.Sleep(2 * time.Millisecond)
	}
	if !flooder.State().Connected {
		t.Fatal("the sender to a slow reader lost its connection")
	}
}

func TestServerKeepalive(t *testing.T) {
	srv, ln, url := startServer(t, &relayserver.Options{Logger: discard()}, func(s *relayserver.Server) {
		relayserver.SetKeepaliveForTest(s, 150*time.Millisecond, 0)
	})
	m := srv.Metrics()
	addr := ln.Addr().String()

	// A Go client answers pings and stays.
	good := newTestClient(t, url, nil)
	waitConnected(t, good)

	// A raw client answers the first ping (an RTT sample, so the pong
	// timeout is 500 ms), then goes silent: it is dropped.
	rc, _ := dialRaw(t, addr, relay.ProtocolV2, nil, nil)
	rc.auth(key.NewSecretKey())
	p := rc.readUntil(relay.FramePing)
	rc.send(&relay.Frame{Type: relay.FramePong, Data: p.Data})
	tp := time.Now()
	if f := rc.read(); f.Type != relay.FramePing {
		t.Fatalf("got %s, want a second Ping", f.Type)
	}
	// The next ping follows one interval after the pong, not the first
	// ping's pong deadline (5 s).
	if d := time.Since(tp); d > 2*time.Second {
		t.Fatalf("second Ping %v after the Pong, want about 150 ms", d)
	}
	t0 := time.Now()
	rc.expectClosed()
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("dropped after %v, want about 0.5 s", d)
	}
	eventually(t, "pong timeout counted", func() bool {
		return testutil.MetricValue(m.Disconnects.WithLabelValues(relayserver.DisconnectPongTimeout)) == 1
	})

	// A client that keeps sending is not pinged: any frame resets the timer.
	// On a relay with a 500 ms interval, a frame every 20 ms for 2 s: only
	// a stall of the whole process for about half a second (seen at 150 ms
	// on a loaded machine with -race) would leave an interval without one.
	_, busyLn, _ := startServer(t, &relayserver.Options{Logger: discard()}, func(s *relayserver.Server) {
		relayserver.SetKeepaliveForTest(s, 500*time.Millisecond, 0)
	})
	busy, _ := dialRaw(t, busyLn.Addr().String(), relay.ProtocolV2, nil, nil)
	busy.auth(key.NewSecretKey())
	for i := range 100 {
		busy.send(&relay.Frame{Type: relay.FramePing, Data: [8]byte{byte(i)}})
		if f := busy.read(); f.Type != relay.FramePong || f.Data[0] != byte(i) {
			t.Fatalf("got %s %x, want Pong %d (no server ping while active)", f.Type, f.Data, i)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !good.State().Connected || testutil.MetricValue(m.PingsSent) < 3 {
		t.Fatalf("good client connected=%v, pings sent %v", good.State().Connected, testutil.MetricValue(m.PingsSent))
	}
	if got := testutil.MetricValue(m.Disconnects.WithLabelValues(relayserver.DisconnectPongTimeout)); got != 1 {
		t.Fatalf("pong timeouts %v, want 1", got)
	}
}

func TestShutdownSendsRestarting(t *testing.T) {
	r := relaytest.Start(t, nil)
	m := r.Server.Metrics()
	rc, _ := dialRaw(t, r.Addr, relay.ProtocolV2, nil, nil)
	rc.auth(key.NewSecretKey())
	c := newTestClient(t, r.URL, nil)
	waitConnected(t, c)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := r.Server.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	f := rc.readUntil(relay.FrameRestarting)
	if f.ReconnectIn == 0 || f.TryFor == 0 {
		t.Fatalf("Restarting %+v", f)
	}
	if _, err := rc.tryRead(); !errors.Is(err, io.EOF) {
		t.Fatalf("after Restarting: %v, want a close", err)
	}
	if got := testutil.MetricValue(m.Disconnects.WithLabelValues(relayserver.DisconnectShutdown)); got != 2 {
		t.Fatalf("shutdown disconnects %v, want 2", got)
	}
	if testutil.MetricValue(m.Clients) != 0 {
		t.Fatalf("clients gauge %v after shutdown", testutil.MetricValue(m.Clients))
	}
	eventually(t, "client notices", func() bool { return !c.State().Connected })
}

func TestClientReconnects(t *testing.T) {
	srv1, err := relayserver.New(&relayserver.Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	addr := ln.Addr().String()
	done1 := make(chan struct{})
	go func() { defer close(done1); srv1.Serve(ln) }()
	url := "http://" + addr + "/"
	a := newTestClient(t, url, nil)
	b := newTestClient(t, url, nil)
	waitConnected(t, a, b)
	pctx, pcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer pcancel()
	if d, err := a.Ping(pctx); err != nil || d <= 0 {
		t.Fatalf("Ping: %v %v", d, err)
	}
	srv1.Close()
	<-done1
	eventually(t, "disconnect seen", func() bool { return !a.State().Connected })

	// A new relay on the same port: both clients come back by themselves.
	srv2, err := relayserver.New(&relayserver.Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done2 := make(chan struct{})
	go func() { defer close(done2); srv2.Serve(ln2) }()
	t.Cleanup(func() { srv2.Close(); <-done2 })
	waitConnected(t, a, b)
	eventually(t, "datagram after reconnect", func() bool {
		a.Send(b.id(), 1, 0, []byte("back"))
		select {
		case got := <-b.recv:
			return string(got.contents) == "back" && got.ecn == 1
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
}

func TestClientSendQueue(t *testing.T) {
	// A relay that is not there: everything queues.
	ln := listen(t)
	url := "http://" + ln.Addr().String() + "/"
	ln.Close()
	metrics := relay.NewMetrics(nil)
	c := newTestClient(t, url, func(o *relay.ClientOptions) { o.Metrics = metrics })
	dst := key.NewSecretKey().Public()
	for range 600 {
		if err := c.Send(dst, 0, 0, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.MetricValue(metrics.SendDrops.WithLabelValues("queue_full")); got != 600-512 {
		t.Fatalf("queue_full drops %v, want 88", got)
	}
	for _, bad := range [][]byte{nil, make([]byte, relay.MaxPacketSize)} {
		if err := c.Send(dst, 0, 0, bad); err == nil {
			t.Fatalf("Send of %d bytes accepted", len(bad))
		}
	}
	if _, err := c.Ping(t.Context()); !errors.Is(err, relay.ErrNotConnected) {
		t.Fatalf("Ping while disconnected: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := c.WaitConnected(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitConnected: %v", err)
	}
	c.Close()
	c.Close()
	if got := testutil.MetricValue(metrics.SendDrops.WithLabelValues("closed")); got != 512 {
		t.Fatalf("closed drops %v, want 512", got)
	}
	if err := c.Send(dst, 0, 0, []byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if err := c.WaitConnected(t.Context()); !errors.Is(err, relay.ErrClientClosed) {
		t.Fatalf("WaitConnected after Close: %v", err)
	}
}

func TestBatchAndECNForwardedAsIs(t *testing.T) {
	r := relaytest.Start(t, nil)
	a := newTestClient(t, r.URL, nil)
	waitConnected(t, a)
	rc, _ := dialRaw(t, r.Addr, relay.ProtocolV2, nil, nil)
	sk := key.NewSecretKey()
	rc.auth(sk)
	// From the raw client: a batch with segment size 0 is forwarded as a
	// single datagram (type 6); ECN high bits are masked.
	rc.sendBytes(append(append(append([]byte{5}, a.id().Bytes()...), 0xfe, 0, 0), "zero-seg"...))
	got := a.expect(t, 5*time.Second)
	if got.seg != 0 || got.ecn != 2 || string(got.contents) != "zero-seg" || got.src != sk.Public() {
		t.Fatalf("got %+v", got)
	}
	big := bytes.Repeat([]byte{0xab}, relay.MaxPacketSize-36)
	rc.send(&relay.Frame{Type: relay.FrameClientToRelayDatagramBatch, Key: a.id(), ECN: 1, SegmentSize: 1200, Contents: big})
	got = a.expect(t, 5*time.Second)
	if got.seg != 1200 || got.ecn != 1 || !bytes.Equal(got.contents, big) {
		t.Fatalf("big batch: seg %d ecn %d len %d", got.seg, got.ecn, len(got.contents))
	}
	// To the raw client: it sees exactly the frame type 7 bytes.
	a.Send(sk.Public(), 3, 6, []byte("Hello World!"))
	f := rc.readUntil(relay.FrameRelayToClientDatagramBatch)
	want := relay.Frame{Type: relay.FrameRelayToClientDatagramBatch, Key: a.id(), ECN: 3, SegmentSize: 6, Contents: []byte("Hello World!")}
	if !bytes.Equal(relay.AppendFrame(nil, &f), relay.AppendFrame(nil, &want)) {
		t.Fatalf("got %+v", f)
	}
}
