package magicsock_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/magicsock"
	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/transport"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
	"github.com/iroh-go/iroh/relay/relaytest"
)

const quicALPN = "iroh-go-magicsock-quic/1"

// endpoint is one side: a magic socket with our QUIC transport on it.
type endpoint struct {
	sk   key.SecretKey
	sock *magicsock.Conn
	tr   *transport.Transport
}

type sockMode struct {
	relayURL  string // "" for none
	relayOnly bool
	metrics   *magicsock.Metrics // nil: unregistered
	v6        bool               // also bind [::1]:0
	alpns     []string           // served ALPNs; nil: quicALPN
}

// newEndpoint opens a magicsock Conn on 127.0.0.1 (and the relay of m,
// if any, as its home relay) and runs a server transport on it.
func newEndpoint(t testing.TB, m sockMode) *endpoint {
	t.Helper()
	sk := key.NewSecretKey()
	opts := &magicsock.Options{
		SecretKey: sk,
		BindV4:    netip.MustParseAddrPort("127.0.0.1:0"),
		BindV6:    netip.MustParseAddrPort("[::1]:0"),
		DisableV6: !m.v6,
		RelayOnly: m.relayOnly,
		Logger:    slog.New(slog.DiscardHandler),
		Metrics:   m.metrics,
	}
	if m.relayURL != "" {
		opts.HomeRelay = endpointaddr.RelayURL(m.relayURL)
		opts.DialRelay = func(url endpointaddr.RelayURL, deliver func(key.PublicKey, uint8, uint16, []byte)) (magicsock.RelayClient, error) {
			return relay.NewClient(relay.ClientOptions{
				URL:         string(url),
				SecretKey:   sk,
				Logger:      slog.New(slog.DiscardHandler),
				OnDatagrams: deliver,
			})
		}
	}
	sock, err := magicsock.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	alpns := m.alpns
	if alpns == nil {
		alpns = []string{quicALPN}
	}
	tr, err := transport.New(sock.QUICSocket(), &transport.Options{
		Config: quic.Config{TLS: tls13.Config{SecretKey: sk, ALPNs: alpns}},
		Server: true,
	})
	if err != nil {
		sock.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return &endpoint{sk: sk, sock: sock, tr: tr}
}

// dial connects a to b, which it knows by addr, and returns both sides
// of the connection, checking the peer ids each side sees.
func dial(t testing.TB, a, b *endpoint, addr endpointaddr.Addr) (client, server *transport.Conn) {
	t.Helper()
	mapped, err := a.sock.AddRemote(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var aerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		server, aerr = b.tr.Accept(ctx)
	}()
	client, err = a.tr.Dial(ctx, mapped.AddrPort(), b.sk.Public(), quicALPN)
	wg.Wait()
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if aerr != nil {
		t.Fatalf("accept: %v", aerr)
	}
	if got := client.RemoteKey(); got != b.sk.Public() {
		t.Fatalf("client sees %v, want %v", got.ShortString(), b.sk.Public().ShortString())
	}
	if got := server.RemoteKey(); got != a.sk.Public() {
		t.Fatalf("server sees %v, want %v", got.ShortString(), a.sk.Public().ShortString())
	}
	if id, ok := b.sock.RemoteID(udpAddr(server.RemoteAddr())); !ok || id != a.sk.Public() {
		t.Fatalf("server's remote address %v is not the client's mapped address", server.RemoteAddr())
	}
	if !magicsock.MappedPrefix.Contains(client.RemoteAddr().Addr()) {
		t.Fatalf("client's remote address %v is not a mapped address", client.RemoteAddr())
	}
	return client, server
}

// sendStream writes size pseudo-random bytes (seeded) over a new stream
// and checks the server reads exactly them.
func sendStream(t testing.TB, client, server *transport.Conn, size int, seed uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()
	type result struct {
		n   int64
		sum [32]byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := server.AcceptStream(ctx)
		if err != nil {
			done <- result{err: err}
			return
		}
		h := sha256.New()
		n, err := io.Copy(h, s)
		var r result
		r.n, r.err = n, err
		copy(r.sum[:], h.Sum(nil))
		s.Close()
		done <- r
	}()
	s, err := client.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline, _ := ctx.Deadline()
	s.SetWriteDeadline(deadline) // a stalled stream fails the writes below, not hangs them
	rng := rand.NewChaCha8([32]byte{byte(seed)})
	h := sha256.New()
	chunk := make([]byte, 256<<10)
	for left := size; left > 0; left -= len(chunk) {
		c := chunk[:min(len(chunk), left)]
		rng.Read(c)
		h.Write(c)
		if _, err := s.Write(c); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var want [32]byte
	copy(want[:], h.Sum(nil))
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("server read: %v", r.err)
		}
		if r.n != int64(size) || r.sum != want {
			t.Fatalf("server got %d bytes (sha256 match %v), want %d", r.n, r.sum == want, size)
		}
	case <-ctx.Done():
		t.Fatal("transfer timed out")
	}
}

// echoDatagrams sends n datagrams each way and checks they arrive
// (datagrams may be lost; on loopback they are not expected to be).
func echoDatagrams(t testing.TB, client, server *transport.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	go func() {
		for {
			d, err := server.ReceiveDatagram(ctx)
			if err != nil {
				return
			}
			server.SendDatagram(append([]byte("echo:"), d...))
		}
	}()
	const n = 20
	got := map[string]bool{}
	for i := range n {
		msg := []byte{'d', 'g', byte(i)}
		if err := client.SendDatagram(msg); err != nil {
			t.Fatal(err)
		}
		d, err := client.ReceiveDatagram(ctx)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		got[string(d)] = true
	}
	for i := range n {
		if !got[string([]byte{'e', 'c', 'h', 'o', ':', 'd', 'g', byte(i)})] {
			t.Errorf("datagram %d not echoed", i)
		}
	}
}

// checkClose closes the client with a code and reason and checks the
// server sees them.
func checkClose(t testing.TB, client, server *transport.Conn) {
	t.Helper()
	client.Close(42, "bye from magicsock")
	select {
	case <-server.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("server did not see the close")
	}
	var ae *quic.ApplicationError
	if err := server.Err(); !errors.As(err, &ae) || ae.Code != 42 || ae.Reason != "bye from magicsock" || !ae.Remote {
		t.Fatalf("server's error %v", err)
	}
}

func pathKind(e *endpoint, id key.PublicKey) magicsock.PathKind {
	p, _ := e.sock.Paths(id)
	return p.Kind
}

// TestQUICDirect runs our QUIC over two magic sockets on 127.0.0.1 with
// direct paths only: handshake with the right ids, 16 MiB byte-identical,
// datagrams, close code and reason.
func TestQUICDirect(t *testing.T) {
	a, b := newEndpoint(t, sockMode{}), newEndpoint(t, sockMode{})
	client, server := dial(t, a, b, endpointaddr.Addr{ID: b.sk.Public(), Direct: b.sock.LocalAddrs()})
	sendStream(t, client, server, 16<<20, 1)
	echoDatagrams(t, client, server)
	if k := pathKind(a, b.sk.Public()); k != magicsock.PathDirect {
		t.Errorf("client's path to the server is %v, want direct", k)
	}
	checkClose(t, client, server)
}

// TestQUICDirectSecondSocket dials the server at its IPv6 loopback
// address only: the client's packets leave from its IPv6 socket, whose
// own read goroutine queues what it receives and wakes the QUIC reader
// (which reads the IPv4 socket itself).
func TestQUICDirectSecondSocket(t *testing.T) {
	if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		c.Close()
	}
	a, b := newEndpoint(t, sockMode{v6: true}), newEndpoint(t, sockMode{v6: true})
	var v6 []netip.AddrPort
	for _, ap := range b.sock.LocalAddrs() {
		if ap.Addr().Is6() {
			v6 = append(v6, ap)
		}
	}
	if len(v6) != 1 {
		t.Fatalf("server's addresses %v: no IPv6 one", b.sock.LocalAddrs())
	}
	client, server := dial(t, a, b, endpointaddr.Addr{ID: b.sk.Public(), Direct: v6})
	sendStream(t, client, server, 4<<20, 5)
	echoDatagrams(t, client, server)
	if p, _ := a.sock.Paths(b.sk.Public()); p.Kind != magicsock.PathDirect || p.Addr != v6[0] {
		t.Errorf("client's path %v %v, want direct %v", p.Kind, p.Addr, v6[0])
	}
	checkClose(t, client, server)
}

// TestQUICRelayOnly runs the same over an in-process relay with both
// sockets relay-only.
func TestQUICRelayOnly(t *testing.T) {
	url := relaytest.URL(t)
	m := sockMode{relayURL: url, relayOnly: true}
	a, b := newEndpoint(t, m), newEndpoint(t, m)
	client, server := dial(t, a, b, endpointaddr.Addr{ID: b.sk.Public(), RelayURLs: []endpointaddr.RelayURL{endpointaddr.RelayURL(url)}})
	sendStream(t, client, server, 16<<20, 2)
	echoDatagrams(t, client, server)
	if k := pathKind(a, b.sk.Public()); k != magicsock.PathRelay {
		t.Errorf("client's path to the server is %v, want relay", k)
	}
	checkClose(t, client, server)
}

// TestQUICRelayThenDirect connects knowing only the server's relay: the
// handshake goes over the relay, then the sockets find the direct path
// on their own (call-me-maybe through the relay, disco
// pings) and switch to it under the running connection; more data
// arrives intact.
func TestQUICRelayThenDirect(t *testing.T) {
	url := relaytest.URL(t)
	m := sockMode{relayURL: url}
	a, b := newEndpoint(t, m), newEndpoint(t, m)
	events, stop := a.sock.SubscribePaths(b.sk.Public(), 64)
	defer stop()
	relayed := endpointaddr.Addr{ID: b.sk.Public(), RelayURLs: []endpointaddr.RelayURL{endpointaddr.RelayURL(url)}}
	client, server := dial(t, a, b, relayed)
	sendStream(t, client, server, 1<<20, 3)
	var kinds []magicsock.PathKind
	timeout := time.After(10 * time.Second)
	for len(kinds) == 0 || kinds[len(kinds)-1] != magicsock.PathDirect {
		select {
		case e := <-events:
			kinds = append(kinds, e.New.Kind)
		case <-timeout:
			t.Fatalf("no direct path after 10 s; path changes %v", kinds)
		}
	}
	if kinds[0] != magicsock.PathRelay {
		t.Fatalf("path changes %v: the first path was not the relay", kinds)
	}
	t.Logf("path changes: %v", kinds)
	sendStream(t, client, server, 16<<20, 4)
	echoDatagrams(t, client, server)
	if k := pathKind(a, b.sk.Public()); k != magicsock.PathDirect {
		t.Errorf("path after the transfer: %v, want direct", k)
	}
	checkClose(t, client, server)
}

// TestQUICSocketCloseUnblocksRead checks that closing the socket ends a
// blocked ReadBatch with net.ErrClosed (the driver's read loop relies on
// it).
func TestQUICSocketCloseUnblocksRead(t *testing.T) {
	sock, err := magicsock.New(&magicsock.Options{
		SecretKey: key.NewSecretKey(),
		BindV4:    netip.MustParseAddrPort("127.0.0.1:0"),
		DisableV6: true,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	qs := sock.QUICSocket()
	if qs.LocalAddr() != sock.LocalAddrs()[0] {
		t.Fatalf("LocalAddr %v, want %v", qs.LocalAddr(), sock.LocalAddrs()[0])
	}
	errc := make(chan error, 1)
	go func() {
		ds := []transport.Datagram{{Buf: make([]byte, 1500)}}
		_, err := qs.ReadBatch(ds)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	qs.Close()
	select {
	case err := <-errc:
		if !isClosed(err) {
			t.Fatalf("ReadBatch after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadBatch still blocked after Close")
	}
	if err := qs.WriteBatch([]transport.Datagram{{Buf: []byte("x"), N: 1}}); !isClosed(err) {
		t.Fatalf("WriteBatch after Close: %v", err)
	}
}

func udpAddr(ap netip.AddrPort) *net.UDPAddr { return net.UDPAddrFromAddrPort(ap) }

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// TestQUICPeerWithoutDisco connects a magic socket and a plain UDP
// transport that speaks no disco (as Rust iroh 1.0 does not), both ways:
// a plain client reaches a magicsock server (its packets wait for a ping
// that never comes, then go to QUIC under an anonymous remote), and a
// magicsock client reaches a plain server (its direct address is never
// confirmed, so packets go to the candidates one by one).
func TestQUICPeerWithoutDisco(t *testing.T) {
	plain := func(t *testing.T) (*transport.Transport, key.SecretKey) {
		sk := key.NewSecretKey()
		tr, err := transport.Listen("127.0.0.1:0", &transport.Options{Config: quic.Config{TLS: tls13.Config{SecretKey: sk, ALPNs: []string{quicALPN}}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr, sk
	}
	accept := func(ctx context.Context, tr *transport.Transport) <-chan *transport.Conn {
		ch := make(chan *transport.Conn, 1)
		go func() {
			c, _ := tr.Accept(ctx)
			ch <- c
		}()
		return ch
	}
	t.Run("plain client", func(t *testing.T) {
		ptr, psk := plain(t)
		b := newEndpoint(t, sockMode{})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		acc := accept(ctx, b.tr)
		client, err := ptr.Dial(ctx, b.sock.LocalAddrs()[0], b.sk.Public(), quicALPN)
		if err != nil {
			t.Fatal(err)
		}
		server := <-acc
		if server == nil || server.RemoteKey() != psk.Public() {
			t.Fatal("server did not accept the plain client with its key")
		}
		sendStream(t, client, server, 1<<20, 6)
		checkClose(t, client, server)
	})
	t.Run("plain server", func(t *testing.T) {
		ptr, psk := plain(t)
		a := newEndpoint(t, sockMode{})
		mapped, err := a.sock.AddRemote(endpointaddr.Addr{ID: psk.Public(), Direct: []netip.AddrPort{ptr.LocalAddr()}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		acc := accept(ctx, ptr)
		client, err := a.tr.Dial(ctx, mapped.AddrPort(), psk.Public(), quicALPN)
		if err != nil {
			t.Fatal(err)
		}
		server := <-acc
		if server == nil || server.RemoteKey() != a.sk.Public() {
			t.Fatal("plain server did not accept the magicsock client with its key")
		}
		sendStream(t, client, server, 1<<20, 7)
		checkClose(t, client, server)
	})
}
