package iroh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/addrlookup/preset"
	"github.com/iroh-go/iroh/internal/magicsock"
	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/transport"
	"github.com/iroh-go/iroh/key"
)

// Options configures Bind. A nil *Options means all defaults.
type Options struct {
	// SecretKey is the endpoint's identity; zero means a new random key.
	SecretKey SecretKey
	// ALPNs are the protocols accepted by Accept. A Router sets them from
	// its handlers. Empty means incoming connections are refused (the
	// dialer learns that we serve none of its protocols).
	ALPNs []string
	// EarlyDataALPNs are the protocols, among ALPNs, on which a peer that
	// connected before may send 0-RTT data (ConnectEarly). Such data can be
	// replayed by an attacker, so it is off unless a protocol asks for it;
	// a Router sets it from handlers that implement EarlyDataHandler.
	EarlyDataALPNs []string
	// BindAddrV4 is the IPv4 UDP address; zero means 0.0.0.0:0.
	BindAddrV4 netip.AddrPort
	// BindAddrV6 is the IPv6 UDP address; zero means [::]:0 (skipped if the
	// machine has no IPv6).
	BindAddrV6 netip.AddrPort
	// DisableIPv4 and DisableIPv6 skip binding that family.
	DisableIPv4, DisableIPv6 bool
	// Logger receives the endpoint's logs (and its socket's, relays' and
	// address lookups'); nil means none: the library is quiet unless given
	// a logger (pass slog.Default() for the process's).
	Logger *slog.Logger
	// Registerer receives the endpoint's Prometheus metrics; nil means they
	// are not registered.
	Registerer prometheus.Registerer
	// HandshakeTimeout bounds Connect; zero means 10s.
	HandshakeTimeout time.Duration
	// MaxIdleTimeout closes a connection that hears nothing this long;
	// zero means 30s (keep-alives are sent every 5s).
	MaxIdleTimeout time.Duration
	// Relays are the relay servers this endpoint may use; the first that
	// answers becomes its home relay, advertised in Addr. Empty means no
	// relay (the minimal preset): only direct connections.
	Relays []RelayURL
	// RelayToken, if set, is sent to relays as a Bearer token.
	RelayToken string
	// RelayTLSConfig is the TLS configuration for https relays; nil means
	// the system roots.
	RelayTLSConfig *tls.Config
	// STUNPort is the UDP port of the relays' STUN service, used to learn
	// the endpoint's public address; zero means 3478, negative disables.
	STUNPort int
	// STUNServers are further STUN servers ("host:port") for net reports.
	STUNServers []string
	// AddressLookup selects how endpoints dialed by id alone are found and
	// where this endpoint publishes its address; the zero value uses none.
	AddressLookup AddressLookupOptions
	// UserData is published with our address records (at most 245 bytes).
	UserData string
	// RelayOnly disables direct paths: every packet goes through a relay.
	// For tests and networks that filter UDP.
	RelayOnly bool
}

// ErrClosed is returned by operations on a closed endpoint; it matches
// net.ErrClosed with errors.Is.
var ErrClosed = fmt.Errorf("iroh: endpoint closed: %w", net.ErrClosed)

// ErrNoAddress is returned by Connect for an address with no way to reach
// the endpoint.
var ErrNoAddress = errors.New("iroh: no relay URL or direct address known for endpoint")

// ConnectError is returned by Connect.
type ConnectError struct {
	Remote EndpointID
	ALPN   string
	Err    error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("iroh: connect %s (alpn %q): %v", e.Remote.ShortString(), e.ALPN, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// WrongPeerError is a Connect refused because the endpoint that answered
// could not prove it holds the key of the id dialed.
type WrongPeerError struct {
	Want   EndpointID
	Detail string
}

func (e *WrongPeerError) Error() string {
	return fmt.Sprintf("the endpoint that answered is not %s: %s", e.Want.ShortString(), e.Detail)
}

// ErrNoCommonALPN is a Connect refused because the peer serves none of
// the offered ALPNs (TLS alert no_application_protocol).
var ErrNoCommonALPN = errors.New("iroh: peer serves none of the offered ALPNs")

const (
	// maxPendingIncoming bounds incoming connections that completed their
	// handshake and wait for Accept; more are refused with CloseBusy.
	maxPendingIncoming = 128
	// keepAlivePeriod sends a PING on a connection after this long without
	// sending, well within the idle timeout and NAT mappings' lifetimes.
	keepAlivePeriod = 5 * time.Second
	// maxIncomingStreams is how many streams of each kind a peer may have
	// open at once.
	maxIncomingStreams = 1000
	// firstReportWait bounds how long Connect waits for the first net
	// report when it has no direct address for the peer: hole punching
	// tells the peer our public address, which that report finds.
	firstReportWait = 2 * time.Second
	// closeLinger bounds how long Close waits for the CONNECTION_CLOSE
	// packets queued on relays to leave.
	closeLinger = 100 * time.Millisecond
)

// acceptTimeout closes an incoming connection that Accept did not take
// within this time (a variable for tests).
var acceptTimeout = 10 * time.Second

// CloseBusy is the application close code of incoming connections refused
// because too many are waiting for Accept.
const CloseBusy = 0x6275 // "bu"

// Endpoint is a bound iroh endpoint: it dials and accepts authenticated
// QUIC connections by EndpointID.
type Endpoint struct {
	// Set in Bind, then read-only.
	sk       SecretKey
	id       EndpointID
	log      *slog.Logger
	sock     *magicsock.Conn
	tr       *transport.Transport
	hsTO     time.Duration
	relay    *relayState
	netrep   *netReporter
	lookups  *preset.Set
	userData string

	alpns   atomic.Pointer[[]string]
	early   atomic.Pointer[[]string]
	pending atomic.Int64 // incoming connections not yet taken by Accept

	ctx       context.Context // canceled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	accept    chan *Connection
	closeDone chan struct{} // closed when Close finished

	// mu guards the following.
	mu     sync.Mutex
	conns  map[*Connection]context.CancelCauseFunc
	closed bool
}

// Bind opens an endpoint: its UDP sockets, relay connection (if any), and
// QUIC transport.
func Bind(ctx context.Context, opts *Options) (*Endpoint, error) {
	if opts == nil {
		opts = &Options{}
	}
	o := *opts
	for _, a := range append(slices.Clone(o.ALPNs), o.EarlyDataALPNs...) {
		if a == "" {
			return nil, errors.New("iroh: empty ALPN")
		}
	}
	if o.SecretKey == (SecretKey{}) {
		o.SecretKey = key.NewSecretKey()
	}
	log := o.Logger
	if log == nil {
		// A library is quiet unless given a logger.
		log = slog.New(slog.DiscardHandler)
	}
	o.Logger = log // o is our copy: the relay clients and lookups log here too
	if o.AddressLookup.Logger == nil {
		o.AddressLookup.Logger = log
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.MaxIdleTimeout == 0 {
		o.MaxIdleTimeout = 30 * time.Second
	}
	if o.HandshakeTimeout < 0 || o.MaxIdleTimeout < 0 {
		return nil, errors.New("iroh: negative timeout")
	}
	ep := &Endpoint{
		sk:        o.SecretKey,
		id:        o.SecretKey.Public(),
		hsTO:      o.HandshakeTimeout,
		accept:    make(chan *Connection),
		closeDone: make(chan struct{}),
		conns:     map[*Connection]context.CancelCauseFunc{},
	}
	ep.log = log.With("component", "endpoint", "endpoint_id", ep.id.ShortString())
	ep.SetALPNs(o.ALPNs)
	ep.SetEarlyDataALPNs(o.EarlyDataALPNs)
	ticketKeys, err := tls13.NewTicketKeys(nil, 0)
	if err != nil {
		return nil, fmt.Errorf("iroh: ticket keys: %w", err)
	}
	rs, err := newRelayState(&o, ep.log)
	if err != nil {
		return nil, err
	}
	ep.relay = rs
	sockOpts := &magicsock.Options{
		SecretKey: ep.sk,
		BindV4:    o.BindAddrV4,
		BindV6:    o.BindAddrV6,
		DisableV4: o.DisableIPv4,
		DisableV6: o.DisableIPv6,
		RelayOnly: o.RelayOnly,
		Logger:    log,
		Metrics:   magicsock.NewMetrics(o.Registerer),
	}
	rs.configure(sockOpts, ep.sk)
	sock, err := magicsock.New(sockOpts)
	if err != nil {
		return nil, err
	}
	ep.sock = sock
	qconf := quic.Config{
		TLS: tls13.Config{
			SecretKey:       ep.sk,
			ALPNs:           noALPN, // replaced per connection: Dial's ALPNs, ServerALPNs
			SessionCache:    tls13.NewSessionCache(256),
			TicketKeys:      ticketKeys,
			EnableEarlyData: true,
			EarlyDataALPN:   ep.earlyDataALPN,
		},
		HandshakeTimeout:      o.HandshakeTimeout,
		MaxIdleTimeout:        o.MaxIdleTimeout,
		KeepAlivePeriod:       keepAlivePeriod,
		MaxIncomingStreams:    maxIncomingStreams,
		MaxIncomingUniStreams: maxIncomingStreams,
	}
	tr, err := transport.New(sock.QUICSocket(), &transport.Options{
		Config:      qconf,
		Server:      true,
		ServerALPNs: func() []string { return *ep.alpns.Load() },
		Logger:      log,
		Metrics:     transport.NewMetrics(o.Registerer),
	})
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("iroh: quic: %w", err)
	}
	ep.tr = tr
	ep.ctx, ep.cancel = context.WithCancel(context.Background())
	ep.wg.Add(1)
	go ep.acceptLoop()
	if err := ep.startLookup(&o); err != nil {
		ep.cancel()
		ep.tr.Close() // closes the socket too
		ep.wg.Wait()
		return nil, err
	}
	ep.netrep = newNetReporter(ep, &o)
	if len(ep.relay.relays) > 0 || len(o.STUNServers) > 0 {
		ep.wg.Add(1)
		go ep.netrep.loop()
	} else {
		close(ep.netrep.first)
	}
	ep.log.Info("endpoint bound", "addr", sock.LocalAddrs(), "relay_url", sock.HomeRelay())
	return ep, nil
}

// noALPN is the placeholder ALPN list of the QUIC configuration: every
// connection replaces it.
var noALPN = []string{"iroh-go/none"}

// ID returns the endpoint's id.
func (ep *Endpoint) ID() EndpointID { return ep.id }

// SecretKey returns the endpoint's secret key.
func (ep *Endpoint) SecretKey() SecretKey { return ep.sk }

// Addr returns the address others dial this endpoint at: its id, home
// relay and direct addresses.
func (ep *Endpoint) Addr() EndpointAddr {
	a := EndpointAddr{ID: ep.id, Direct: ep.sock.DirectAddrs()}
	if h := ep.sock.HomeRelay(); h != "" {
		a.RelayURLs = []RelayURL{h}
	}
	return a
}

// LocalAddrs returns the bound UDP socket addresses.
func (ep *Endpoint) LocalAddrs() []netip.AddrPort { return ep.sock.LocalAddrs() }

// SetALPNs replaces the protocols accepted from now on.
func (ep *Endpoint) SetALPNs(alpns []string) {
	a := slices.Clone(alpns)
	ep.alpns.Store(&a)
}

// SetEarlyDataALPNs replaces the protocols on which 0-RTT data is
// accepted from now on (see Options.EarlyDataALPNs).
func (ep *Endpoint) SetEarlyDataALPNs(alpns []string) {
	a := slices.Clone(alpns)
	ep.early.Store(&a)
}

func (ep *Endpoint) earlyDataALPN(alpn string) bool {
	return slices.Contains(*ep.early.Load(), alpn)
}

// Connect dials the endpoint at addr, offering alpn and then, in order of
// preference, the alternatives in more (for version negotiation). It
// returns once the handshake completed and the peer proved it holds the
// key of addr.ID.
func (ep *Endpoint) Connect(ctx context.Context, addr EndpointAddr, alpn string, more ...string) (*Connection, error) {
	return ep.connect(ctx, addr, false, append([]string{alpn}, more...))
}

// ConnectEarly is Connect with 0-RTT: if this endpoint connected to the
// same peer before and the peer allows 0-RTT on alpn, the connection is
// returned before the handshake completes and data written to it is sent
// in the first flight. Such data can be replayed by an attacker: use it
// only for idempotent requests. Otherwise it behaves like Connect.
func (ep *Endpoint) ConnectEarly(ctx context.Context, addr EndpointAddr, alpn string, more ...string) (*Connection, error) {
	return ep.connect(ctx, addr, true, append([]string{alpn}, more...))
}

func (ep *Endpoint) connect(ctx context.Context, addr EndpointAddr, early bool, alpns []string) (*Connection, error) {
	cerr := func(err error) error { return &ConnectError{Remote: addr.ID, ALPN: alpns[0], Err: err} }
	for _, a := range alpns {
		if a == "" {
			return nil, cerr(errors.New("empty ALPN"))
		}
	}
	if addr.ID.IsZero() {
		return nil, cerr(errors.New("no endpoint id"))
	}
	if addr.ID == ep.id {
		return nil, cerr(errors.New("cannot connect to own endpoint id"))
	}
	if ep.isClosed() {
		return nil, cerr(ErrClosed)
	}
	resolved := false
	if addr.IsIDOnly() {
		found, err := ep.lookup(ctx, addr.ID)
		if err != nil {
			return nil, cerr(err)
		}
		addr, resolved = found, true
	}
	if len(addr.Direct) == 0 {
		// Only a relay is known: we will punch a hole, and our first net
		// report tells the peer our public address for that. Give it a
		// moment when it is still running.
		wctx, wcancel := context.WithTimeout(ctx, firstReportWait)
		ep.netrep.waitFirst(wctx)
		wcancel()
	}
	mapped, err := ep.sock.AddRemote(addr)
	if err != nil {
		return nil, cerr(err)
	}
	hctx, cancel := context.WithTimeout(ctx, ep.hsTO)
	defer cancel()
	var qc *transport.Conn
	if early {
		qc, err = ep.tr.DialEarly(hctx, mapped.AddrPort(), addr.ID, alpns...)
	} else {
		qc, err = ep.tr.Dial(hctx, mapped.AddrPort(), addr.ID, alpns...)
	}
	if err != nil {
		if resolved {
			ep.forgetLookup(addr.ID)
		}
		if errors.Is(err, net.ErrClosed) && ep.isClosed() {
			return nil, cerr(ErrClosed)
		}
		if ctx.Err() != nil {
			// The caller gave up (its ctx), not the handshake timeout.
			return nil, cerr(fmt.Errorf("no answer from %s yet: %w", addr.ID.ShortString(), ctx.Err()))
		}
		return nil, cerr(explainDialError(err, addr.ID, alpns, ep.hsTO))
	}
	c := ep.track(qc, addr.ID)
	if c == nil {
		return nil, cerr(ErrClosed)
	}
	return c, nil
}

// explainDialError turns handshake errors into ones that say what went
// wrong. alpns are the ALPNs offered, hsTO the handshake timeout.
func explainDialError(err error, want EndpointID, alpns []string, hsTO time.Duration) error {
	pub := publicError(err, -1)
	var te *TransportError
	if errors.As(pub, &te) {
		if alert, ok := te.TLSAlert(); ok {
			switch {
			case alert == 120: // no_application_protocol
				return fmt.Errorf("%w (%v)", ErrNoCommonALPN, pub)
			case !te.Remote && (alert == 42 || alert == 48 || alert == 51): // bad_certificate, unknown_ca, decrypt_error
				return &WrongPeerError{Want: want, Detail: te.Reason}
			}
		}
	}
	var ie *quic.IdleTimeoutError
	if errors.As(err, &ie) || errors.Is(err, context.DeadlineExceeded) {
		// Our handshake timeout (the QUIC one, or its twin on the dial's
		// context, whichever fired first). A Rust iroh 1.0 endpoint that
		// serves none of the offered ALPNs ends its side of the handshake
		// without a word (measured: no CONNECTION_CLOSE, at most an ACK),
		// so silence is all we learn; say both possible reasons.
		return fmt.Errorf("%s did not answer our handshake within %v on any known path: it is unreachable, or it serves none of the offered %s (Rust iroh 1.0 refuses an unknown ALPN silently): %w",
			want.ShortString(), hsTO, quotedALPNs(alpns), &TimeoutError{Handshake: true})
	}
	return pub
}

// quotedALPNs names the offered ALPNs for an error: `ALPN "a"` or `ALPNs
// "a", "b"`.
func quotedALPNs(alpns []string) string {
	q := make([]string, len(alpns))
	for i, a := range alpns {
		q[i] = strconv.Quote(a)
	}
	if len(q) == 1 {
		return "ALPN " + q[0]
	}
	return "ALPNs " + strings.Join(q, ", ")
}

// track registers a connection so Close can close it; nil if closed. A
// goroutine owned by the endpoint ends the connection's context with its
// error when it closes.
func (ep *Endpoint) track(qc *transport.Conn, remote EndpointID) *Connection {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Connection{qc: qc, remote: remote, alpn: qc.ALPN(), ep: ep, ctx: ctx}
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		cancel(ErrClosed)
		qc.Close(0, "")
		return nil
	}
	ep.conns[c] = cancel
	ep.wg.Add(1) // under mu: Close's wg.Wait comes after it sets closed
	ep.mu.Unlock()
	go func() {
		defer ep.wg.Done()
		<-qc.Done()
		cancel(publicError(qc.Err(), -1))
		ep.mu.Lock()
		delete(ep.conns, c)
		ep.mu.Unlock()
	}()
	return c
}

// acceptLoop takes connections whose handshake completed off the
// transport and offers each to Accept for a while.
func (ep *Endpoint) acceptLoop() {
	defer ep.wg.Done()
	for {
		qc, err := ep.tr.Accept(ep.ctx)
		if err != nil {
			return
		}
		if ep.pending.Add(1) > maxPendingIncoming {
			ep.pending.Add(-1)
			qc.Close(CloseBusy, "busy")
			ep.log.Debug("incoming connection refused: too many not yet accepted")
			continue
		}
		// A peer that dialed from an address we did not know (a Rust
		// endpoint, which speaks no disco) is anonymous to the socket
		// until now: TLS has proven its id.
		ep.sock.NameRemote(qc.RemoteAddr(), qc.RemoteKey())
		c := ep.track(qc, qc.RemoteKey())
		if c == nil {
			ep.pending.Add(-1)
			return
		}
		ep.wg.Add(1)
		go func() {
			defer ep.wg.Done()
			defer ep.pending.Add(-1)
			t := time.NewTimer(acceptTimeout)
			defer t.Stop()
			select {
			case ep.accept <- c:
			case <-ep.ctx.Done():
				qc.Close(0, "")
			case <-t.C:
				// Nobody calls Accept (or not fast enough): don't keep the
				// peer's connection open forever.
				qc.Close(CloseBusy, "not accepted")
			}
		}()
	}
}

// Accept returns the next incoming connection whose handshake completed,
// even one the peer has closed since (its Err says how it ended): a peer
// that connects and closes at once is still seen.
// It blocks until one arrives, ctx ends, or the endpoint closes (ErrClosed).
func (ep *Endpoint) Accept(ctx context.Context) (*Connection, error) {
	select {
	case c := <-ep.accept:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-ep.ctx.Done():
		return nil, ErrClosed
	}
}

func (ep *Endpoint) isClosed() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.closed
}

// Close closes every connection with code 0, gives the CONNECTION_CLOSE
// packets queued for relays a moment to leave (bounded by ctx), then
// releases the sockets and relay connections and waits for the endpoint's
// goroutines (which end promptly once the socket is closed: ctx bounds
// only the wait for the relay queues). It is safe to call more than once
// and concurrently: a later call returns once the first has finished, or
// when its own ctx ends.
func (ep *Endpoint) Close(ctx context.Context) error {
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		select {
		case <-ep.closeDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ep.closed = true
	conns := make([]*Connection, 0, len(ep.conns))
	for c := range ep.conns {
		conns = append(conns, c)
	}
	ep.mu.Unlock()
	defer close(ep.closeDone)
	for _, c := range conns {
		c.qc.Close(0, "") // sends CONNECTION_CLOSE before returning
	}
	if len(conns) > 0 {
		// Direct paths sent the closes synchronously; relay clients queue
		// them: let the queues drain.
		linger, cancel := context.WithTimeout(ctx, closeLinger)
		ep.relay.flush(linger)
		cancel()
	}
	ep.cancel()
	ep.tr.Close() // and the socket, which closes its relay clients
	ep.wg.Wait()
	ep.relay.close()
	ep.netrep.close()
	if ep.lookups != nil {
		ep.lookups.Close()
	}
	ep.log.Debug("endpoint closed")
	return nil
}
