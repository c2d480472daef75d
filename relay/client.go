package relay

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay/internal/bufpool"
	"github.com/iroh-go/iroh/relay/internal/ring"
	"github.com/iroh-go/iroh/relay/internal/ws"
)

// Client timing (core.md §5.7).
const (
	// connectTimeout bounds TCP + TLS + upgrade + handshake.
	connectTimeout = 10 * time.Second
	// tcpDialTimeout bounds one TCP dial attempt.
	tcpDialTimeout = 1500 * time.Millisecond
	// clientWriteTimeout bounds one flush to the relay.
	clientWriteTimeout = 5 * time.Second
	// sendQueueLen is the capacity of the Send queue, in datagram frames.
	sendQueueLen = 512
	// maxFlushFrames is how many datagram frames one flush writes at most.
	maxFlushFrames = 20
	backoffMin     = 10 * time.Millisecond
	backoffMax     = 16 * time.Second
	// deniedBackoffMin and deniedBackoffMax bound the wait after the relay
	// refused us (ServerDeniesAuth, HTTP 401 or 403): a refusal is not
	// fixed by retrying at once, so the client backs off to minutes rather
	// than hammering the relay, yet still recovers when access is granted.
	deniedBackoffMin = 30 * time.Second
	deniedBackoffMax = 10 * time.Minute
	keyCacheLen      = 128
)

// clientTimers are the client's timers. They are fields of each Client,
// not package variables, so a test can shorten them for one client
// (ClientOptions.timers) without touching others.
type clientTimers struct {
	// keepalive: a Ping is sent when nothing was received for this long.
	keepalive time.Duration
	// maxQueueAge: datagrams queued longer than this are dropped.
	maxQueueAge time.Duration
	// firstPong is the pong timeout before the first RTT sample.
	firstPong time.Duration
}

var defaultClientTimers = clientTimers{keepalive: 15 * time.Second, maxQueueAge: 3 * time.Second, firstPong: 5 * time.Second}

// pongTimeout is 3 × rtt clamped to [500 ms, 5 s]; firstPong without a
// sample.
func (t *clientTimers) pongTimeout(rtt time.Duration) time.Duration {
	if rtt <= 0 {
		return t.firstPong
	}
	return min(max(3*rtt, 500*time.Millisecond), 5*time.Second)
}

// ErrClientClosed is returned by calls on a closed Client; it matches
// net.ErrClosed.
var ErrClientClosed = fmt.Errorf("relay: client closed: %w", net.ErrClosed)

// ErrNotConnected is returned by Ping when there is no relay connection.
var ErrNotConnected = errors.New("relay: not connected")

// DeniedError is returned (and kept as LastError) when the relay refused the
// handshake with ServerDeniesAuth.
type DeniedError struct{ Reason string }

func (e *DeniedError) Error() string { return "relay: access denied: " + e.Reason }

// ClientOptions configure NewClient.
type ClientOptions struct {
	// URL is the relay URL as in tickets, e.g. "http://127.0.0.1:3340/".
	// The dial URL has path /relay and scheme ws (for http) or wss (for
	// anything else). Required.
	URL string
	// SecretKey is the endpoint's key; its public key is the EndpointID
	// the relay knows this client by. Required (zero is invalid).
	SecretKey key.SecretKey
	// Token, if not empty, is sent as "Authorization: Bearer <Token>".
	Token string
	// TLSConfig is cloned for https relays (nil: system roots). ServerName
	// defaults to the URL's host; NextProtos is forced to http/1.1.
	TLSConfig *tls.Config
	// Logger receives lifecycle logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, if not nil, are updated (several clients may share one).
	Metrics *Metrics
	// OnDatagrams is called on the client's single read goroutine for each
	// relayed datagram frame (type 6 or 7). contents is only valid during
	// the call; segmentSize 0 means a single datagram, otherwise contents
	// holds datagrams of segmentSize bytes (the last may be shorter). It
	// must not block. Nil discards datagrams.
	OnDatagrams func(src key.PublicKey, ecn uint8, segmentSize uint16, contents []byte)
	// OnEndpointGone is called on the read goroutine when the relay says an
	// endpoint this client sent to has disconnected. Optional; must not block.
	OnEndpointGone func(id key.PublicKey)

	// timers, if set, replaces the default timers (tests only).
	timers *clientTimers
}

// ClientState is a snapshot of a Client's connection.
type ClientState struct {
	// Connected is true between a completed handshake and the connection's end.
	Connected bool
	// Protocol is the negotiated subprotocol (ProtocolV2 or ProtocolV1)
	// while connected.
	Protocol string
	// Since is when the current connection was established, or when the
	// last one ended.
	Since time.Time
	// LastError is why the last connection or attempt ended (nil if none).
	LastError error
	// Latency is the round-trip time of the last answered Ping, 0 if none.
	Latency time.Duration
	// Status is the last Status code from the relay (v2; -1 if none).
	Status int
	// RetryAt is when the next connection attempt is due while the client
	// waits out a backoff; zero while connected or dialing.
	RetryAt time.Time
}

// Client is one connection to one relay server, redialed with jittered
// exponential backoff until Close. See the package doc for its goroutines.
type Client struct {
	// Set in NewClient, then read-only.
	opts    ClientOptions
	log     *slog.Logger
	dialURL *url.URL
	pub     key.PublicKey
	m       *Metrics
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	wake    chan struct{} // cap 1: queue became non-empty
	timers  clientTimers

	// mu guards the following.
	mu        sync.Mutex
	queue     ring.Ring[queued]
	state     ClientState
	conn      *clientConn
	connected chan struct{} // closed while connected
	closed    bool
	writing   int // frames taken off the queue and not yet written

	// Owned by the read goroutine.
	keyCache map[key.PublicKey]struct{}
}

type queued struct {
	buf []byte // encoded frame
	t   time.Time
}

// clientConn is one established connection.
type clientConn struct {
	wc       *ws.Conn
	protocol string
	done     chan struct{} // closed when the connection ends
	ctl      chan []byte   // control frames to write (pings, pongs)
	lastRecv atomic.Int64  // unix nanos of the last frame received
	gotPong  atomic.Bool
	rtt      atomic.Int64

	// pingMu guards pings.
	pingMu sync.Mutex
	pings  map[[PingDataSize]byte]pingWait
}

type pingWait struct {
	sent time.Time
	ch   chan time.Duration // nil for keepalive pings
}

// NewClient validates opts and starts connecting in the background. It
// returns at once; use WaitConnected to wait for the first connection.
func NewClient(opts ClientOptions) (*Client, error) {
	if opts.SecretKey == (key.SecretKey{}) {
		return nil, errors.New("relay: ClientOptions.SecretKey is zero")
	}
	u, err := DialURL(opts.URL)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Client{
		opts:      opts,
		log:       log.With("component", "relay", "relay_url", opts.URL),
		dialURL:   u,
		pub:       opts.SecretKey.Public(),
		m:         opts.Metrics,
		wake:      make(chan struct{}, 1),
		connected: make(chan struct{}),
		keyCache:  make(map[key.PublicKey]struct{}),
		timers:    defaultClientTimers,
	}
	if opts.timers != nil {
		c.timers = *opts.timers
	}
	c.state.Status = -1
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// DialURL turns a relay URL (http or https) into its WebSocket dial URL:
// path /relay, scheme ws for http and wss otherwise.
func DialURL(relayURL string) (*url.URL, error) {
	u, err := url.Parse(relayURL)
	if err != nil {
		return nil, fmt.Errorf("relay: bad URL %q: %w", relayURL, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("relay: bad URL %q: no host", relayURL)
	}
	d := &url.URL{Scheme: "wss", Host: u.Host, Path: "/relay"}
	if u.Scheme == "http" || u.Scheme == "ws" {
		d.Scheme = "ws"
	}
	return d, nil
}

// Send queues one datagram frame for dst and returns at once: it copies
// contents, never blocks, and when the queue (512 frames) is full drops the
// oldest queued frame. segmentSize 0 sends a single datagram (frame type 4),
// otherwise contents are datagrams of segmentSize bytes (type 5). It fails
// for empty contents, a frame above MaxPacketSize, or a closed client.
func (c *Client) Send(dst key.PublicKey, ecn uint8, segmentSize uint16, contents []byte) error {
	f, err := DatagramFrame(dst, ecn, segmentSize, contents)
	if err != nil {
		return err
	}
	buf := bufpool.Get(f.EncodedLen())
	buf = AppendFrame(buf, &f)
	now := time.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		bufpool.Put(buf)
		return ErrClientClosed
	}
	if c.queue.Len() >= sendQueueLen {
		old, _ := c.queue.Pop()
		bufpool.Put(old.buf)
		if c.m != nil {
			c.m.SendDrops.WithLabelValues("queue_full").Inc()
		}
	}
	c.queue.Push(queued{buf: buf, t: now})
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// dequeueLocked moves up to len(out) frames younger than maxQueueAge into
// out, dropping older ones, and returns the count.
func (c *Client) dequeueLocked(out [][]byte, now time.Time) int {
	n := 0
	for n < len(out) {
		q, ok := c.queue.Pop()
		if !ok {
			break
		}
		if now.Sub(q.t) > c.timers.maxQueueAge {
			bufpool.Put(q.buf)
			if c.m != nil {
				c.m.SendDrops.WithLabelValues("expired").Inc()
			}
			continue
		}
		out[n] = q.buf
		n++
	}
	return n
}

// expireLocked drops queued frames older than maxQueueAge.
func (c *Client) expireLocked(now time.Time) {
	for {
		q, ok := c.queue.Peek()
		if !ok || now.Sub(q.t) <= c.timers.maxQueueAge {
			return
		}
		c.queue.Pop()
		bufpool.Put(q.buf)
		if c.m != nil {
			c.m.SendDrops.WithLabelValues("expired").Inc()
		}
	}
}

// WaitConnected blocks until the client has an established connection, ctx
// ends (ctx.Err()) or the client is closed (ErrClientClosed).
func (c *Client) WaitConnected(ctx context.Context) error {
	for {
		c.mu.Lock()
		ch, closed, conn := c.connected, c.closed, c.conn
		c.mu.Unlock()
		if closed {
			return ErrClientClosed
		}
		if conn != nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ctx.Done():
			return ErrClientClosed
		}
	}
}

// State returns a snapshot of the connection state.
func (c *Client) State() ClientState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// PublicKey returns the EndpointID this client authenticates as.
func (c *Client) PublicKey() key.PublicKey { return c.pub }

// Ping sends a Ping on the current connection and waits for its Pong,
// returning the round-trip time. It fails with ErrNotConnected when there is
// no connection, and returns ctx.Err() on cancellation.
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	c.mu.Lock()
	cc := c.conn
	c.mu.Unlock()
	if cc == nil {
		return 0, ErrNotConnected
	}
	ch := make(chan time.Duration, 1)
	data := cc.sendPing(ch)
	defer func() {
		cc.pingMu.Lock()
		delete(cc.pings, data)
		cc.pingMu.Unlock()
	}()
	select {
	case d := <-ch:
		return d, nil
	case <-cc.done:
		return 0, ErrNotConnected
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-c.ctx.Done():
		return 0, ErrClientClosed
	}
}

// Flush waits until the frames queued by Send so far were written to the
// relay, or ctx ends (its error), or the client is not connected (then it
// returns at once: the queue waits for the next connection). Endpoints
// call it before Close so that their last packets (QUIC's
// CONNECTION_CLOSE) leave.
func (c *Client) Flush(ctx context.Context) error {
	for {
		c.mu.Lock()
		busy := c.queue.Len() > 0 || c.writing > 0
		up := c.state.Connected && !c.closed
		c.mu.Unlock()
		if !busy || !up {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// Close stops the client: it closes the connection, drops queued frames and
// waits for all goroutines. It is safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	if c.m != nil && c.queue.Len() > 0 {
		c.m.SendDrops.WithLabelValues("closed").Add(float64(c.queue.Len()))
	}
	for {
		q, ok := c.queue.Pop()
		if !ok {
			break
		}
		bufpool.Put(q.buf)
	}
	c.mu.Unlock()
	return nil
}

// run is the connection loop: dial, serve until the connection ends,
// back off, repeat.
func (c *Client) run() {
	defer c.wg.Done()
	backoff := time.Duration(0)
	for c.ctx.Err() == nil {
		cc, err := c.dial(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			outcome := "error"
			var de *DeniedError
			if errors.As(err, &de) {
				outcome = "denied"
				backoff = nextDeniedBackoff(backoff)
				c.log.Warn("relay refused access", "err", err, "retry_in", backoff)
			} else {
				backoff = nextBackoff(backoff)
				c.log.Debug("relay connect failed", "err", err, "retry_in", backoff)
			}
			if c.m != nil {
				c.m.Connects.WithLabelValues(outcome).Inc()
			}
			c.mu.Lock()
			c.state.LastError = err
			c.state.RetryAt = time.Now().Add(backoff)
			c.expireLocked(time.Now())
			c.mu.Unlock()
			ok := c.sleep(backoff)
			c.mu.Lock()
			c.state.RetryAt = time.Time{}
			c.mu.Unlock()
			if !ok {
				return
			}
			continue
		}
		if c.m != nil {
			c.m.Connects.WithLabelValues("ok").Inc()
		}
		c.log.Info("relay connected", "protocol", cc.protocol)
		err = c.serve(cc)
		if c.ctx.Err() != nil {
			return
		}
		c.log.Info("relay connection lost", "err", err)
		if cc.gotPong.Load() {
			backoff = 0
			continue
		}
		backoff = nextBackoff(backoff)
		if !c.sleep(backoff) {
			return
		}
	}
}

// nextDeniedBackoff doubles the wait after a refusal, from
// deniedBackoffMin to deniedBackoffMax, with the same jitter.
func nextDeniedBackoff(d time.Duration) time.Duration {
	if d < deniedBackoffMin {
		d = deniedBackoffMin
	} else {
		d = min(2*d, deniedBackoffMax)
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		d = backoffMin
	} else {
		d = min(2*d, backoffMax)
	}
	// Jitter: uniform in [d/2, d].
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// serve runs an established connection: a writer goroutine and the read
// loop on this goroutine. It returns why the connection ended.
func (c *Client) serve(cc *clientConn) error {
	now := time.Now()
	c.mu.Lock()
	c.conn = cc
	c.state = ClientState{Connected: true, Protocol: cc.protocol, Since: now, Status: -1}
	close(c.connected)
	c.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(1)
	var writeErr error
	go func() {
		defer wg.Done()
		writeErr = c.writeLoop(cc)
		cc.wc.Close() // unblocks the reader
	}()
	// Unblock the reader on Close.
	stop := context.AfterFunc(c.ctx, func() {
		cc.wc.WriteClose(1000, "")
		cc.wc.Close()
	})
	err := c.readLoop(cc)
	stop()
	close(cc.done)
	cc.wc.Close()
	wg.Wait()
	if writeErr != nil && (err == nil || errors.Is(err, net.ErrClosed)) {
		err = writeErr
	}
	c.mu.Lock()
	c.conn = nil
	c.connected = make(chan struct{})
	c.state.Connected = false
	c.state.Protocol = ""
	c.state.Since = time.Now()
	c.state.LastError = err
	c.mu.Unlock()
	return err
}

// sendPing registers a ping and queues it for the writer; ch (may be nil)
// receives the RTT.
func (cc *clientConn) sendPing(ch chan time.Duration) [PingDataSize]byte {
	var f Frame
	f.Type = FramePing
	rand.Read(f.Data[:])
	cc.pingMu.Lock()
	cc.pings[f.Data] = pingWait{sent: time.Now(), ch: ch}
	cc.pingMu.Unlock()
	select {
	case cc.ctl <- AppendFrame(nil, &f):
	default:
	}
	return f.Data
}

var errPongTimeout = errors.New("relay: pong timeout")

// writeLoop owns the connection's writer: it flushes queued datagram frames
// in batches, control frames, and runs the keepalive.
func (c *Client) writeLoop(cc *clientConn) error {
	batch := make([][]byte, maxFlushFrames+1)
	keepalive := time.NewTimer(0) // ping right after connecting
	defer keepalive.Stop()
	var pongTimer *time.Timer
	pongC := make(<-chan time.Time)
	var pendingKeepalive [PingDataSize]byte
	havePending := false
	for {
		select {
		case <-cc.done:
			return nil
		case <-c.wake:
		case p := <-cc.ctl:
			if err := cc.wc.WriteMessage(ws.OpBinary, p, time.Now().Add(clientWriteTimeout)); err != nil {
				return fmt.Errorf("relay: write: %w", err)
			}
			continue
		case <-cc.wc.ControlPending():
			if err := cc.wc.FlushControl(time.Now().Add(clientWriteTimeout)); err != nil {
				return fmt.Errorf("relay: write: %w", err)
			}
			continue
		case <-keepalive.C:
			idle := time.Since(time.Unix(0, cc.lastRecv.Load()))
			if cc.lastRecv.Load() != 0 && idle < c.timers.keepalive {
				keepalive.Reset(c.timers.keepalive - idle)
				continue
			}
			if havePending {
				keepalive.Reset(c.timers.keepalive)
				continue
			}
			pendingKeepalive = cc.sendPing(nil)
			havePending = true
			pongTimer = time.NewTimer(c.timers.pongTimeout(time.Duration(cc.rtt.Load())))
			pongC = pongTimer.C
			keepalive.Reset(c.timers.keepalive)
			continue
		case <-pongC:
			cc.pingMu.Lock()
			_, still := cc.pings[pendingKeepalive]
			cc.pingMu.Unlock()
			if still {
				return errPongTimeout
			}
			havePending = false
			pongC = make(<-chan time.Time)
			continue
		}
		for {
			c.mu.Lock()
			n := c.dequeueLocked(batch[:maxFlushFrames], time.Now())
			more := c.queue.Len() > 0
			c.writing = n
			c.mu.Unlock()
			if n == 0 {
				break
			}
			var bytes int
			for _, b := range batch[:n] {
				bytes += len(b) - 1 - key.Size - 1
			}
			err := cc.wc.WriteMessages(ws.OpBinary, batch[:n], time.Now().Add(clientWriteTimeout))
			for i := range batch[:n] {
				bufpool.Put(batch[i])
				batch[i] = nil
			}
			c.mu.Lock()
			c.writing = 0
			c.mu.Unlock()
			if err != nil {
				return fmt.Errorf("relay: write: %w", err)
			}
			if c.m != nil {
				c.m.DatagramsSent.Add(float64(n))
				c.m.BytesSent.Add(float64(bytes))
			}
			if !more {
				break
			}
		}
		// Pending pong timeout: check in case it fired while flushing.
		if havePending && pongTimer != nil {
			cc.pingMu.Lock()
			_, still := cc.pings[pendingKeepalive]
			cc.pingMu.Unlock()
			if !still {
				havePending = false
				pongTimer.Stop()
				pongC = make(<-chan time.Time)
			}
		}
	}
}

// readLoop reads frames until the connection fails.
func (c *Client) readLoop(cc *clientConn) error {
	for {
		op, msg, err := cc.wc.ReadMessage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("relay: connection closed by server: %w", err)
			}
			return fmt.Errorf("relay: read: %w", err)
		}
		cc.lastRecv.Store(time.Now().UnixNano())
		if op != ws.OpBinary {
			c.log.Warn("relay sent a text message; ignored")
			continue
		}
		f, _, err := ParseFrame(msg)
		if err != nil {
			return err
		}
		if err := c.handleFrame(cc, &f); err != nil {
			return err
		}
	}
}

func (c *Client) knownKey(k key.PublicKey) bool {
	if _, ok := c.keyCache[k]; ok {
		return true
	}
	if !k.Valid() {
		return false
	}
	if len(c.keyCache) >= keyCacheLen {
		clear(c.keyCache)
	}
	c.keyCache[k] = struct{}{}
	return true
}

func (c *Client) handleFrame(cc *clientConn, f *Frame) error {
	switch f.Type {
	case FrameRelayToClientDatagram, FrameRelayToClientDatagramBatch:
		if !c.knownKey(f.Key) {
			return &FrameError{Type: f.Type, Reason: "source is not a valid Ed25519 key"}
		}
		if c.m != nil {
			c.m.DatagramsRecv.Inc()
			c.m.BytesRecv.Add(float64(len(f.Contents)))
		}
		if c.opts.OnDatagrams != nil && len(f.Contents) > 0 {
			c.opts.OnDatagrams(f.Key, f.ECN, f.SegmentSize, f.Contents)
		}
	case FrameEndpointGone:
		if !c.knownKey(f.Key) {
			return &FrameError{Type: f.Type, Reason: "id is not a valid Ed25519 key"}
		}
		if c.opts.OnEndpointGone != nil {
			c.opts.OnEndpointGone(f.Key)
		}
	case FramePing:
		p := Frame{Type: FramePong, Data: f.Data}
		select {
		case cc.ctl <- AppendFrame(nil, &p):
		default:
		}
	case FramePong:
		cc.pingMu.Lock()
		w, ok := cc.pings[f.Data]
		delete(cc.pings, f.Data)
		cc.pingMu.Unlock()
		if !ok {
			c.log.Debug("relay sent an unsolicited pong")
			return nil
		}
		rtt := time.Since(w.sent)
		cc.rtt.Store(int64(rtt))
		cc.gotPong.Store(true)
		c.mu.Lock()
		c.state.Latency = rtt
		c.mu.Unlock()
		if w.ch != nil {
			w.ch <- rtt
		}
	case FrameHealth:
		if cc.protocol == ProtocolV2 {
			return &FrameError{Type: f.Type, Reason: "Health frame on a v2 connection"}
		}
		c.log.Warn("relay health problem", "problem", string(f.Text))
	case FrameStatus:
		if cc.protocol == ProtocolV1 {
			return &FrameError{Type: f.Type, Reason: "Status frame on a v1 connection"}
		}
		c.mu.Lock()
		c.state.Status = int(f.Status)
		c.mu.Unlock()
		switch f.Status {
		case StatusHealthy:
			c.log.Info("relay connection is active again")
		case StatusSameEndpointIDConnected:
			c.log.Warn("another connection with the same endpoint id took over this relay connection")
		default:
			c.log.Debug("relay sent unknown status", "status", f.Status)
		}
	case FrameRestarting:
		c.log.Info("relay is restarting", "reconnect_in", time.Duration(f.ReconnectIn)*time.Millisecond,
			"try_for", time.Duration(f.TryFor)*time.Millisecond)
	default:
		return &FrameError{Type: f.Type, Reason: "not valid from the server after the handshake"}
	}
	return nil
}

// dial connects, upgrades and authenticates.
func (c *Client) dial(ctx context.Context) (*clientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	host := c.dialURL.Host
	hostname := c.dialURL.Hostname()
	port := c.dialURL.Port()
	if port == "" {
		port = "80"
		if c.dialURL.Scheme == "wss" {
			port = "443"
		}
	}
	d := net.Dialer{Timeout: tcpDialTimeout, FallbackDelay: 250 * time.Millisecond}
	nc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(hostname, port))
	if err != nil {
		return nil, fmt.Errorf("relay: dial %s: %w", host, err)
	}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	// The TCP connection, not nc (which becomes the TLS connection below):
	// its deadline also unblocks the TLS layer, and the callback must not
	// read a variable this goroutine writes.
	raw := nc
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Now()) })
	defer stop()

	var export ExportKeyingMaterialFunc
	if c.dialURL.Scheme == "wss" {
		var conf *tls.Config
		if c.opts.TLSConfig != nil {
			conf = c.opts.TLSConfig.Clone()
		} else {
			conf = &tls.Config{}
		}
		if conf.ServerName == "" {
			conf.ServerName = hostname
		}
		conf.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("relay: TLS handshake with %s: %w", host, err)
		}
		nc = tc
		cs := tc.ConnectionState()
		export = cs.ExportKeyingMaterial
	}

	wsKey := ws.NewKey()
	var req strings.Builder
	fmt.Fprintf(&req, "GET /relay HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", host)
	fmt.Fprintf(&req, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", wsKey)
	fmt.Fprintf(&req, "Sec-WebSocket-Protocol: %s, %s\r\n", ProtocolV2, ProtocolV1)
	if c.opts.Token != "" {
		fmt.Fprintf(&req, "Authorization: Bearer %s\r\n", c.opts.Token)
	}
	if export != nil {
		if a, err := NewKeyMaterialAuth(c.opts.SecretKey, export); err == nil {
			fmt.Fprintf(&req, "%s: %s\r\n", ClientAuthHeader, a.HeaderValue())
		}
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(nc, req.String()); err != nil {
		return nil, fmt.Errorf("relay: upgrade request to %s: %w", host, err)
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, fmt.Errorf("relay: upgrade response from %s: %w", host, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return nil, &DeniedError{Reason: fmt.Sprintf("upgrade to %s: HTTP %d: %s", host, resp.StatusCode, strings.TrimSpace(string(body)))}
		}
		return nil, fmt.Errorf("relay: upgrade to %s: HTTP %d: %s", host, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != ws.AcceptKey(wsKey) {
		return nil, fmt.Errorf("relay: upgrade to %s: bad Sec-WebSocket-Accept %q", host, got)
	}
	proto := resp.Header.Get("Sec-WebSocket-Protocol")
	if proto != ProtocolV2 && proto != ProtocolV1 {
		return nil, fmt.Errorf("relay: upgrade to %s: bad subprotocol %q", host, proto)
	}
	wc := ws.NewConn(nc, br, true, MaxFrameSize)
	if err := c.handshake(wc); err != nil {
		return nil, fmt.Errorf("relay: handshake with %s: %w", host, err)
	}
	stop()
	nc.SetDeadline(time.Time{})
	ok = true
	return &clientConn{
		wc:       wc,
		protocol: proto,
		done:     make(chan struct{}),
		ctl:      make(chan []byte, 16),
		pings:    make(map[[PingDataSize]byte]pingWait),
	}, nil
}

// handshake runs the client side of core.md §5.5.
func (c *Client) handshake(wc *ws.Conn) error {
	for sentAuth := false; ; {
		f, err := readFrame(wc)
		if err != nil {
			return err
		}
		switch f.Type {
		case FrameServerChallenge:
			if sentAuth {
				return errors.New("second ServerChallenge")
			}
			auth := SignChallenge(c.opts.SecretKey, f.Challenge)
			if err := wc.WriteMessage(ws.OpBinary, AppendFrame(nil, &auth), time.Time{}); err != nil {
				return err
			}
			sentAuth = true
		case FrameServerConfirmsAuth:
			return nil
		case FrameServerDeniesAuth:
			return &DeniedError{Reason: string(f.Text)}
		default:
			return fmt.Errorf("unexpected %s frame", f.Type)
		}
	}
}

// readFrame reads one binary message and parses it, skipping text messages.
func readFrame(wc *ws.Conn) (Frame, error) {
	for {
		op, msg, err := wc.ReadMessage()
		if err != nil {
			return Frame{}, err
		}
		if op != ws.OpBinary {
			continue
		}
		f, _, err := ParseFrame(msg)
		if err != nil {
			return Frame{}, err
		}
		// Copy what aliases msg: the caller keeps f past the next read.
		f.Text = append([]byte(nil), f.Text...)
		f.Contents = append([]byte(nil), f.Contents...)
		return f, nil
	}
}
