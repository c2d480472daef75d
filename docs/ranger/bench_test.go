package ranger

import (
	"runtime"
	"slices"
	"testing"
	"time"
)

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkReconcile1M is the measure: two replicas of 1,000,000
// entries that differ in 1% (10,000 entries: a third only on each side, a
// third newer on one side), reconciled through the wire encoding (entries
// encoded at SignedEntry size). It reports messages, bytes, the bytes of a
// naive full exchange (every entry sent once), time and the memory of the
// two indexes. Run with -benchtime=1x: setup builds 2,000,000 entries.
func BenchmarkReconcile1M(b *testing.B) {
	benchReconcile(b, 1_000_000, 10_000)
}

// BenchmarkReconcile100k is the same at a tenth of the size.
func BenchmarkReconcile100k(b *testing.B) {
	benchReconcile(b, 100_000, 1_000)
}

func benchReconcile(b *testing.B, n, diff int) {
	b.ReportAllocs()
	entrySize := len(itemCodec{}.AppendEntry(nil, newItem(make([]byte, 74), 1))) + 1
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		before := heapInUse()
		x, y := buildPair(n, diff, uint64(i))
		mem := heapInUse() - before
		b.StartTimer()
		start, cpu := time.Now(), processCPU()
		res := reconcile(b, x, y)
		el, cpuUsed := time.Since(start), processCPU()-cpu
		b.StopTimer()
		if x.Len() != y.Len() || x.t.PrefixFingerprint(x.Len()) != y.t.PrefixFingerprint(y.Len()) {
			b.Fatal("replicas differ after reconciliation")
		}
		naive := n * entrySize
		b.ReportMetric(float64(res.messages), "messages")
		b.ReportMetric(float64(res.bytes), "bytes")
		b.ReportMetric(float64(naive), "naive-bytes")
		b.ReportMetric(float64(naive)/float64(res.bytes), "naive/ours")
		b.ReportMetric(float64(res.alice.ValuesSent+res.bob.ValuesSent), "values-sent")
		b.ReportMetric(el.Seconds(), "s/reconcile")
		b.ReportMetric(cpuUsed.Seconds(), "cpu-s/reconcile")
		b.ReportMetric(float64(mem)/float64(1<<20), "MiB-two-indexes")
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
		b.StartTimer()
	}
}

// BenchmarkRangeFingerprint compares the fingerprint of a range of half a
// million entries from the tree (O(log n)) with a scan of the range (what
// Rust iroh's store does, O(n)).
func BenchmarkRangeFingerprint(b *testing.B) {
	const n = 1_000_000
	x, _ := buildPair(n, 0, 1)
	lo, hi := n/4, 3*n/4
	b.Run("tree", func(b *testing.B) {
		for b.Loop() {
			_ = EmptyFingerprint.Xor(x.t.PrefixFingerprint(hi)).Xor(x.t.PrefixFingerprint(lo))
		}
	})
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			fp := EmptyFingerprint
			k := 0
			x.t.Ascend(lo, func(e *item) bool {
				fp = fp.Xor(e.fp)
				k++
				return k < hi-lo
			})
		}
	})
}

// TestReconcileTraffic10k is a small version of the benchmark that runs
// with the tests: 1% of 10,000 different costs a small fraction of a
// naive exchange.
func TestReconcileTraffic10k(t *testing.T) {
	x, y := buildPair(10_000, 100, 9)
	res := reconcile(t, x, y)
	entrySize := len(itemCodec{}.AppendEntry(nil, newItem(make([]byte, 74), 1))) + 1
	naive := 10_000 * entrySize
	if !slices.Equal(x.dump(), y.dump()) {
		t.Fatal("replicas differ")
	}
	t.Logf("%d messages, %d bytes; naive %d bytes (%.1fx)", res.messages, res.bytes, naive, float64(naive)/float64(res.bytes))
	if res.bytes*5 > naive {
		t.Fatalf("%d bytes for 1%% differences, naive %d", res.bytes, naive)
	}
}
