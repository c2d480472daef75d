package magicsock

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/iroh-go/iroh/key"
)

// Paths to peers without disco (Rust iroh 1.0; shared spec core.md
// §6.6-6.7). Such a peer never answers a ping, so disco alone would never
// trust its direct address. QUIC itself is the probe here:
//
//   - Handshake (long-header) packets to a remote with no confirmed direct
//     path go to its direct candidates and over the relay, as iroh 1.0
//     duplicates its Initial; the peer answers on the path it heard first.
//     Only candidates our side was given to dial, or that sent us an
//     Initial whose relay copy named the remote, or from which the remote
//     sent an authenticated disco ping (we pong there anyway), get copies
//     (at most maxSprayPaths): addresses a remote merely claims
//     (call-me-maybe) get pings, so a peer cannot aim our handshake at
//     others.
//   - A direct path is confirmed when a QUIC packet arrives on it whose
//     destination connection id is one that our QUIC chose (the source id
//     of a long-header packet we sent that remote): only a peer that
//     received one of our packets can write it, so an off-path sender
//     spoofing the address cannot make us trust it. Only a candidate of
//     that remote (an address it gave us, or adopted below) can be
//     confirmed so, and only while the remote never spoke disco (a disco
//     peer proves its paths with pongs).
//   - A QUIC Initial from an unknown UDP source whose destination id equals
//     that of an Initial just received over a relay from endpoint X (iroh
//     1.0 sends its first Initial both ways) makes that source a candidate
//     of X at once, instead of after anonymousAfter; with no home relay
//     (so no relay copy can come) the Initial goes to QUIC at once under an
//     anonymous remote. Both tables are fixed-size: strangers' packets
//     cannot grow them.
//
// What remains open: a peer that spoofs source addresses could name
// another address as its own after it saw our connection id (it is the
// peer, so it knows it), and have its traffic sent there while it keeps
// spoofing; disco peers are not affected. The QUIC layer above validates
// a peer's new address with PATH_CHALLENGE, which this layer cannot see.

const (
	// maxOurCIDs bounds the connection ids of ours remembered per remote
	// (a handshake uses one; a few more cover a redial).
	maxOurCIDs = 4
	// maxCIDLen is the longest QUIC connection id (RFC 9000 §17.2).
	maxCIDLen = 20
	// minInitialSize is the smallest datagram carrying a client Initial
	// (RFC 9000 §14.1).
	minInitialSize = 1200
	// relayInitialSlots is the number of recent relay Initials kept to
	// match their UDP copies; relayInitialTTL how long one is kept.
	relayInitialSlots = 16
	relayInitialTTL   = 2 * time.Second
	// maxSprayPaths bounds the candidates a handshake packet is copied to
	// (besides the relay), and maxAdoptedSources the Initial sources of
	// one remote among them: a peer that spoofs its Initial's source
	// cannot turn our handshake into a flood at many addresses.
	maxSprayPaths     = 8
	maxAdoptedSources = 2
)

// cid is a QUIC connection id of up to maxCIDLen bytes.
type cid struct {
	b [maxCIDLen]byte
	n uint8
}

func makeCID(b []byte) cid {
	var c cid
	c.n = uint8(copy(c.b[:], b))
	return c
}

func (c *cid) bytes() []byte { return c.b[:c.n] }

// ourCIDs is the ring of connection ids our QUIC chose for a remote.
type ourCIDs struct {
	ids  [maxOurCIDs]cid
	n    int
	next int
}

func (o *ourCIDs) has(b []byte) bool {
	for i := 0; i < o.n; i++ {
		if bytes.Equal(o.ids[i].bytes(), b) {
			return true
		}
	}
	return false
}

func (o *ourCIDs) add(b []byte) {
	if o.has(b) {
		return
	}
	o.ids[o.next] = makeCID(b)
	o.next = (o.next + 1) % maxOurCIDs
	o.n = min(o.n+1, maxOurCIDs)
}

// matchShort reports whether b, a short-header packet, is addressed to
// one of the ids (each tried at its own length).
func (o *ourCIDs) matchShort(b []byte) bool {
	for i := 0; i < o.n; i++ {
		id := o.ids[i].bytes()
		if len(b) > len(id) && bytes.Equal(b[1:1+len(id)], id) {
			return true
		}
	}
	return false
}

// parseLongHeader returns the version and connection ids of a long-header
// QUIC packet; ok is false for anything else.
func parseLongHeader(b []byte) (version uint32, dcid, scid []byte, ok bool) {
	if len(b) < 7 || b[0]&0x80 == 0 {
		return 0, nil, nil, false
	}
	version = binary.BigEndian.Uint32(b[1:5])
	dl := int(b[5])
	if dl > maxCIDLen || len(b) < 6+dl+1 {
		return 0, nil, nil, false
	}
	dcid = b[6 : 6+dl]
	sl := int(b[6+dl])
	if sl > maxCIDLen || len(b) < 7+dl+sl {
		return 0, nil, nil, false
	}
	return version, dcid, b[7+dl : 7+dl+sl], true
}

// initialDCID returns the destination id of a datagram that starts with
// a QUIC v1 Initial packet large enough to be a client's first flight.
func initialDCID(b []byte) ([]byte, bool) {
	if len(b) < minInitialSize || b[0]&0xf0 != 0xc0 { // long header, fixed bit, type Initial
		return nil, false
	}
	v, dcid, _, ok := parseLongHeader(b)
	if !ok || v != 1 || len(dcid) == 0 {
		return nil, false
	}
	return dcid, true
}

// noteSentLong remembers the source connection id of a long-header packet
// we send to r (the handshake), for confirmQUIC. Called for packets whose
// first byte has the long-header bit.
func (r *remote) noteSentLong(p []byte) {
	_, _, scid, ok := parseLongHeader(p)
	if !ok || len(scid) == 0 {
		return
	}
	r.mu.Lock()
	r.ourCIDs.add(scid)
	r.lastLongSend = time.Now()
	r.mu.Unlock()
}

// sprayHandshake sends a run of seg-sized handshake packets to every
// direct candidate and over the relay, while r has no confirmed direct
// path: whichever path the peer hears first, it answers on.
func (r *remote) sprayHandshake(p []byte, seg int, now time.Time) {
	var cands [maxSprayPaths]netip.AddrPort
	nc := 0
	r.mu.Lock()
	relay := r.relayURL
	for a, ps := range r.paths {
		if ps.spray && nc < len(cands) {
			cands[nc] = a
			nc++
		}
	}
	r.mu.Unlock()
	for len(p) > 0 {
		s := p[:min(seg, len(p))]
		p = p[len(s):]
		sent := false
		for _, a := range cands[:nc] {
			if r.c.sendUDP(s, a) == nil {
				sent = true
			}
		}
		// The relay copy last: where both arrive, the direct one should
		// be heard first.
		if relay != "" && r.c.sendRelay(s, relay, r.id) == nil {
			sent = true
		}
		if !sent {
			r.c.metrics.Dropped.WithLabelValues("no_path").Inc()
		}
	}
	r.pingDue(now)
}

// confirmQUIC makes src, a candidate of r on which the QUIC packet pkt
// arrived, r's direct path if r never spoke disco and pkt is addressed to
// a connection id our QUIC chose for r. It runs on a socket's read
// goroutine for packets that did not come over r's trusted path.
func (r *remote) confirmQUIC(src netip.AddrPort, pkt []byte, now time.Time) {
	if r.anonymous || r.speaksDisco.Load() || len(pkt) == 0 {
		return
	}
	if bp := r.best.Load(); bp != nil && bp.addr == src && bp.quic {
		// The path QUIC confirmed, idle longer than its trust: any packet
		// on it renews it (the peer may have moved to another of our
		// connection ids meanwhile).
		r.considerBestVia(src, bp.latency, now, true)
		return
	}
	r.mu.Lock()
	_, cand := r.paths[src]
	match := false
	if cand && r.ourCIDs.n > 0 {
		if pkt[0]&0x80 == 0 {
			match = r.ourCIDs.matchShort(pkt)
		} else if _, dcid, _, ok := parseLongHeader(pkt); ok {
			match = r.ourCIDs.has(dcid)
		}
	}
	var lat time.Duration
	if match && !r.lastLongSend.IsZero() {
		lat = now.Sub(r.lastLongSend)
	}
	r.mu.Unlock()
	if !match {
		return
	}
	if bp := r.best.Load(); bp != nil && bp.addr == src {
		lat = bp.latency // keep the measured latency of a path that lapsed
	}
	r.c.metrics.Probes.WithLabelValues("quic_confirmed").Inc()
	r.considerBestVia(src, lat, now, true)
}

// relayInitial is a QUIC Initial that arrived over a relay.
type relayInitial struct {
	dcid cid
	from key.PublicKey
	at   time.Time
}

// noteRelayInitial records that an Initial for dcid came over a relay
// from r, and adopts a pending UDP source whose held Initial has the same
// destination id as r's candidate: the peer sent its first flight both
// ways. It runs on a relay client's read goroutine.
func (c *Conn) noteRelayInitial(dcid []byte, r *remote, now time.Time) {
	var src netip.AddrPort
	c.mu.Lock()
	c.relayInitials[c.relayInitialNext] = relayInitial{dcid: makeCID(dcid), from: r.id, at: now}
	c.relayInitialNext = (c.relayInitialNext + 1) % relayInitialSlots
	for s, p := range c.pending {
		if p.initial.n > 0 && bytes.Equal(p.initial.bytes(), dcid) {
			src = s
			break
		}
	}
	c.mu.Unlock()
	if src.IsValid() && r.adoptSource(src) {
		c.metrics.Initials.WithLabelValues("adopted").Inc()
		c.flushPending(src, r)
	}
}

// adoptInitialSource is called for a packet from src, a source no remote
// claims. If it is a QUIC Initial whose copy came over a relay, src
// becomes a candidate of the relay sender and that remote is returned;
// if this endpoint has no home relay (no copy can come that way) an
// anonymous remote for src is returned at once. Otherwise nil: the
// packet waits (holdPending).
func (c *Conn) adoptInitialSource(src netip.AddrPort, pkt []byte, now time.Time) *remote {
	dcid, ok := initialDCID(pkt)
	if !ok || c.relayOnly {
		return nil
	}
	var from key.PublicKey
	c.mu.Lock()
	for i := range c.relayInitials {
		ri := &c.relayInitials[i]
		if ri.dcid.n > 0 && now.Sub(ri.at) < relayInitialTTL && bytes.Equal(ri.dcid.bytes(), dcid) {
			from = ri.from
			break
		}
	}
	if from.IsZero() {
		defer c.mu.Unlock()
		if c.HomeRelay() != "" || len(c.anon) >= maxAnonymous || c.closed.Load() {
			return nil
		}
		if _, held := c.pending[src]; held {
			return nil // its timer delivers what is held first
		}
		c.metrics.Initials.WithLabelValues("anonymous").Inc()
		return c.newAnonymousLocked(src)
	}
	c.mu.Unlock()
	v, ok := c.byID.Load(from)
	if !ok {
		return nil
	}
	r := v.(*remote)
	if !r.adoptSource(src) {
		return nil
	}
	c.metrics.Initials.WithLabelValues("adopted").Inc()
	c.flushPending(src, r)
	return r
}

// adoptSource makes src a direct candidate of r (bounded by maxPaths),
// one that handshake packets go to if it is among the first
// maxAdoptedSources so adopted; it reports whether src now routes to r.
func (r *remote) adoptSource(src netip.AddrPort) bool {
	r.mu.Lock()
	_, known := r.paths[src]
	added := !known && r.addPathLocked(src)
	if ps := r.paths[src]; ps != nil && !ps.spray && r.adopted < maxAdoptedSources {
		ps.spray = true
		r.adopted++
	}
	r.mu.Unlock()
	if !known && !added {
		return false
	}
	v, ok := r.c.byUDP.Load(src)
	return ok && v.(*remote) == r
}

// NameRemote tells the socket who sent the packets of the anonymous remote
// at mapped: QUIC's handshake proved they come from id (an endpoint that
// dialed us from an unknown address and speaks no disco, as Rust iroh 1.0
// does). If no remote for id exists yet, the anonymous remote's address
// and path become id's remote, keeping the mapped address so that the
// connection sees no change; Paths(id) then shows the direct path. It
// reports whether it named one; a mapped address that is not anonymous,
// or an id the socket already knows, changes nothing.
func (c *Conn) NameRemote(mapped netip.AddrPort, id key.PublicKey) bool {
	if id.IsZero() || id == c.id {
		return false
	}
	v, ok := c.byMapped.Load(mapped)
	if !ok || !v.(*remote).anonymous {
		return false
	}
	anon := v.(*remote)
	c.mu.Lock()
	defer c.mu.Unlock()
	var src netip.AddrPort
	for s, r := range c.anon {
		if r == anon {
			src = s
			break
		}
	}
	if !src.IsValid() {
		return false // expired meanwhile
	}
	r := newRemote(c, id, mapped)
	r.paths[src] = &pathState{}
	bp := &bestPath{addr: src}
	now := time.Now().UnixNano()
	bp.trustedUntil.Store(now + int64(trustUDPAddrDuration))
	r.best.Store(bp)
	r.lastRecv.Store(anon.lastRecv.Load())
	r.lastSend.Store(anon.lastSend.Load())
	if _, loaded := c.byID.LoadOrStore(id, r); loaded {
		return false
	}
	delete(c.anon, src)
	c.byMapped.Store(mapped, r)
	c.byUDP.Store(src, r)
	c.nRemotes.Add(1)
	c.metrics.Remotes.Inc()
	return true
}
