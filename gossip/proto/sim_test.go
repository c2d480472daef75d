package proto

import (
	"fmt"
	"testing"
	"time"
)

// newSwarm joins n peers and lets the views settle.
func newSwarm(t testing.TB, n int, cfg SimConfig) *Sim {
	t.Helper()
	s := NewSim(n, cfg)
	s.JoinAll(5 * time.Millisecond)
	s.RunFor(5 * time.Second)
	if c := s.Components(); c != 1 {
		t.Fatalf("%d peers: %d components after joining", n, c)
	}
	return s
}

func content(i, j int) []byte { return fmt.Appendf(nil, "message %d from %d", j, i) }

type scenario struct {
	name    string
	senders func(n int) []int
	rounds  int
}

var scenarios = []scenario{
	{"one sender", func(n int) []int { return []int{0} }, 10},
	{"many senders", func(n int) []int { return []int{0, n / 4, n / 2, n - 1} }, 5},
	{"everyone", func(n int) []int {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all
	}, 1},
}

// runScenario broadcasts rounds messages from each sender, spaced by
// 100ms, and returns the stats.
func runScenario(s *Sim, sc scenario) BroadcastStats {
	var ids []MessageID
	senders := sc.senders(len(s.Peers))
	for j := range sc.rounds {
		for _, i := range senders {
			if s.Peers[i].Alive {
				ids = append(ids, s.Broadcast(i, content(i, j)))
			}
		}
		s.RunFor(100 * time.Millisecond)
	}
	s.RunFor(5 * time.Second)
	return s.Stats(ids)
}

// TestSimScenarios: the Rust simulator's scenarios at 20, 100 and 1,000
// peers; every message reaches every peer without churn or loss.
func TestSimScenarios(t *testing.T) {
	sizes := []int{20, 100, 1000}
	for _, n := range sizes {
		for _, sc := range scenarios {
			if n == 1000 && sc.name == "everyone" {
				continue // a million deliveries: BenchmarkSim1000Everyone
			}
			t.Run(fmt.Sprintf("%d/%s", n, sc.name), func(t *testing.T) {
				s := newSwarm(t, n, SimConfig{Seed: uint64(n)})
				st := runScenario(s, sc)
				t.Logf("%d peers, %s: %d messages, delivered %d missed %d, RMR %.2f, LDH max %d mean %.1f, latency %v",
					n, sc.name, st.Messages, st.Delivered, st.Missed, st.RMR, st.LDH, st.MeanLDH, st.Latency)
				if st.Missed != 0 {
					t.Fatalf("missed %d deliveries", st.Missed)
				}
			})
		}
	}
}

// TestSimLoss: with 5% of messages lost, lazy announcements and grafts
// still deliver at least 99%.
func TestSimLoss(t *testing.T) {
	s := newSwarm(t, 200, SimConfig{Seed: 5})
	s.cfg.Loss = 0.05
	st := runScenario(s, scenarios[1])
	t.Logf("5%% loss: delivery %.4f (%d missed), RMR %.2f, LDH %d", st.DeliveryRatio(), st.Missed, st.RMR, st.LDH)
	if st.DeliveryRatio() < 0.99 {
		t.Fatalf("delivery %.4f under 5%% loss", st.DeliveryRatio())
	}
}

// TestSimBootstrapLeaves: the peer everyone joined through leaves; the
// swarm stays one and keeps delivering.
func TestSimBootstrapLeaves(t *testing.T) {
	s := NewSim(100, SimConfig{Seed: 7})
	s.Join(0)
	for i := 1; i < 100; i++ {
		s.Join(i, 0) // everyone through peer 0
		s.RunFor(5 * time.Millisecond)
	}
	s.RunFor(5 * time.Second)
	s.Leave(0)
	s.RunFor(5 * time.Second)
	if c := s.Components(); c != 1 {
		t.Fatalf("%d components after the bootstrap peer left", c)
	}
	st := runScenario(s, scenario{"one", func(int) []int { return []int{1} }, 5})
	if st.Missed != 0 {
		t.Fatalf("missed %d after the bootstrap peer left", st.Missed)
	}
}

// TestSimChurn: peers join, leave and crash while messages flow; after
// it stops, the live peers form one swarm and get every later message.
func TestSimChurn(t *testing.T) {
	s := newSwarm(t, 200, SimConfig{Seed: 11})
	var during []MessageID
	for round := range 20 {
		switch round % 3 {
		case 0:
			s.Crash(10 + round)
		case 1:
			s.Leave(10 + round)
		case 2:
			i := s.AddPeer()
			s.Join(i, 100+round)
		}
		during = append(during, s.Broadcast(150, content(150, round)))
		s.RunFor(500 * time.Millisecond)
	}
	s.RunFor(10 * time.Second)
	st := s.Stats(during)
	t.Logf("during churn: delivery %.4f", st.DeliveryRatio())
	if c := s.Components(); c != 1 {
		t.Fatalf("%d components after churn", c)
	}
	after := runScenario(s, scenarios[1])
	if after.Missed != 0 {
		t.Fatalf("after churn: missed %d", after.Missed)
	}
}

// TestSimPartitionHeals: a swarm split in two keeps delivering inside
// each half; after healing, lost peers are joined again and one swarm
// delivers everywhere.
func TestSimPartitionHeals(t *testing.T) {
	s := newSwarm(t, 100, SimConfig{Seed: 13})
	s.RunFor(3 * time.Minute) // shuffles fill the passive views
	s.Partition(func(i int) int { return i % 2 })
	s.RunFor(10 * time.Second)
	if c := s.Components(); c != 2 {
		for i, p := range s.Peers {
			t.Logf("%d: active %d passive %d", i, len(p.State.Active(s.topic)), len(p.State.Passive(s.topic)))
		}
		t.Fatalf("partitioned swarm has %d components", c)
	}
	in := runScenario(s, scenario{"one", func(int) []int { return []int{0} }, 3})
	if in.Delivered < 3*49 {
		t.Fatalf("inside the partition: %d deliveries", in.Delivered)
	}
	s.Partition(nil)
	s.RunFor(3 * time.Minute)
	if c := s.Components(); c != 1 {
		t.Fatalf("%d components after healing", c)
	}
	st := runScenario(s, scenarios[0])
	if st.Missed != 0 {
		t.Fatalf("after healing: missed %d", st.Missed)
	}
}

// TestSimBoundedMemory: a long stream of messages keeps every table of
// every peer under its bound, and expired ids are evicted.
func TestSimBoundedMemory(t *testing.T) {
	cfg := SimConfig{Seed: 17, Proto: Config{MaxReceivedIDs: 200, MaxCachedMessages: 100}}
	s := newSwarm(t, 30, cfg)
	for j := range 600 {
		s.Broadcast(j%30, content(j%30, j))
		if j%20 == 0 {
			s.RunFor(50 * time.Millisecond)
		}
	}
	s.RunFor(5 * time.Second)
	for _, p := range s.Peers {
		rec, cache, miss, lazy, data := p.State.TopicSize(s.Topic())
		if rec > 500 || cache > 200 || miss > p.State.cfg.MaxMissing || lazy > 5*p.State.cfg.MaxLazyQueue || data > 40 {
			t.Fatalf("tables: received %d cached %d missing %d lazy %d peer data %d", rec, cache, miss, lazy, data)
		}
	}
	s.RunFor(2 * time.Minute)
	for _, p := range s.Peers {
		if rec, cache, miss, lazy, _ := p.State.TopicSize(s.Topic()); rec+cache+miss+lazy != 0 {
			t.Fatalf("after expiry: received %d cached %d missing %d lazy %d", rec, cache, miss, lazy)
		}
	}
}

// TestSimDeterministic: the same seed gives the same run.
func TestSimDeterministic(t *testing.T) {
	run := func() (uint64, BroadcastStats) {
		s := newSwarm(t, 50, SimConfig{Seed: 3, Loss: 0.02})
		st := runScenario(s, scenarios[1])
		return s.Sent, st
	}
	a, sa := run()
	b, sb := run()
	if a != b || sa != sb {
		t.Fatalf("two runs differ: %d %+v / %d %+v", a, sa, b, sb)
	}
}
