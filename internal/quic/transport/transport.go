package transport

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/iroh-go/iroh/internal/quic"
)

// cidLen is the length of the connection ids we issue; short-header
// packets to us carry one, which is how the read loop finds their
// connection.
const cidLen = 8

// maxAcceptQueue bounds the connections that completed no Accept yet;
// more Initials are refused (CONNECTION_REFUSED).
const maxAcceptQueue = 128

// Options configures a Transport. A nil *Options means all defaults.
type Options struct {
	// Config is the base configuration of every connection (TLS identity,
	// ALPNs, windows, timeouts); Dial may override the server name.
	Config quic.Config
	// Server makes the Transport accept incoming connections.
	Server bool
	// ServerALPNs (server only, optional) is asked for the ALPNs to
	// accept each time a connection arrives, replacing Config.TLS.ALPNs
	// (so they can change while the Transport runs); when it returns none,
	// clients are refused with the TLS alert no_application_protocol. It
	// runs on the read loop and must not block.
	ServerALPNs func() []string
	// Logger receives debug logs; nil means none (a library logs nothing
	// unless given a logger).
	Logger *slog.Logger
	// Metrics receives the transport's counters; nil means unregistered
	// ones of its own.
	Metrics *Metrics
}

// Transport runs QUIC connections over one Socket.
type Transport struct {
	// Set in New, then read-only.
	sock     Socket
	opts     Options
	log      *slog.Logger
	m        *Metrics
	resetKey [32]byte

	wg       sync.WaitGroup
	closing  chan struct{}
	acceptCh chan *Conn

	// mu guards the following. Lock order: Conn.mu before Transport.mu.
	mu     sync.Mutex
	conns  map[quic.ConnectionID]*Conn
	closed bool
	all    map[*Conn]struct{}

	// Owned by the read loop.
	replySec int64 // the second replies counts stateless replies in
	replies  int
}

// New starts a Transport on sock, which it owns from now on (Close
// closes it).
func New(sock Socket, opts *Options) (*Transport, error) {
	t := &Transport{
		sock:     sock,
		closing:  make(chan struct{}),
		acceptCh: make(chan *Conn, maxAcceptQueue),
		conns:    make(map[quic.ConnectionID]*Conn),
		all:      make(map[*Conn]struct{}),
	}
	if opts != nil {
		t.opts = *opts
	}
	t.log = t.opts.Logger
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.log = t.log.With("component", "quic")
	t.m = t.opts.Metrics
	if t.m == nil {
		t.m = NewMetrics(nil)
	}
	if _, err := io.ReadFull(rand.Reader, t.resetKey[:]); err != nil {
		return nil, fmt.Errorf("quic: reset key: %w", err)
	}
	t.wg.Add(1)
	go t.readLoop()
	return t, nil
}

// Listen opens a UDP socket on addr (host:port) and a server Transport.
func Listen(addr string, opts *Options) (*Transport, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("quic: listen %s: %w", addr, err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("quic: listen %s: %w", addr, err)
	}
	o := Options{}
	if opts != nil {
		o = *opts
	}
	o.Server = true
	return New(NewUDPSocket(c), &o)
}

// LocalAddr returns the socket's address.
func (t *Transport) LocalAddr() netip.AddrPort { return t.sock.LocalAddr() }

// Close closes every connection (application error 0, no reason), the
// socket, and waits for the read loop. Safe to call twice.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	conns := make([]*Conn, 0, len(t.all))
	for c := range t.all {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.closeNow(0, "")
	}
	close(t.closing)
	err := t.sock.Close()
	t.wg.Wait()
	for _, c := range conns {
		c.stopTimer()
	}
	return err
}

// Accept waits for a connection whose handshake completed.
func (t *Transport) Accept(ctx context.Context) (*Conn, error) {
	select {
	case c := <-t.acceptCh:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.closing:
		return nil, net.ErrClosed
	}
}

// NewConnectionID implements quic.CIDSource for one connection: a random
// id routed to c, with its token derived from the transport's key.
func (t *Transport) newCID(c *Conn) (quic.ConnectionID, quic.ResetToken) {
	var b [cidLen]byte
	for {
		rand.Read(b[:])
		id := quic.MakeConnectionID(b[:])
		t.mu.Lock()
		if _, taken := t.conns[id]; !taken {
			t.conns[id] = c
			c.ids = append(c.ids, id)
			t.mu.Unlock()
			return id, t.resetToken(id)
		}
		t.mu.Unlock()
	}
}

func (t *Transport) retireCID(c *Conn, id quic.ConnectionID) {
	t.mu.Lock()
	if t.conns[id] == c {
		delete(t.conns, id)
	}
	for i, x := range c.ids {
		if x == id {
			c.ids = append(c.ids[:i], c.ids[i+1:]...)
			break
		}
	}
	t.mu.Unlock()
}

// resetToken is the stateless reset token of one of our ids: an HMAC,
// so we can send a reset for an id whose connection we forgot.
func (t *Transport) resetToken(id quic.ConnectionID) quic.ResetToken {
	m := hmac.New(sha256.New, t.resetKey[:])
	m.Write(id.Bytes())
	var tok quic.ResetToken
	copy(tok[:], m.Sum(nil))
	return tok
}

// cidSource adapts a Transport to quic.CIDSource for one connection.
type cidSource struct {
	t *Transport
	c *Conn
}

func (s cidSource) NewConnectionID() (quic.ConnectionID, quic.ResetToken) { return s.t.newCID(s.c) }
func (s cidSource) RetireConnectionID(id quic.ConnectionID)               { s.t.retireCID(s.c, id) }

var errTransportClosed = errors.New("quic: transport closed")

// register adds c to the set Close closes.
func (t *Transport) register(c *Conn) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return net.ErrClosed
	}
	t.all[c] = struct{}{}
	return nil
}

// forget drops a finished connection.
func (t *Transport) forget(c *Conn) {
	t.mu.Lock()
	delete(t.all, c)
	for _, id := range c.ids {
		if t.conns[id] == c {
			delete(t.conns, id)
		}
	}
	c.ids = nil
	t.mu.Unlock()
}

var timeNow = time.Now
