package mdns

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/metrics"
)

// Metrics are the Prometheus metrics of a Lookup. A nil *Metrics in
// Options means fresh, unregistered ones.
type Metrics struct {
	// Received counts packets by kind: query (for our service), response
	// (announcing at least one endpoint), other (valid DNS, nothing for
	// us), invalid (not DNS).
	Received *prometheus.CounterVec
	// Sent counts packets sent by kind: query, response, announce.
	Sent *prometheus.CounterVec
	// Dropped counts received packets dropped because the actor was
	// behind.
	Dropped prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Labelled series start at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_mdns_packets_received_total", Help: "mDNS packets received by kind.",
		}, []string{"kind"}),
		Sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_mdns_packets_sent_total", Help: "mDNS packets sent by kind.",
		}, []string{"kind"}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_mdns_packets_dropped_total", Help: "mDNS packets dropped because processing was behind.",
		}),
	}
	for _, k := range []string{"query", "response", "other", "invalid"} {
		m.Received.WithLabelValues(k)
	}
	for _, k := range []string{"query", "response", "announce"} {
		m.Sent.WithLabelValues(k)
	}
	m.Received = metrics.Register(reg, m.Received)
	m.Sent = metrics.Register(reg, m.Sent)
	m.Dropped = metrics.Register(reg, m.Dropped)
	return m
}
