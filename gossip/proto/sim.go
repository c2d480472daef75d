package proto

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"
)

// SimConfig configures a Sim. Zero fields take the defaults noted.
type SimConfig struct {
	Seed uint64
	// LatencyMin and LatencyMax bound the one-way delay of each message,
	// drawn uniformly; zero means 10ms and 50ms.
	LatencyMin, LatencyMax time.Duration
	// Loss is the probability that a message is dropped in flight.
	Loss float64
	// DetectDelay is how long after a crash its neighbours notice the lost
	// connection (PeerDisconnected), and how long a send to a dead or
	// unreachable peer takes to fail; zero means 2s.
	DetectDelay time.Duration
	// Proto is the protocol configuration of every peer.
	Proto Config
}

// Sim is a seeded discrete-event simulator of many States exchanging
// messages over a simulated network with latency, loss, crashes and
// partitions. It is deterministic: the same seed and calls give the same
// run. It runs in the caller's goroutine.
type Sim struct {
	cfg   SimConfig
	rng   *rand.Rand
	now   time.Duration
	base  time.Time
	seq   uint64
	queue simQueue

	Peers []*SimPeer
	index map[PeerID]int
	group func(i int) int // partition; nil means none
	topic TopicID

	msgs   map[MessageID]*SimMessage
	Sent   uint64 // messages sent in total
	Lost   uint64 // dropped by loss or partition
	ByType [MsgIHave + 1]uint64
}

// SimPeer is one simulated peer.
type SimPeer struct {
	ID    PeerID
	State *State
	Alive bool
	// Events counts NeighborUp/NeighborDown/Received events.
	Up, Down, Recv int
}

// SimMessage records the fate of one broadcast.
type SimMessage struct {
	From      int
	At        time.Duration
	Receivers map[int]uint16 // peer -> round at delivery
	Payloads  int            // Gossip messages carrying it (swarm scope)
	LastAt    time.Duration
}

type simEvent struct {
	at   time.Duration
	seq  uint64
	peer int
	in   Input
	// crashDetect: in is PeerDisconnected for peer, only if still alive.
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// NewSim returns a simulator with n peers (not yet joined) on one topic.
func NewSim(n int, cfg SimConfig) *Sim {
	if cfg.LatencyMin == 0 {
		cfg.LatencyMin = 10 * time.Millisecond
	}
	if cfg.LatencyMax == 0 {
		cfg.LatencyMax = 50 * time.Millisecond
	}
	if cfg.DetectDelay == 0 {
		cfg.DetectDelay = 2 * time.Second
	}
	s := &Sim{
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		base:  time.Unix(1_700_000_000, 0),
		index: make(map[PeerID]int),
		msgs:  make(map[MessageID]*SimMessage),
		topic: TopicFromName("sim"),
	}
	for range n {
		s.AddPeer()
	}
	return s
}

// AddPeer adds a peer (not joined) and returns its index.
func (s *Sim) AddPeer() int {
	var id PeerID
	for i := range id {
		id[i] = byte(s.rng.Uint32())
	}
	i := len(s.Peers)
	st := NewState(id, nil, s.cfg.Proto, rand.New(rand.NewPCG(s.cfg.Seed, uint64(i)+1)))
	s.Peers = append(s.Peers, &SimPeer{ID: id, State: st, Alive: true})
	s.index[id] = i
	return i
}

// Now returns the simulated time since the start.
func (s *Sim) Now() time.Duration { return s.now }

// Topic is the simulated topic.
func (s *Sim) Topic() TopicID { return s.topic }

func (s *Sim) push(at time.Duration, peer int, in Input) {
	s.seq++
	heap.Push(&s.queue, simEvent{at: at, seq: s.seq, peer: peer, in: in})
}

// Input hands in to peer i now.
func (s *Sim) Input(i int, in Input) { s.push(s.now, i, in) }

// Join makes peer i join the topic through the peers vias.
func (s *Sim) Join(i int, vias ...int) {
	ids := make([]PeerID, len(vias))
	for k, v := range vias {
		ids[k] = s.Peers[v].ID
	}
	s.Input(i, JoinCmd{Topic: s.topic, Peers: ids})
}

// JoinAll joins every peer: peer 0 first, then each through a random
// earlier peer, spaced by gap.
func (s *Sim) JoinAll(gap time.Duration) {
	s.Join(0)
	for i := 1; i < len(s.Peers); i++ {
		s.Join(i, s.rng.IntN(i))
		s.RunFor(gap)
	}
}

// Broadcast makes peer i broadcast content to the swarm.
func (s *Sim) Broadcast(i int, content []byte) MessageID {
	id := NewMessageID(content)
	s.msgs[id] = &SimMessage{From: i, At: s.now, Receivers: map[int]uint16{}}
	s.Input(i, BroadcastCmd{Topic: s.topic, Content: content})
	return id
}

// Message returns the record of a broadcast.
func (s *Sim) Message(id MessageID) *SimMessage { return s.msgs[id] }

// Crash stops peer i without a word; its neighbours notice after
// DetectDelay.
func (s *Sim) Crash(i int) {
	s.Peers[i].Alive = false
	for j, p := range s.Peers {
		if j != i && p.Alive {
			s.push(s.now+s.cfg.DetectDelay, j, PeerDisconnected{Peer: s.Peers[i].ID})
		}
	}
}

// Leave makes peer i quit the topic (Disconnect to its neighbours) and
// then stop.
func (s *Sim) Leave(i int) {
	s.step(simEvent{at: s.now, peer: i, in: QuitCmd{Topic: s.topic}})
	s.Peers[i].Alive = false
}

// Partition splits the network: messages between peers of different
// groups are dropped. Nil heals it.
// Peers with an active link across the split notice after DetectDelay.
func (s *Sim) Partition(group func(i int) int) {
	s.group = group
	if group == nil {
		return
	}
	for i, p := range s.Peers {
		if !p.Alive {
			continue
		}
		for _, q := range p.State.Active(s.topic) {
			if group(s.index[q]) != group(i) {
				s.push(s.now+s.cfg.DetectDelay, i, PeerDisconnected{Peer: q})
			}
		}
	}
}

// Components returns the number of connected components of the graph of
// active views among live peers (1: one swarm).
func (s *Sim) Components() int {
	adj := make([][]int, len(s.Peers))
	for i, p := range s.Peers {
		if !p.Alive {
			continue
		}
		for _, q := range p.State.Active(s.topic) {
			j := s.index[q]
			if s.Peers[j].Alive {
				adj[i] = append(adj[i], j)
				adj[j] = append(adj[j], i)
			}
		}
	}
	seen := make([]bool, len(s.Peers))
	comps := 0
	for i, p := range s.Peers {
		if !p.Alive || seen[i] {
			continue
		}
		comps++
		stack := []int{i}
		seen[i] = true
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, k := range adj[j] {
				if !seen[k] {
					seen[k] = true
					stack = append(stack, k)
				}
			}
		}
	}
	return comps
}

// RunFor processes events for d of simulated time.
func (s *Sim) RunFor(d time.Duration) {
	end := s.now + d
	for s.queue.Len() > 0 && s.queue[0].at <= end {
		e := heap.Pop(&s.queue).(simEvent)
		s.now = e.at
		s.step(e)
	}
	s.now = end
}

func (s *Sim) latency() time.Duration {
	span := s.cfg.LatencyMax - s.cfg.LatencyMin
	if span <= 0 {
		return s.cfg.LatencyMin
	}
	return s.cfg.LatencyMin + time.Duration(s.rng.Int64N(int64(span)))
}

func (s *Sim) step(e simEvent) {
	p := s.Peers[e.peer]
	if !p.Alive {
		return
	}
	if pd, ok := e.in.(PeerDisconnected); ok {
		// A lost connection is only noticed if the peer is really gone
		// or unreachable.
		j := s.index[pd.Peer]
		if s.Peers[j].Alive && (s.group == nil || s.group(j) == s.group(e.peer)) {
			return
		}
	}
	outs := p.State.Handle(s.base.Add(s.now), e.in)
	for _, o := range outs {
		switch o := o.(type) {
		case SendMessage:
			s.deliver(e.peer, o)
		case ScheduleTimer:
			s.push(s.now+o.After, e.peer, TimerFired{Topic: o.Topic, Timer: o.Timer})
		case EmitEvent:
			switch ev := o.Event.(type) {
			case NeighborUp:
				p.Up++
			case NeighborDown:
				p.Down++
			case Received:
				p.Recv++
				if ev.Scope.Neighbors {
					continue
				}
				if m := s.msgs[NewMessageID(ev.Content)]; m != nil {
					if _, ok := m.Receivers[e.peer]; !ok {
						m.Receivers[e.peer] = ev.Scope.Round
						m.LastAt = s.now
					}
				}
			}
		}
	}
}

func (s *Sim) deliver(from int, o SendMessage) {
	s.Sent++
	s.ByType[o.Msg.Type]++
	if o.Msg.Type == MsgGossip && !o.Msg.Scope.Neighbors {
		if m := s.msgs[o.Msg.ID]; m != nil {
			m.Payloads++
		}
	}
	to, ok := s.index[o.To]
	if !ok {
		return
	}
	if !s.Peers[to].Alive || (s.group != nil && s.group(to) != s.group(from)) {
		s.Lost++
		// The dial or the connection fails after a while.
		s.push(s.now+s.cfg.DetectDelay, from, PeerDisconnected{Peer: o.To})
		return
	}
	if s.cfg.Loss > 0 && s.rng.Float64() < s.cfg.Loss {
		s.Lost++
		return
	}
	msg := o.Msg
	// The receiver must not share slices with the sender's state.
	msg.Nodes = append([]PeerInfo(nil), msg.Nodes...)
	msg.IHaves = append([]IHave(nil), msg.IHaves...)
	s.push(s.now+s.latency(), to, RecvMessage{From: s.Peers[from].ID, Topic: o.Topic, Msg: msg})
}

// BroadcastStats are the Rust simulator's metrics for a set of broadcasts.
type BroadcastStats struct {
	Messages int
	// Delivered and Missed count (message, live peer) pairs.
	Delivered, Missed int
	// RMR is the relative message redundancy: payload messages per
	// receiver beyond the first, averaged over messages (0 is a perfect
	// tree).
	RMR float64
	// LDH is the largest hop count at which a message was delivered; the
	// mean over messages is MeanLDH.
	LDH     int
	MeanLDH float64
	// Latency is the longest time from a broadcast to its last delivery.
	Latency time.Duration
}

// DeliveryRatio is Delivered / (Delivered + Missed).
func (b BroadcastStats) DeliveryRatio() float64 {
	if b.Delivered+b.Missed == 0 {
		return 1
	}
	return float64(b.Delivered) / float64(b.Delivered+b.Missed)
}

// Stats summarises the given broadcasts against the peers alive now.
func (s *Sim) Stats(ids []MessageID) BroadcastStats {
	var st BroadcastStats
	var rmrSum, ldhSum float64
	for _, id := range ids {
		m := s.msgs[id]
		if m == nil {
			continue
		}
		st.Messages++
		maxHop := 0
		n := 0
		for i, p := range s.Peers {
			if i == m.From {
				continue
			}
			r, ok := m.Receivers[i]
			if ok {
				n++
				maxHop = max(maxHop, int(r)+1)
			}
			if !p.Alive {
				continue
			}
			if ok {
				st.Delivered++
			} else {
				st.Missed++
			}
		}
		if n > 0 {
			rmrSum += float64(m.Payloads)/float64(n) - 1
		}
		ldhSum += float64(maxHop)
		st.LDH = max(st.LDH, maxHop)
		st.Latency = max(st.Latency, m.LastAt-m.At)
	}
	if st.Messages > 0 {
		st.RMR = rmrSum / float64(st.Messages)
		st.MeanLDH = ldhSum / float64(st.Messages)
	}
	if math.IsNaN(st.RMR) {
		st.RMR = 0
	}
	return st
}
