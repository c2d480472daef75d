package proto

import (
	"bytes"
	"slices"
	"time"
)

type announce struct {
	peer  PeerID
	round uint16
}

type stamped struct {
	id MessageID
	at time.Time
}

// fifo is a queue of ids in arrival order, for time-ordered expiry.
type fifo struct {
	q    []stamped
	head int
}

func (f *fifo) push(id MessageID, at time.Time) { f.q = append(f.q, stamped{id, at}) }
func (f *fifo) len() int                        { return len(f.q) - f.head }
func (f *fifo) front() stamped                  { return f.q[f.head] }
func (f *fifo) pop() {
	f.q[f.head] = stamped{}
	f.head++
	if f.head > 64 && f.head*2 > len(f.q) {
		f.q = append(f.q[:0], f.q[f.head:]...)
		f.head = 0
	}
}

type cached struct {
	msg Message
	at  time.Time
}

// topic is the state of one topic: HyParView views and PlumTree trees.
type topic struct {
	s  *State
	id TopicID

	// HyParView.
	active   []PeerID
	passive  []PeerID
	pending  map[PeerID]bool // Neighbor requests sent, not answered
	alive    map[PeerID]bool // passive peers that said alive when leaving
	refused  map[PeerID]time.Time
	peerData map[PeerID][]byte
	// lost are active peers whose connection broke without a Disconnect
	// (crash or partition); each shuffle we try to join one again, which
	// heals partitions. At most maxLost, forgotten after lostRetention.
	lost map[PeerID]time.Time

	// PlumTree.
	eager      []PeerID
	lazy       []PeerID
	lazyQueue  map[PeerID][]IHave
	dispatchOn bool
	missing    map[MessageID][]announce
	deferred   map[MessageID]uint8 // graft timers put off while eager peers deliver
	lastEager  time.Time           // last new Gossip from an eager peer
	received   map[MessageID]time.Time
	recvFIFO   fifo
	cache      map[MessageID]cached
	cacheFIFO  fifo
}

func (s *State) newTopic(id TopicID) *topic {
	tp := &topic{
		s: s, id: id,
		pending:   make(map[PeerID]bool),
		alive:     make(map[PeerID]bool),
		refused:   make(map[PeerID]time.Time),
		peerData:  make(map[PeerID][]byte),
		lost:      make(map[PeerID]time.Time),
		lazyQueue: make(map[PeerID][]IHave),
		missing:   make(map[MessageID][]announce),
		deferred:  make(map[MessageID]uint8),
		received:  make(map[MessageID]time.Time),
		cache:     make(map[MessageID]cached),
	}
	s.topics[id] = tp
	s.schedule(id, Timer{Kind: TimerShuffle}, s.cfg.ShuffleInterval)
	s.schedule(id, Timer{Kind: TimerEvict}, s.cfg.EvictionInterval)
	return tp
}

func (tp *topic) send(to PeerID, m Message) { tp.s.send(tp.id, to, m) }
func (tp *topic) emit(e Event)              { tp.s.emit(tp.id, e) }
func (tp *topic) cfg() *Config              { return &tp.s.cfg }

func (tp *topic) randomPeer(from []PeerID, except ...PeerID) (PeerID, bool) {
	var cand []PeerID
	for _, p := range from {
		if !slices.Contains(except, p) {
			cand = append(cand, p)
		}
	}
	if len(cand) == 0 {
		return PeerID{}, false
	}
	return cand[tp.s.rng.IntN(len(cand))], true
}

// sample returns up to n distinct random peers of from, not in except.
func (tp *topic) sample(from []PeerID, n int, except ...PeerID) []PeerID {
	var cand []PeerID
	for _, p := range from {
		if !slices.Contains(except, p) {
			cand = append(cand, p)
		}
	}
	tp.s.rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	if len(cand) > n {
		cand = cand[:n]
	}
	return cand
}

func (tp *topic) info(p PeerID) PeerInfo { return PeerInfo{ID: p, Data: tp.peerData[p]} }

func (tp *topic) isActive(p PeerID) bool { return slices.Contains(tp.active, p) }

// recordData stores p's data and tells the driver when it is new.
func (tp *topic) recordData(p PeerID, d []byte) {
	if len(d) == 0 || p == tp.s.me {
		return
	}
	if old, ok := tp.peerData[p]; ok && bytes.Equal(old, d) {
		return
	}
	d = bytes.Clone(d)
	tp.peerData[p] = d
	tp.s.out = append(tp.s.out, PeerDataLearned{Peer: p, Data: d})
}

// forget drops what we know of p unless it is still in a view.
func (tp *topic) forget(p PeerID) {
	if _, lost := tp.lost[p]; lost || tp.isActive(p) || slices.Contains(tp.passive, p) || tp.pending[p] {
		return
	}
	delete(tp.peerData, p)
	delete(tp.alive, p)
}

// ---- HyParView ----

func (tp *topic) join(peers []PeerID) {
	for _, p := range peers {
		if p == tp.s.me {
			continue
		}
		tp.pending[p] = true
		tp.s.schedule(tp.id, Timer{Kind: TimerNeighborRequest, Peer: p}, tp.cfg().NeighborTimeout)
		tp.send(p, Message{Type: MsgJoin, Data: tp.s.myData})
	}
}

func (tp *topic) onMessage(from PeerID, m *Message) {
	if from == tp.s.me {
		return
	}
	switch m.Type {
	case MsgJoin:
		tp.onJoin(from, m.Data)
	case MsgForwardJoin:
		tp.onForwardJoin(from, m.Peer, m.TTL)
	case MsgShuffle:
		tp.onShuffle(from, m.Origin, m.Nodes, m.TTL)
	case MsgShuffleReply:
		tp.addPassiveAll(m.Nodes)
		tp.refill()
	case MsgNeighbor:
		tp.onNeighbor(from, m.Priority, m.Data)
	case MsgDisconnect:
		tp.onDisconnect(from, m.Alive)
	case MsgGossip:
		tp.onGossip(from, m)
	case MsgPrune:
		tp.makeLazy(from)
	case MsgGraft:
		tp.onGraft(from, m)
	case MsgIHave:
		tp.onIHave(from, m.IHaves)
	}
}

func (tp *topic) onJoin(p PeerID, data []byte) {
	tp.recordData(p, data)
	delete(tp.pending, p)
	if tp.isActive(p) {
		tp.send(p, Message{Type: MsgNeighbor, Priority: High, Data: tp.s.myData})
		return
	}
	tp.addActive(p, High)
	// Always answered, as Rust does, even when our own Join to p is
	// pending (crossed Joins): p may have ignored ours, having not joined
	// the topic yet when it arrived, and would then never count us as its
	// neighbour. A Neighbor from a peer already active ends the exchange.
	tp.send(p, Message{Type: MsgNeighbor, Priority: High, Data: tp.s.myData})
	fj := Message{Type: MsgForwardJoin, Peer: PeerInfo{ID: p, Data: tp.peerData[p]}, TTL: tp.cfg().ActiveRandomWalk}
	for _, q := range tp.active {
		if q != p {
			tp.send(q, fj)
		}
	}
}

func (tp *topic) onForwardJoin(from PeerID, n PeerInfo, ttl uint16) {
	if n.ID == tp.s.me {
		return
	}
	tp.recordData(n.ID, n.Data)
	switch {
	case tp.isActive(n.ID):
		// Already neighbours: nothing to ask.
	case ttl == 0 || len(tp.active) <= 1:
		tp.sendNeighbor(n.ID, High)
	default:
		if ttl == tp.cfg().PassiveRandomWalk {
			tp.addPassive(n.ID)
		}
		if tp.pending[n.ID] {
			return
		}
		if q, ok := tp.randomPeer(tp.active, from, n.ID); ok {
			tp.send(q, Message{Type: MsgForwardJoin, Peer: tp.info(n.ID), TTL: ttl - 1})
		} else {
			tp.sendNeighbor(n.ID, High)
		}
	}
}

// sendNeighbor sends a Neighbor request to p and remembers it as pending.
func (tp *topic) sendNeighbor(p PeerID, prio Priority) {
	if tp.pending[p] || p == tp.s.me {
		return
	}
	tp.pending[p] = true
	tp.s.schedule(tp.id, Timer{Kind: TimerNeighborRequest, Peer: p}, tp.cfg().NeighborTimeout)
	tp.send(p, Message{Type: MsgNeighbor, Priority: prio, Data: tp.s.myData})
}

func (tp *topic) onNeighbor(p PeerID, prio Priority, data []byte) {
	tp.recordData(p, data)
	wasPending := tp.pending[p]
	delete(tp.pending, p)
	if tp.isActive(p) {
		return // a reply, or a repeat: the exchange ends here
	}
	if !tp.addActive(p, prio) {
		tp.sendDisconnect(p, true)
		return
	}
	if !wasPending {
		tp.send(p, Message{Type: MsgNeighbor, Priority: High, Data: tp.s.myData})
	}
}

// addActive puts p into the active view; Low priority only into a free
// slot, High evicting a random peer when full. It reports success.
func (tp *topic) addActive(p PeerID, prio Priority) bool {
	if p == tp.s.me {
		return false
	}
	if tp.isActive(p) {
		return true
	}
	if len(tp.active) >= tp.cfg().ActiveViewCapacity {
		if prio == Low {
			return false
		}
		q, _ := tp.randomPeer(tp.active)
		tp.removeActive(q, true)
		tp.sendDisconnect(q, true)
	}
	tp.passive = slices.DeleteFunc(tp.passive, func(x PeerID) bool { return x == p })
	delete(tp.alive, p)
	delete(tp.refused, p)
	tp.active = append(tp.active, p)
	tp.emit(NeighborUp{Peer: p})
	tp.neighborUp(p)
	return true
}

// removeActive drops p from the active view; keep puts it in passive.
func (tp *topic) removeActive(p PeerID, keep bool) bool {
	i := slices.Index(tp.active, p)
	if i < 0 {
		return false
	}
	tp.active = slices.Delete(tp.active, i, i+1)
	tp.emit(NeighborDown{Peer: p})
	tp.neighborDown(p)
	if keep {
		tp.addPassive(p)
	}
	return true
}

// sendDisconnect tells p we drop it: a ShuffleReply first so it is not
// isolated, then Disconnect.
func (tp *topic) sendDisconnect(p PeerID, alive bool) {
	want := tp.cfg().ShuffleActive + tp.cfg().ShufflePassive
	nodes := tp.sample(tp.passive, want, p)
	if len(nodes) < want {
		nodes = append(nodes, tp.sample(tp.active, want-len(nodes), p)...)
	}
	infos := make([]PeerInfo, len(nodes))
	for i, n := range nodes {
		infos[i] = tp.info(n)
	}
	tp.send(p, Message{Type: MsgShuffleReply, Nodes: infos})
	tp.send(p, Message{Type: MsgDisconnect, Alive: alive})
}

func (tp *topic) onDisconnect(p PeerID, alive bool) {
	wasPending := tp.pending[p]
	delete(tp.pending, p)
	if tp.removeActive(p, alive) {
		if alive {
			tp.alive[p] = true
		}
	} else if alive && slices.Contains(tp.passive, p) {
		tp.alive[p] = true
	}
	if wasPending {
		tp.refused[p] = tp.s.now
	}
	tp.forget(p)
	tp.refill()
}

func (tp *topic) onPeerDisconnected(p PeerID) {
	delete(tp.pending, p)
	if tp.isActive(p) {
		if !tp.alive[p] {
			tp.rememberLost(p)
		}
		tp.removeActive(p, tp.alive[p])
	} else if !tp.alive[p] {
		tp.passive = slices.DeleteFunc(tp.passive, func(x PeerID) bool { return x == p })
	}
	delete(tp.alive, p)
	tp.forget(p)
	tp.refill()
}

// refill asks passive peers to become neighbours while the active view
// plus pending requests are below capacity. Peers that refused us
// within the shuffle interval are skipped unless we have no neighbour at
// all (then the request is High, which cannot be refused).
func (tp *topic) refill() {
	for len(tp.active)+len(tp.pending) < tp.cfg().ActiveViewCapacity {
		var cand []PeerID
		for _, p := range tp.passive {
			if tp.pending[p] {
				continue
			}
			if at, ok := tp.refused[p]; ok && len(tp.active) > 0 && tp.s.now.Sub(at) < tp.cfg().ShuffleInterval {
				continue
			}
			cand = append(cand, p)
		}
		if len(cand) == 0 {
			return
		}
		p := cand[tp.s.rng.IntN(len(cand))]
		prio := Low
		if len(tp.active) == 0 {
			prio = High
		}
		tp.sendNeighbor(p, prio)
	}
}

func (tp *topic) addPassive(p PeerID) {
	if p == tp.s.me || tp.isActive(p) || slices.Contains(tp.passive, p) {
		return
	}
	if len(tp.passive) >= tp.cfg().PassiveViewCapacity {
		i := tp.s.rng.IntN(len(tp.passive))
		old := tp.passive[i]
		tp.passive = slices.Delete(tp.passive, i, i+1)
		delete(tp.refused, old)
		tp.forget(old)
	}
	tp.passive = append(tp.passive, p)
}

func (tp *topic) addPassiveAll(nodes []PeerInfo) {
	for _, n := range nodes {
		if n.ID == tp.s.me {
			continue
		}
		tp.recordData(n.ID, n.Data)
		tp.addPassive(n.ID)
		tp.forget(n.ID) // data of peers that did not fit
	}
}

// maxLost bounds the lost peers remembered per topic.
const maxLost = 8

// lostRetention is how long a lost peer is retried: 10 shuffle intervals.
const lostRetention = 10

func (tp *topic) rememberLost(p PeerID) {
	if len(tp.lost) >= maxLost {
		var oldest PeerID
		var at time.Time
		for q, t := range tp.lost {
			if at.IsZero() || t.Before(at) || (t.Equal(at) && bytes.Compare(q[:], oldest[:]) < 0) {
				oldest, at = q, t
			}
		}
		delete(tp.lost, oldest)
	}
	tp.lost[p] = tp.s.now
}

// retryLost sends Join to one lost peer that is not a neighbour again.
func (tp *topic) retryLost() {
	var cand []PeerID
	for p, at := range tp.lost {
		if tp.s.now.Sub(at) > lostRetention*tp.cfg().ShuffleInterval || tp.isActive(p) {
			delete(tp.lost, p)
			tp.forget(p)
			continue
		}
		if !tp.pending[p] {
			cand = append(cand, p)
		}
	}
	if len(cand) == 0 {
		return
	}
	slices.SortFunc(cand, func(a, b PeerID) int { return bytes.Compare(a[:], b[:]) })
	tp.join([]PeerID{cand[tp.s.rng.IntN(len(cand))]})
}

func (tp *topic) shuffle() {
	tp.s.schedule(tp.id, Timer{Kind: TimerShuffle}, tp.cfg().ShuffleInterval)
	tp.retryLost()
	for p, at := range tp.refused {
		if tp.s.now.Sub(at) >= tp.cfg().ShuffleInterval {
			delete(tp.refused, p)
		}
	}
	if q, ok := tp.randomPeer(tp.active); ok {
		var nodes []PeerInfo
		for _, p := range tp.sample(tp.active, tp.cfg().ShuffleActive, q) {
			nodes = append(nodes, tp.info(p))
		}
		for _, p := range tp.sample(tp.passive, tp.cfg().ShufflePassive, q) {
			nodes = append(nodes, tp.info(p))
		}
		nodes = append(nodes, PeerInfo{ID: tp.s.me, Data: tp.s.myData})
		tp.send(q, Message{Type: MsgShuffle, Origin: tp.s.me, Nodes: nodes, TTL: tp.cfg().ShuffleRandomWalk})
	}
	tp.refill()
}

func (tp *topic) onShuffle(from, origin PeerID, nodes []PeerInfo, ttl uint16) {
	if origin == tp.s.me {
		return
	}
	if ttl == 0 || len(tp.active) <= 1 {
		n := len(nodes)
		reply := tp.sample(tp.passive, n, origin)
		if len(reply) < n {
			reply = append(reply, tp.sample(tp.active, n-len(reply), origin)...)
		}
		infos := make([]PeerInfo, len(reply))
		for i, p := range reply {
			infos[i] = tp.info(p)
		}
		tp.addPassiveAll(nodes)
		tp.send(origin, Message{Type: MsgShuffleReply, Nodes: infos})
		return
	}
	if q, ok := tp.randomPeer(tp.active, origin, from); ok {
		tp.send(q, Message{Type: MsgShuffle, Origin: origin, Nodes: nodes, TTL: ttl - 1})
	}
}

func (tp *topic) quit() {
	for _, p := range slices.Clone(tp.active) {
		tp.sendDisconnect(p, false)
		tp.removeActive(p, false)
	}
}

func (tp *topic) onTimer(t Timer) {
	switch t.Kind {
	case TimerShuffle:
		tp.shuffle()
	case TimerNeighborRequest:
		if tp.pending[t.Peer] {
			delete(tp.pending, t.Peer)
			tp.passive = slices.DeleteFunc(tp.passive, func(x PeerID) bool { return x == t.Peer })
			tp.forget(t.Peer)
			tp.s.maybeDisconnect(t.Peer)
			tp.refill()
		}
	case TimerDispatchLazy:
		tp.dispatchLazy()
	case TimerGraft:
		tp.onGraftTimer(t.ID)
	case TimerEvict:
		tp.evict()
	}
}

// ---- PlumTree ----

func (tp *topic) neighborUp(p PeerID) {
	if !slices.Contains(tp.eager, p) && !slices.Contains(tp.lazy, p) {
		tp.eager = append(tp.eager, p)
	}
}

func (tp *topic) neighborDown(p PeerID) {
	tp.eager = slices.DeleteFunc(tp.eager, func(x PeerID) bool { return x == p })
	tp.lazy = slices.DeleteFunc(tp.lazy, func(x PeerID) bool { return x == p })
	delete(tp.lazyQueue, p)
	for id, anns := range tp.missing {
		tp.missing[id] = slices.DeleteFunc(anns, func(a announce) bool { return a.peer == p })
	}
}

func (tp *topic) makeEager(p PeerID) {
	if !tp.isActive(p) || slices.Contains(tp.eager, p) {
		return
	}
	tp.lazy = slices.DeleteFunc(tp.lazy, func(x PeerID) bool { return x == p })
	tp.eager = append(tp.eager, p)
}

func (tp *topic) makeLazy(p PeerID) {
	i := slices.Index(tp.eager, p)
	if i < 0 {
		return
	}
	tp.eager = slices.Delete(tp.eager, i, i+1)
	tp.lazy = append(tp.lazy, p)
}

func (tp *topic) markReceived(id MessageID) {
	if len(tp.received) >= tp.cfg().MaxReceivedIDs {
		for tp.recvFIFO.len() > 0 && len(tp.received) >= tp.cfg().MaxReceivedIDs {
			f := tp.recvFIFO.front()
			tp.recvFIFO.pop()
			if at, ok := tp.received[f.id]; ok && at.Equal(f.at) {
				delete(tp.received, f.id)
				tp.s.stats.EvictedReceived++
			}
		}
	}
	tp.received[id] = tp.s.now
	tp.recvFIFO.push(id, tp.s.now)
}

func (tp *topic) cacheMsg(m Message) {
	if _, ok := tp.cache[m.ID]; ok {
		return
	}
	for len(tp.cache) >= tp.cfg().MaxCachedMessages && tp.cacheFIFO.len() > 0 {
		f := tp.cacheFIFO.front()
		tp.cacheFIFO.pop()
		if c, ok := tp.cache[f.id]; ok && c.at.Equal(f.at) {
			delete(tp.cache, f.id)
		}
	}
	tp.cache[m.ID] = cached{msg: m, at: tp.s.now}
	tp.cacheFIFO.push(m.ID, tp.s.now)
}

func (tp *topic) broadcast(content []byte, neighbors bool) {
	id := NewMessageID(content)
	if neighbors {
		m := Message{Type: MsgGossip, ID: id, Content: content, Scope: Scope{Neighbors: true}}
		for _, p := range tp.active {
			tp.send(p, m)
		}
		return
	}
	m := Message{Type: MsgGossip, ID: id, Content: content}
	tp.markReceived(id)
	tp.cacheMsg(m)
	for _, p := range tp.eager {
		tp.send(p, m)
	}
	for _, p := range tp.lazy {
		tp.queueIHave(p, IHave{ID: id})
	}
}

func (tp *topic) queueIHave(p PeerID, ih IHave) {
	q := append(tp.lazyQueue[p], ih)
	if len(q) > tp.cfg().MaxLazyQueue {
		q = q[len(q)-tp.cfg().MaxLazyQueue:]
		tp.s.stats.DroppedIHaves++
	}
	tp.lazyQueue[p] = q
	if !tp.dispatchOn {
		tp.dispatchOn = true
		tp.s.schedule(tp.id, Timer{Kind: TimerDispatchLazy}, tp.cfg().DispatchTimeout)
	}
}

func (tp *topic) dispatchLazy() {
	tp.dispatchOn = false
	peers := make([]PeerID, 0, len(tp.lazyQueue))
	for p := range tp.lazyQueue {
		peers = append(peers, p)
	}
	slices.SortFunc(peers, func(a, b PeerID) int { return bytes.Compare(a[:], b[:]) })
	chunk := IHavesPerMessage(tp.cfg().MaxMessageSize)
	for _, p := range peers {
		q := tp.lazyQueue[p]
		for len(q) > 0 {
			n := min(chunk, len(q))
			tp.send(p, Message{Type: MsgIHave, IHaves: slices.Clone(q[:n])})
			q = q[n:]
		}
		delete(tp.lazyQueue, p)
	}
}

func (tp *topic) onGossip(from PeerID, m *Message) {
	if NewMessageID(m.Content) != m.ID {
		tp.s.stats.BadMessageIDs++
		return
	}
	if m.Scope.Neighbors {
		tp.emit(Received{Content: m.Content, DeliveredFrom: from, Scope: m.Scope})
		return
	}
	if _, dup := tp.received[m.ID]; dup {
		tp.s.stats.Duplicates++
		if slices.Contains(tp.eager, from) {
			tp.makeLazy(from)
			tp.send(from, Message{Type: MsgPrune})
		}
		return
	}
	tp.markReceived(m.ID)
	if slices.Contains(tp.eager, from) {
		tp.lastEager = tp.s.now
	}
	r := m.Scope.Round
	if r < 0xffff {
		r++
	}
	fwd := Message{Type: MsgGossip, ID: m.ID, Content: m.Content, Scope: Scope{Round: r}}
	tp.cacheMsg(fwd)
	for _, p := range tp.eager {
		if p != from {
			tp.send(p, fwd)
		}
	}
	for _, p := range tp.lazy {
		if p != from {
			tp.queueIHave(p, IHave{ID: m.ID, Round: r})
		}
	}
	if anns, ok := tp.missing[m.ID]; ok {
		delete(tp.missing, m.ID)
		if len(anns) > 0 {
			best := anns[0]
			for _, a := range anns[1:] {
				if a.round < best.round {
					best = a
				}
			}
			if best.round < r && r-best.round >= tp.cfg().OptimizationThresh && tp.isActive(best.peer) {
				if !slices.Contains(tp.eager, best.peer) {
					tp.makeEager(best.peer)
					tp.send(best.peer, Message{Type: MsgGraft, Round: best.round})
				}
				if slices.Contains(tp.eager, from) {
					tp.makeLazy(from)
					tp.send(from, Message{Type: MsgPrune})
				}
			}
		}
	}
	tp.emit(Received{Content: m.Content, DeliveredFrom: from, Scope: m.Scope})
}

func (tp *topic) onIHave(from PeerID, ihs []IHave) {
	for _, ih := range ihs {
		if _, ok := tp.received[ih.ID]; ok {
			continue
		}
		anns, ok := tp.missing[ih.ID]
		if !ok {
			if len(tp.missing) >= tp.cfg().MaxMissing {
				tp.s.stats.DroppedIHaves++
				continue
			}
			tp.s.schedule(tp.id, Timer{Kind: TimerGraft, ID: ih.ID}, tp.cfg().GraftTimeout1)
		}
		if len(anns) >= tp.cfg().MaxAnnouncers {
			continue
		}
		tp.missing[ih.ID] = append(anns, announce{peer: from, round: ih.Round})
	}
}

// maxGraftDeferrals bounds how often a graft is put off while eager
// peers are delivering.
const maxGraftDeferrals = 3

func (tp *topic) onGraftTimer(id MessageID) {
	anns, ok := tp.missing[id]
	if !ok {
		delete(tp.deferred, id)
		return
	}
	if _, got := tp.received[id]; got || len(anns) == 0 {
		delete(tp.missing, id)
		delete(tp.deferred, id)
		return
	}
	// Eager peers delivered new messages within the timeout: the tree
	// works and is only busy (a burst queued behind the same link), so the
	// announced message is most likely on its way. Grafting now would
	// fetch it twice and reshape the tree toward whichever path is idle;
	// wait up to maxGraftDeferrals more timeouts.
	if tp.s.now.Sub(tp.lastEager) < tp.cfg().GraftTimeout1 && tp.deferred[id] < maxGraftDeferrals {
		tp.deferred[id]++
		tp.s.schedule(tp.id, Timer{Kind: TimerGraft, ID: id}, tp.cfg().GraftTimeout1)
		return
	}
	delete(tp.deferred, id)
	a := anns[0]
	tp.missing[id] = anns[1:]
	tp.makeEager(a.peer)
	tp.send(a.peer, Message{Type: MsgGraft, HasID: true, ID: id, Round: a.round})
	tp.s.schedule(tp.id, Timer{Kind: TimerGraft, ID: id}, tp.cfg().GraftTimeout2)
}

func (tp *topic) onGraft(from PeerID, m *Message) {
	tp.makeEager(from)
	if m.HasID {
		if c, ok := tp.cache[m.ID]; ok {
			tp.send(from, c.msg)
		}
	}
}

func (tp *topic) evict() {
	tp.s.schedule(tp.id, Timer{Kind: TimerEvict}, tp.cfg().EvictionInterval)
	for tp.recvFIFO.len() > 0 {
		f := tp.recvFIFO.front()
		if tp.s.now.Sub(f.at) < tp.cfg().ReceivedRetention {
			break
		}
		tp.recvFIFO.pop()
		if at, ok := tp.received[f.id]; ok && at.Equal(f.at) {
			delete(tp.received, f.id)
		}
	}
	for tp.cacheFIFO.len() > 0 {
		f := tp.cacheFIFO.front()
		if tp.s.now.Sub(f.at) < tp.cfg().CacheRetention {
			break
		}
		tp.cacheFIFO.pop()
		if c, ok := tp.cache[f.id]; ok && c.at.Equal(f.at) {
			delete(tp.cache, f.id)
		}
	}
}
