package transport

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/metrics"
)

// Metrics are a Transport's Prometheus metrics. Several transports may
// share one Metrics.
type Metrics struct {
	// Connections counts connections whose handshake completed, by
	// side: "dialed", "accepted".
	Connections *prometheus.CounterVec
	// Closed counts connections that ended, by how: "local" (we
	// closed), "remote" (the peer closed), "idle" (idle or handshake
	// timeout), "reset" (stateless reset), "error" (a transport error).
	Closed *prometheus.CounterVec
	// DatagramsSent and DatagramsRecv count UDP datagrams (GSO and GRO
	// runs count each segment); BytesSent and BytesRecv their bytes.
	DatagramsSent prometheus.Counter
	DatagramsRecv prometheus.Counter
	BytesSent     prometheus.Counter
	BytesRecv     prometheus.Counter
	// StatelessReplies counts packets sent without a connection, by
	// kind: "reset", "version_negotiation", "retry".
	StatelessReplies *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_quic_connections_total", Help: "QUIC connections whose handshake completed, by side.",
		}, []string{"side"}),
		Closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_quic_connections_closed_total", Help: "QUIC connections that ended, by how.",
		}, []string{"how"}),
		DatagramsSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_quic_datagrams_sent_total", Help: "UDP datagrams sent.",
		}),
		DatagramsRecv: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_quic_datagrams_received_total", Help: "UDP datagrams received.",
		}),
		BytesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_quic_sent_bytes_total", Help: "UDP payload bytes sent.",
		}),
		BytesRecv: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_quic_received_bytes_total", Help: "UDP payload bytes received.",
		}),
		StatelessReplies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_quic_stateless_replies_total", Help: "Packets sent without a connection, by kind.",
		}, []string{"kind"}),
	}
	for _, s := range []string{"dialed", "accepted"} {
		m.Connections.WithLabelValues(s)
	}
	for _, h := range []string{"local", "remote", "idle", "reset", "error"} {
		m.Closed.WithLabelValues(h)
	}
	for _, k := range []string{"reset", "version_negotiation", "retry"} {
		m.StatelessReplies.WithLabelValues(k)
	}
	m.Connections = metrics.Register(reg, m.Connections)
	m.Closed = metrics.Register(reg, m.Closed)
	m.DatagramsSent = metrics.Register(reg, m.DatagramsSent)
	m.DatagramsRecv = metrics.Register(reg, m.DatagramsRecv)
	m.BytesSent = metrics.Register(reg, m.BytesSent)
	m.BytesRecv = metrics.Register(reg, m.BytesRecv)
	m.StatelessReplies = metrics.Register(reg, m.StatelessReplies)
	return m
}
