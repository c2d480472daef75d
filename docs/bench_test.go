package docs

import (
	"fmt"
	"testing"
	"time"
)

const benchEntries = 10_000

// value100 is a 100-byte value, distinct per i.
func value100(i int) []byte {
	v := fmt.Appendf(nil, "value %08d ", i)
	for len(v) < 100 {
		v = append(v, 'x')
	}
	return v
}

func writeBench(b *testing.B, n *node, ns NamespaceID) {
	a := n.author(b)
	for i := range benchEntries {
		if _, err := n.engine.SetBytes(b.Context(), ns, a, fmt.Appendf(nil, "key/%06d", i), value100(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCatchUp10k is the catch-up measure: 10,000 entries with
// 100-byte values are written on one node; a second node joins afterwards
// and the time until it holds every entry and every content is reported
// (Rust iroh 0.35: 1.8-2.1 s). Real endpoints on loopback, memory stores.
// cpu-s is the CPU time of both nodes (this process), a figure that holds
// on a loaded machine where wall time does not.
func BenchmarkCatchUp10k(b *testing.B) { benchCatchUp(b, false) }

// BenchmarkCatchUp10kDisk is BenchmarkCatchUp10k with the joining node on
// the persistent stores (bbolt documents, fs blobs), as the CLI runs.
func BenchmarkCatchUp10kDisk(b *testing.B) { benchCatchUp(b, true) }

func benchCatchUp(b *testing.B, disk bool) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := startNode(b, false, nil)
		ns, _ := a.engine.CreateDoc(b.Context())
		writeBench(b, a, ns)
		tk, _ := a.engine.Share(b.Context(), ns, Read)
		onDisk[b.Name()] = disk
		c := startNode(b, false, nil)
		b.StartTimer()
		start, cpu := time.Now(), processCPU()
		if _, err := c.engine.Import(b.Context(), tk); err != nil {
			b.Fatal(err)
		}
		waitInSync(b, c, ns, benchEntries)
		b.ReportMetric(time.Since(start).Seconds(), "s/catchup")
		b.ReportMetric((processCPU() - cpu).Seconds(), "cpu-s/catchup")
		b.StopTimer()
		a.close()
		c.close()
		b.StartTimer()
	}
}

// BenchmarkLive10k is the live measure: the second node joins
// first, then the 10,000 entries are written; reported is the time from the
// first write until the second node holds every entry and content (Rust
// iroh 0.35: 6.9-8.6 s). Live sync runs over the gossip package
// (/iroh-gossip/1) on the same endpoints.
func BenchmarkLive10k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := startNode(b, true, nil)
		c := startNode(b, true, nil)
		ns, _ := a.engine.CreateDoc(b.Context())
		tk, _ := a.engine.Share(b.Context(), ns, Read)
		if _, err := c.engine.Import(b.Context(), tk); err != nil {
			b.Fatal(err)
		}
		waitInSync(b, c, ns, 0)
		b.StartTimer()
		start, cpu := time.Now(), processCPU()
		writeBench(b, a, ns)
		wrote := time.Since(start)
		waitInSync(b, c, ns, benchEntries)
		b.ReportMetric(time.Since(start).Seconds(), "s/live")
		b.ReportMetric((processCPU() - cpu).Seconds(), "cpu-s/live")
		b.ReportMetric(wrote.Seconds(), "s/writes")
		b.StopTimer()
		a.close()
		c.close()
		b.StartTimer()
	}
}

// BenchmarkLivePoll10k is BenchmarkLive10k without gossip: the second node
// re-syncs every 100 ms (what 'iroh docs join --watch' does today).
func BenchmarkLivePoll10k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		a := startNode(b, false, nil)
		c := startNode(b, false, &EngineOptions{ResyncInterval: 100 * time.Millisecond})
		ns, _ := a.engine.CreateDoc(b.Context())
		tk, _ := a.engine.Share(b.Context(), ns, Read)
		if _, err := c.engine.Import(b.Context(), tk); err != nil {
			b.Fatal(err)
		}
		waitInSync(b, c, ns, 0)
		b.StartTimer()
		start := time.Now()
		writeBench(b, a, ns)
		waitInSync(b, c, ns, benchEntries)
		b.ReportMetric(time.Since(start).Seconds(), "s/live")
		b.StopTimer()
		a.close()
		c.close()
		b.StartTimer()
	}
}
