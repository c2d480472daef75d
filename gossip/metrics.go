package gossip

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/gossip/proto"
	"github.com/iroh-go/iroh/metrics"
)

// Metrics are the gossip layer's Prometheus metrics. Several Gossip
// instances may share one Metrics.
type Metrics struct {
	// MessagesSent and MessagesRecv count protocol messages by type
	// (Join ... IHave) written to and read from connections.
	MessagesSent *prometheus.CounterVec
	MessagesRecv *prometheus.CounterVec
	// BytesSent and BytesRecv count frame bytes (with length prefixes).
	BytesSent prometheus.Counter
	BytesRecv prometheus.Counter
	// Drops counts what was dropped, by reason: "queue_full" (messages to
	// a peer whose send queue overflowed; the peer is dropped too),
	// "oversize" (a message too large to send), "bad_id" (Gossip whose id
	// is not its content's hash), "unknown_topic", "not_connected"
	// (queued for a peer whose dial failed).
	Drops *prometheus.CounterVec
	// ConnClosed counts connections we closed, by reason: "slow_peer",
	// "frame_too_large", "malformed", "superseded", "unused".
	ConnClosed *prometheus.CounterVec
	// Dials counts dial attempts by outcome: "ok", "error".
	Dials *prometheus.CounterVec
	// Connections counts connections established (dialed or accepted)
	// by protocol: "0.101" (/iroh-gossip/1), "0.35" (/iroh-gossip/0).
	Connections *prometheus.CounterVec
	// Peers is the number of peers with a connection.
	Peers prometheus.Gauge
	// Lagged counts events a slow subscriber missed.
	Lagged prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Collectors already registered by another instance are
// reused, never a panic.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		MessagesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_gossip_messages_sent_total", Help: "Gossip protocol messages written, by type.",
		}, []string{"type"}),
		MessagesRecv: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_gossip_messages_received_total", Help: "Gossip protocol messages read, by type.",
		}, []string{"type"}),
		BytesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_gossip_sent_bytes_total", Help: "Gossip frame bytes written.",
		}),
		BytesRecv: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_gossip_received_bytes_total", Help: "Gossip frame bytes read.",
		}),
		Drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_gossip_drops_total", Help: "Gossip messages dropped, by reason.",
		}, []string{"reason"}),
		ConnClosed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_gossip_connections_closed_total", Help: "Gossip connections closed by us, by reason.",
		}, []string{"reason"}),
		Dials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_gossip_dials_total", Help: "Gossip dial attempts, by outcome.",
		}, []string{"outcome"}),
		Connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_gossip_connections_total", Help: "Gossip connections established, by protocol version.",
		}, []string{"protocol"}),
		Peers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "iroh_gossip_peers", Help: "Peers with a gossip connection.",
		}),
		Lagged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_gossip_lagged_events_total", Help: "Events lost by slow subscribers.",
		}),
	}
	for t := proto.MsgJoin; t <= proto.MsgIHave; t++ {
		m.MessagesSent.WithLabelValues(t.String())
		m.MessagesRecv.WithLabelValues(t.String())
	}
	for _, r := range []string{"queue_full", "oversize", "bad_id", "unknown_topic", "not_connected"} {
		m.Drops.WithLabelValues(r)
	}
	for _, r := range []string{"slow_peer", "frame_too_large", "malformed", "superseded", "unused"} {
		m.ConnClosed.WithLabelValues(r)
	}
	for _, o := range []string{"ok", "error"} {
		m.Dials.WithLabelValues(o)
	}
	for _, p := range []string{"0.101", "0.35"} {
		m.Connections.WithLabelValues(p)
	}
	m.MessagesSent = metrics.Register(reg, m.MessagesSent)
	m.MessagesRecv = metrics.Register(reg, m.MessagesRecv)
	m.BytesSent = metrics.Register(reg, m.BytesSent)
	m.BytesRecv = metrics.Register(reg, m.BytesRecv)
	m.Drops = metrics.Register(reg, m.Drops)
	m.ConnClosed = metrics.Register(reg, m.ConnClosed)
	m.Dials = metrics.Register(reg, m.Dials)
	m.Connections = metrics.Register(reg, m.Connections)
	m.Peers = metrics.Register(reg, m.Peers)
	m.Lagged = metrics.Register(reg, m.Lagged)
	return m
}
