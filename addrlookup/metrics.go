package addrlookup

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/metrics"
)

// Metrics are the Prometheus metrics of Combined lookups and publish
// loops. A nil *Metrics in the options means fresh, unregistered ones.
type Metrics struct {
	// Resolves counts Combined.Resolve calls by result: cached, found,
	// not_found, error.
	Resolves *prometheus.CounterVec
	// Publishes counts publish attempts of PublishLoops by result: ok,
	// error.
	Publishes *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Labelled series start at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Resolves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_addrlookup_resolves_total", Help: "Address lookups by result.",
		}, []string{"result"}),
		Publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_addrlookup_publishes_total", Help: "Publish attempts by result.",
		}, []string{"result"}),
	}
	for _, r := range []string{"cached", "found", "not_found", "error"} {
		m.Resolves.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.Publishes.WithLabelValues(r)
	}
	m.Resolves = metrics.Register(reg, m.Resolves)
	m.Publishes = metrics.Register(reg, m.Publishes)
	return m
}
