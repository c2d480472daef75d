package relayserver

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/internal/connlimit"
	"github.com/iroh-go/iroh/metrics"
)

// Drop reasons (label "reason" of DatagramDrops). A relay never tells the
// sender that a datagram was dropped.
const (
	// DropNoDestination: the destination EndpointID has no active connection.
	DropNoDestination = "no_destination"
	// DropQueueFull: the destination's send queue (512 frames) was full; the
	// new datagram is dropped, as in iroh-relay.
	DropQueueFull = "queue_full"
	// DropDisconnected: the destination went away with the frame queued.
	DropDisconnected = "disconnected"
)

// Disconnect reasons (label "reason" of Disconnects).
const (
	DisconnectClosed       = "closed"         // the client closed or the TCP connection ended
	DisconnectProtocol     = "protocol_error" // a frame that does not parse, wrong direction, unknown type
	DisconnectTooLarge     = "too_large"      // a WebSocket message above 1 MiB
	DisconnectWriteTimeout = "write_error"    // a write failed or took longer than 2 s
	DisconnectPongTimeout  = "pong_timeout"   // no Pong to the server's keepalive Ping
	DisconnectShutdown     = "shutdown"       // the server shut down
)

// Handshake outcomes (label "outcome" of Handshakes).
const (
	HandshakeOK           = "ok"            // authenticated and allowed
	HandshakeOKKeyingMat  = "ok_tls_export" // authenticated with the TLS exporter header
	HandshakeBadSignature = "bad_signature" // ClientAuth did not verify
	HandshakeDenied       = "denied"        // access control said no
	HandshakeBadUpgrade   = "bad_upgrade"   // HTTP upgrade request rejected
	HandshakeError        = "error"         // I/O error, timeout or malformed frame
)

// Metrics are the relay server's Prometheus metrics.
type Metrics struct {
	// Clients is the number of authenticated connections (active and inactive).
	Clients prometheus.Gauge
	// Accepts counts upgrade requests on /relay.
	Accepts prometheus.Counter
	// Handshakes counts finished handshakes by outcome.
	Handshakes *prometheus.CounterVec
	// Disconnects counts ended client connections by reason.
	Disconnects *prometheus.CounterVec
	// DatagramsForwarded and BytesForwarded count datagram frames (a batch
	// is one) and their contents bytes written to destinations.
	DatagramsForwarded prometheus.Counter
	BytesForwarded     prometheus.Counter
	// DatagramDrops counts datagram frames not delivered, by reason.
	DatagramDrops *prometheus.CounterVec
	// RateLimited counts the times a client's reader had to wait for its
	// rate limit.
	RateLimited prometheus.Counter
	// PingsSent counts the server's keepalive pings (timeouts are
	// Disconnects{reason="pong_timeout"}).
	PingsSent prometheus.Counter
	// STUNRequests counts STUN binding requests answered; STUNBad counts
	// UDP packets that were not binding requests.
	STUNRequests prometheus.Counter
	STUNBad      prometheus.Counter
	// ConnsRefused counts TCP connections closed at accept because of a
	// connection cap, by reason ("total", "per_ip").
	ConnsRefused *prometheus.CounterVec
	// Superseded counts connections closed because their endpoint id
	// opened too many newer ones (more than 16 inactive).
	Superseded prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Labelled series start at zero.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "iroh_relayserver_" + name, Help: help})
	}
	m := &Metrics{
		Clients: prometheus.NewGauge(prometheus.GaugeOpts{Name: "iroh_relayserver_clients",
			Help: "Authenticated client connections."}),
		Accepts:    c("accepts_total", "Upgrade requests on /relay."),
		Handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_relayserver_handshakes_total", Help: "Handshakes by outcome."}, []string{"outcome"}),
		Disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_relayserver_disconnects_total",
			Help: "Client connections ended, by reason."}, []string{"reason"}),
		DatagramsForwarded: c("datagrams_forwarded_total", "Datagram frames written to destinations."),
		BytesForwarded:     c("forwarded_bytes_total", "Datagram content bytes written to destinations."),
		DatagramDrops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_relayserver_datagram_drops_total",
			Help: "Datagram frames dropped, by reason."}, []string{"reason"}),
		RateLimited:  c("rate_limited_total", "Reads delayed by a client's rate limit."),
		PingsSent:    c("pings_sent_total", "Keepalive pings sent to clients."),
		STUNRequests: c("stun_requests_total", "STUN binding requests answered."),
		STUNBad:      c("stun_bad_packets_total", "UDP packets on the STUN port that were not binding requests."),
		ConnsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "iroh_relayserver_conns_refused_total",
			Help: "TCP connections closed at accept by a connection cap, by reason."}, []string{"reason"}),
		Superseded: c("superseded_total", "Connections closed because their endpoint id opened too many newer ones."),
	}
	for _, r := range []string{connlimit.ReasonTotal, connlimit.ReasonPerIP} {
		m.ConnsRefused.WithLabelValues(r)
	}
	for _, o := range []string{HandshakeOK, HandshakeOKKeyingMat, HandshakeBadSignature, HandshakeDenied, HandshakeBadUpgrade, HandshakeError} {
		m.Handshakes.WithLabelValues(o)
	}
	for _, r := range []string{DisconnectClosed, DisconnectProtocol, DisconnectTooLarge, DisconnectWriteTimeout, DisconnectPongTimeout, DisconnectShutdown} {
		m.Disconnects.WithLabelValues(r)
	}
	for _, r := range []string{DropNoDestination, DropQueueFull, DropDisconnected} {
		m.DatagramDrops.WithLabelValues(r)
	}
	m.Clients = metrics.Register(reg, m.Clients)
	m.Accepts = metrics.Register(reg, m.Accepts)
	m.Handshakes = metrics.Register(reg, m.Handshakes)
	m.Disconnects = metrics.Register(reg, m.Disconnects)
	m.DatagramsForwarded = metrics.Register(reg, m.DatagramsForwarded)
	m.BytesForwarded = metrics.Register(reg, m.BytesForwarded)
	m.DatagramDrops = metrics.Register(reg, m.DatagramDrops)
	m.RateLimited = metrics.Register(reg, m.RateLimited)
	m.PingsSent = metrics.Register(reg, m.PingsSent)
	m.STUNRequests = metrics.Register(reg, m.STUNRequests)
	m.STUNBad = metrics.Register(reg, m.STUNBad)
	m.ConnsRefused = metrics.Register(reg, m.ConnsRefused)
	m.Superseded = metrics.Register(reg, m.Superseded)
	return m
}
