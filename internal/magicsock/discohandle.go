package magicsock

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/iroh-go/iroh/key"
)

// boxKey returns the disco key shared with peer. Keys are cached only for
// peers that are known remotes, so strangers cannot grow the cache.
func (c *Conn) boxKey(peer key.PublicKey) (*[32]byte, error) {
	if v, ok := c.boxKeys.Load(peer); ok {
		return v.(*[32]byte), nil
	}
	k, err := sharedKey(c.sk, peer)
	if err != nil {
		return nil, err
	}
	if _, known := c.byID.Load(peer); known {
		c.boxKeys.Store(peer, &k)
	}
	return &k, nil
}

// sendDisco seals m for r and sends it over p.
func (c *Conn) sendDisco(r *remote, p pathAddr, m *discoMsg) {
	bk, err := c.boxKey(r.id)
	if err != nil {
		return
	}
	var pt [256]byte
	plain := appendDisco(pt[:0], m)
	pkt := seal(make([]byte, 0, len(plain)+discoMinLen), bk, c.id, plain, nil)
	if p.udp.IsValid() {
		_ = c.sendUDP(pkt, p.udp)
	} else if p.relay != "" {
		_ = c.sendRelay(pkt, p.relay, r.id)
	}
}

// handleDisco authenticates and acts on one disco packet received over p.
func (c *Conn) handleDisco(pkt []byte, p pathAddr) {
	sender, _ := discoSender(pkt)
	if sender == c.id || (c.relayOnly && p.udp.IsValid()) {
		return
	}
	if p.relay != "" && sender != p.relayFrom {
		c.metrics.DiscoDropped.WithLabelValues("sender_mismatch").Inc()
		return
	}
	_, known := c.byID.Load(sender)
	if !known && !c.discoLimiter.allow(time.Now()) {
		c.metrics.DiscoDropped.WithLabelValues("rate_limited").Inc()
		return
	}
	if !sender.Valid() {
		c.metrics.DiscoDropped.WithLabelValues("bad_key").Inc()
		return
	}
	bk, err := c.boxKey(sender)
	if err != nil {
		c.metrics.DiscoDropped.WithLabelValues("bad_key").Inc()
		return
	}
	buf := slices.Clone(pkt)
	pt, err := open(buf, bk)
	if err != nil {
		c.metrics.DiscoDropped.WithLabelValues("forged").Inc()
		return
	}
	m, err := parseDisco(pt)
	if err != nil {
		c.metrics.DiscoDropped.WithLabelValues("malformed").Inc()
		return
	}
	now := time.Now()
	switch m.typ {
	case discoPing:
		if m.nodeKey != sender {
			c.metrics.DiscoDropped.WithLabelValues("sender_mismatch").Inc()
			return
		}
		r := c.remoteForStranger(sender, now)
		if r == nil {
			return
		}
		if r.seenNonce(buf[len(buf)-discoNonceLen:]) {
			c.metrics.DiscoDropped.WithLabelValues("replayed").Inc()
			return
		}
		if !r.pingLimiter.allow(now) {
			// Each ping costs a pong (and maybe a ping) to its source: a
			// known key must not turn us into an amplifier.
			c.metrics.DiscoDropped.WithLabelValues("rate_limited").Inc()
			return
		}
		c.metrics.Probes.WithLabelValues("ping_received").Inc()
		r.speaksDisco.Store(true)
		pong := discoMsg{typ: discoPong, txID: m.txID}
		if p.udp.IsValid() {
			r.mu.Lock()
			_, known := r.paths[p.udp]
			added := !known && r.addPathLocked(p.udp)
			if ps := r.paths[p.udp]; ps != nil {
				// The sender proved its key from this very address: our
				// handshake replies may go there (we pong it anyway) before
				// our own ping round-trips.
				ps.spray = true
			}
			r.mu.Unlock()
			if !known && !added {
				c.metrics.DiscoDropped.WithLabelValues("too_many_paths").Inc()
				return
			}
			c.flushPending(p.udp, r)
			pong.src = p.udp
		} else {
			r.mu.Lock()
			if r.relayURL == "" {
				r.relayURL = p.relay
			}
			r.mu.Unlock()
			pong.srcRelay = string(p.relay)
		}
		c.sendDisco(r, p, &pong)
		if bp := r.best.Load(); p.udp.IsValid() && (bp == nil || now.UnixNano() >= bp.trustedUntil.Load()) {
			// Ping back to confirm the path ourselves, at most once per
			// probe interval per path; and once more at once (again at most
			// once per interval) when our last ping on it is unanswered: a
			// ping arriving from the remote's NAT means the hole is open
			// now, where ours, sent before, were dropped. Waiting out the
			// interval kept the dialer on the relay a full second after the
			// listener went direct. Our pong goes out first, so the remote,
			// whose ping it answers, does not ping back in turn.
			r.mu.Lock()
			ps := r.paths[p.udp]
			due := false
			if ps != nil {
				due = now.Sub(ps.lastPing) >= unconfirmedPingInterval
				if !due && ps.lastPong.Before(ps.lastPing) && now.Sub(ps.lastEarlyPing) >= unconfirmedPingInterval {
					due = true
					ps.lastEarlyPing = now
				}
			}
			r.mu.Unlock()
			if due {
				r.ping(p, now)
			}
		}
	case discoPong:
		v, ok := c.byID.Load(sender)
		if !ok {
			c.metrics.Probes.WithLabelValues("pong_unknown").Inc()
			return
		}
		if v.(*remote).handlePong(&m, now) && m.src.IsValid() && p.udp.IsValid() {
			// Only the answer to a ping we sent over UDP tells us how a
			// peer sees our address.
			c.noteObserved(m.src, now)
		}
	case discoCallMeMaybe:
		if p.udp.IsValid() {
			c.metrics.DiscoDropped.WithLabelValues("call_me_maybe_not_via_relay").Inc()
			return
		}
		r := c.remoteForStranger(sender, now)
		if r == nil {
			return
		}
		if r.seenNonce(buf[len(buf)-discoNonceLen:]) {
			c.metrics.DiscoDropped.WithLabelValues("replayed").Inc()
			return
		}
		c.metrics.Probes.WithLabelValues("call_me_maybe_received").Inc()
		r.mu.Lock()
		if r.relayURL == "" {
			r.relayURL = p.relay
		}
		for _, a := range m.addrs {
			r.addPathLocked(a)
		}
		recent := now.Sub(r.lastFullPing) < unconfirmedPingInterval
		r.mu.Unlock()
		if recent {
			// A punch round is already under way: don't multiply it.
			c.metrics.DiscoDropped.WithLabelValues("rate_limited").Inc()
			return
		}
		r.pingAll(now)
	}
}

// tokenBucket is a small rate limiter for work on behalf of strangers.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func (b *tokenBucket) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Paths returns the current path to id and its direct candidates.
func (c *Conn) Paths(id key.PublicKey) (PathInfo, []CandidateInfo) {
	v, ok := c.byID.Load(id)
	if !ok {
		return PathInfo{}, nil
	}
	r := v.(*remote)
	return r.info(time.Now()), r.candidates()
}

// SubscribePaths returns a channel of path changes for id, holding up to
// buf events (a slow reader loses events, counted), and a function that
// ends the subscription. The channel is never closed. Subscribing creates
// id's state if it has none and keeps it while subscribed: it is for the
// caller's own peers (ids it dials or accepts), never for ids a peer
// names; strangers cannot reach it.
func (c *Conn) SubscribePaths(id key.PublicKey, buf int) (<-chan PathChanged, func()) {
	return c.remoteFor(id).subscribe(buf)
}

// ObservedAddrs returns our addresses as peers reported them in pongs.
func (c *Conn) ObservedAddrs() []netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]netip.AddrPort, 0, len(c.observed))
	for a := range c.observed {
		out = append(out, a)
	}
	return out
}

// Observed addresses (our public addresses as STUN servers and pongs
// report them) are kept at most observedTTL and at most maxObserved; a new
// one replaces the oldest.
const (
	observedTTL = 10 * time.Minute
	maxObserved = 16
)

// noteObserved records one of our addresses as a peer or STUN server saw it.
func (c *Conn) noteObserved(ap netip.AddrPort, now time.Time) {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.observed[ap]; !seen && len(c.observed) >= maxObserved {
		var oldest netip.AddrPort
		var ot time.Time
		for a, t := range c.observed {
			if !oldest.IsValid() || t.Before(ot) {
				oldest, ot = a, t
			}
		}
		delete(c.observed, oldest)
	}
	c.observed[ap] = now
}

// expireObservedLocked forgets observed addresses older than observedTTL.
func (c *Conn) expireObservedLocked(now time.Time) {
	for a, t := range c.observed {
		if now.Sub(t) > observedTTL {
			delete(c.observed, a)
		}
	}
}
