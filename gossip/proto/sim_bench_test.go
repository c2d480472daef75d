package proto

import (
	"testing"
	"time"
)

// BenchmarkSim1000 reports the Rust simulator's metrics at 1,000 peers:
// relative message redundancy (rmr), last delivery hop (ldh), missed
// deliveries, for one sender, many senders and everyone.
func BenchmarkSim1000(b *testing.B) {
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			var st BroadcastStats
			for b.Loop() {
				s := newSwarm(b, 1000, SimConfig{Seed: 1000})
				st = runScenario(s, sc)
			}
			b.ReportMetric(st.RMR, "rmr")
			b.ReportMetric(float64(st.LDH), "ldh-max")
			b.ReportMetric(st.MeanLDH, "ldh-mean")
			b.ReportMetric(float64(st.Missed), "missed")
			b.ReportMetric(float64(st.Latency)/float64(time.Millisecond), "sim-ms-last-delivery")
		})
	}
}
