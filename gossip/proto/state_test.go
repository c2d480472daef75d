package proto

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func peer(i byte) PeerID {
	var p PeerID
	p[0], p[31] = i, 0xaa
	return p
}

// activeState returns a State of peer 0 on topic t with peers 1..n active.
func activeState(t testing.TB, n int) (*State, TopicID, time.Time) {
	topic := TopicFromName("state")
	s := NewState(peer(0), nil, Config{}, rand.New(rand.NewPCG(1, 1)))
	now := time.Unix(1000, 0)
	s.Handle(now, JoinCmd{Topic: topic})
	for i := 1; i <= n; i++ {
		s.Handle(now, RecvMessage{From: peer(byte(i)), Topic: topic, Msg: Message{Type: MsgJoin}})
	}
	if len(s.Active(topic)) != n {
		t.Fatalf("active %d, want %d", len(s.Active(topic)), n)
	}
	return s, topic, now
}

// TestFloodingPeerCannotEvict: an active peer repeating Join, Neighbor or
// Shuffle messages does not push the others out of the active view.
func TestFloodingPeerCannotEvict(t *testing.T) {
	s, topic, now := activeState(t, 5)
	before := s.Active(topic)
	flood := peer(3)
	var nodes []PeerInfo
	for i := range 100 {
		nodes = append(nodes, PeerInfo{ID: peer(byte(100 + i))})
	}
	for range 1000 {
		s.Handle(now, RecvMessage{From: flood, Topic: topic, Msg: Message{Type: MsgJoin}})
		s.Handle(now, RecvMessage{From: flood, Topic: topic, Msg: Message{Type: MsgNeighbor, Priority: High}})
		s.Handle(now, RecvMessage{From: flood, Topic: topic, Msg: Message{Type: MsgShuffleReply, Nodes: nodes}})
	}
	if after := s.Active(topic); !slices.Equal(before, after) {
		t.Fatalf("active view changed: %x -> %x", before, after)
	}
	if len(s.Passive(topic)) > 30 {
		t.Fatalf("passive view grew to %d", len(s.Passive(topic)))
	}
}

// TestUnknownTopicNoState: messages for a topic we did not join create
// nothing and produce no output.
func TestUnknownTopicNoState(t *testing.T) {
	s := NewState(peer(0), nil, Config{}, nil)
	other := TopicFromName("other")
	outs := s.Handle(time.Unix(0, 0), RecvMessage{From: peer(1), Topic: other, Msg: Message{Type: MsgJoin}})
	if len(outs) != 0 || s.Joined(other) || s.Stats().UnknownTopic != 1 {
		t.Fatalf("outputs %v, joined %v", outs, s.Joined(other))
	}
}

// TestForgedGossip: a Gossip whose id does not match its content is
// dropped; a replay of a delivered message is delivered once.
func TestForgedGossip(t *testing.T) {
	s, topic, now := activeState(t, 2)
	received := func(outs []Output) int {
		n := 0
		for _, o := range outs {
			if e, ok := o.(EmitEvent); ok {
				if _, ok := e.Event.(Received); ok {
					n++
				}
			}
		}
		return n
	}
	forged := Message{Type: MsgGossip, ID: NewMessageID([]byte("a")), Content: []byte("b")}
	if n := received(s.Handle(now, RecvMessage{From: peer(1), Topic: topic, Msg: forged})); n != 0 || s.Stats().BadMessageIDs != 1 {
		t.Fatalf("forged message delivered %d times", n)
	}
	good := Message{Type: MsgGossip, ID: NewMessageID([]byte("b")), Content: []byte("b")}
	if n := received(s.Handle(now, RecvMessage{From: peer(1), Topic: topic, Msg: good})); n != 1 {
		t.Fatalf("good message delivered %d times", n)
	}
	if n := received(s.Handle(now, RecvMessage{From: peer(2), Topic: topic, Msg: good})); n != 0 {
		t.Fatalf("replay delivered %d times", n)
	}
}

// FuzzState feeds arbitrary messages from a few peers (and timers) into
// a State: it never panics and keeps its views and tables bounded.
func FuzzState(f *testing.F) {
	id := NewMessageID([]byte("hi"))
	for _, m := range []Message{
		{Type: MsgJoin}, {Type: MsgNeighbor, Priority: Low}, {Type: MsgDisconnect, Alive: true},
		{Type: MsgForwardJoin, Peer: PeerInfo{ID: peer(9)}, TTL: 3},
		{Type: MsgShuffle, Origin: peer(8), Nodes: []PeerInfo{{ID: peer(7)}}, TTL: 1},
		{Type: MsgGossip, ID: id, Content: []byte("hi")},
		{Type: MsgIHave, IHaves: []IHave{{ID: id}}}, {Type: MsgGraft, HasID: true, ID: id}, {Type: MsgPrune},
	} {
		f.Add(append([]byte{1}, AppendMessage(nil, &m)...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewState(peer(0), []byte{1}, Config{PassiveViewCapacity: 4, MaxMissing: 8, MaxReceivedIDs: 8, MaxCachedMessages: 8}, rand.New(rand.NewPCG(2, 2)))
		topic := TopicFromName("fuzz")
		now := time.Unix(0, 0)
		s.Handle(now, JoinCmd{Topic: topic, Peers: []PeerID{peer(1)}})
		for len(b) > 1 {
			from := peer(b[0] % 8)
			m, n, err := ParseMessage(b[1:])
			if err != nil {
				s.Handle(now, TimerFired{Topic: topic, Timer: Timer{Kind: TimerKind(b[0] % 6), Peer: from, ID: id}})
				b = b[2:]
				now = now.Add(time.Second)
				continue
			}
			s.Handle(now, RecvMessage{From: from, Topic: topic, Msg: m})
			b = b[1+n:]
		}
		a, p := s.Active(topic), s.Passive(topic)
		if len(a) > 5 || len(p) > 4 || slices.Contains(a, peer(0)) || slices.Contains(p, peer(0)) {
			t.Fatalf("views: active %d passive %d", len(a), len(p))
		}
		rec, cache, miss, _, _ := s.TopicSize(topic)
		if rec > 8 || cache > 8 || miss > 8 {
			t.Fatalf("tables: %d %d %d", rec, cache, miss)
		}
	})
}

// TestCrossedJoinAnswered: we sent Join to b, which had not joined the
// topic yet and ignored it (as Rust does); b then joins through us. Our
// answer to b's Join is a Neighbor, so b counts us as its neighbour too.
func TestCrossedJoinAnswered(t *testing.T) {
	topic := TopicFromName("crossed")
	b := peer(1)
	s := NewState(peer(0), nil, Config{}, rand.New(rand.NewPCG(1, 1)))
	now := time.Unix(1000, 0)
	s.Handle(now, JoinCmd{Topic: topic, Peers: []PeerID{b}})
	outs := s.Handle(now, RecvMessage{From: b, Topic: topic, Msg: Message{Type: MsgJoin}})
	answered := false
	for _, o := range outs {
		if sm, ok := o.(SendMessage); ok && sm.To == b && sm.Msg.Type == MsgNeighbor {
			answered = true
		}
	}
	if !answered || !slices.Contains(s.Active(topic), b) {
		t.Fatalf("join from b: answered %v, active %x", answered, s.Active(topic))
	}
	// b's Neighbor back ends the exchange.
	for _, o := range s.Handle(now, RecvMessage{From: b, Topic: topic, Msg: Message{Type: MsgNeighbor, Priority: High}}) {
		if sm, ok := o.(SendMessage); ok && sm.To == b {
			t.Fatalf("answered a Neighbor from an active peer with %s", sm.Msg.Type)
		}
	}
}
