package proto

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"time"
)

// Config holds the protocol constants of spec §1. The zero value of a
// field means the spec's default; DefaultConfig returns them filled.
type Config struct {
	ActiveViewCapacity  int           // zero means 5
	PassiveViewCapacity int           // zero means 30
	ActiveRandomWalk    uint16        // ARWL; zero means 6
	PassiveRandomWalk   uint16        // PRWL; zero means 3
	ShuffleRandomWalk   uint16        // zero means 6
	ShuffleActive       int           // active peers in a shuffle; zero means 3
	ShufflePassive      int           // passive peers in a shuffle; zero means 4
	ShuffleInterval     time.Duration // zero means 60s
	NeighborTimeout     time.Duration // zero means 500ms
	GraftTimeout1       time.Duration // after an IHave; zero means 80ms
	GraftTimeout2       time.Duration // after a Graft; zero means 40ms
	DispatchTimeout     time.Duration // IHave batching; zero means 5ms
	OptimizationThresh  uint16        // rounds; zero means 7
	CacheRetention      time.Duration // payload cache; zero means 30s
	ReceivedRetention   time.Duration // message ids; zero means 90s
	EvictionInterval    time.Duration // zero means 1s
	MaxMessageSize      int           // zero means 4096

	// Bounds on memory per topic (our additions; Rust has none).

	// MaxReceivedIDs bounds remembered message ids; the oldest go first.
	// Zero means 65536.
	MaxReceivedIDs int
	// MaxCachedMessages bounds the payload cache; zero means 4096.
	MaxCachedMessages int
	// MaxMissing bounds ids announced by IHave but not yet received; zero
	// means 4096. Further announcements are ignored until some arrive.
	MaxMissing int
	// MaxAnnouncers bounds the peers remembered per missing id; zero
	// means 8.
	MaxAnnouncers int
	// MaxLazyQueue bounds queued IHaves per peer; zero means 4096 (the
	// oldest are dropped).
	MaxLazyQueue int
}

// DefaultConfig returns the spec's constants.
func DefaultConfig() Config {
	var c Config
	c.fill()
	return c
}

func (c *Config) fill() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def16 := func(p *uint16, v uint16) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.ActiveViewCapacity, 5)
	def(&c.PassiveViewCapacity, 30)
	def16(&c.ActiveRandomWalk, 6)
	def16(&c.PassiveRandomWalk, 3)
	def16(&c.ShuffleRandomWalk, 6)
	def(&c.ShuffleActive, 3)
	def(&c.ShufflePassive, 4)
	defd(&c.ShuffleInterval, 60*time.Second)
	defd(&c.NeighborTimeout, 500*time.Millisecond)
	defd(&c.GraftTimeout1, 80*time.Millisecond)
	defd(&c.GraftTimeout2, 40*time.Millisecond)
	defd(&c.DispatchTimeout, 5*time.Millisecond)
	def16(&c.OptimizationThresh, 7)
	defd(&c.CacheRetention, 30*time.Second)
	defd(&c.ReceivedRetention, 90*time.Second)
	defd(&c.EvictionInterval, time.Second)
	def(&c.MaxMessageSize, DefaultMaxMessageSize)
	def(&c.MaxReceivedIDs, 65536)
	def(&c.MaxCachedMessages, 4096)
	def(&c.MaxMissing, 4096)
	def(&c.MaxAnnouncers, 8)
	def(&c.MaxLazyQueue, 4096)
}

// Input is what the driver feeds into State.Handle: RecvMessage,
// TimerFired, JoinCmd, BroadcastCmd, QuitCmd, PeerDisconnected or
// UpdatePeerData.
type Input interface{ isInput() }

// RecvMessage is a message from peer From on Topic.
type RecvMessage struct {
	From  PeerID
	Topic TopicID
	Msg   Message
}

// TimerFired reports that a timer scheduled by ScheduleTimer is due.
type TimerFired struct {
	Topic TopicID
	Timer Timer
}

// JoinCmd joins Topic (creating its state) through the bootstrap Peers
// (none: wait for others to join us). Joining a joined topic sends Join
// to the new peers.
type JoinCmd struct {
	Topic TopicID
	Peers []PeerID
}

// BroadcastCmd sends Content to the topic's swarm, or only to the
// current neighbours if Neighbors is set. The caller checks the size.
type BroadcastCmd struct {
	Topic     TopicID
	Content   []byte
	Neighbors bool
}

// QuitCmd leaves Topic: Disconnect to every active peer, state dropped.
type QuitCmd struct{ Topic TopicID }

// PeerDisconnected reports that the connection to Peer is gone (or could
// not be made).
type PeerDisconnected struct{ Peer PeerID }

// UpdatePeerData replaces our own peer data (our addresses), sent in
// later Join, Neighbor and Shuffle messages.
type UpdatePeerData struct{ Data []byte }

func (RecvMessage) isInput()      {}
func (TimerFired) isInput()       {}
func (JoinCmd) isInput()          {}
func (BroadcastCmd) isInput()     {}
func (QuitCmd) isInput()          {}
func (PeerDisconnected) isInput() {}
func (UpdatePeerData) isInput()   {}

// Output is what State.Handle asks the driver to do: SendMessage,
// EmitEvent, ScheduleTimer, DisconnectPeer or PeerDataLearned.
type Output interface{ isOutput() }

// SendMessage asks to send Msg on Topic to To (dialing it if needed).
type SendMessage struct {
	To    PeerID
	Topic TopicID
	Msg   Message
}

// EmitEvent hands an event of Topic to the application.
type EmitEvent struct {
	Topic TopicID
	Event Event
}

// ScheduleTimer asks for TimerFired{Topic, Timer} after After.
type ScheduleTimer struct {
	Topic TopicID
	Timer Timer
	After time.Duration
}

// DisconnectPeer says no joined topic uses Peer any more: its connection
// may be closed once queued messages are sent.
type DisconnectPeer struct{ Peer PeerID }

// PeerDataLearned carries new address data of Peer for the dialer.
type PeerDataLearned struct {
	Peer PeerID
	Data []byte
}

func (SendMessage) isOutput()     {}
func (EmitEvent) isOutput()       {}
func (ScheduleTimer) isOutput()   {}
func (DisconnectPeer) isOutput()  {}
func (PeerDataLearned) isOutput() {}

// Event is an application event of a topic: NeighborUp, NeighborDown or
// Received.
type Event interface{ isEvent() }

// NeighborUp: Peer joined our active view.
type NeighborUp struct{ Peer PeerID }

// NeighborDown: Peer left our active view.
type NeighborDown struct{ Peer PeerID }

// Received is a delivered message: its content, the neighbour it came
// from, and its scope as received (round before incrementing).
type Received struct {
	Content       []byte
	DeliveredFrom PeerID
	Scope         Scope
}

func (NeighborUp) isEvent()   {}
func (NeighborDown) isEvent() {}
func (Received) isEvent()     {}

// TimerKind selects what a Timer does.
type TimerKind uint8

// Timer kinds.
const (
	TimerShuffle TimerKind = iota + 1
	TimerNeighborRequest
	TimerDispatchLazy
	TimerGraft
	TimerEvict
)

// Timer identifies a scheduled timer: its kind and, for neighbour
// requests, the peer, for grafts the message id.
type Timer struct {
	Kind TimerKind
	Peer PeerID
	ID   MessageID
}

// Stats counts what a State dropped or did, for metrics and tests.
type Stats struct {
	BadMessageIDs   uint64 // Gossip whose id is not the hash of its content
	Duplicates      uint64 // Gossip already received
	UnknownTopic    uint64 // messages for topics not joined
	DroppedIHaves   uint64 // announcements over the missing/queue bounds
	EvictedReceived uint64 // ids forgotten early because of MaxReceivedIDs
}

// State is the protocol state of one peer for all its topics: HyParView
// membership and PlumTree broadcast per topic. It does no I/O and reads
// no clock: the driver passes now and the inputs, and carries out the
// outputs. Given the same seed, inputs and times, the outputs are the
// same.
//
// A State is not safe for concurrent use.
type State struct {
	me     PeerID
	myData []byte
	cfg    Config
	rng    *rand.Rand
	topics map[TopicID]*topic
	out    []Output
	now    time.Time
	stats  Stats
}

// NewState returns the state of peer me with peer data myData (nil: none).
// rng drives every random choice; nil means one seeded from me.
func NewState(me PeerID, myData []byte, cfg Config, rng *rand.Rand) *State {
	cfg.fill()
	if rng == nil {
		var seed [32]byte
		copy(seed[:], me[:])
		rng = rand.New(rand.NewChaCha8(seed))
	}
	return &State{me: me, myData: myData, cfg: cfg, rng: rng, topics: make(map[TopicID]*topic)}
}

// Me returns our peer id.
func (s *State) Me() PeerID { return s.me }

// Stats returns the counters so far.
func (s *State) Stats() Stats { return s.stats }

// Config returns the filled configuration.
func (s *State) Config() Config { return s.cfg }

// Joined reports whether topic t has state.
func (s *State) Joined(t TopicID) bool { return s.topics[t] != nil }

// Topics returns the joined topics in no particular order.
func (s *State) Topics() []TopicID {
	ts := make([]TopicID, 0, len(s.topics))
	for t := range s.topics {
		ts = append(ts, t)
	}
	return ts
}

// Active returns the active view of topic t (nil if not joined).
func (s *State) Active(t TopicID) []PeerID {
	if tp := s.topics[t]; tp != nil {
		return slices.Clone(tp.active)
	}
	return nil
}

// Passive returns the passive view of topic t.
func (s *State) Passive(t TopicID) []PeerID {
	if tp := s.topics[t]; tp != nil {
		return slices.Clone(tp.passive)
	}
	return nil
}

// TopicSize reports the sizes of t's bounded tables: received ids, cached
// messages, missing ids, queued IHaves and known peer data.
func (s *State) TopicSize(t TopicID) (received, cached, missing, lazy, peerData int) {
	tp := s.topics[t]
	if tp == nil {
		return
	}
	for _, q := range tp.lazyQueue {
		lazy += len(q)
	}
	return len(tp.received), len(tp.cache), len(tp.missing), lazy, len(tp.peerData)
}

// Handle processes one input at time now and returns the outputs. The
// returned slice is reused by the next call.
func (s *State) Handle(now time.Time, in Input) []Output {
	s.out = s.out[:0]
	s.now = now
	switch in := in.(type) {
	case RecvMessage:
		if tp := s.topics[in.Topic]; tp != nil {
			tp.onMessage(in.From, &in.Msg)
			s.maybeDisconnect(in.From)
		} else {
			s.stats.UnknownTopic++
		}
	case TimerFired:
		if tp := s.topics[in.Topic]; tp != nil {
			tp.onTimer(in.Timer)
		}
	case JoinCmd:
		tp := s.topics[in.Topic]
		if tp == nil {
			tp = s.newTopic(in.Topic)
		}
		tp.join(in.Peers)
	case BroadcastCmd:
		if tp := s.topics[in.Topic]; tp != nil {
			tp.broadcast(in.Content, in.Neighbors)
		}
	case QuitCmd:
		if tp := s.topics[in.Topic]; tp != nil {
			peers := slices.Clone(tp.active)
			tp.quit()
			delete(s.topics, in.Topic)
			for _, p := range peers {
				s.maybeDisconnect(p)
			}
		}
	case PeerDisconnected:
		for _, tp := range s.sortedTopics() {
			tp.onPeerDisconnected(in.Peer)
		}
	case UpdatePeerData:
		s.myData = in.Data
	}
	return s.out
}

func (s *State) sortedTopics() []*topic {
	ts := make([]*topic, 0, len(s.topics))
	for _, tp := range s.topics {
		ts = append(ts, tp)
	}
	slices.SortFunc(ts, func(a, b *topic) int { return bytes.Compare(a.id[:], b.id[:]) })
	return ts
}

// InUse reports whether any topic has p in its active view or a pending
// neighbour request to it.
func (s *State) InUse(p PeerID) bool { return s.inUse(p) }

func (s *State) inUse(p PeerID) bool {
	for _, tp := range s.topics {
		if slices.Contains(tp.active, p) || tp.pending[p] {
			return true
		}
	}
	return false
}

func (s *State) maybeDisconnect(p PeerID) {
	if !s.inUse(p) {
		s.out = append(s.out, DisconnectPeer{Peer: p})
	}
}

func (s *State) send(t TopicID, to PeerID, m Message) {
	s.out = append(s.out, SendMessage{To: to, Topic: t, Msg: m})
}

func (s *State) emit(t TopicID, e Event) {
	s.out = append(s.out, EmitEvent{Topic: t, Event: e})
}

func (s *State) schedule(t TopicID, tm Timer, d time.Duration) {
	s.out = append(s.out, ScheduleTimer{Topic: t, Timer: tm, After: d})
}
