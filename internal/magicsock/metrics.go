package magicsock

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/metrics"
)

// Metrics are the socket's Prometheus metrics. Labels come from small fixed
// sets: path kind (direct, relay), drop reason, probe outcome.
type Metrics struct {
	Remotes          prometheus.Counter
	RemotesForgotten prometheus.Counter
	SentBytes        *prometheus.CounterVec // by path
	RecvBytes        *prometheus.CounterVec // by path
	RecvPackets      prometheus.Counter
	GSOSends         prometheus.Counter // runs of packets sent in one system call
	// Initials counts QUIC Initials from unknown UDP sources by what
	// became of them: adopted (joined the remote whose relay copy of it
	// arrived), anonymous (handed to QUIC at once: no home relay), held
	// (waiting for a disco ping or the relay copy).
	Initials      *prometheus.CounterVec
	Dropped       *prometheus.CounterVec // by reason
	DiscoDropped  *prometheus.CounterVec // by reason
	Probes        *prometheus.CounterVec // by outcome
	PathChanges   *prometheus.CounterVec // by new path kind
	Upgrades      prometheus.Counter
	Downgrades    prometheus.Counter
	EventsDropped prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: none).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Remotes: prometheus.NewCounter(prometheus.CounterOpts{Name: "iroh_magicsock_remotes_total",
			Help: "Remote endpoints the socket has tracked."}),
		RemotesForgotten: prometheus.NewCounter(prometheus.CounterOpts{Name: "iroh_magicsock_remotes_forgotten_total",
			Help: "Remote endpoints forgotten after being idle."}),
		SentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_magicsock_sent_bytes_total",
			Help: "Bytes sent, by path kind."}, []string{"path"}),
		RecvBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_magicsock_recv_bytes_total",
			Help: "Payload bytes received, by path kind."}, []string{"path"}),
		RecvPackets: prometheus.NewCounter(prometheus.CounterOpts{Name: "iroh_magicsock_recv_packets_total",
			Help: "QUIC packets handed to QUIC."}),
		GSOSends: prometheus.NewCounter(prometheus.CounterOpts{Name: "iroh_magicsock_gso_sends_total",
			Help: "Runs of several QUIC packets sent to a direct path in one system call (UDP GSO)."}),
		Initials: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_magicsock_unknown_source_initials_total",
			Help: "QUIC Initials from unknown UDP sources, by outcome (adopted, anonymous, held)."}, []string{"outcome"}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_magicsock_dropped_packets_total",
			Help: "Packets dropped, by reason."}, []string{"reason"}),
		DiscoDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_magicsock_disco_dropped_total",
			Help: "Disco probe packets dropped, by reason (forged, replayed, malformed, rate_limited...)."}, []string{"reason"}),
		Probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_magicsock_probes_total",
			Help: "Disco probe events, by outcome."}, []string{"outcome"}),
		PathChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_magicsock_path_changes_total",
			Help: "Changes of a remote's path, by new path kind."}, []string{"path"}),
		Upgrades: prometheus.NewCounter(prometheus.CounterOpts{Name: "iroh_magicsock_path_upgrades_total",
			Help: "Changes to a direct path."}),
		Downgrades: prometheus.NewCounter(prometheus.CounterOpts{Name: "iroh_magicsock_path_downgrades_total",
			Help: "Changes away from a direct path."}),
		EventsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "iroh_magicsock_events_dropped_total",
			Help: "Path events lost by slow subscribers."}),
	}
	for _, p := range []string{"direct", "relay"} {
		m.SentBytes.WithLabelValues(p)
		m.RecvBytes.WithLabelValues(p)
	}
	for _, r := range []string{"unknown_source", "recv_queue_full", "unknown_destination", "no_path", "bad_stun", "relay_too_many_segments", "remote_limit", "remote_rate"} {
		m.Dropped.WithLabelValues(r)
	}
	for _, o := range []string{"adopted", "anonymous", "held"} {
		m.Initials.WithLabelValues(o)
	}
	for _, r := range []string{"forged", "replayed", "malformed", "rate_limited", "bad_key", "sender_mismatch", "call_me_maybe_not_via_relay", "too_many_paths"} {
		m.DiscoDropped.WithLabelValues(r)
	}
	m.Remotes = metrics.Register(reg, m.Remotes)
	m.RemotesForgotten = metrics.Register(reg, m.RemotesForgotten)
	m.SentBytes = metrics.Register(reg, m.SentBytes)
	m.RecvBytes = metrics.Register(reg, m.RecvBytes)
	m.RecvPackets = metrics.Register(reg, m.RecvPackets)
	m.GSOSends = metrics.Register(reg, m.GSOSends)
	m.Initials = metrics.Register(reg, m.Initials)
	m.Dropped = metrics.Register(reg, m.Dropped)
	m.DiscoDropped = metrics.Register(reg, m.DiscoDropped)
	m.Probes = metrics.Register(reg, m.Probes)
	m.PathChanges = metrics.Register(reg, m.PathChanges)
	m.Upgrades = metrics.Register(reg, m.Upgrades)
	m.Downgrades = metrics.Register(reg, m.Downgrades)
	m.EventsDropped = metrics.Register(reg, m.EventsDropped)
	return m
}
