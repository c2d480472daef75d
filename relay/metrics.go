package relay

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/metrics"
)

// Metrics are the relay client's Prometheus metrics. Several clients may
// share one Metrics.
type Metrics struct {
	// SendDrops counts datagrams Send accepted but never wrote, by reason:
	// "queue_full" (oldest dropped for a newer one), "expired" (queued
	// longer than 3 s while disconnected), "closed" (Close with a queue).
	SendDrops *prometheus.CounterVec
	// Connects counts connection attempts by outcome: "ok", "error",
	// "denied" (the relay refused access; retried after minutes).
	Connects *prometheus.CounterVec
	// DatagramsSent and DatagramsRecv count datagram frames written to and
	// read from relays.
	DatagramsSent prometheus.Counter
	DatagramsRecv prometheus.Counter
	// BytesSent and BytesRecv count datagram contents bytes.
	BytesSent prometheus.Counter
	BytesRecv prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		SendDrops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_relay_send_drops_total", Help: "Datagrams dropped before being written to the relay, by reason.",
		}, []string{"reason"}),
		Connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_relay_connects_total", Help: "Relay connection attempts by outcome.",
		}, []string{"outcome"}),
		DatagramsSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_relay_datagrams_sent_total", Help: "Datagram frames written to relays.",
		}),
		DatagramsRecv: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_relay_datagrams_received_total", Help: "Datagram frames received from relays.",
		}),
		BytesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_relay_sent_bytes_total", Help: "Datagram bytes written to relays.",
		}),
		BytesRecv: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_relay_received_bytes_total", Help: "Datagram bytes received from relays.",
		}),
	}
	for _, r := range []string{"queue_full", "expired", "closed"} {
		m.SendDrops.WithLabelValues(r)
	}
	for _, o := range []string{"ok", "error", "denied"} {
		m.Connects.WithLabelValues(o)
	}
	m.SendDrops = metrics.Register(reg, m.SendDrops)
	m.Connects = metrics.Register(reg, m.Connects)
	m.DatagramsSent = metrics.Register(reg, m.DatagramsSent)
	m.DatagramsRecv = metrics.Register(reg, m.DatagramsRecv)
	m.BytesSent = metrics.Register(reg, m.BytesSent)
	m.BytesRecv = metrics.Register(reg, m.BytesRecv)
	return m
}
