package tls13

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
)

// seeded is a deterministic random source for tests.
func seeded(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

func testKey(seed byte) key.SecretKey {
	var k key.SecretKey
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

var (
	serverSecret = testKey(1)
	clientSecret = testKey(100)
)

const testALPN = "iroh-go-test/1"

func clientConfig() *Config {
	return &Config{
		SecretKey:           clientSecret,
		ALPNs:               []string{testALPN},
		ServerName:          serverSecret.Public().SNIName(),
		TransportParameters: []byte("client transport parameters"),
	}
}

func serverConfig() *Config {
	return &Config{
		SecretKey:           serverSecret,
		ALPNs:               []string{testALPN},
		TransportParameters: []byte("server transport parameters"),
	}
}

// endpoint collects what one side's events said.
type endpoint struct {
	c         *Conn
	read      map[Level][]byte
	write     map[Level][]byte
	suites    map[Level]CipherSuite
	peerTP    []byte
	done      bool
	early     EventKind // EventEarlyDataAccepted/Rejected, or 0
	stored    int
	kinds     []EventKind
	out       []Event // WriteData not yet delivered
	sentByLvl map[Level][][]byte
}

func newEndpoint(c *Conn) *endpoint {
	return &endpoint{c: c, read: map[Level][]byte{}, write: map[Level][]byte{}, suites: map[Level]CipherSuite{}, sentByLvl: map[Level][][]byte{}}
}

func (e *endpoint) drain() {
	for {
		ev := e.c.NextEvent()
		if ev.Kind == EventNone {
			return
		}
		e.kinds = append(e.kinds, ev.Kind)
		switch ev.Kind {
		case EventWriteData:
			e.out = append(e.out, ev)
			e.sentByLvl[ev.Level] = append(e.sentByLvl[ev.Level], ev.Data)
		case EventSetReadSecret:
			e.read[ev.Level] = ev.Data
			e.suites[ev.Level] = ev.Suite
		case EventSetWriteSecret:
			e.write[ev.Level] = ev.Data
			e.suites[ev.Level] = ev.Suite
		case EventPeerTransportParameters:
			e.peerTP = ev.Data
		case EventHandshakeDone:
			e.done = true
		case EventEarlyDataAccepted, EventEarlyDataRejected:
			e.early = ev.Kind
		case EventSessionTicketStored:
			e.stored++
		}
	}
}

// mutator may rewrite one handshake message in flight; it returns the
// bytes to deliver instead.
type mutator func(fromClient bool, level Level, msg []byte) []byte

// splitMessages cuts a flight into handshake messages.
func splitMessages(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 4 {
		n := 4 + (int(b[1])<<16 | int(b[2])<<8 | int(b[3]))
		if n > len(b) {
			break
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// result of a handshake between two Conns.
type result struct {
	client, server       *endpoint
	clientErr, serverErr error
}

// handshake runs client against server until neither has anything to
// say, delivering each flight (chunked by chunk bytes if > 0).
func handshake(t testing.TB, ccfg, scfg *Config, mut mutator, chunk int) *result {
	t.Helper()
	return handshakeConns(t, Client(ccfg), Server(scfg), mut, chunk)
}

func handshakeConns(t testing.TB, cc, sc *Conn, mut mutator, chunk int) *result {
	t.Helper()
	r := &result{client: newEndpoint(cc), server: newEndpoint(sc)}
	if cc.state == stateStart {
		if err := cc.Start(); err != nil {
			r.clientErr = err
			return r
		}
	}
	if err := sc.Start(); err != nil {
		r.serverErr = err
		return r
	}
	for range 20 {
		r.client.drain()
		r.server.drain()
		if len(r.client.out) == 0 && len(r.server.out) == 0 {
			break
		}
		for _, dir := range []struct {
			from, to *endpoint
			client   bool
			err      *error
		}{{r.client, r.server, true, &r.serverErr}, {r.server, r.client, false, &r.clientErr}} {
			out := dir.from.out
			dir.from.out = nil
			for _, ev := range out {
				data := ev.Data
				if mut != nil {
					var nb []byte
					for _, m := range splitMessages(data) {
						nb = append(nb, mut(dir.client, ev.Level, bytes.Clone(m))...)
					}
					data = nb
				}
				if *dir.err != nil {
					continue
				}
				if chunk > 0 {
					for len(data) > 0 && *dir.err == nil {
						n := min(chunk, len(data))
						*dir.err = dir.to.c.HandleData(ev.Level, data[:n])
						data = data[n:]
					}
				} else {
					*dir.err = dir.to.c.HandleData(ev.Level, data)
				}
			}
		}
		if r.clientErr != nil || r.serverErr != nil {
			r.client.drain()
			r.server.drain()
			break
		}
	}
	return r
}

// deliverTicket has the server send a ticket and the client take it.
func deliverTicket(t *testing.T, r *result) {
	t.Helper()
	if err := r.server.c.SendSessionTicket(); err != nil {
		t.Fatal(err)
	}
	r.server.drain()
	for _, ev := range r.server.out {
		if ev.Level != LevelApplication {
			t.Fatalf("ticket at level %v", ev.Level)
		}
		if err := r.client.c.HandleData(ev.Level, ev.Data); err != nil {
			t.Fatal(err)
		}
	}
	r.server.out = nil
	r.client.drain()
}

func (r *result) mustSucceed(t testing.TB) {
	t.Helper()
	if r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("handshake failed: client %v, server %v", r.clientErr, r.serverErr)
	}
	if !r.client.done || !r.server.done {
		t.Fatalf("handshake incomplete: client done %v, server done %v", r.client.done, r.server.done)
	}
	for _, l := range []Level{LevelHandshake, LevelApplication} {
		if !bytes.Equal(r.client.write[l], r.server.read[l]) || len(r.client.write[l]) == 0 {
			t.Errorf("%v: client write secret %x != server read secret %x", l, r.client.write[l], r.server.read[l])
		}
		if !bytes.Equal(r.server.write[l], r.client.read[l]) || len(r.server.write[l]) == 0 {
			t.Errorf("%v: server write secret %x != client read secret %x", l, r.server.write[l], r.client.read[l])
		}
		if r.client.suites[l] != r.server.suites[l] {
			t.Errorf("%v: suites differ", l)
		}
	}
	if r.client.c.PeerKey() != serverSecret.Public() && r.client.c.PeerKey() != r.server.c.cfg.SecretKey.Public() {
		t.Errorf("client PeerKey %v", r.client.c.PeerKey())
	}
	if r.server.c.PeerKey() != r.client.c.cfg.SecretKey.Public() {
		t.Errorf("server PeerKey %v, want %v", r.server.c.PeerKey(), r.client.c.cfg.SecretKey.Public())
	}
	if !bytes.Equal(r.client.peerTP, r.server.c.cfg.TransportParameters) || !bytes.Equal(r.server.peerTP, r.client.c.cfg.TransportParameters) {
		t.Errorf("transport parameters: client got %q, server got %q", r.client.peerTP, r.server.peerTP)
	}
	if r.client.c.ALPN() == "" || r.client.c.ALPN() != r.server.c.ALPN() {
		t.Errorf("ALPN client %q server %q", r.client.c.ALPN(), r.server.c.ALPN())
	}
}

// alertOf returns the alert of err or fails.
func alertOf(t testing.TB, err error) *AlertError {
	t.Helper()
	var ae *AlertError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *AlertError", err)
	}
	return ae
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }
