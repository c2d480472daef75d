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
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"

	"github.com/iroh-go/iroh/addrlookup/preset"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/magicsock"
	"github.com/iroh-go/iroh/internal/tlsconfig"
	"github.com/iroh-go/iroh/key"
)

// Options configures Bind. A nil *Options means all defaults.
type Options struct {
	// SecretKey is the endpoint's identity; zero means a new random key.
	SecretKey SecretKey
	// ALPNs are the protocols accepted by Accept. A Router sets them from
	// its handlers. Empty means incoming connections are refused.
	ALPNs []string
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

const (
	// maxPendingIncoming bounds incoming connections that are handshaking
	// or waiting for Accept; more are refused with CloseBusy.
	maxPendingIncoming = 128
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
	tr       *quic.Transport
	ln       *quic.EarlyListener
	cert     tls.Certificate
	qconf    *quic.Config
	sessions tls.ClientSessionCache
	hsTO     time.Duration
	relay    *relayState
	netrep   *netReporter
	lookups  *preset.Set
	userData string

	alpns   atomic.Pointer[[]string]
	pending atomic.Int64 // incoming connections not yet taken by Accept

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	accept chan *Connection

	// mu guards the following.
	mu     sync.Mutex
	conns  map[*quic.Conn]struct{}
	closed bool
}

// Bind opens an endpoint: its UDP sockets, relay connection (if any), and
// QUIC listener.
func Bind(ctx context.Context, opts *Options) (*Endpoint, error) {
	if opts == nil {
		opts = &Options{}
	}
	o := *opts
	for _, a := range o.ALPNs {
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
		sk:       o.SecretKey,
		id:       o.SecretKey.Public(),
		sessions: tls.NewLRUClientSessionCache(256),
		hsTO:     o.HandshakeTimeout,
		accept:   make(chan *Connection),
		conns:    map[*quic.Conn]struct{}{},
	}
	ep.log = log.With("component", "endpoint", "endpoint_id", ep.id.ShortString())
	alpns := slices.Clone(o.ALPNs)
	ep.alpns.Store(&alpns)
	cert, err := tlsconfig.Certificate(ep.sk)
	if err != nil {
		return nil, err
	}
	ep.cert = cert
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
	ep.qconf = &quic.Config{
		HandshakeIdleTimeout:  o.HandshakeTimeout,
		MaxIdleTimeout:        o.MaxIdleTimeout,
		KeepAlivePeriod:       5 * time.Second,
		EnableDatagrams:       true,
		Allow0RTT:             true,
		MaxIncomingStreams:    1000,
		MaxIncomingUniStreams: 1000,
	}
	ep.tr = &quic.Transport{Conn: sock}
	serverTLS := tlsconfig.Server(ep.sk, cert, func() []string { return *ep.alpns.Load() })
	ln, err := ep.tr.ListenEarly(serverTLS, ep.qconf)
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("iroh: listen: %w", err)
	}
	ep.ln = ln
	ep.ctx, ep.cancel = context.WithCancel(context.Background())
	ep.wg.Add(1)
	go ep.acceptLoop()
	if err := ep.startLookup(&o); err != nil {
		ep.cancel()
		ep.ln.Close()
		ep.tr.Close()
		sock.Close()
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

// Connect dials the endpoint at addr, offering alpn and then, in order of
// preference, the alternatives in more (for version negotiation). It
// returns once the handshake completed and the peer proved it holds the
// key of addr.ID.
func (ep *Endpoint) Connect(ctx context.Context, addr EndpointAddr, alpn string, more ...string) (*Connection, error) {
	return ep.connect(ctx, addr, false, append([]string{alpn}, more...))
}

// ConnectEarly is Connect with 0-RTT: if this endpoint connected to the
// same peer before, the connection is returned before the handshake
// completes and data written to it is sent in the first flight. Such data
// can be replayed by an attacker: use it only for idempotent requests.
// Without a cached session it behaves like Connect.
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
	// Our first net report tells peers our public address in call-me-maybe
	// messages: give it a moment when it is still running.
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
	ep.netrep.waitFirst(wctx)
	wcancel()
	mapped, err := ep.sock.AddRemote(addr)
	if err != nil {
		return nil, cerr(err)
	}
	ctx, cancel := context.WithTimeout(ctx, ep.hsTO)
	defer cancel()
	tconf := tlsconfig.Client(ep.sk, ep.cert, addr.ID, alpns, ep.sessions)
	var qc *quic.Conn
	if early {
		qc, err = ep.tr.DialEarly(ctx, mapped, tconf, ep.qconf)
	} else {
		qc, err = ep.tr.Dial(ctx, mapped, tconf, ep.qconf)
	}
	if err != nil {
		if resolved {
			ep.forgetLookup(addr.ID)
		}
		return nil, cerr(explainDialError(err, addr.ID))
	}
	c := ep.track(qc, addr.ID)
	if c == nil {
		return nil, cerr(ErrClosed)
	}
	return c, nil
}

// explainDialError turns quic-go's handshake errors into ones that say
// what went wrong.
func explainDialError(err error, want EndpointID) error {
	var te *quic.TransportError
	if errors.As(err, &te) && te.ErrorCode.IsCryptoError() {
		var wp *tlsconfig.WrongPeerError
		if errors.As(err, &wp) {
			return wp
		}
		if te.ErrorCode == quic.TransportErrorCode(0x100+120) {
			return fmt.Errorf("peer serves none of the offered ALPNs: %w", err)
		}
	}
	var ie *quic.IdleTimeoutError
	var he *quic.HandshakeTimeoutError
	if errors.As(err, &ie) || errors.As(err, &he) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no answer from %s on any known path: %w", want.ShortString(), err)
	}
	return err
}

// track registers a connection so Close can close it; nil if closed.
func (ep *Endpoint) track(qc *quic.Conn, remote EndpointID) *Connection {
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		qc.CloseWithError(0, "")
		return nil
	}
	ep.conns[qc] = struct{}{}
	ep.wg.Add(1) // under mu: Close's wg.Wait comes after it sets closed
	ep.mu.Unlock()
	go func() {
		defer ep.wg.Done()
		<-qc.Context().Done()
		ep.mu.Lock()
		delete(ep.conns, qc)
		ep.mu.Unlock()
	}()
	return &Connection{qc: qc, remote: remote, alpn: qc.ConnectionState().TLS.NegotiatedProtocol, ep: ep}
}

// acceptLoop takes incoming connections off the listener and completes
// their handshakes concurrently, queueing them for Accept.
func (ep *Endpoint) acceptLoop() {
	defer ep.wg.Done()
	for {
		qc, err := ep.ln.Accept(ep.ctx)
		if err != nil {
			return
		}
		if ep.pending.Add(1) > maxPendingIncoming {
			ep.pending.Add(-1)
			qc.CloseWithError(CloseBusy, "busy")
			ep.log.Debug("incoming connection refused: too many not yet accepted")
			continue
		}
		ep.wg.Add(1)
		go func() {
			defer ep.wg.Done()
			defer ep.pending.Add(-1)
			ctx, cancel := context.WithTimeout(ep.ctx, ep.hsTO)
			defer cancel()
			select {
			case <-qc.HandshakeComplete():
			case <-qc.Context().Done():
				ep.log.Debug("incoming handshake failed", "err", context.Cause(qc.Context()))
				return
			case <-ctx.Done():
				qc.CloseWithError(0, "handshake timeout")
				return
			}
			remote, err := tlsconfig.VerifiedPeerID(qc.ConnectionState().TLS)
			if err != nil {
				ep.log.Info("incoming connection refused", "err", err)
				qc.CloseWithError(1, "no endpoint key")
				return
			}
			c := ep.track(qc, remote)
			if c == nil {
				return
			}
			t := time.NewTimer(acceptTimeout)
			defer t.Stop()
			select {
			case ep.accept <- c:
			case <-ep.ctx.Done():
				qc.CloseWithError(0, "")
			case <-t.C:
				// Nobody calls Accept (or not fast enough): don't keep the
				// peer's connection open forever.
				qc.CloseWithError(CloseBusy, "not accepted")
			}
		}()
	}
}

// Accept returns the next incoming connection whose handshake completed.
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

// Close closes every connection with code 0, waits until the closes were
// sent or ctx ends (at most 3s), then releases the sockets and relay
// connections. It is safe to call more than once.
func (ep *Endpoint) Close(ctx context.Context) error {
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		return nil
	}
	ep.closed = true
	conns := make([]*quic.Conn, 0, len(ep.conns))
	for qc := range ep.conns {
		conns = append(conns, qc)
	}
	ep.mu.Unlock()
	for _, qc := range conns {
		qc.CloseWithError(0, "")
	}
	// Give the CONNECTION_CLOSE packets a moment to leave through the
	// socket (and the relay) before tearing them down.
	wait, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for _, qc := range conns {
		select {
		case <-qc.Context().Done():
		case <-wait.Done():
		}
	}
	if len(conns) > 0 {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-wait.Done():
		}
	}
	ep.cancel()
	ep.ln.Close()
	ep.tr.Close()
	ep.sock.Close()
	ep.relay.close()
	ep.wg.Wait()
	ep.netrep.close()
	if ep.lookups != nil {
		ep.lookups.Close()
	}
	// Connections accepted but never taken by Accept.
	for {
		select {
		case c := <-ep.accept:
			c.qc.CloseWithError(0, "")
		default:
			ep.log.Debug("endpoint closed")
			return nil
		}
	}
}

var _ = endpointaddr.FromID
