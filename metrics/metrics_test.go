package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestRegisterShares(t *testing.T) {
	reg := prometheus.NewRegistry()
	newC := func() *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"k"})
	}
	a := Register(reg, newC())
	b := Register(reg, newC())
	if a != b {
		t.Fatal("second registration did not share the first collector")
	}
	a.WithLabelValues("v").Inc()
	b.WithLabelValues("v").Inc()
	var m dto.Metric
	if err := a.WithLabelValues("v").Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 2 {
		t.Fatalf("shared counter = %v, want 2", got)
	}
}

func TestRegisterClash(t *testing.T) {
	reg := prometheus.NewRegistry()
	Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "y_total", Help: "one"}))
	c, err := RegisterErr(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "y_total", Help: "two"}))
	if err == nil {
		t.Fatal("clash not reported")
	}
	c.Set(1) // still usable
}

func TestRegisterNil(t *testing.T) {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "z_total", Help: "z"})
	if Register(nil, c) != c {
		t.Fatal("nil registerer changed the collector")
	}
}
