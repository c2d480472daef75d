package dnsserver

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/metrics"
)

// Metrics are the Prometheus metrics of a Server. Create them with
// NewMetrics; a nil *Metrics in Options means fresh, unregistered ones.
type Metrics struct {
	// PkarrPuts counts PUT /pkarr requests by result: stored, stale
	// (accepted but older than the stored packet), bad_key, bad_packet,
	// rate_limited, error.
	PkarrPuts *prometheus.CounterVec
	// PkarrGets counts GET /pkarr requests by result: found, not_found,
	// bad_key, error.
	PkarrGets *prometheus.CounterVec
	// DNSQueries counts DNS queries by transport (udp, tcp, https) and
	// response code (noerror, nxdomain, refused, formerr, servfail, notimp).
	DNSQueries *prometheus.CounterVec
	// StoredPackets is the number of packets in the store.
	StoredPackets prometheus.Gauge
	// Evictions counts packets evicted for being older than MaxAge.
	Evictions prometheus.Counter
}

var (
	putResults = []string{"stored", "stale", "bad_key", "bad_packet", "future", "rate_limited", "error"}
	getResults = []string{"found", "not_found", "bad_key", "error"}
	transports = []string{"udp", "tcp", "https"}
	rcodeNames = []string{"noerror", "nxdomain", "refused", "formerr", "servfail", "notimp"}
)

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Labelled series start at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		PkarrPuts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_dnsserver_pkarr_puts_total", Help: "PUT /pkarr requests by result.",
		}, []string{"result"}),
		PkarrGets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_dnsserver_pkarr_gets_total", Help: "GET /pkarr requests by result.",
		}, []string{"result"}),
		DNSQueries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_dnsserver_dns_queries_total", Help: "DNS queries by transport and response code.",
		}, []string{"transport", "rcode"}),
		StoredPackets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iroh_dnsserver_stored_packets", Help: "Signed packets in the store.",
		}),
		Evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_dnsserver_evictions_total", Help: "Packets evicted for age.",
		}),
	}
	for _, r := range putResults {
		m.PkarrPuts.WithLabelValues(r)
	}
	for _, r := range getResults {
		m.PkarrGets.WithLabelValues(r)
	}
	for _, t := range transports {
		for _, r := range rcodeNames {
			m.DNSQueries.WithLabelValues(t, r)
		}
	}
	m.PkarrPuts = metrics.Register(reg, m.PkarrPuts)
	m.PkarrGets = metrics.Register(reg, m.PkarrGets)
	m.DNSQueries = metrics.Register(reg, m.DNSQueries)
	m.StoredPackets = metrics.Register(reg, m.StoredPackets)
	m.Evictions = metrics.Register(reg, m.Evictions)
	return m
}
