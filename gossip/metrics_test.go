package gossip

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsRegisterTwice: two instances on one registry share the
// collectors instead of panicking.
func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := NewMetrics(reg)
	b := NewMetrics(reg)
	a.Dials.WithLabelValues("ok").Inc()
	b.Dials.WithLabelValues("ok").Inc()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "iroh_gossip_dials_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "ok" && m.GetCounter().GetValue() != 2 {
					t.Fatalf("dials ok = %v, want 2 (shared)", m.GetCounter().GetValue())
				}
			}
			return
		}
	}
	t.Fatal("iroh_gossip_dials_total not registered")
}
