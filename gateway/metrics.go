package gateway

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/metrics"
)

// Routes are the values of the route label.
var routes = []string{"blob", "collection", "ticket", "ipfs", "ipns", "other"}

// Metrics are the Prometheus metrics of a Gateway. Create them with
// NewMetrics; a nil *Metrics records nothing.
type Metrics struct {
	// Requests counts finished requests by route and status code.
	Requests *prometheus.CounterVec
	// ResponseBytes counts body bytes written, by route.
	ResponseBytes *prometheus.CounterVec
	// TimeToFirstByte observes the time from a request's arrival to the
	// first byte of its response (headers included), by route.
	TimeToFirstByte *prometheus.HistogramVec
	// RemoteBytes counts verified bytes fetched from providers on demand.
	RemoteBytes prometheus.Counter
	// RemoteFetches counts on-demand fetches by result (ok, failed,
	// refused, busy).
	RemoteFetches *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). A collector already registered under the same name is
// reused, so two gateways can share one registry; registration never panics.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_gateway_requests_total", Help: "HTTP requests served, by route and status code.",
		}, []string{"route", "status"}),
		ResponseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_gateway_response_bytes_total", Help: "Response body bytes written, by route.",
		}, []string{"route"}),
		TimeToFirstByte: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "iroh_gateway_time_to_first_byte_seconds", Help: "Time from request to the first response byte, by route.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"route"}),
		RemoteBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_gateway_remote_bytes_total", Help: "Verified bytes fetched from providers on demand.",
		}),
		RemoteFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_gateway_remote_fetches_total", Help: "On-demand fetches from providers, by result.",
		}, []string{"result"}),
	}
	for _, r := range routes {
		m.ResponseBytes.WithLabelValues(r)
		m.TimeToFirstByte.WithLabelValues(r)
		for _, s := range []int{200, 206, 304, 400, 404} {
			m.Requests.WithLabelValues(r, strconv.Itoa(s))
		}
	}
	for _, r := range []string{"ok", "failed", "refused", "busy"} {
		m.RemoteFetches.WithLabelValues(r)
	}
	m.Requests = metrics.Register(reg, m.Requests)
	m.ResponseBytes = metrics.Register(reg, m.ResponseBytes)
	m.TimeToFirstByte = metrics.Register(reg, m.TimeToFirstByte)
	m.RemoteBytes = metrics.Register(reg, m.RemoteBytes)
	m.RemoteFetches = metrics.Register(reg, m.RemoteFetches)
	return m
}
