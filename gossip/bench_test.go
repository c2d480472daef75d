//go:build unix

package gossip

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBroadcast1000 is the benchmark over real endpoints on
// loopback, all in one process: one node broadcasts 1,000 unique
// messages of 1 KiB into a swarm of N nodes; an op ends when every other
// node has received all of them (or after 10 s). Reported: delivery
// ratio, CPU seconds of the whole process per op, heap in use at the end.
func BenchmarkBroadcast1000(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { benchBroadcast(b, n) })
	}
}

func benchBroadcast(b *testing.B, n int) {
	const msgs, size = 1000, 1024
	topic := TopicFromName(fmt.Sprintf("bench %d", n))
	nodes := make([]*node, n)
	topics := make([]*Topic, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range nodes {
		nodes[i] = newNode(b, nil)
		if i == 0 {
			topics[i] = subscribe(b, nodes[i], topic)
		} else {
			topics[i] = subscribe(b, nodes[i], topic, nodes[rng.IntN(i)])
		}
	}
	ctx := context.Background()
	for _, tp := range topics[1:] {
		if err := tp.Joined(ctx); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(time.Second) // forward joins and refills settle

	// Every receiver counts the messages of the current round.
	var round atomic.Uint32
	counts := make([]atomic.Int64, n)
	done := make(chan int, n)
	for i := 1; i < n; i++ {
		go func() {
			for ev := range topics[i].Events() {
				r, ok := ev.(Received)
				if !ok || len(r.Content) < 8 || binary.BigEndian.Uint32(r.Content) != round.Load() {
					continue
				}
				if counts[i].Add(1) == msgs {
					done <- i
				}
			}
		}()
	}
	msg := make([]byte, size)
	var delivered, wanted int64
	var cpu, sendDur time.Duration
	for b.Loop() {
		r := round.Add(1)
		for i := range counts {
			counts[i].Store(0)
		}
		c0 := cpuTime()
		start := time.Now()
		for j := range msgs {
			binary.BigEndian.PutUint32(msg, r)
			binary.BigEndian.PutUint32(msg[4:], uint32(j))
			if err := topics[0].Broadcast(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		sendDur += time.Since(start)
		timeout := time.After(10 * time.Second)
		for finished := 0; finished < n-1; {
			select {
			case <-done:
				finished++
			case <-timeout:
				finished = n
			}
		}
		cpu += cpuTime() - c0
		for i := 1; i < n; i++ {
			delivered += min(counts[i].Load(), msgs)
		}
		wanted += int64(msgs * (n - 1))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(delivered)/float64(wanted), "delivery-ratio")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(sendDur.Seconds()/float64(b.N), "broadcast-s/op")
	var drops float64
	for _, nd := range nodes {
		drops += promtest.ToFloat64(nd.g.m.Drops.WithLabelValues("queue_full"))
	}
	b.ReportMetric(drops/float64(b.N), "queue-drops/op")
	for _, r := range []string{"oversize", "not_connected", "bad_id", "unknown_topic"} {
		var c float64
		for _, nd := range nodes {
			c += promtest.ToFloat64(nd.g.m.Drops.WithLabelValues(r))
		}
		if c > 0 {
			b.ReportMetric(c, "drops-"+r)
		}
	}
	for _, r := range []string{"slow_peer", "frame_too_large", "malformed", "superseded", "unused"} {
		var c float64
		for _, nd := range nodes {
			c += promtest.ToFloat64(nd.g.m.ConnClosed.WithLabelValues(r))
		}
		if c > 0 {
			b.ReportMetric(c, "closed-"+r)
		}
	}
	// Packets the endpoints' socket layer dropped, by reason.
	mdrops := map[string]float64{}
	for _, nd := range nodes {
		mfs, _ := nd.reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != "iroh_magicsock_dropped_packets_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					mdrops[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	for r, v := range mdrops {
		if v > 0 {
			b.ReportMetric(v, "sockdrops-"+r)
		}
	}
	var lag float64
	for _, nd := range nodes {
		lag += promtest.ToFloat64(nd.g.m.Lagged)
	}
	b.ReportMetric(lag, "lagged")
	for _, typ := range []string{"Gossip", "IHave", "Graft", "Prune"} {
		var c float64
		for _, nd := range nodes {
			c += promtest.ToFloat64(nd.g.m.MessagesSent.WithLabelValues(typ))
		}
		b.ReportMetric(c/float64(b.N), typ+"/op")
	}
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20)/float64(n), "heap-MiB/node")
}
