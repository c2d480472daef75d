package magicsock

import (
	"crypto/rand"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// Timers of path selection, after Rust iroh 0.35 (iroh 0.35 iroh/src/magicsock/node_map/node_state.rs).
const (
	// trustUDPAddrDuration is how long a direct path stays preferred after
	// a pong or received payload.
	trustUDPAddrDuration = 6500 * time.Millisecond
	// pingTimeout: an unanswered ping is given up after this.
	pingTimeout = 5 * time.Second
	// heartbeatInterval between stay-alive pings on the best path; shorter
	// than 0.35's 5 s so that one lost pong does not end the trust.
	heartbeatInterval = 2 * time.Second
	// unconfirmedPingInterval between pings to candidates while no path is
	// confirmed (handshake, hole punching).
	unconfirmedPingInterval = 1 * time.Second
	// callMeMaybeInterval between call-me-maybe rounds while direct is not
	// working.
	callMeMaybeInterval = 5 * time.Second
	// goodEnoughLatency: no upgrade attempts below this.
	goodEnoughLatency = 5 * time.Millisecond
	// upgradeInterval between full re-pings looking for a better path.
	upgradeInterval = 60 * time.Second
	// sessionActiveTimeout: no heartbeats for a remote idle this long.
	sessionActiveTimeout = 45 * time.Second
	// maxPaths bounds the direct candidates kept per remote.
	maxPaths = 32
)

// PathKind says how packets to a remote travel.
type PathKind int

const (
	// PathNone: no path is known yet.
	PathNone PathKind = iota
	// PathDirect: UDP straight to the remote's address.
	PathDirect
	// PathRelay: through a relay server.
	PathRelay
	// PathMixed: the direct path is not confirmed yet, so packets go both
	// over the relay and to the direct candidates.
	PathMixed
)

func (k PathKind) String() string {
	switch k {
	case PathDirect:
		return "direct"
	case PathRelay:
		return "relay"
	case PathMixed:
		return "mixed"
	}
	return "none"
}

// PathInfo describes the path packets to a remote take now.
type PathInfo struct {
	Kind PathKind
	// Addr is the direct address (PathDirect).
	Addr netip.AddrPort
	// RelayURL is the relay in use (PathRelay, PathMixed).
	RelayURL endpointaddr.RelayURL
	// RTT is the latest probe round trip on that path; 0 if unknown.
	RTT time.Duration
}

// PathChanged is the event sent to subscribers when a remote's path changes.
type PathChanged struct {
	Remote key.PublicKey
	Old    PathInfo
	New    PathInfo
	Time   time.Time
}

// CandidateInfo is one known direct address of a remote.
type CandidateInfo struct {
	Addr     netip.AddrPort
	RTT      time.Duration // 0 if it never answered
	LastPong time.Time
}

type pathAddr struct {
	udp       netip.AddrPort
	relay     endpointaddr.RelayURL
	relayFrom key.PublicKey
}

type pathState struct {
	lastPing time.Time
	lastPong time.Time
	latency  time.Duration
	// lastEarlyPing is when a ping from the remote last made us ping back
	// before the probe interval (see handleDisco).
	lastEarlyPing time.Time
	// spray: handshake packets go to this candidate before any path is
	// confirmed (quicpath.go). Set for addresses our side was given to
	// dial (AddRemote) and for the UDP source of an Initial whose relay
	// copy named the remote; never for addresses the remote only claimed.
	spray bool
}

type pingTx struct {
	to   pathAddr
	sent time.Time
}

// bestPath is the confirmed direct path; immutable once published.
type bestPath struct {
	addr    netip.AddrPort
	latency time.Duration
	// quic: confirmed by a QUIC packet, not a pong (quicpath.go).
	quic bool
	// trustedUntil, in UnixNano, is refreshed by pongs and received payload.
	trustedUntil atomic.Int64
}

// remote is what the socket knows about one remote endpoint.
type remote struct {
	c        *Conn
	id       key.PublicKey
	mapped   *net.UDPAddr
	mappedAP netip.AddrPort
	// anonymous remotes have no id: one direct path, no probes.
	anonymous bool

	created int64 // UnixNano; set in newRemote

	// Atomic.
	best     atomic.Pointer[bestPath]
	lastSend atomic.Int64 // UnixNano
	lastRecv atomic.Int64

	// mu guards the following.
	mu              sync.Mutex
	relayURL        endpointaddr.RelayURL
	relayLatency    time.Duration
	paths           map[netip.AddrPort]*pathState
	pings           map[[txIDLen]byte]pingTx
	lastFullPing    time.Time
	lastCallMeMaybe time.Time
	nonces          [64][discoNonceLen]byte
	nonceNext       int
	current         PathInfo
	subs            map[chan PathChanged]struct{}

	// ourCIDs are connection ids our QUIC chose for this remote and
	// lastLongSend when it last sent a handshake packet; adopted counts
	// the Initial sources made spray candidates (quicpath.go).
	ourCIDs      ourCIDs
	lastLongSend time.Time
	adopted      int

	// pingLimiter bounds the pings answered for this remote.
	pingLimiter tokenBucket

	// speaksDisco is set once an authenticated ping or pong came from
	// the remote: its paths are then proven by disco alone (quicpath.go).
	speaksDisco atomic.Bool
}

func newRemote(c *Conn, id key.PublicKey, mapped netip.AddrPort) *remote {
	return &remote{
		created:     time.Now().UnixNano(),
		pingLimiter: tokenBucket{rate: 20, burst: 40},
		c:           c,
		id:          id,
		mapped:      net.UDPAddrFromAddrPort(mapped),
		mappedAP:    mapped,
		paths:       map[netip.AddrPort]*pathState{},
		pings:       map[[txIDLen]byte]pingTx{},
		subs:        map[chan PathChanged]struct{}{},
	}
}

// addAddrs merges the addresses of a and starts probing new candidates.
func (r *remote) addAddrs(a endpointaddr.Addr) {
	r.mu.Lock()
	if u := a.RelayURL(); u != "" {
		r.relayURL = u
	}
	var fresh []netip.AddrPort
	for _, d := range a.Direct {
		d = netip.AddrPortFrom(d.Addr().Unmap(), d.Port())
		if r.addPathLocked(d) {
			fresh = append(fresh, d)
		}
		if ps := r.paths[d]; ps != nil {
			ps.spray = true
		}
	}
	r.mu.Unlock()
	now := time.Now()
	r.updatePath(now)
	for _, d := range fresh {
		r.ping(pathAddr{udp: d}, now)
	}
	if len(fresh) > 0 && r.best.Load() == nil {
		r.callMeMaybe(now)
	}
}

// addPathLocked adds a direct candidate; it reports whether it was new.
func (r *remote) addPathLocked(a netip.AddrPort) bool {
	if r.c.relayOnly || !a.IsValid() || a.Addr().IsUnspecified() || a.Port() == 0 {
		return false
	}
	if _, ok := r.paths[a]; ok {
		return false
	}
	if len(r.paths) >= maxPaths {
		// Forget the candidate that never answered and was pinged longest ago.
		var victim netip.AddrPort
		var oldest time.Time
		for k, ps := range r.paths {
			if ps.lastPong.IsZero() && (victim == (netip.AddrPort{}) || ps.lastPing.Before(oldest)) {
				victim, oldest = k, ps.lastPing
			}
		}
		if !victim.IsValid() {
			return false
		}
		delete(r.paths, victim)
		r.c.byUDP.CompareAndDelete(victim, r)
	}
	r.paths[a] = &pathState{}
	r.c.claimUDP(a, r)
	return true
}

// send transmits one QUIC packet over the best path (hot path).
func (r *remote) send(b []byte) {
	r.sendBatch(b, 0, 0)
}

// sendSlow sends while no direct path is trusted, as 0.35 does: to the
// last best address (if its trust only lapsed) and over the relay; with no
// relay, to every direct candidate (the first packets of a direct-only
// dial). Candidates that never answered get pings, not data.
func (r *remote) sendSlow(b []byte, bp *bestPath, now time.Time) {
	var cands [maxPaths]netip.AddrPort
	nc := 0
	r.mu.Lock()
	relay := r.relayURL
	if bp != nil {
		cands[0] = bp.addr
		nc = 1
	} else if relay == "" {
		for a := range r.paths {
			cands[nc] = a
			nc++
		}
	}
	r.mu.Unlock()
	sent := false
	if relay != "" {
		if err := r.c.sendRelay(b, relay, r.id); err == nil {
			sent = true
		}
	}
	for _, a := range cands[:nc] {
		if r.c.sendUDP(b, a) == nil {
			sent = true
		}
	}
	if !sent {
		r.c.metrics.Dropped.WithLabelValues("no_path").Inc()
	}
	r.pingDue(now)
}

// pingDue pings the direct candidates whose last ping is older than
// unconfirmedPingInterval: while no direct path is trusted, sending keeps
// probing them.
func (r *remote) pingDue(now time.Time) {
	var due [maxPaths]netip.AddrPort
	nd := 0
	r.mu.Lock()
	for a, ps := range r.paths {
		if now.Sub(ps.lastPing) >= unconfirmedPingInterval {
			due[nd] = a
			nd++
		}
	}
	r.mu.Unlock()
	for _, a := range due[:nd] {
		r.ping(pathAddr{udp: a}, now)
	}
}

// noteRecv records that payload arrived on path p.
func (r *remote) noteRecv(p pathAddr, n int) {
	now := time.Now().UnixNano()
	r.lastRecv.Store(now)
	if p.udp.IsValid() {
		if bp := r.best.Load(); bp != nil && bp.addr == p.udp {
			if bp.trustedUntil.Load()-now < int64(trustUDPAddrDuration-time.Second) {
				bp.trustedUntil.Store(now + int64(trustUDPAddrDuration))
			}
		}
		r.c.metrics.RecvBytes.WithLabelValues("direct").Add(float64(n))
	} else {
		r.mu.Lock()
		learned := r.relayURL == ""
		if learned {
			r.relayURL = p.relay
		}
		r.mu.Unlock()
		if learned {
			r.updatePath(time.Now())
		}
		r.c.metrics.RecvBytes.WithLabelValues("relay").Add(float64(n))
	}
}

// ping sends a disco ping over p.
func (r *remote) ping(p pathAddr, now time.Time) {
	var tx [txIDLen]byte
	_, _ = rand.Read(tx[:])
	r.mu.Lock()
	r.pings[tx] = pingTx{to: p, sent: now}
	if p.udp.IsValid() {
		if ps := r.paths[p.udp]; ps != nil {
			ps.lastPing = now
		}
	}
	r.mu.Unlock()
	r.c.sendDisco(r, p, &discoMsg{typ: discoPing, txID: tx, nodeKey: r.c.id})
	r.c.metrics.Probes.WithLabelValues("ping_sent").Inc()
}

// pingAll pings every candidate and the relay path.
func (r *remote) pingAll(now time.Time) {
	r.mu.Lock()
	r.lastFullPing = now
	addrs := make([]netip.AddrPort, 0, len(r.paths))
	for a := range r.paths {
		addrs = append(addrs, a)
	}
	relay := r.relayURL
	r.mu.Unlock()
	for _, a := range addrs {
		r.ping(pathAddr{udp: a}, now)
	}
	if relay != "" {
		r.ping(pathAddr{relay: relay}, now)
	}
}

// callMeMaybe pings all candidates and asks the remote, through the relay,
// to ping our direct addresses: a hole punch from both sides.
func (r *remote) callMeMaybe(now time.Time) {
	r.mu.Lock()
	relay := r.relayURL
	r.lastCallMeMaybe = now
	r.mu.Unlock()
	r.pingAll(now)
	if relay == "" {
		return
	}
	addrs := r.c.DirectAddrs()
	if len(addrs) > maxCallMeMaybeAddrs {
		addrs = addrs[:maxCallMeMaybeAddrs]
	}
	r.c.sendDisco(r, pathAddr{relay: relay}, &discoMsg{typ: discoCallMeMaybe, addrs: addrs})
	r.c.metrics.Probes.WithLabelValues("call_me_maybe_sent").Inc()
}

// seenNonce records a disco nonce and reports whether it was seen before.
func (r *remote) seenNonce(n []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.nonces {
		if string(r.nonces[i][:]) == string(n) {
			return true
		}
	}
	copy(r.nonces[r.nonceNext][:], n)
	r.nonceNext = (r.nonceNext + 1) % len(r.nonces)
	return false
}

// handlePong completes a ping. It reports whether the pong answered a
// ping we sent over UDP.
func (r *remote) handlePong(m *discoMsg, now time.Time) bool {
	r.mu.Lock()
	tx, ok := r.pings[m.txID]
	delete(r.pings, m.txID)
	if !ok {
		r.mu.Unlock()
		r.c.metrics.Probes.WithLabelValues("pong_unknown").Inc()
		return false
	}
	lat := now.Sub(tx.sent)
	r.speaksDisco.Store(true)
	if !tx.to.udp.IsValid() {
		r.relayLatency = lat
		r.mu.Unlock()
		r.c.metrics.Probes.WithLabelValues("pong_relay").Inc()
		r.updatePath(now)
		return false
	}
	if ps := r.paths[tx.to.udp]; ps != nil {
		ps.lastPong = now
		ps.latency = lat
	}
	r.mu.Unlock()
	r.c.metrics.Probes.WithLabelValues("pong_direct").Inc()
	// A confirmed path belongs to this remote, whoever claimed it before.
	r.c.byUDP.Store(tx.to.udp, r)
	r.considerBest(tx.to.udp, lat, now)
	return true
}

// better reports whether a path (a, la) beats the current best (b, lb):
// IPv6 wins unless it is 10/9 slower, else lower latency wins.
func better(a netip.AddrPort, la time.Duration, b netip.AddrPort, lb time.Duration) bool {
	a6, b6 := !a.Addr().Is4(), !b.Addr().Is4()
	if a6 && !b6 {
		return la*9 < lb*10
	}
	if b6 && !a6 {
		return la*10 <= lb*9
	}
	return la < lb
}

// considerBest makes a confirmed direct path the best one if it is better.
func (r *remote) considerBest(a netip.AddrPort, lat time.Duration, now time.Time) {
	r.considerBestVia(a, lat, now, false)
}

// considerBestVia is considerBest; viaQUIC says a QUIC packet, not a
// pong, confirmed a (quicpath.go).
func (r *remote) considerBestVia(a netip.AddrPort, lat time.Duration, now time.Time, viaQUIC bool) {
	until := now.Add(trustUDPAddrDuration).UnixNano()
	cur := r.best.Load()
	switch {
	case cur != nil && cur.addr == a:
		cur.trustedUntil.Store(until)
		if lat == cur.latency {
			break
		}
		fallthrough
	case cur == nil || now.UnixNano() >= cur.trustedUntil.Load() || better(a, lat, cur.addr, cur.latency):
		bp := &bestPath{addr: a, latency: lat, quic: viaQUIC}
		bp.trustedUntil.Store(until)
		r.best.Store(bp)
	}
	r.updatePath(now)
}

// Info returns the path packets to the remote take now.
func (r *remote) info(now time.Time) PathInfo {
	if bp := r.best.Load(); bp != nil && now.UnixNano() < bp.trustedUntil.Load() {
		return PathInfo{Kind: PathDirect, Addr: bp.addr, RTT: bp.latency}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.infoLocked(now)
}

// infoLocked is info with r.mu held.
func (r *remote) infoLocked(now time.Time) PathInfo {
	if bp := r.best.Load(); bp != nil && now.UnixNano() < bp.trustedUntil.Load() {
		return PathInfo{Kind: PathDirect, Addr: bp.addr, RTT: bp.latency}
	}
	switch {
	case r.relayURL != "" && len(r.paths) > 0:
		return PathInfo{Kind: PathMixed, RelayURL: r.relayURL, RTT: r.relayLatency}
	case r.relayURL != "":
		return PathInfo{Kind: PathRelay, RelayURL: r.relayURL, RTT: r.relayLatency}
	case len(r.paths) > 0:
		return PathInfo{Kind: PathMixed}
	}
	return PathInfo{}
}

// updatePath emits a PathChanged when the path kind or address changed.
//
// The new path is computed under r.mu, with the comparison and the
// emission, so concurrent callers cannot emit a stale path after a newer
// one or leave r.current behind the real state.
func (r *remote) updatePath(now time.Time) {
	r.mu.Lock()
	nu := r.infoLocked(now)
	old := r.current
	if old.Kind == nu.Kind && old.Addr == nu.Addr && old.RelayURL == nu.RelayURL {
		r.current.RTT = nu.RTT
		r.mu.Unlock()
		return
	}
	r.current = nu
	ev := PathChanged{Remote: r.id, Old: old, New: nu, Time: now}
	for ch := range r.subs {
		select {
		case ch <- ev:
		default:
			r.c.metrics.EventsDropped.Inc()
		}
	}
	r.mu.Unlock()
	r.c.metrics.PathChanges.WithLabelValues(nu.Kind.String()).Inc()
	switch {
	case nu.Kind == PathDirect && old.Kind != PathDirect:
		r.c.metrics.Upgrades.Inc()
	case old.Kind == PathDirect && nu.Kind != PathDirect:
		r.c.metrics.Downgrades.Inc()
	}
	r.c.log.Info("path changed", "remote", r.id.ShortString(), "path", nu.Kind.String(),
		"addr", nu.Addr, "relay_url", nu.RelayURL, "rtt", nu.RTT)
}

// heartbeat runs the remote's timers; called by the maintenance loop.
func (r *remote) heartbeat(now time.Time) {
	if r.anonymous {
		return
	}
	r.mu.Lock()
	for tx, p := range r.pings {
		if now.Sub(p.sent) > pingTimeout {
			delete(r.pings, tx)
			r.c.metrics.Probes.WithLabelValues("ping_timeout").Inc()
		}
	}
	lastCMM := r.lastCallMeMaybe
	lastFull := r.lastFullPing
	var bestLastPing time.Time
	bp := r.best.Load()
	if bp != nil {
		if ps := r.paths[bp.addr]; ps != nil {
			bestLastPing = ps.lastPing
			// A best path whose trust lapsed and whose last ping went
			// unanswered is dead: forget it. One that QUIC confirmed (its
			// peer never pongs) is dead when no packet came on it for as
			// long.
			lastHeard := ps.lastPong
			if bp.quic {
				lastHeard = time.Unix(0, bp.trustedUntil.Load()).Add(-trustUDPAddrDuration)
			}
			if now.UnixNano() >= bp.trustedUntil.Load() && now.Sub(lastHeard) > trustUDPAddrDuration+pingTimeout {
				r.best.CompareAndSwap(bp, nil)
				bp = nil
			}
		}
	}
	r.mu.Unlock()
	last := max(r.lastSend.Load(), r.lastRecv.Load())
	active := now.UnixNano()-last < int64(sessionActiveTimeout)
	if active {
		trusted := bp != nil && now.UnixNano() < bp.trustedUntil.Load()
		switch {
		case !trusted:
			if now.Sub(lastCMM) >= callMeMaybeInterval {
				r.callMeMaybe(now)
			}
		case now.Sub(bestLastPing) >= heartbeatInterval:
			r.ping(pathAddr{udp: bp.addr}, now)
			if bp.latency > goodEnoughLatency && now.Sub(lastFull) >= upgradeInterval {
				r.callMeMaybe(now)
			}
		}
	}
	r.updatePath(now)
}

// subscribe registers a channel for PathChanged events.
func (r *remote) subscribe(buf int) (<-chan PathChanged, func()) {
	ch := make(chan PathChanged, buf)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.subs, ch)
		r.mu.Unlock()
	}
}

func (r *remote) candidates() []CandidateInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]CandidateInfo, 0, len(r.paths))
	for a, ps := range r.paths {
		ci := CandidateInfo{Addr: a, LastPong: ps.lastPong}
		if !ps.lastPong.IsZero() {
			ci.RTT = ps.latency
		}
		out = append(out, ci)
	}
	slices.SortFunc(out, func(x, y CandidateInfo) int { return endpointaddr.CompareSocketAddr(x.Addr, y.Addr) })
	return out
}

// claimUDP attributes packets from a to r, unless a is the confirmed
// direct path of another remote: an unconfirmed candidate (from a ticket,
// a call-me-maybe or a ping with a spoofed source) never takes over a
// working path. Confirmed paths (pongs) always claim their address.
func (c *Conn) claimUDP(a netip.AddrPort, r *remote) {
	for {
		v, loaded := c.byUDP.LoadOrStore(a, r)
		if !loaded {
			return
		}
		other := v.(*remote)
		if other == r {
			return
		}
		if bp := other.best.Load(); bp != nil && bp.addr == a && time.Now().UnixNano() < bp.trustedUntil.Load() {
			return
		}
		if c.byUDP.CompareAndSwap(a, other, r) {
			return
		}
	}
}

// remoteIdleTimeout: a remote with no traffic, no subscriber and no
// pending probe for this long is forgotten (its state is rebuilt if it
// comes back). Open connections send keep-alives every 5 s, so a remote
// with a connection is never idle this long.
const remoteIdleTimeout = 2 * time.Minute

// prunable reports whether r may be forgotten.
func (r *remote) prunable(now time.Time) bool {
	last := max(r.lastSend.Load(), r.lastRecv.Load(), r.created)
	if now.UnixNano()-last < int64(remoteIdleTimeout) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs) == 0
}

// forgetRemote drops every trace of r from the socket's maps.
func (c *Conn) forgetRemote(r *remote) {
	if c.byID.CompareAndDelete(r.id, r) {
		c.nRemotes.Add(-1)
	}
	c.byMapped.CompareAndDelete(r.mappedAP, r)
	c.boxKeys.Delete(r.id)
	r.mu.Lock()
	for a := range r.paths {
		c.byUDP.CompareAndDelete(a, r)
	}
	r.mu.Unlock()
	c.metrics.RemotesForgotten.Inc()
}
