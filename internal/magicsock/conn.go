package magicsock

import (
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

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// MappedPrefix is the ULA prefix of the mapped addresses quic-go sees.
var MappedPrefix = netip.MustParsePrefix("fd15:70a:510b::/64")

// MappedPort is the port of every mapped address.
const MappedPort = 12345

// maxPacket is the largest datagram read or relayed.
const maxPacket = 65536

// RelayClient is what the socket needs of a relay connection.
type RelayClient interface {
	// Send queues one datagram (segmentSize 0) or a batch of segmentSize
	// datagrams for dst; it never blocks.
	Send(dst key.PublicKey, ecn uint8, segmentSize uint16, contents []byte) error
	Close() error
}

// RelayDialer opens a relay client for url whose received datagrams are
// passed to deliver (on the client's read goroutine; contents only valid
// during the call).
type RelayDialer func(url endpointaddr.RelayURL, deliver func(src key.PublicKey, ecn uint8, segmentSize uint16, contents []byte)) (RelayClient, error)

// Options configures a Conn. The zero value binds IPv4 and IPv6 wildcard
// addresses on random ports with no relay.
type Options struct {
	// SecretKey is the endpoint's key; it seals and opens disco packets.
	SecretKey key.SecretKey
	// BindV4 is the IPv4 socket address; zero means 0.0.0.0:0. An invalid
	// (zero) address with DisableV4 set means no IPv4 socket.
	BindV4 netip.AddrPort
	// BindV6 is the IPv6 socket address; zero means [::]:0.
	BindV6    netip.AddrPort
	DisableV4 bool
	DisableV6 bool
	// HomeRelay is the relay this endpoint stays connected to and
	// advertises; empty means none.
	HomeRelay endpointaddr.RelayURL
	// DialRelay opens relay connections; nil means relays are not used.
	DialRelay RelayDialer
	// RelayOnly disables direct paths: no candidates, no UDP probes, no
	// direct addresses advertised. For tests and UDP-hostile networks.
	RelayOnly bool
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Metrics; nil means unregistered metrics.
	Metrics *Metrics
}

// Conn is the packet socket handed to quic-go. See the package doc.
type Conn struct {
	// Set in New, then read-only.
	sk        key.SecretKey
	id        key.PublicKey
	pc4       *net.UDPConn
	pc6       *net.UDPConn
	log       *slog.Logger
	metrics   *Metrics
	dial      RelayDialer
	home      atomic.Pointer[endpointaddr.RelayURL] // see relay.go
	relayOnly bool

	closing chan struct{}
	wg      sync.WaitGroup
	closed  atomic.Bool

	// Counters resolved once, for the hot paths.
	sentDirect  prometheus.Counter
	recvPackets prometheus.Counter

	// rx carries received packets to ReadBatch (see batch.go).
	rx chan *rxBatch
	// rxMu serializes readers (quic-go has one); it guards rxCur, the
	// batch being read.
	rxMu  sync.Mutex
	rxCur *rxBatch

	// The QUIC socket face (quicsock.go): its reader reads inlinePC
	// itself, whose readLoop then exits (closing inlineHanded).
	quicOnce      sync.Once
	quicSock      *QUICSocket
	inlinePC      atomic.Pointer[net.UDPConn]
	inlineHanded  chan struct{}
	inlineWaiting atomic.Bool // the inline reader is (about to be) blocked in a read

	readDeadline atomic.Pointer[time.Time]
	deadlineCh   chan struct{} // poked when the read deadline changes

	// Atomic maps.
	byID     sync.Map // key.PublicKey -> *remote
	byMapped sync.Map // netip.AddrPort -> *remote
	byUDP    sync.Map // netip.AddrPort -> *remote
	boxKeys  sync.Map // key.PublicKey -> *[32]byte
	nextMap  atomic.Uint64
	nRemotes atomic.Int64 // entries of byID

	// dialMu serializes relay dials and guards storing into and clearing
	// relays (see relayFor). Lock order: dialMu, then the dialer's own
	// locks; dialMu and mu are never held together.
	dialMu sync.Mutex

	// mu guards the following.
	mu       sync.Mutex
	pending  map[netip.AddrPort]*pendingSrc
	anon     map[netip.AddrPort]*remote
	observed map[netip.AddrPort]time.Time // our addresses as peers saw them (pongs)
	// relayInitials are recent QUIC Initials from relays, a ring
	// (quicpath.go).
	relayInitials    [relayInitialSlots]relayInitial
	relayInitialNext int

	relays          sync.Map    // endpointaddr.RelayURL -> *relayEntry; see relay.go
	discoLimiter    tokenBucket // bounds disco work for unknown senders
	strangerLimiter tokenBucket // bounds remotes created for strangers
	stunS           stunState   // see stun.go
}

// pendingSrc holds QUIC packets from a UDP source not yet known to be a
// path of any remote, until a disco ping identifies it.
type pendingSrc struct {
	first time.Time
	pkts  [][]byte
	// initial is the destination id of a held QUIC Initial, if any
	// (matched against its relay copy, see quicpath.go).
	initial cid
	timer   *time.Timer // flushAnonymous; counted in Conn.wg until it ran or Close stopped it
}

const (
	// anonymousAfter is how long packets from an unknown source wait for a
	// disco ping before they are handed to QUIC under an anonymous remote
	// (a peer that does not speak disco to us, or dialed a wrong id).
	anonymousAfter    = 150 * time.Millisecond
	maxAnonymous      = 256
	anonymousIdle     = 60 * time.Second
	pendingMaxSources = 64
	pendingMaxPackets = 8
	pendingTTL        = 2 * time.Second
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, maxPacket); return &b }}

// New opens the UDP sockets and starts the socket's goroutines.
func New(opts *Options) (*Conn, error) {
	if opts == nil {
		opts = &Options{}
	}
	o := *opts
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Conn{
		sk:         o.SecretKey,
		id:         o.SecretKey.Public(),
		log:        log.With("component", "magicsock"),
		metrics:    o.Metrics,
		dial:       o.DialRelay,
		relayOnly:  o.RelayOnly,
		rx:         make(chan *rxBatch, rxQueueLen),
		closing:    make(chan struct{}),
		deadlineCh: make(chan struct{}, 1),
		pending:    map[netip.AddrPort]*pendingSrc{},
		anon:       map[netip.AddrPort]*remote{},
		observed:   map[netip.AddrPort]time.Time{},
	}
	if c.metrics == nil {
		c.metrics = NewMetrics(nil)
	}
	c.sentDirect = c.metrics.SentBytes.WithLabelValues("direct")
	c.recvPackets = c.metrics.RecvPackets
	// Opening a disco packet from a stranger costs an X25519 (~50 µs):
	// at most 200 a second (1% of a core), so a flood cannot starve the
	// socket's reader.
	c.discoLimiter = tokenBucket{rate: 200, burst: 50}
	c.strangerLimiter = tokenBucket{rate: strangerRemoteRate, burst: strangerRemoteBurst}
	if !o.DisableV4 {
		addr := o.BindV4
		if !addr.IsValid() {
			addr = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
		}
		pc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			return nil, fmt.Errorf("magicsock: bind %s: %w", addr, err)
		}
		c.pc4 = pc
	}
	if !o.DisableV6 {
		addr := o.BindV6
		if !addr.IsValid() {
			addr = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
		}
		pc, err := net.ListenUDP("udp6", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			// A wildcard IPv6 socket is optional: hosts without IPv6
			// run on IPv4 alone. A specific address or port is not.
			if !(addr.Addr().IsUnspecified() && addr.Port() == 0) || c.pc4 == nil {
				c.closeSockets()
				return nil, fmt.Errorf("magicsock: bind %s: %w", addr, err)
			}
			c.log.Debug("no ipv6 socket", "err", err)
		} else {
			c.pc6 = pc
		}
	}
	if c.pc4 == nil && c.pc6 == nil {
		return nil, errors.New("magicsock: both IPv4 and IPv6 are disabled")
	}
	for _, pc := range []*net.UDPConn{c.pc4, c.pc6} {
		if pc != nil {
			_ = pc.SetReadBuffer(7 << 20)
			_ = pc.SetWriteBuffer(7 << 20)
			gro := setupSocket(pc)
			c.log.Debug("udp socket", "addr", pc.LocalAddr(), "gro", gro)
			c.wg.Add(1)
			go c.readLoop(pc)
		}
	}
	c.SetHomeRelay(o.HomeRelay)
	c.wg.Add(1)
	go c.maintenanceLoop()
	return c, nil
}

func (c *Conn) closeSockets() {
	if c.pc4 != nil {
		c.pc4.Close()
	}
	if c.pc6 != nil {
		c.pc6.Close()
	}
}

// ID returns the endpoint id of this socket's key.
func (c *Conn) ID() key.PublicKey { return c.id }

// HomeRelay returns the relay this endpoint advertises, or "".
func (c *Conn) HomeRelay() endpointaddr.RelayURL {
	if h := c.home.Load(); h != nil {
		return *h
	}
	return ""
}

// LocalAddrs returns the bound socket addresses.
func (c *Conn) LocalAddrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, pc := range []*net.UDPConn{c.pc4, c.pc6} {
		if pc != nil {
			out = append(out, pc.LocalAddr().(*net.UDPAddr).AddrPort())
		}
	}
	return out
}

// DirectAddrs returns the addresses peers may reach us at directly: the
// bound addresses, with wildcard binds expanded to the addresses of the
// machine's interfaces (loopback last), then addresses peers observed.
func (c *Conn) DirectAddrs() []netip.AddrPort {
	if c.relayOnly {
		return nil
	}
	var out, loop []netip.AddrPort
	var ifAddrs []netip.Addr
	ifs, _ := net.InterfaceAddrs()
	for _, a := range ifs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			ifAddrs = append(ifAddrs, p.Addr())
		}
	}
	for _, la := range c.LocalAddrs() {
		if !la.Addr().IsUnspecified() {
			out = append(out, la)
			continue
		}
		for _, ip := range ifAddrs {
			if ip.Is4() != la.Addr().Is4() || ip.IsLinkLocalUnicast() || ip.IsMulticast() {
				continue
			}
			ap := netip.AddrPortFrom(ip, la.Port())
			if ip.IsLoopback() {
				loop = append(loop, ap)
			} else {
				out = append(out, ap)
			}
		}
	}
	c.mu.Lock()
	for ap, t := range c.observed {
		if time.Since(t) < observedTTL && !slices.Contains(out, ap) {
			out = append(out, ap)
		}
	}
	c.mu.Unlock()
	return append(out, loop...)
}

// AddRemote records what is known of an endpoint's addresses and returns
// the mapped address to dial it at.
func (c *Conn) AddRemote(a endpointaddr.Addr) (*net.UDPAddr, error) {
	if a.ID == c.id {
		return nil, errors.New("magicsock: cannot dial own endpoint id")
	}
	r := c.remoteFor(a.ID)
	r.addAddrs(a)
	return r.mapped, nil
}

// RemoteID returns the endpoint id behind a mapped address.
func (c *Conn) RemoteID(addr net.Addr) (key.PublicKey, bool) {
	r := c.remoteByAddr(addr)
	if r == nil {
		return key.PublicKey{}, false
	}
	return r.id, true
}

func (c *Conn) remoteByAddr(addr net.Addr) *remote {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return nil
	}
	v, ok := c.byMapped.Load(ua.AddrPort())
	if !ok {
		return nil
	}
	return v.(*remote)
}

// remoteFor returns the state of id, creating it.
func (c *Conn) remoteFor(id key.PublicKey) *remote {
	if v, ok := c.byID.Load(id); ok {
		return v.(*remote)
	}
	r := c.allocRemote(id)
	if v, loaded := c.byID.LoadOrStore(id, r); loaded {
		return v.(*remote)
	}
	c.byMapped.Store(r.mappedAP, r)
	c.nRemotes.Add(1)
	c.metrics.Remotes.Inc()
	return r
}

// Limits on the remotes that others make us create (a relay datagram,
// ping or call-me-maybe from an id we do not know): strangers' ids cost
// memory until the idle prune, so their rate and their number are capped.
// Remotes we dial ourselves are not limited.
const (
	// maxStrangerRemotes: no new remote for a stranger once this many
	// remotes exist.
	maxStrangerRemotes = 4096
	// strangerRemoteRate and strangerRemoteBurst bound new remotes for
	// strangers per second.
	strangerRemoteRate  = 50
	strangerRemoteBurst = 200
)

// remoteForStranger returns the remote of id, creating it only within the
// stranger limits; nil means the packet that asked for it is dropped
// (counted by reason).
func (c *Conn) remoteForStranger(id key.PublicKey, now time.Time) *remote {
	if v, ok := c.byID.Load(id); ok {
		return v.(*remote)
	}
	if c.nRemotes.Load() >= maxStrangerRemotes {
		c.metrics.Dropped.WithLabelValues("remote_limit").Inc()
		return nil
	}
	if !c.strangerLimiter.allow(now) {
		c.metrics.Dropped.WithLabelValues("remote_rate").Inc()
		return nil
	}
	return c.remoteFor(id)
}

// allocRemote returns a new remote with a fresh mapped address.
func (c *Conn) allocRemote(id key.PublicKey) *remote {
	n := c.nextMap.Add(1)
	a16 := MappedPrefix.Addr().As16()
	for i := 0; i < 8; i++ {
		a16[15-i] = byte(n >> (8 * i))
	}
	return newRemote(c, id, netip.AddrPortFrom(netip.AddrFrom16(a16), MappedPort))
}

// readLoop reads one UDP socket until it is closed: one datagram, or
// with GRO a run of them from one source, per read.
func (c *Conn) readLoop(pc *net.UDPConn) {
	defer c.wg.Done()
	var oob [rxOOBSize]byte
	for {
		if c.inlinePC.Load() == pc {
			close(c.inlineHanded) // the QUIC socket's reader reads pc now
			return
		}
		b := rxPool.Get().(*rxBatch)
		n, oobn, src, err := readPacket(pc, b.buf, oob[:])
		if err != nil {
			b.release()
			if c.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			c.log.Debug("udp read", "err", err)
			continue
		}
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		gso, ecn := parseRxOOB(oob[:oobn])
		c.splitRead(b, n, gso, ecn, src)
	}
}

// holdPending keeps a copy of a QUIC packet from an unknown source.
func (c *Conn) holdPending(src netip.AddrPort, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending[src]
	if p == nil {
		if len(c.pending) >= pendingMaxSources || c.closed.Load() {
			c.metrics.Dropped.WithLabelValues("unknown_source").Inc()
			return
		}
		p = &pendingSrc{first: time.Now()}
		c.pending[src] = p
		c.wg.Add(1)
		p.timer = time.AfterFunc(anonymousAfter, func() {
			defer c.wg.Done()
			c.flushAnonymous(src)
		})
	}
	if len(p.pkts) >= pendingMaxPackets {
		c.metrics.Dropped.WithLabelValues("unknown_source").Inc()
		return
	}
	p.pkts = append(p.pkts, slices.Clone(b))
	if dcid, ok := initialDCID(b); ok && p.initial.n == 0 {
		p.initial = makeCID(dcid)
		c.metrics.Initials.WithLabelValues("held").Inc()
	}
}

// flushPending hands packets held for src to QUIC as coming from r.
func (c *Conn) flushPending(src netip.AddrPort, r *remote) {
	c.mu.Lock()
	p := c.pending[src]
	delete(c.pending, src)
	c.mu.Unlock()
	if p == nil {
		return
	}
	for _, pkt := range p.pkts {
		bp := bufPool.Get().(*[]byte)
		n := copy(*bp, pkt)
		c.deliver(bp, n, r)
	}
}

// flushAnonymous hands packets still held for src to QUIC under an
// anonymous remote: one direct path, no probes. The TLS handshake then
// decides who the peer is (and refuses a dialer that expected another id
// with an error naming both).
func (c *Conn) flushAnonymous(src netip.AddrPort) {
	if c.closed.Load() {
		return
	}
	if v, ok := c.byUDP.Load(src); ok {
		// The source became a known path meanwhile (AddRemote, a ping).
		c.flushPending(src, v.(*remote))
		return
	}
	c.mu.Lock()
	p := c.pending[src]
	if p == nil || len(c.anon) >= maxAnonymous {
		c.mu.Unlock()
		return
	}
	r := c.newAnonymousLocked(src)
	c.mu.Unlock()
	c.flushPending(src, r)
}

func (c *Conn) newAnonymousLocked(src netip.AddrPort) *remote {
	r := c.allocRemote(key.PublicKey{})
	r.paths[src] = &pathState{}
	bp := &bestPath{addr: src}
	bp.trustedUntil.Store(1<<63 - 1)
	r.best.Store(bp)
	r.anonymous = true
	r.lastRecv.Store(time.Now().UnixNano())
	c.anon[src] = r
	c.byMapped.Store(r.mappedAP, r)
	c.byUDP.Store(src, r)
	return r
}

// sendUDP writes b to dst on the socket of dst's family.
func (c *Conn) sendUDP(b []byte, dst netip.AddrPort) error {
	pc := c.pc4
	if !dst.Addr().Is4() {
		pc = c.pc6
	}
	if pc == nil {
		return fmt.Errorf("magicsock: no socket for %s", dst)
	}
	_, err := pc.WriteToUDPAddrPort(b, dst)
	if err == nil {
		c.sentDirect.Add(float64(len(b)))
	}
	return err
}

// WriteTo sends a QUIC packet to the remote behind a mapped address.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	r := c.remoteByAddr(addr)
	if r == nil {
		// Not a remote of ours (quic-go answering a stray packet): drop.
		c.metrics.Dropped.WithLabelValues("unknown_destination").Inc()
		return len(b), nil
	}
	r.send(b)
	return len(b), nil
}

// LocalAddr returns the first bound socket address.
func (c *Conn) LocalAddr() net.Addr {
	if c.pc4 != nil {
		return c.pc4.LocalAddr()
	}
	return c.pc6.LocalAddr()
}

// SetDeadline sets the read deadline; writes never block.
func (c *Conn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline makes ReadFrom return os.ErrDeadlineExceeded after t.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.readDeadline.Store(&t)
	select {
	case c.deadlineCh <- struct{}{}:
	default:
	}
	return nil
}

// SetWriteDeadline is a no-op: writes never block.
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }

// Close closes the sockets and relay clients and waits for the goroutines.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	close(c.closing)
	c.closeSockets()
	c.closeRelays()
	// Timers of pending sources are owned by Close too: stop the ones
	// that have not fired (holdPending makes no new ones once closed).
	c.mu.Lock()
	for _, p := range c.pending {
		if p.timer != nil && p.timer.Stop() {
			c.wg.Done()
		}
	}
	c.mu.Unlock()
	c.wg.Wait()
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	if c.rxCur != nil {
		c.rxCur.release()
		c.rxCur = nil
	}
	for {
		select {
		case b := <-c.rx:
			b.release()
		default:
			return nil
		}
	}
}

// maintenanceLoop runs heartbeats and expiries once a second.
func (c *Conn) maintenanceLoop() {
	defer c.wg.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-c.closing:
			return
		case now := <-t.C:
			c.pruneRelays(now)
			c.byID.Range(func(_, v any) bool {
				r := v.(*remote)
				if r.prunable(now) {
					c.forgetRemote(r)
					return true
				}
				r.heartbeat(now)
				return true
			})
			c.mu.Lock()
			c.expireObservedLocked(now)
			for src, r := range c.anon {
				if now.UnixNano()-max(r.lastSend.Load(), r.lastRecv.Load()) > int64(anonymousIdle) {
					delete(c.anon, src)
					c.byMapped.Delete(r.mappedAP)
					c.byUDP.CompareAndDelete(src, r)
				}
			}
			for src, p := range c.pending {
				if now.Sub(p.first) > pendingTTL {
					delete(c.pending, src)
					c.metrics.Dropped.WithLabelValues("unknown_source").Add(float64(len(p.pkts)))
				}
			}
			c.mu.Unlock()
		}
	}
}

// SetReadBuffer sets the receive buffer of the UDP sockets (quic-go asks
// for a large one).
func (c *Conn) SetReadBuffer(n int) error {
	for _, pc := range []*net.UDPConn{c.pc4, c.pc6} {
		if pc != nil {
			if err := pc.SetReadBuffer(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// SetWriteBuffer sets the send buffer of the UDP sockets.
func (c *Conn) SetWriteBuffer(n int) error {
	for _, pc := range []*net.UDPConn{c.pc4, c.pc6} {
		if pc != nil {
			if err := pc.SetWriteBuffer(n); err != nil {
				return err
			}
		}
	}
	return nil
}
