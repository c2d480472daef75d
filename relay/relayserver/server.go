package relayserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iroh-go/iroh/internal/connlimit"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
	"github.com/iroh-go/iroh/relay/internal/bufpool"
	"github.com/iroh-go/iroh/relay/internal/ws"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Defaults (core.md §5.6–5.8).
const (
	// DefaultQueueSize is the capacity of a client's send queue, in frames.
	DefaultQueueSize = 512
	// DefaultWriteTimeout bounds one write to a client; a slower client is
	// disconnected (SERVER_WRITE_TIMEOUT).
	DefaultWriteTimeout = 2 * time.Second
	// DefaultEstablishTimeout bounds the time from the upgrade request to a
	// completed handshake.
	DefaultEstablishTimeout = 30 * time.Second
	// DefaultHeaderTimeout bounds the time to receive an HTTP request's
	// headers (the TLS handshake included): a connection that sends half a
	// request line is closed after it.
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultMaxConns caps the TCP connections Serve keeps open.
	DefaultMaxConns = 100_000
	// DefaultMaxConnsPerIP caps the TCP connections from one IP address:
	// enough for many endpoints behind one NAT, few enough that one host
	// cannot hold a large part of DefaultMaxConns.
	DefaultMaxConnsPerIP = 1_000
	// keepaliveInterval and keepaliveJitter make the server's ping interval
	// uniform in [16 s, 20 s], that is 15 s + 1–5 s as in iroh-relay.
	keepaliveInterval = 16 * time.Second
	keepaliveJitter   = 4 * time.Second
	// maxWriteBatch and maxWriteBytes bound one write to a client: at most
	// 64 frames, and no more frames once 48 KiB are gathered.
	maxWriteBatch = 64
	maxWriteBytes = 48 << 10
	// restartReconnectIn and restartTryFor are the hints sent in
	// Restarting on shutdown (iroh 1.0 clients ignore them and redial with
	// their own backoff).
	restartReconnectIn = 2000
	restartTryFor      = 60000
)

// RateLimit limits how fast the server reads from each client (bytes of the
// WebSocket stream after TLS), as a token bucket. A client over its limit
// is not disconnected and nothing is dropped: the server stops reading its
// socket until tokens refill (backpressure, as iroh-relay does).
type RateLimit struct {
	// BytesPerSecond is the refill rate; zero means unlimited.
	BytesPerSecond int
	// MaxBurstBytes is the bucket size; zero means BytesPerSecond/10.
	MaxBurstBytes int
}

// Options configure New. The zero value (or a nil *Options) is a plain
// HTTP relay that lets everyone in.
type Options struct {
	// Logger receives lifecycle logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics are updated by the server; nil means unregistered metrics of
	// its own (see Server.Metrics).
	Metrics *Metrics
	// TLSConfig, if not nil, makes Serve speak HTTPS and enables the
	// TLS-exporter handshake (x-iroh-relay-client-auth-v1). It is cloned;
	// NextProtos is forced to http/1.1.
	TLSConfig *tls.Config
	// Access decides who may connect after authentication; nil lets
	// everyone in.
	Access AccessFunc
	// RateLimit limits each client's receive rate; zero means unlimited.
	RateLimit RateLimit
	// QueueSize is the per-client send queue capacity; zero means 512.
	QueueSize int
	// WriteTimeout bounds each write to a client; zero means 2 s.
	WriteTimeout time.Duration
	// EstablishTimeout bounds upgrade plus handshake; zero means 30 s.
	EstablishTimeout time.Duration
	// HeaderTimeout bounds receiving a request's headers (and the TLS
	// handshake) on Serve's listeners; zero means DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// MaxConns caps the TCP connections Serve's listeners keep open (in
	// any state, WebSockets included); zero means DefaultMaxConns,
	// negative means no cap. Connections over a cap are closed at once
	// and counted in Metrics.ConnsRefused.
	MaxConns int
	// MaxConnsPerIP caps those from one IP address; zero means
	// DefaultMaxConnsPerIP, negative means no cap.
	MaxConnsPerIP int
}

// Server is an iroh relay server. It is an http.Handler (ServeHTTP), so it
// can be mounted in an existing server, or it can serve listeners itself
// (Serve). All methods are safe for concurrent use.
type Server struct {
	// Set in New, then read-only.
	log              *slog.Logger
	m                *Metrics
	tlsConfig        *tls.Config
	access           AccessFunc
	limit            RateLimit
	queueSize        int
	writeTimeout     time.Duration
	establishTimeout time.Duration
	headerTimeout    time.Duration
	maxConns         int
	maxConnsPerIP    int
	ctx              context.Context // server lifetime; cancelled by Shutdown
	cancel           context.CancelFunc
	// The hot path's labelled counters, looked up once.
	dropNoDestination, dropQueueFull, dropDisconnected prometheus.Counter

	// Test hooks, set before serving.
	pingInterval time.Duration
	pingJitter   time.Duration

	reg    registry
	connID atomic.Uint64
	wg     sync.WaitGroup // client connections

	// mu guards the following.
	mu       sync.Mutex
	closed   bool
	conns    map[*conn]struct{}
	pending  map[net.Conn]struct{} // upgraded, handshake not finished
	servers  map[*http.Server]struct{}
	stunConn map[net.PacketConn]struct{}
}

// New returns a server with opts (nil: defaults). It does not listen; see
// Serve and ServeHTTP.
func New(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.QueueSize < 0 || o.WriteTimeout < 0 || o.EstablishTimeout < 0 || o.HeaderTimeout < 0 {
		return nil, errors.New("relayserver: negative QueueSize, WriteTimeout, EstablishTimeout or HeaderTimeout")
	}
	if o.RateLimit.BytesPerSecond < 0 || o.RateLimit.MaxBurstBytes < 0 {
		return nil, errors.New("relayserver: negative rate limit")
	}
	if o.RateLimit.BytesPerSecond == 0 && o.RateLimit.MaxBurstBytes != 0 {
		return nil, errors.New("relayserver: RateLimit.MaxBurstBytes without BytesPerSecond")
	}
	s := &Server{
		log:              o.Logger,
		m:                o.Metrics,
		access:           o.Access,
		limit:            o.RateLimit,
		queueSize:        o.QueueSize,
		writeTimeout:     o.WriteTimeout,
		establishTimeout: o.EstablishTimeout,
		headerTimeout:    o.HeaderTimeout,
		maxConns:         o.MaxConns,
		maxConnsPerIP:    o.MaxConnsPerIP,
		pingInterval:     keepaliveInterval,
		pingJitter:       keepaliveJitter,
		conns:            make(map[*conn]struct{}),
		pending:          make(map[net.Conn]struct{}),
		servers:          make(map[*http.Server]struct{}),
		stunConn:         make(map[net.PacketConn]struct{}),
	}
	s.reg.byID = make(map[key.PublicKey]*entry)
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("component", "relayserver")
	if s.m == nil {
		s.m = NewMetrics(nil)
	}
	if s.access == nil {
		s.access = AllowAll()
	}
	s.dropNoDestination = s.m.DatagramDrops.WithLabelValues(DropNoDestination)
	s.dropQueueFull = s.m.DatagramDrops.WithLabelValues(DropQueueFull)
	s.dropDisconnected = s.m.DatagramDrops.WithLabelValues(DropDisconnected)
	if s.queueSize == 0 {
		s.queueSize = DefaultQueueSize
	}
	if s.writeTimeout == 0 {
		s.writeTimeout = DefaultWriteTimeout
	}
	if s.establishTimeout == 0 {
		s.establishTimeout = DefaultEstablishTimeout
	}
	if s.headerTimeout == 0 {
		s.headerTimeout = DefaultHeaderTimeout
	}
	if s.maxConns == 0 {
		s.maxConns = DefaultMaxConns
	}
	if s.maxConnsPerIP == 0 {
		s.maxConnsPerIP = DefaultMaxConnsPerIP
	}
	if s.limit.BytesPerSecond > 0 && s.limit.MaxBurstBytes == 0 {
		s.limit.MaxBurstBytes = max(s.limit.BytesPerSecond/10, 1)
	}
	if o.TLSConfig != nil {
		s.tlsConfig = o.TLSConfig.Clone()
		s.tlsConfig.NextProtos = []string{"http/1.1"}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.m }

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

// Serve accepts HTTP connections on ln (HTTPS when Options.TLSConfig is
// set) and serves every route of the relay until Shutdown or Close, then
// returns ErrServerClosed. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(ln, s)
}

// ServeCaptivePortal serves only /generate_204 on ln (plain HTTP), as a TLS
// relay does on its HTTP port, until Shutdown or Close.
func (s *Server) ServeCaptivePortal(ln net.Listener) error {
	return s.serve(ln, http.HandlerFunc(s.captivePortalOnly))
}

func (s *Server) serve(ln net.Listener, h http.Handler) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.headerTimeout,
		MaxHeaderBytes:    16 << 10,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.servers[hs] = struct{}{}
	s.mu.Unlock()
	ln = connlimit.New(ln, connlimit.Options{MaxConns: s.maxConns, MaxConnsPerIP: s.maxConnsPerIP,
		OnRefuse: func(reason string) { s.m.ConnsRefused.WithLabelValues(reason).Inc() }})
	if s.tlsConfig != nil && h == s {
		ln = tls.NewListener(ln, s.tlsConfig)
	}
	err := hs.Serve(ln)
	s.mu.Lock()
	delete(s.servers, hs)
	s.mu.Unlock()
	return err
}

// Shutdown stops the server gracefully: listeners stop accepting, every
// client gets a Restarting frame and a WebSocket close, and Shutdown waits
// for all connection goroutines until ctx ends, then closes what remains.
// It returns ctx.Err() if ctx ended first. Safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	servers := make([]*http.Server, 0, len(s.servers))
	for hs := range s.servers {
		servers = append(servers, hs)
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	for pc := range s.stunConn {
		pc.Close()
	}
	for nc := range s.pending {
		nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	for _, hs := range servers {
		// Only plain HTTP requests are tracked here; relay connections are
		// hijacked and stopped below.
		hs.Close()
	}
	for _, c := range conns {
		c.stop()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// Close stops the server at once: like Shutdown, but it waits at most one
// write timeout for clients to receive Restarting.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.writeTimeout)
	defer cancel()
	s.Shutdown(ctx)
	return nil
}

// securityHeaders are sent on every response of the relay service.
func securityHeaders(h http.Header) {
	h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; form-action 'none'; base-uri 'self'; block-all-mixed-content; plugin-types 'none'")
}

const indexHTML = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>iroh relay</title></head>
<body><h1>iroh relay</h1>
<p>This is an <a href="https://iroh.computer">iroh</a> relay server (iroh-go).</p>
</body></html>
`

// healthVersion is reported by /healthz.
const healthVersion = "iroh-go"

// ServeHTTP serves the relay's routes (core.md §5.1): /relay (WebSocket
// upgrade), /ping, /generate_204, /healthz, /, /index.html, /robots.txt; 404
// otherwise. A /relay request that upgrades returns once the client is
// connected; the connection then runs on a goroutine of the server's,
// which Shutdown and Close wait for.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		notFound(w)
		return
	}
	switch r.URL.Path {
	case "/relay":
		s.serveRelay(w, r)
	case "/ping":
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(http.StatusOK)
	case "/generate_204":
		serveGenerate204(w, r)
	case "/healthz":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"ok","version":%q,"git_hash":"unknown"}`, healthVersion)
	case "/", "/index.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, indexHTML)
	case "/robots.txt":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "User-agent: *\nDisallow: /\n")
	default:
		notFound(w)
	}
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "Not Found")
}

func (s *Server) captivePortalOnly(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if r.URL.Path == "/generate_204" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		serveGenerate204(w, r)
		return
	}
	notFound(w)
}

// serveGenerate204 answers the captive-portal check: 204, echoing a valid
// X-Iroh-Challenge as "X-Iroh-Response: response <challenge>".
func serveGenerate204(w http.ResponseWriter, r *http.Request) {
	if ch := r.Header.Get("X-Iroh-Challenge"); validChallenge(ch) {
		w.Header().Set("X-Iroh-Response", "response "+ch)
	}
	w.WriteHeader(http.StatusNoContent)
}

func validChallenge(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// negotiate picks the highest supported subprotocol from the
// Sec-WebSocket-Protocol headers, or "".
func negotiate(h http.Header) string {
	v1 := false
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			switch strings.TrimSpace(p) {
			case relay.ProtocolV2:
				return relay.ProtocolV2
			case relay.ProtocolV1:
				v1 = true
			}
		}
	}
	if v1 {
		return relay.ProtocolV1
	}
	return ""
}

func (s *Server) badUpgrade(w http.ResponseWriter, msg string) {
	s.m.Handshakes.WithLabelValues(HandshakeBadUpgrade).Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, msg)
}

// serveRelay validates the upgrade as iroh-relay does (core.md §5.2), takes
// over the connection and runs the client.
func (s *Server) serveRelay(w http.ResponseWriter, r *http.Request) {
	s.m.Accepts.Inc()
	if r.Method != http.MethodGet {
		s.badUpgrade(w, "relay: GET required")
		return
	}
	if r.Header.Get("Upgrade") != "websocket" {
		s.badUpgrade(w, "relay: expected Upgrade: websocket")
		return
	}
	wsKey := r.Header.Get("Sec-WebSocket-Key")
	if wsKey == "" {
		s.badUpgrade(w, "relay: missing Sec-WebSocket-Key")
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		s.badUpgrade(w, "relay: unsupported Sec-WebSocket-Version, want 13")
		return
	}
	proto := negotiate(r.Header)
	if proto == "" {
		s.badUpgrade(w, "relay: no supported relay protocol in Sec-WebSocket-Protocol (want iroh-relay-v2 or iroh-relay-v1)")
		return
	}
	// The TLS-exporter proof; any failure falls back to the challenge.
	var preauth *key.PublicKey
	if v := r.Header.Get(relay.ClientAuthHeader); v != "" && r.TLS != nil {
		a, err := relay.ParseKeyMaterialHeader(v)
		if err == nil {
			err = a.Verify(r.TLS.ExportKeyingMaterial)
		}
		if err == nil {
			preauth = &a.Key
		} else {
			s.log.Debug("tls exporter auth failed, using challenge", "err", err)
		}
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.badUpgrade(w, "relay: connection cannot be upgraded (HTTP/1.1 required)")
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	handedOff := false
	defer func() {
		if !handedOff {
			s.wg.Done()
		}
	}()
	nc, brw, err := hj.Hijack()
	if err != nil {
		s.m.Handshakes.WithLabelValues(HandshakeError).Inc()
		s.log.Debug("hijack failed", "err", err)
		return
	}
	defer func() {
		if !handedOff {
			nc.Close()
		}
	}()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.pending[nc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, nc)
		s.mu.Unlock()
	}()
	nc.SetDeadline(time.Now().Add(s.establishTimeout))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + ws.AcceptKey(wsKey) + "\r\nSec-WebSocket-Protocol: " + proto + "\r\n\r\n"
	if _, err := io.WriteString(nc, resp); err != nil {
		s.m.Handshakes.WithLabelValues(HandshakeError).Inc()
		return
	}
	// The hijacked bufio.Reader and Writer are dropped: the WebSocket
	// layer keeps only the bytes already buffered and reads with a buffer
	// it holds only while data is pending.
	var wc *ws.Conn
	if s.limit.BytesPerSecond > 0 {
		var pre []byte
		if n := brw.Reader.Buffered(); n > 0 {
			peek, _ := brw.Reader.Peek(n)
			pre = bytes.Clone(peek)
		}
		wc = ws.NewConnReader(nc, pre, &limitedReader{
			r:    nc,
			lim:  rate.NewLimiter(rate.Limit(s.limit.BytesPerSecond), s.limit.MaxBurstBytes),
			done: s.ctx.Done(),
			m:    s.m,
		}, false, relay.MaxFrameSize)
	} else {
		wc = ws.NewConn(nc, brw.Reader, false, relay.MaxFrameSize)
	}
	c := s.establish(r, nc, wc, proto, preauth)
	if c == nil {
		return
	}
	// The connection runs on a goroutine of its own from here, and this
	// one returns: net/http's per-request state (request, response
	// buffers, the handler's deep stack) is freed while the client stays.
	handedOff = true
	go s.runConn(c)
}

// limitedReader applies a client's rate limit to the bytes read from its
// connection: after each read it waits until the bucket covers the bytes.
type limitedReader struct {
	r    io.Reader
	lim  *rate.Limiter
	done <-chan struct{}
	m    *Metrics
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if b := l.lim.Burst(); len(p) > b {
		p = p[:b]
	}
	n, err := l.r.Read(p)
	if n > 0 {
		if d := l.lim.ReserveN(time.Now(), n).Delay(); d > 0 {
			l.m.RateLimited.Inc()
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
			}
		}
	}
	return n, err
}

// readFrame reads one binary message and parses it, skipping text.
func readFrame(wc *ws.Conn) (relay.Frame, error) {
	for {
		op, msg, err := wc.ReadMessage()
		if err != nil {
			return relay.Frame{}, err
		}
		if op == ws.OpBinary {
			f, _, err := relay.ParseFrame(msg)
			return f, err
		}
	}
}

// establish runs the handshake and access control, registers the client
// and confirms it. It returns nil if the client is not admitted (the
// caller closes nc).
func (s *Server) establish(r *http.Request, nc net.Conn, wc *ws.Conn, proto string, preauth *key.PublicKey) *conn {
	log := s.log.With("remote", nc.RemoteAddr().String())
	deny := func(reason string) {
		df := relay.Frame{Type: relay.FrameServerDeniesAuth, Text: []byte(reason)}
		wc.WriteMessage(ws.OpBinary, relay.AppendFrame(nil, &df), time.Now().Add(s.writeTimeout))
		wc.WriteClose(1008, "")
	}
	var ep key.PublicKey
	outcome := HandshakeOKKeyingMat
	if preauth != nil {
		ep = *preauth
	} else {
		outcome = HandshakeOK
		ch := relay.NewChallenge()
		if err := wc.WriteMessage(ws.OpBinary, relay.AppendFrame(nil, &ch), time.Now().Add(s.writeTimeout)); err != nil {
			s.m.Handshakes.WithLabelValues(HandshakeError).Inc()
			return nil
		}
		f, err := readFrame(wc)
		if err != nil {
			s.m.Handshakes.WithLabelValues(HandshakeError).Inc()
			log.Debug("handshake read failed", "err", err)
			return nil
		}
		if f.Type != relay.FrameClientAuth {
			s.m.Handshakes.WithLabelValues(HandshakeError).Inc()
			log.Debug("handshake: unexpected frame", "frame", f.Type.String())
			return nil
		}
		if err := relay.VerifyClientAuth(&f, ch.Challenge); err != nil {
			s.m.Handshakes.WithLabelValues(HandshakeBadSignature).Inc()
			log.Debug("handshake: bad signature", "endpoint_id", f.Key.ShortString())
			deny(relay.DenySignatureInvalid)
			return nil
		}
		ep = f.Key
	}
	log = log.With("endpoint_id", ep.ShortString())
	req := &ClientRequest{ConnID: s.connID.Add(1), EndpointID: ep, Protocol: proto, Request: r}
	actx, cancel := context.WithDeadline(s.ctx, time.Now().Add(s.establishTimeout))
	allow, reason := s.access(actx, req)
	cancel()
	if !allow {
		if reason == "" {
			reason = relay.DenyNotAuthorized
		}
		s.m.Handshakes.WithLabelValues(HandshakeDenied).Inc()
		log.Debug("client denied", "reason", reason)
		deny(reason)
		return nil
	}

	c := &conn{
		s:        s,
		id:       req.ConnID,
		ep:       ep,
		protocol: proto,
		nc:       nc,
		wc:       wc,
		remote:   nc.RemoteAddr().String(),
	}
	c.lastRecv.Store(time.Now().UnixNano())
	wc.OnPing = c.pongPending
	s.mu.Lock()
	delete(s.pending, nc)
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.m.Clients.Inc()
	// Register before confirming, so that datagrams sent to this client
	// right after its handshake completes are not dropped.
	s.reg.register(c)
	s.m.Handshakes.WithLabelValues(outcome).Inc()
	confirm := []byte{byte(relay.FrameServerConfirmsAuth)}
	if err := wc.WriteMessage(ws.OpBinary, confirm, time.Now().Add(s.writeTimeout)); err != nil {
		c.setReason(DisconnectWriteTimeout)
	} else {
		nc.SetDeadline(time.Time{})
		log.Debug("client connected", "protocol", proto, "conn_id", c.id)
	}
	return c
}

// runConn runs an established client until it ends, then removes it. It
// runs on its own goroutine, counted in s.wg.
func (s *Server) runConn(c *conn) {
	defer s.wg.Done()
	defer c.nc.Close()
	why := DisconnectWriteTimeout
	if c.reason() == "" {
		c.mu.Lock()
		c.keepalive = time.AfterFunc(s.keepaliveInterval(), c.keepaliveFunc)
		c.mu.Unlock()
		why = c.readLoop()
	}
	s.reg.unregister(c)
	c.nc.Close()
	c.endWriters()
	c.mu.Lock()
	c.ended = true
	if c.keepalive != nil {
		c.keepalive.Stop()
	}
	c.mu.Unlock()
	if w := c.reason(); w != "" {
		why = w
	}
	// Frames still queued were never delivered.
	c.qmu.Lock()
	for {
		b, ok := c.queue.Pop()
		if !ok {
			break
		}
		if isDatagram(b) {
			s.dropDisconnected.Inc()
		}
		bufpool.Put(b)
	}
	c.qmu.Unlock()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.m.Clients.Dec()
	s.m.Disconnects.WithLabelValues(why).Inc()
	c.debug("client disconnected", "reason", why, "conn_id", c.id)
}

func isDatagram(b []byte) bool {
	return len(b) > 0 && (b[0] == byte(relay.FrameRelayToClientDatagram) || b[0] == byte(relay.FrameRelayToClientDatagramBatch))
}
