package iroh_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var loopback4 = netip.MustParseAddrPort("127.0.0.1:0")

func bind(t testing.TB, alpns ...string) *iroh.Endpoint {
	t.Helper()
	ep, err := iroh.Bind(context.Background(), &iroh.Options{ALPNs: alpns, BindAddrV4: loopback4, DisableIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close(context.Background()) })
	return ep
}

// echoOnce accepts one connection and echoes its first bidirectional stream.
func echoOnce(t testing.TB, ep *iroh.Endpoint) chan error {
	done := make(chan error, 1)
	go func() {
		// Bounded, so that a lost connection fails the test rather than hanging it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := ep.Accept(ctx)
		if err != nil {
			done <- err
			return
		}
		s, err := c.AcceptStream(ctx)
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(s, s)
		s.Close()
		<-c.Context().Done()
		done <- err
	}()
	return done
}

func TestEchoDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := bind(t, "echo/1")
	b := bind(t)
	done := echoOnce(t, a)
	c, err := b.Connect(ctx, a.Addr(), "echo/1")
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteID() != a.ID() || c.ALPN() != "echo/1" {
		t.Fatalf("remote %s alpn %q", c.RemoteID(), c.ALPN())
	}
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bound(s)
	msg := make([]byte, 1<<20)
	rand.Read(msg)
	go func() { s.Write(msg); s.Close() }()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo: %d bytes, %v", len(got), err)
	}
	if p, _ := c.Paths(); p.Kind != iroh.PathDirect {
		t.Errorf("path %v, want direct", p.Kind)
	}
	st := c.Stats()
	if st.RTT <= 0 || st.BytesSent < 1<<20 {
		t.Errorf("stats %+v", st)
	}
	c.Close(0, "bye")
	if err := testutil.WaitFor(t, done, 30*time.Second, "echo server end"); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptSeesClientID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := bind(t, "x")
	b := bind(t)
	go func() {
		c, err := b.Connect(ctx, a.Addr(), "x")
		if err == nil {
			s, _ := c.OpenStream(ctx)
			s.Write([]byte("hi"))
			<-ctx.Done()
		}
	}()
	c, err := a.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteID() != b.ID() {
		t.Fatalf("accepted remote %s, want %s", c.RemoteID(), b.ID())
	}
	cancel()
}

func TestWrongIDRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := bind(t, "x")
	b := bind(t)
	wrong := iroh.NewSecretKey().Public()
	addr := a.Addr()
	addr.ID = wrong
	_, err := b.Connect(ctx, addr, "x")
	if err == nil {
		t.Fatal("connected to the wrong id")
	}
	// The dialer's error names both ids.
	if !strings.Contains(err.Error(), wrong.String()) || !strings.Contains(err.Error(), a.ID().String()) {
		t.Fatalf("error does not name both ids: %v", err)
	}
}

func TestUnknownALPNRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := bind(t, "known/1")
	b := bind(t)
	_, err := b.Connect(ctx, a.Addr(), "unknown/1")
	if err == nil || !strings.Contains(err.Error(), "ALPN") {
		t.Fatalf("want ALPN refusal, got %v", err)
	}
}

// TestSilentPeerHandshakeTimeout: a peer that never answers (as Rust iroh
// 1.0 does when it serves none of the offered ALPNs) ends Connect at the
// handshake timeout with a *TimeoutError whose message says the peer did
// not answer and names the ALPNs offered; the caller's own deadline ends
// it with the context's error instead.
func TestSilentPeerHandshakeTimeout(t *testing.T) {
	silent, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	target := iroh.EndpointAddr{ID: iroh.NewSecretKey().Public(), Direct: []netip.AddrPort{silent.LocalAddr().(*net.UDPAddr).AddrPort()}}
	const hsTO = 500 * time.Millisecond
	ep, err := iroh.Bind(t.Context(), &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true, HandshakeTimeout: hsTO})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close(context.Background())

	start := time.Now()
	_, err = ep.Connect(t.Context(), target, "proto/2", "proto/1")
	took := time.Since(start)
	var te *iroh.TimeoutError
	if !errors.As(err, &te) || !te.Handshake {
		t.Fatalf("silent peer: %v, want a handshake TimeoutError", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("not a net.Error with Timeout: %v", err)
	}
	for _, want := range []string{"did not answer", `ALPNs "proto/2", "proto/1"`, "500ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if took < hsTO || took > hsTO+2*time.Second {
		t.Errorf("gave up after %v, handshake timeout %v", took, hsTO)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = ep.Connect(ctx, target, "proto/1")
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) {
		t.Fatalf("caller's deadline: %v, want context.DeadlineExceeded", err)
	}
}

func TestALPNNegotiation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := bind(t, "/p/1", "/p/2")
	b := bind(t)
	for _, c := range []struct {
		offer []string
		want  string
	}{
		{[]string{"/p/2", "/p/1"}, "/p/2"},
		{[]string{"/p/1", "/p/2"}, "/p/1"},
		{[]string{"/p/3", "/p/1"}, "/p/1"},
	} {
		conn, err := b.Connect(ctx, a.Addr(), c.offer[0], c.offer[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		if conn.ALPN() != c.want {
			t.Errorf("offer %v: got %q want %q", c.offer, conn.ALPN(), c.want)
		}
		in, err := a.Accept(ctx)
		if err != nil || in.ALPN() != c.want {
			t.Errorf("acceptor alpn %v %v", in, err)
		}
		conn.Close(0, "")
	}
}

func TestConnectSelfAndEmpty(t *testing.T) {
	a := bind(t, "x")
	ctx := context.Background()
	if _, err := a.Connect(ctx, a.Addr(), "x"); err == nil || !strings.Contains(err.Error(), "own") {
		t.Errorf("self connect: %v", err)
	}
	if _, err := a.Connect(ctx, bind(t, "x").Addr(), ""); err == nil || !strings.Contains(err.Error(), "empty ALPN") {
		t.Errorf("empty alpn: %v", err)
	}
	if _, err := a.Connect(ctx, iroh.EndpointAddr{ID: iroh.NewSecretKey().Public()}, "x"); !errors.Is(err, iroh.ErrNoAddress) {
		t.Errorf("id only without lookup: %v", err)
	}
}

// connectPair binds a (serving ALPN "x") and b, connects b to a and
// returns both endpoints, b's connection and the one a accepted.
func connectPair(t *testing.T, ctx context.Context) (a, b *iroh.Endpoint, out, in *iroh.Connection) {
	t.Helper()
	a, b = bind(t, "x"), bind(t)
	out, err := b.Connect(ctx, a.Addr(), "x")
	if err != nil {
		t.Fatal(err)
	}
	if in, err = a.Accept(ctx); err != nil {
		t.Fatal(err)
	}
	return a, b, out, in
}

func TestCloseClosesConnectionsWithCode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, b, c, _ := connectPair(t, ctx)
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Context().Done():
	case <-ctx.Done():
		t.Fatal("peer did not see the close")
	}
	var ae *iroh.ApplicationError
	if !errors.As(context.Cause(c.Context()), &ae) || ae.Code != 0 || !ae.Remote {
		t.Fatalf("close cause %v", context.Cause(c.Context()))
	}
	if _, err := a.Accept(ctx); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	if _, err := a.Connect(ctx, b.Addr(), "x"); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("connect after close: %v", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal("second close", err)
	}
}

func TestDatagramsAndUniStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, c, in := connectPair(t, ctx)
	if err := c.SendDatagram([]byte("dgram")); err != nil {
		t.Fatal(err)
	}
	d, err := in.ReceiveDatagram(ctx)
	if err != nil || string(d) != "dgram" {
		t.Fatalf("datagram %q %v", d, err)
	}
	us, err := c.OpenUniStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	us.Write([]byte("uni"))
	us.Close()
	rs, err := in.AcceptUniStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(rs)
	if string(got) != "uni" {
		t.Fatalf("uni %q", got)
	}
	// reset with a code
	s, _ := c.OpenStream(ctx)
	s.Write([]byte("x"))
	s.CancelWrite(42)
	rs2, err := in.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bound(rs2)
	_, err = io.ReadAll(rs2)
	var se *iroh.StreamError
	if !errors.As(err, &se) || se.Code != 42 {
		t.Fatalf("reset: %v", err)
	}
}

// TestZeroRTT: a peer that connected before sends its first request in
// 0-RTT, which the server takes only on ALPNs that opted in; on others
// the request still arrives, after the handshake.
func TestZeroRTT(t *testing.T) {
	for _, optIn := range []bool{true, false} {
		t.Run(fmt.Sprintf("opt-in=%v", optIn), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			opts := &iroh.Options{ALPNs: []string{"x"}, BindAddrV4: loopback4, DisableIPv6: true}
			if optIn {
				opts.EarlyDataALPNs = []string{"x"}
			}
			a, err := iroh.Bind(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close(context.Background())
			b := bind(t)
			go func() {
				for {
					c, err := a.Accept(ctx)
					if err != nil {
						return
					}
					go func() {
						s, err := c.AcceptStream(ctx)
						if err == nil {
							io.Copy(s, s)
							s.Close()
						}
					}()
				}
			}()
			for i := 0; i < 2; i++ {
				c, err := b.ConnectEarly(ctx, a.Addr(), "x")
				if err != nil {
					t.Fatal(err)
				}
				s, err := c.OpenStream(ctx)
				if err != nil {
					t.Fatalf("round %d: open stream: %v", i, err)
				}
				bound(s)
				s.Write([]byte("ping"))
				s.Close()
				got, err := io.ReadAll(s)
				if string(got) != "ping" {
					t.Fatalf("round %d: %q, %v", i, got, err)
				}
				testutil.WaitFor(t, c.HandshakeComplete(), 10*time.Second, fmt.Sprintf("round %d: handshake completion", i))
				if used := c.Used0RTT(); i == 1 && used != optIn {
					t.Errorf("second connection used 0-RTT: %v, want %v", used, optIn)
				} else if i == 0 && used {
					t.Error("first connection used 0-RTT")
				}
				c.Close(0, "")
			}
		})
	}
}

// TestUnacceptedConnectionsClosed: an endpoint whose application never
// calls Accept does not keep peers' connections open.
func TestUnacceptedConnectionsClosed(t *testing.T) {
	t.Cleanup(iroh.SetAcceptTimeoutForTest(300 * time.Millisecond)) // after the endpoints close
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := bind(t, "x")
	b := bind(t)
	c, err := b.Connect(ctx, a.Addr(), "x")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Context().Done():
	case <-ctx.Done():
		t.Fatal("unaccepted connection still open")
	}
	var ae *iroh.ApplicationError
	if !errors.As(context.Cause(c.Context()), &ae) || ae.Code != iroh.CloseBusy {
		t.Fatalf("close cause %v", context.Cause(c.Context()))
	}
}
