package gossip

import (
	"bytes"
	"container/heap"
	"context"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/gossip/proto"
)

const (
	// supersededGrace is how long a connection replaced by a newer one
	// to the same peer stays open for the peer's last messages.
	supersededGrace = 10 * time.Second
	// unusedGrace is how long a connection no topic uses stays open
	// before it is closed (so a Disconnect is read before the close).
	unusedGrace = 5 * time.Second
	// addrTTL is how long address data from peers is kept (as Rust's
	// gossip address lookup).
	addrTTL = 5 * time.Minute
	// maxAddrs bounds the address book.
	maxAddrs = 4096
	// maxConnsPerPeer bounds live connections to one peer.
	maxConnsPerPeer = 3
	// raceWindow: two connections to one peer established this close
	// together come from both sides dialing at once. Both sides then keep
	// the one dialed by the smaller EndpointID, so they agree; otherwise
	// the newest wins (the peer may have restarted).
	raceWindow = 5 * time.Second
	// housekeeping is the interval of address refresh and expiry.
	housekeeping = 30 * time.Second
	// stallTimeout: a peer whose writer has queued messages and completed
	// no write for this long has stopped reading. When its queue
	// overflows it is dropped; a peer that is merely slower than the
	// traffic loses the overflowing messages instead.
	stallTimeout = 2 * time.Second
	// pressurePoll is how often waiting broadcasts recheck the queues.
	pressurePoll = time.Millisecond
)

type peerState struct {
	id      iroh.EndpointID
	conns   []*connState // live connections, newest last; the last one sends
	w       *writer      // the writer on the newest connection, if any
	pending []outMsg     // waiting for a dial
	dialing bool
	topics  map[TopicID]bool // topics with messages pending a dial
}

func (p *peerState) current() *connState {
	if len(p.conns) == 0 {
		return nil
	}
	return p.conns[len(p.conns)-1]
}

// sender returns the connection to send to p on: the newest that can
// carry our messages. A 0.35 connection the peer dialed cannot until its
// stream arrives, nor one whose stream we finished.
func (p *peerState) sender() *connState {
	for i := len(p.conns) - 1; i >= 0; i-- {
		if cs := p.conns[i]; cs.ready && !cs.sendDone {
			return cs
		}
	}
	return nil
}

type subscriber struct {
	ch     chan Event
	lagged uint64
}

type topicState struct {
	subs      []*subscriber
	bootstrap []iroh.EndpointID
	joined    chan struct{} // closed at the first NeighborUp
	neighbors []iroh.EndpointID
}

type addrEntry struct {
	addr    iroh.EndpointAddr
	expires time.Time // zero: given by the application, kept while used
}

type timerEntry struct {
	at    time.Time
	seq   uint64
	fire  func()
	topic TopicID
	timer proto.Timer
}

type timerHeap []timerEntry

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// actor owns the protocol state and all peer and topic tables; only run
// touches them.
type actor struct {
	g         *Gossip
	state     *proto.State
	peers     map[iroh.EndpointID]*peerState
	topics    map[TopicID]*topicState
	addrs     map[iroh.EndpointID]addrEntry
	myData    []byte
	timers    timerHeap
	seq       uint64
	flush     chan struct{}    // closed when the writers closed by quitAll are done
	flushWait map[*writer]bool // writers quitAll waits for
	queue     []proto.Input    // inputs not yet handled (input is not reentrant)
	waiters   []chan struct{}  // local broadcasts waiting for queues to drain
	polling   bool
	busy      bool
	stats     proto.Stats // last seen, for metrics deltas
}

func newActor(g *Gossip, cfg proto.Config, seed uint64) *actor {
	var rng *rand.Rand
	if seed != 0 {
		rng = rand.New(rand.NewPCG(seed, seed))
	} else {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	a := &actor{
		g:      g,
		peers:  make(map[iroh.EndpointID]*peerState),
		topics: make(map[TopicID]*topicState),
		addrs:  make(map[iroh.EndpointID]addrEntry),
	}
	a.myData = AppendPeerData(nil, g.ep.Addr())
	a.state = proto.NewState(g.ep.ID(), a.myData, cfg, rng)
	return a
}

func (a *actor) run() {
	g := a.g
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	// The first look at our addresses comes early: right after Bind the
	// endpoint may not know its relay or public address yet.
	a.after(time.Second, a.housekeep)
	defer a.shutdown()
	for {
		if len(a.timers) > 0 {
			t.Reset(time.Until(a.timers[0].at))
		}
		select {
		case f := <-g.cmds:
			f()
		case in := <-g.inbox:
			a.input(proto.RecvMessage{From: in.from, Topic: in.topic, Msg: in.msg})
		case ev := <-g.events:
			a.connEvent(ev)
		case <-t.C:
			now := time.Now()
			for len(a.timers) > 0 && !a.timers[0].at.After(now) {
				e := heap.Pop(&a.timers).(timerEntry)
				if e.fire != nil {
					e.fire()
				} else {
					a.input(proto.TimerFired{Topic: e.topic, Timer: e.timer})
				}
			}
		case <-g.ctx.Done():
			return
		}
	}
}

// shutdown closes every connection and subscription when run ends.
func (a *actor) shutdown() {
	for _, p := range a.peers {
		for _, cs := range p.conns {
			a.g.closeWith(cs, closeNormal, "gossip closed", "")
		}
	}
	for _, ts := range a.topics {
		for _, s := range ts.subs {
			close(s.ch)
		}
	}
	a.topics = nil
	for _, w := range a.waiters {
		close(w)
	}
	a.waiters = nil
}

func (a *actor) after(d time.Duration, f func()) {
	a.seq++
	heap.Push(&a.timers, timerEntry{at: time.Now().Add(d), seq: a.seq, fire: f})
}

// input hands in to the protocol and carries out its outputs. Inputs
// caused while doing so are queued and handled in order afterwards.
func (a *actor) input(in proto.Input) {
	a.queue = append(a.queue, in)
	if a.busy {
		return
	}
	a.busy = true
	defer func() { a.busy = false }()
	for len(a.queue) > 0 {
		in := a.queue[0]
		a.queue[0] = nil
		a.queue = a.queue[1:]
		a.handle(in)
	}
	a.queue = nil
}

func (a *actor) handle(in proto.Input) {
	outs := slices.Clone(a.state.Handle(time.Now(), in))
	for _, o := range outs {
		switch o := o.(type) {
		case proto.SendMessage:
			a.send(o.To, outMsg{topic: o.Topic, msg: o.Msg})
		case proto.EmitEvent:
			a.event(o.Topic, o.Event)
		case proto.ScheduleTimer:
			a.seq++
			heap.Push(&a.timers, timerEntry{at: time.Now().Add(o.After), seq: a.seq, topic: o.Topic, timer: o.Timer})
		case proto.DisconnectPeer:
			a.disconnect(o.Peer)
		case proto.PeerDataLearned:
			if addr, err := ParsePeerData(o.Peer, o.Data); err == nil {
				a.learn(usable(addr), time.Now().Add(addrTTL))
			}
		}
	}
	st := a.state.Stats()
	if d := st.BadMessageIDs - a.stats.BadMessageIDs; d > 0 {
		a.g.m.Drops.WithLabelValues("bad_id").Add(float64(d))
	}
	if d := st.UnknownTopic - a.stats.UnknownTopic; d > 0 {
		a.g.m.Drops.WithLabelValues("unknown_topic").Add(float64(d))
	}
	a.stats = st
}

// learn records addresses of a peer; application-given ones (no expiry)
// are not replaced by gossiped ones.
func (a *actor) learn(addr iroh.EndpointAddr, expires time.Time) {
	if addr.IsIDOnly() || addr.ID == a.g.ep.ID() {
		return
	}
	if old, ok := a.addrs[addr.ID]; ok && old.expires.IsZero() && !expires.IsZero() {
		return
	}
	if _, ok := a.addrs[addr.ID]; !ok && len(a.addrs) >= maxAddrs {
		a.expireAddrs(true)
		if len(a.addrs) >= maxAddrs {
			return
		}
	}
	a.addrs[addr.ID] = addrEntry{addr: addr, expires: expires}
}

// expireAddrs drops expired addresses; force also drops gossiped ones of
// peers we have no connection to.
func (a *actor) expireAddrs(force bool) {
	now := time.Now()
	for id, e := range a.addrs {
		if e.expires.IsZero() {
			continue
		}
		if now.After(e.expires) || (force && a.peers[id] == nil) {
			delete(a.addrs, id)
		}
	}
}

func (a *actor) closeIfUnused(cs *connState) {
	if cs.down || a.state.InUse(cs.remote) {
		return
	}
	if p := a.peers[cs.remote]; p != nil && len(p.pending) > 0 {
		return
	}
	a.g.closeWith(cs, closeNormal, "close from disconnect", "unused")
	a.connDown(cs)
}

func (a *actor) housekeep() {
	a.after(housekeeping, a.housekeep)
	a.expireAddrs(false)
	for _, p := range a.peers {
		for _, cs := range slices.Clone(p.conns) {
			if time.Since(cs.at) > unusedGrace {
				a.closeIfUnused(cs)
			}
		}
	}
	if d := AppendPeerData(nil, a.g.ep.Addr()); string(d) != string(a.myData) {
		a.myData = d
		a.input(proto.UpdatePeerData{Data: d})
	}
}

// ---- peers and connections ----

func (a *actor) peer(id iroh.EndpointID) *peerState {
	p := a.peers[id]
	if p == nil {
		p = &peerState{id: id, topics: make(map[TopicID]bool)}
		a.peers[id] = p
	}
	return p
}

// send queues m for peer id: on its writer, or pending a dial. A full
// writer queue means the peer stopped reading: it is dropped.
func (a *actor) send(id iroh.EndpointID, m outMsg) {
	p := a.peer(id)
	if p.w == nil {
		if cs := p.sender(); cs != nil {
			p.w = a.g.startWriter(cs)
			cs.w = p.w
			cs.writing = true
		}
	}
	if p.w != nil {
		select {
		case p.w.q <- m:
		default:
			if !p.w.stalled(time.Now(), stallTimeout) {
				a.g.m.Drops.WithLabelValues("queue_full").Inc()
				return
			}
			a.g.m.Drops.WithLabelValues("queue_full").Add(float64(len(p.w.q) + 1))
			a.g.log.Warn("peer not reading: dropped", "remote", id.ShortString(), "queued", len(p.w.q))
			for _, cs := range slices.Clone(p.conns) {
				a.g.closeWith(cs, closeSlowPeer, "send queue full", "slow_peer")
				a.connDown(cs)
			}
		}
		return
	}
	if len(p.pending) >= a.g.sendQ {
		p.pending = p.pending[1:]
		a.g.m.Drops.WithLabelValues("queue_full").Inc()
	}
	p.pending = append(p.pending, m)
	p.topics[m.topic] = true
	if !p.dialing {
		a.dial(p)
	}
}

func (a *actor) dial(p *peerState) {
	p.dialing = true
	addr := iroh.EndpointAddr{ID: p.id}
	if e, ok := a.addrs[p.id]; ok {
		addr = e.addr
	}
	g := a.g
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		ctx, cancel := context.WithTimeout(g.ctx, g.dialTO)
		conn, err := g.ep.Connect(ctx, addr, g.protocols[0], g.protocols[1:]...)
		var cs *connState
		if err == nil {
			cs = g.newConn(conn, true)
			if cs.v035 {
				// 0.35: the dialer opens the connection's one stream.
				if cs.bi, err = conn.OpenStream(ctx); err != nil {
					g.closeWith(cs, closeNormal, "open stream failed", "")
					conn, cs = nil, nil
				}
			}
		}
		cancel()
		ev := connEvent{kind: evDialed, id: addr.ID, err: err, cs: cs}
		select {
		case g.events <- ev:
		case <-g.ctx.Done():
			if conn != nil {
				conn.Close(closeNormal, "gossip closed")
			}
		}
	}()
}

func (a *actor) connEvent(ev connEvent) {
	switch ev.kind {
	case evDialed:
		p := a.peer(ev.id)
		p.dialing = false
		if ev.err != nil {
			a.g.m.Dials.WithLabelValues("error").Inc()
			a.g.log.Debug("dial failed", "remote", ev.id.ShortString(), "err", ev.err)
			a.dialFailed(p, ev.err)
			return
		}
		a.g.m.Dials.WithLabelValues("ok").Inc()
		cs := ev.cs
		a.g.wg.Add(1)
		go func() {
			defer a.g.wg.Done()
			a.g.readLoop(cs)
		}()
		a.connUp(cs)
	case evUp:
		a.connUp(ev.cs)
	case evDown:
		a.connDown(ev.cs)
	case evWriterDone:
		ev.cs.writing = false
		if ev.err != nil && !ev.cs.down {
			a.g.closeWith(ev.cs, closeNormal, "write failed", "")
			a.connDown(ev.cs)
		}
		a.writerDone(ev.w)
		if ev.cs.v035 && ev.cs.peerDone {
			a.closeFinished(ev.cs)
		}
	case evPeerFinished:
		a.peerFinished(ev.cs)
	case evStreamReady:
		defer close(ev.ack)
		if ev.cs.down {
			return
		}
		ev.cs.ready = true
		if p := a.peers[ev.cs.remote]; p != nil && slices.Contains(p.conns, ev.cs) {
			a.switchWriter(p)
			a.flushPending(p)
		}
	}
}

// switchWriter moves sending to p onto its newest usable connection:
// the writer on an older one is stopped (for 0.35, finishing our half of
// its stream), and older 0.35 connections we never wrote on are finished
// too, as 0.35 does with a connection a newer one replaced.
func (a *actor) switchWriter(p *peerState) {
	s := p.sender()
	if s == nil {
		return
	}
	if p.w != nil && p.w.cs != s {
		a.stopWriter(p)
	}
	for _, cs := range p.conns {
		if cs != s && cs.v035 && cs.ready && !cs.sendDone && !cs.writing && cs.at.Before(s.at) {
			cs.sendDone = true
			a.g.wg.Add(1)
			go func() {
				defer a.g.wg.Done()
				cs.bi.Close()
			}()
			if cs.peerDone {
				a.closeFinished(cs)
			}
		}
	}
}

// flushPending sends what waited for a connection to p.
func (a *actor) flushPending(p *peerState) {
	if p.sender() == nil {
		return
	}
	pend := p.pending
	p.pending = nil
	p.topics = make(map[TopicID]bool)
	for _, m := range pend {
		a.send(p.id, m)
	}
}

// peerFinished: the peer finished its half of a 0.35 connection's stream,
// which 0.35 does when it no longer sends on the connection (it dropped
// us, or a newer connection replaced this one). It still reads it, so we
// may go on sending on it; once our half is finished too, the connection
// is closed, as Rust does when both halves are done.
func (a *actor) peerFinished(cs *connState) {
	if cs.down || cs.peerDone {
		return
	}
	cs.peerDone = true
	if cs.sendDone && !cs.writing {
		a.closeFinished(cs)
	}
}

// closeFinished closes a 0.35 connection whose stream both sides
// finished, a moment after our last frames were handed to QUIC.
func (a *actor) closeFinished(cs *connState) {
	a.after(shutdownLinger, func() {
		if !cs.down {
			a.g.closeWith(cs, closeNormal, "close from disconnect", "")
			a.connDown(cs)
		}
	})
}

func (a *actor) dialFailed(p *peerState, err error) {
	if len(p.conns) > 0 {
		return // the peer dialed us meanwhile
	}
	a.g.m.Drops.WithLabelValues("not_connected").Add(float64(len(p.pending)))
	p.pending = nil
	topics := p.topics
	p.topics = make(map[TopicID]bool)
	for t := range topics {
		a.emit(t, DialFailed{ID: p.id, Err: err})
	}
	delete(a.peers, p.id)
	a.input(proto.PeerDisconnected{Peer: p.id})
}

// connUp makes cs the connection used for sending to its peer.
func (a *actor) connUp(cs *connState) {
	if a.topics == nil {
		a.g.closeWith(cs, closeNormal, "gossip closed", "")
		return
	}
	p := a.peer(cs.remote)
	if len(p.conns) == 0 {
		a.g.m.Peers.Inc()
	}
	if cs.v035 {
		a.g.m.Connections.WithLabelValues("0.35").Inc()
	} else {
		a.g.m.Connections.WithLabelValues("0.101").Inc()
	}
	loser := p.current()
	// 0.35 nodes send on their newest connection, whoever dialed it; so do
	// we on 0.35 connections.
	if loser != nil && !cs.v035 && !loser.v035 && cs.at.Sub(loser.at) < raceWindow && cs.dialed != loser.dialed && a.keepOlder(cs) {
		// Simultaneous dials: the older connection stays current.
		p.conns = slices.Insert(p.conns, len(p.conns)-1, cs)
		loser = cs
	} else {
		p.conns = append(p.conns, cs)
		a.switchWriter(p) // finish the older connection's streams
	}
	// A connection no topic comes to use (a peer that connects and says
	// nothing, or only something transient) is closed.
	a.after(unusedGrace, func() { a.closeIfUnused(cs) })
	if loser != nil && !loser.v035 {
		// A superseded 0.35 connection is closed once both sides
		// finished its stream: the peer may still send on it.
		a.after(supersededGrace, func() {
			if !loser.down && p.current() != loser {
				a.g.closeWith(loser, closeNormal, "superseded", "superseded")
			}
		})
	}
	if len(p.conns) > maxConnsPerPeer {
		a.g.closeWith(p.conns[0], closeNormal, "superseded", "superseded")
	}
	a.flushPending(p)
}

// keepOlder reports, for a connection racing with an older one dialed
// by the other side, whether the older one wins: the winner is the one
// dialed by the smaller EndpointID.
func (a *actor) keepOlder(cs *connState) bool {
	me, remote := a.g.ep.ID(), cs.remote
	meSmaller := bytes.Compare(me[:], remote[:]) < 0
	// cs was dialed by us: it wins if we are smaller.
	return cs.dialed != meSmaller
}

// connDown forgets cs; if it was the peer's last, the protocol learns
// the peer is gone.
func (a *actor) connDown(cs *connState) {
	if cs.down {
		return
	}
	cs.down = true
	cs.cancel()
	p := a.peers[cs.remote]
	if p == nil {
		return
	}
	i := slices.Index(p.conns, cs)
	if i < 0 {
		return
	}
	p.conns = slices.Delete(p.conns, i, i+1)
	if p.w != nil && p.w.cs == cs {
		p.w = nil // its writer exits on the canceled context
	}
	if len(p.conns) > 0 {
		return // the next newest usable one takes over when something is sent
	}
	a.g.m.Peers.Dec()
	if !p.dialing && len(p.pending) == 0 {
		delete(a.peers, p.id)
	}
	if a.topics != nil {
		a.input(proto.PeerDisconnected{Peer: cs.remote})
	}
}

// disconnect: no topic uses the peer. Its connections are closed after
// unusedGrace unless a topic uses it again by then; the writer stays, so
// the last messages (a Disconnect) leave in order before the close.
func (a *actor) disconnect(id iroh.EndpointID) {
	p := a.peers[id]
	if p == nil {
		return
	}
	a.after(unusedGrace, func() {
		if a.peers[id] != p || a.state.InUse(id) {
			return
		}
		for _, cs := range slices.Clone(p.conns) {
			a.g.closeWith(cs, closeNormal, "close from disconnect", "unused")
			a.connDown(cs)
		}
	})
}

// stopWriter closes p's writer queue: it writes what is queued, finishes
// its streams and exits. During Shutdown, Shutdown waits for it.
func (a *actor) stopWriter(p *peerState) {
	if p.w == nil {
		return
	}
	close(p.w.q)
	p.w.cs.w = nil
	if p.w.cs.v035 {
		p.w.cs.sendDone = true
	}
	if a.flushWait != nil {
		a.flushWait[p.w] = true
	}
	p.w = nil
}

func (a *actor) writerDone(w *writer) {
	if a.flush == nil || !a.flushWait[w] {
		return
	}
	delete(a.flushWait, w)
	if len(a.flushWait) == 0 {
		close(a.flush)
		a.flush = nil
	}
}

// ---- topics ----

func (a *actor) subscribe(topic TopicID, bootstrap []iroh.EndpointAddr) *subscriber {
	s := &subscriber{ch: make(chan Event, a.g.eventBuf)}
	if a.topics == nil {
		close(s.ch)
		return s
	}
	ts := a.topics[topic]
	if ts == nil {
		ts = &topicState{joined: make(chan struct{})}
		a.topics[topic] = ts
	}
	ts.subs = append(ts.subs, s)
	a.joinPeers(topic, bootstrap)
	return s
}

func (a *actor) joinPeers(topic TopicID, peers []iroh.EndpointAddr) {
	ids := make([]iroh.EndpointID, 0, len(peers))
	for _, b := range peers {
		if b.ID == a.g.ep.ID() {
			continue
		}
		a.learn(b, time.Time{})
		ids = append(ids, b.ID)
	}
	if ts := a.topics[topic]; ts != nil {
		ts.bootstrap = append(ts.bootstrap, ids...)
	}
	a.input(proto.JoinCmd{Topic: topic, Peers: ids})
}

func (a *actor) unsubscribe(topic TopicID, s *subscriber) {
	ts := a.topics[topic]
	if ts == nil {
		return
	}
	if i := slices.Index(ts.subs, s); i >= 0 {
		ts.subs = slices.Delete(ts.subs, i, i+1)
		close(s.ch)
	}
	if len(ts.subs) == 0 {
		delete(a.topics, topic)
		a.input(proto.QuitCmd{Topic: topic})
	}
}

// broadcast sends content; done is closed once no live peer's queue is
// more than half full, so a local broadcaster cannot outrun the network.
// Stalled peers do not hold it back.
func (a *actor) broadcast(t *Topic, content []byte, neighbors bool, done chan struct{}) error {
	if a.topics == nil || a.topics[t.id] == nil {
		close(done)
		return ErrClosed
	}
	a.input(proto.BroadcastCmd{Topic: t.id, Content: content, Neighbors: neighbors})
	if !a.pressured() {
		close(done)
		return nil
	}
	a.waiters = append(a.waiters, done)
	if !a.polling {
		a.polling = true
		a.after(pressurePoll, a.pollPressure)
	}
	return nil
}

func (a *actor) pressured() bool {
	now := time.Now()
	for _, p := range a.peers {
		if p.w != nil && len(p.w.q) > cap(p.w.q)/2 && !p.w.stalled(now, stallTimeout) {
			return true
		}
	}
	return false
}

func (a *actor) pollPressure() {
	if a.pressured() && a.g.ctx.Err() == nil {
		a.after(pressurePoll, a.pollPressure)
		return
	}
	a.polling = false
	for _, w := range a.waiters {
		close(w)
	}
	a.waiters = nil
}

func (a *actor) neighbors(topic TopicID) []iroh.EndpointID {
	if ts := a.topics[topic]; ts != nil {
		return slices.Clone(ts.neighbors)
	}
	return nil
}

func (a *actor) joinedChan(topic TopicID) chan struct{} {
	if ts := a.topics[topic]; ts != nil {
		return ts.joined
	}
	return nil
}

// quitAll leaves every topic and closes every writer; flushed is closed
// when the writers are done.
func (a *actor) quitAll(flushed chan struct{}) {
	a.flushWait = make(map[*writer]bool)
	topics := a.topics
	a.topics = nil // no more events, subscriptions or connections
	for t, ts := range topics {
		for _, s := range ts.subs {
			close(s.ch)
		}
		a.input(proto.QuitCmd{Topic: t})
	}
	for _, p := range a.peers {
		a.stopWriter(p)
	}
	if len(a.flushWait) == 0 {
		close(flushed)
		return
	}
	a.flush = flushed
}

func (a *actor) event(topic TopicID, e proto.Event) {
	ts := a.topics[topic]
	if ts == nil {
		return
	}
	var ev Event
	switch e := e.(type) {
	case proto.NeighborUp:
		ts.neighbors = append(ts.neighbors, e.Peer)
		select {
		case <-ts.joined:
		default:
			close(ts.joined)
		}
		ev = NeighborUp{ID: e.Peer}
	case proto.NeighborDown:
		ts.neighbors = slices.DeleteFunc(ts.neighbors, func(x iroh.EndpointID) bool { return x == e.Peer })
		ev = NeighborDown{ID: e.Peer}
	case proto.Received:
		ev = Received{Content: e.Content, DeliveredFrom: e.DeliveredFrom, Scope: e.Scope}
	default:
		return
	}
	a.emit(topic, ev)
}

// emit hands ev to every subscriber of topic without blocking: a full
// subscriber loses it and later gets Lagged first.
func (a *actor) emit(topic TopicID, ev Event) {
	ts := a.topics[topic]
	if ts == nil {
		return
	}
	for _, s := range ts.subs {
		if s.lagged > 0 {
			select {
			case s.ch <- Lagged{Missed: s.lagged}:
				s.lagged = 0
			default:
			}
		}
		if s.lagged == 0 {
			select {
			case s.ch <- ev:
				continue
			default:
			}
		}
		s.lagged++
		a.g.m.Lagged.Inc()
	}
}
