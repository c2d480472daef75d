package mdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/key"
	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Port is the mDNS port.
const Port = 5353

// Defaults of Options.
const (
	// DefaultQueryInterval is swarm-discovery's default cadence (tau).
	DefaultQueryInterval = 10 * time.Second
	// DefaultLookupTimeout is how long Resolve waits for an unknown
	// endpoint to answer, as in iroh.
	DefaultLookupTimeout = 10 * time.Second
	// maxResponseDelay bounds the random delay before answering a query.
	maxResponseDelay = 100 * time.Millisecond
	// minQueryGap rate-limits queries triggered by Resolve.
	minQueryGap = time.Second
)

var (
	groupV4 = netip.MustParseAddr("224.0.0.251")
	groupV6 = netip.MustParseAddr("ff02::fb")
)

// ErrClosed is returned by calls on a closed Lookup; it wraps
// net.ErrClosed.
var ErrClosed = fmt.Errorf("mdns: lookup closed: %w", net.ErrClosed)

// Options configures a Lookup. A nil *Options means all defaults.
type Options struct {
	// ServiceName is the service, without underscore and protocol; empty
	// means ServiceName ("irohv1").
	ServiceName string
	// DisableAdvertise only listens and resolves; Publish does nothing.
	DisableAdvertise bool
	// DisableIPv6 uses IPv4 only. Without it, IPv6 is used where it works
	// (failing to set it up is not an error).
	DisableIPv6 bool
	// Interfaces are the names of the interfaces to join the group on and
	// send from. Empty means every interface that is up and multicast
	// capable (falling back to the system's default).
	Interfaces []string
	// QueryInterval is the query cadence; zero means DefaultQueryInterval.
	QueryInterval time.Duration
	// LookupTimeout is how long Resolve waits for an unknown endpoint;
	// zero means DefaultLookupTimeout.
	LookupTimeout time.Duration
	// PeerTTL is how long an endpoint not heard from is remembered; zero
	// means 3 × QueryInterval.
	PeerTTL time.Duration
	// Logger receives the lookup's logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics counts packets; nil means new unregistered metrics.
	Metrics *Metrics

	// port overrides Port in tests.
	port int
}

// Lookup is a running mDNS address lookup and publisher.
type Lookup struct {
	// Set in New, then read-only.
	id      key.PublicKey
	service string
	opts    Options
	log     *slog.Logger
	socks   []*sock
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// Inputs of run.
	events    chan message
	publishC  chan addrlookup.EndpointInfo
	resolveC  chan resolveReq
	unwaitC   chan resolveReq
	snapshotC chan chan []addrlookup.EndpointInfo
}

type resolveReq struct {
	id    key.PublicKey
	reply chan addrlookup.EndpointInfo // capacity 1
}

// sock is one multicast socket (IPv4 or IPv6).
type sock struct {
	conn   *net.UDPConn
	group  *net.UDPAddr
	v4     *ipv4.PacketConn
	v6     *ipv6.PacketConn
	ifaces []net.Interface // joined; empty means the default interface
}

// send writes b to the group on every joined interface.
func (s *sock) send(b []byte) error {
	if len(s.ifaces) == 0 {
		_, err := s.conn.WriteTo(b, s.group)
		return err
	}
	var errs []error
	for i := range s.ifaces {
		var err error
		if s.v4 != nil {
			err = s.v4.SetMulticastInterface(&s.ifaces[i])
		} else {
			err = s.v6.SetMulticastInterface(&s.ifaces[i])
		}
		if err == nil {
			_, err = s.conn.WriteTo(b, s.group)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.ifaces[i].Name, err))
		}
	}
	if len(errs) == len(s.ifaces) {
		return errors.Join(errs...)
	}
	return nil
}

// ErrUnavailable is returned by New when the machine offers no multicast
// socket (no interface, a sandbox, a platform that forbids it): an
// environment without local discovery rather than a configuration error.
var ErrUnavailable = errors.New("mdns: multicast unavailable")

// New starts an mDNS lookup for the endpoint id: it binds the multicast
// sockets (in the calling goroutine's network namespace, on Linux) and
// starts listening. Nothing is advertised before Publish.
func New(id key.PublicKey, opts *Options) (*Lookup, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ServiceName == "" {
		o.ServiceName = ServiceName
	}
	if o.QueryInterval < 0 || o.LookupTimeout < 0 || o.PeerTTL < 0 {
		return nil, errors.New("mdns: negative interval")
	}
	if o.QueryInterval == 0 {
		o.QueryInterval = DefaultQueryInterval
	}
	if o.LookupTimeout == 0 {
		o.LookupTimeout = DefaultLookupTimeout
	}
	if o.PeerTTL == 0 {
		o.PeerTTL = 3 * o.QueryInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.port == 0 {
		o.port = Port
	}
	service := serviceFQDN(o.ServiceName)
	if _, ok := dns.IsDomainName(service); !ok {
		return nil, fmt.Errorf("mdns: service name %q is not a DNS label", o.ServiceName)
	}
	m := &Lookup{id: id, service: service, opts: o, log: o.Logger.With("component", "mdns"),
		events: make(chan message, 64), publishC: make(chan addrlookup.EndpointInfo, 1),
		resolveC: make(chan resolveReq), unwaitC: make(chan resolveReq), snapshotC: make(chan chan []addrlookup.EndpointInfo)}
	ifaces, err := m.interfaces()
	if err != nil {
		return nil, err
	}
	s4, err4 := m.listen(false, ifaces)
	if err4 == nil {
		m.socks = append(m.socks, s4)
	}
	if !o.DisableIPv6 {
		s6, err6 := m.listen(true, ifaces)
		if err6 == nil {
			m.socks = append(m.socks, s6)
		} else {
			m.log.Debug("ipv6 multicast unavailable", "err", err6)
		}
	}
	if len(m.socks) == 0 {
		return nil, fmt.Errorf("%w: no multicast socket: %w", ErrUnavailable, err4)
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	for _, s := range m.socks {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.readLoop(s)
		}()
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.run(m.ctx)
	}()
	return m, nil
}

// interfaces returns the interfaces to use; nil means the default one.
func (m *Lookup) interfaces() ([]net.Interface, error) {
	all, err := net.Interfaces()
	if err != nil {
		if len(m.opts.Interfaces) > 0 {
			return nil, fmt.Errorf("mdns: list interfaces: %w", err)
		}
		return nil, nil
	}
	var out []net.Interface
	for _, ifi := range all {
		if len(m.opts.Interfaces) > 0 {
			if slices.Contains(m.opts.Interfaces, ifi.Name) {
				out = append(out, ifi)
			}
			continue
		}
		if ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 {
			out = append(out, ifi)
		}
	}
	if len(m.opts.Interfaces) > 0 && len(out) != len(m.opts.Interfaces) {
		return nil, fmt.Errorf("mdns: interfaces %v: not all found", m.opts.Interfaces)
	}
	return out, nil
}

// listen binds one family's socket and joins the group.
func (m *Lookup) listen(v6 bool, ifaces []net.Interface) (*sock, error) {
	network, bind, group := "udp4", "0.0.0.0", groupV4
	if v6 {
		network, bind, group = "udp6", "::", groupV6
	}
	lc := net.ListenConfig{Control: reuseControl}
	pc, err := lc.ListenPacket(context.Background(), network, net.JoinHostPort(bind, strconv.Itoa(m.opts.port)))
	if err != nil {
		return nil, fmt.Errorf("mdns: listen %s: %w", network, err)
	}
	s := &sock{conn: pc.(*net.UDPConn), group: net.UDPAddrFromAddrPort(netip.AddrPortFrom(group, uint16(m.opts.port)))}
	gaddr := &net.UDPAddr{IP: group.AsSlice()}
	join := func(ifi *net.Interface) error {
		if v6 {
			return s.v6.JoinGroup(ifi, gaddr)
		}
		return s.v4.JoinGroup(ifi, gaddr)
	}
	if v6 {
		s.v6 = ipv6.NewPacketConn(s.conn)
		s.v6.SetMulticastLoopback(true)
		s.v6.SetMulticastHopLimit(255)
	} else {
		s.v4 = ipv4.NewPacketConn(s.conn)
		s.v4.SetMulticastLoopback(true)
		s.v4.SetMulticastTTL(255)
	}
	for i := range ifaces {
		if err := join(&ifaces[i]); err == nil {
			s.ifaces = append(s.ifaces, ifaces[i])
		}
	}
	if len(s.ifaces) == 0 {
		if len(m.opts.Interfaces) > 0 {
			pc.Close()
			return nil, fmt.Errorf("mdns: join %s on %v failed", group, m.opts.Interfaces)
		}
		if err := join(nil); err != nil {
			pc.Close()
			return nil, fmt.Errorf("mdns: join %s: %w", group, err)
		}
	}
	return s, nil
}

// readLoop parses packets from s and hands them to run until s is closed.
func (m *Lookup) readLoop(s *sock) {
	buf := make([]byte, 9000)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			if m.ctx.Err() == nil {
				m.log.Warn("mdns read failed", "err", err)
			}
			return
		}
		var msg dns.Msg
		if err := msg.Unpack(buf[:n]); err != nil {
			m.opts.Metrics.Received.WithLabelValues("invalid").Inc()
			if m.log.Enabled(m.ctx, slog.LevelDebug) {
				m.log.Debug("bad mdns packet", "remote", from.String(), "err", err)
			}
			continue
		}
		pm := parseMessage(&msg, m.service)
		switch {
		case pm.query:
			m.opts.Metrics.Received.WithLabelValues("query").Inc()
		case len(pm.peers) > 0:
			m.opts.Metrics.Received.WithLabelValues("response").Inc()
		default:
			m.opts.Metrics.Received.WithLabelValues("other").Inc()
			continue
		}
		select {
		case m.events <- pm:
		default: // run is behind: drop, the next round repeats it
			m.opts.Metrics.Dropped.Inc()
		}
	}
}

type peer struct {
	info     addrlookup.EndpointInfo
	lastSeen time.Time
}

// run is the actor owning all state.
func (m *Lookup) run(ctx context.Context) {
	var (
		ours      *dns.Msg // our announcement, nil if none
		peers     = map[key.PublicKey]peer{}
		waiters   = map[key.PublicKey][]chan addrlookup.EndpointInfo{}
		lastQuery time.Time
	)
	jitter := func(d time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(d) + 1)) }
	queryTimer := time.NewTimer(jitter(maxResponseDelay))
	defer queryTimer.Stop()
	respondTimer := time.NewTimer(time.Hour)
	respondTimer.Stop()
	defer respondTimer.Stop()
	responding := false

	sendMsg := func(msg *dns.Msg, what string) {
		b, err := msg.Pack()
		if err != nil {
			m.log.Warn("mdns pack failed", "err", err)
			return
		}
		m.opts.Metrics.Sent.WithLabelValues(what).Inc()
		for _, s := range m.socks {
			if err := s.send(b); err != nil && ctx.Err() == nil {
				m.log.Debug("mdns send failed", "what", what, "err", err)
			}
		}
	}
	query := func() {
		sendMsg(buildQuery(m.service), "query")
		lastQuery = time.Now()
	}
	resetQueryTimer := func() {
		queryTimer.Reset(m.opts.QueryInterval + jitter(m.opts.QueryInterval/10))
	}
	lookupPeer := func(id key.PublicKey) (addrlookup.EndpointInfo, bool) {
		p, ok := peers[id]
		if !ok {
			return addrlookup.EndpointInfo{}, false
		}
		left := m.opts.PeerTTL - time.Since(p.lastSeen)
		if left <= 0 {
			delete(peers, id)
			return addrlookup.EndpointInfo{}, false
		}
		info := p.info
		info.TTL = left
		return info, true
	}

	for {
		select {
		case <-ctx.Done():
			return
		case <-queryTimer.C:
			query()
			resetQueryTimer()
			for id, p := range peers {
				if time.Since(p.lastSeen) >= m.opts.PeerTTL {
					delete(peers, id)
				}
			}
		case <-respondTimer.C:
			responding = false
			if ours != nil {
				sendMsg(ours, "response")
			}
		case ev := <-m.events:
			if ev.query {
				resetQueryTimer() // someone queried this round: suppress ours
				if ours != nil && !responding {
					responding = true
					respondTimer.Reset(jitter(maxResponseDelay))
				}
				continue
			}
			now := time.Now()
			for _, info := range ev.peers {
				if info.ID == m.id {
					continue
				}
				old, known := peers[info.ID]
				peers[info.ID] = peer{info: info, lastSeen: now}
				if !known || !old.info.Equal(info) {
					m.log.Debug("mdns discovered", "endpoint_id", info.ID.ShortString(), "addrs", len(info.Direct))
				}
				if ws := waiters[info.ID]; len(ws) > 0 {
					res, _ := lookupPeer(info.ID)
					for _, w := range ws {
						w <- res
					}
					delete(waiters, info.ID)
				}
			}
		case info := <-m.publishC:
			msg := buildResponse(m.service, info)
			changed := (ours == nil) != (msg == nil) || (msg != nil && ours.String() != msg.String())
			ours = msg
			if changed && ours != nil {
				sendMsg(ours, "announce")
			}
		case req := <-m.resolveC:
			if info, ok := lookupPeer(req.id); ok {
				req.reply <- info
				continue
			}
			waiters[req.id] = append(waiters[req.id], req.reply)
			if time.Since(lastQuery) >= minQueryGap {
				query()
			}
		case req := <-m.unwaitC:
			ws := slices.DeleteFunc(waiters[req.id], func(c chan addrlookup.EndpointInfo) bool { return c == req.reply })
			if len(ws) == 0 {
				delete(waiters, req.id)
			} else {
				waiters[req.id] = ws
			}
		case reply := <-m.snapshotC:
			var out []addrlookup.EndpointInfo
			for id := range peers {
				if info, ok := lookupPeer(id); ok {
					out = append(out, info)
				}
			}
			slices.SortFunc(out, func(a, b addrlookup.EndpointInfo) int { return a.ID.Compare(b.ID) })
			reply <- out
		}
	}
}

// Publish advertises info (whose ID must be the Lookup's, or zero) from
// now on, announcing it at once if it changed. Only direct addresses, the
// first relay URL and the user data are advertised; info without a direct
// address withdraws nothing but is not advertised. With
// DisableAdvertise it does nothing.
func (m *Lookup) Publish(ctx context.Context, info addrlookup.EndpointInfo) error {
	if info.ID.IsZero() {
		info.ID = m.id
	}
	if info.ID != m.id {
		return fmt.Errorf("mdns: publish info of %s from %s", info.ID.ShortString(), m.id.ShortString())
	}
	if m.opts.DisableAdvertise {
		return nil
	}
	if m.ctx.Err() != nil {
		return ErrClosed
	}
	for { // latest wins
		select {
		case m.publishC <- info:
			return nil
		default:
		}
		select {
		case <-m.publishC:
		default:
		}
	}
}

// Resolve returns what the local network announced for id. If id is not
// known it sends a query and waits up to LookupTimeout (or ctx) for an
// answer; then it reports addrlookup.ErrNotFound.
func (m *Lookup) Resolve(ctx context.Context, id key.PublicKey) (addrlookup.EndpointInfo, error) {
	req := resolveReq{id: id, reply: make(chan addrlookup.EndpointInfo, 1)}
	select {
	case m.resolveC <- req:
	case <-m.ctx.Done():
		return addrlookup.EndpointInfo{}, ErrClosed
	case <-ctx.Done():
		return addrlookup.EndpointInfo{}, ctx.Err()
	}
	t := time.NewTimer(m.opts.LookupTimeout)
	defer t.Stop()
	var err error
	select {
	case info := <-req.reply:
		return info, nil
	case <-m.ctx.Done():
		return addrlookup.EndpointInfo{}, ErrClosed
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = fmt.Errorf("mdns: %s not seen on the local network in %v: %w", id.ShortString(), m.opts.LookupTimeout, addrlookup.ErrNotFound)
	}
	select {
	case m.unwaitC <- req:
	case <-m.ctx.Done():
	}
	select { // an answer may have raced the timeout
	case info := <-req.reply:
		return info, nil
	default:
	}
	return addrlookup.EndpointInfo{}, err
}

// Peers returns the endpoints currently known on the local network.
func (m *Lookup) Peers() []addrlookup.EndpointInfo {
	reply := make(chan []addrlookup.EndpointInfo, 1)
	select {
	case m.snapshotC <- reply:
		return <-reply
	case <-m.ctx.Done():
		return nil
	}
}

// Close stops the lookup and waits for its goroutines. It is safe to call
// more than once.
func (m *Lookup) Close() error {
	m.cancel()
	for _, s := range m.socks {
		s.conn.Close()
	}
	m.wg.Wait()
	return nil
}
