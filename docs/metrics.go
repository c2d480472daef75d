package docs

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/metrics"
)

// Metrics are the Prometheus metrics of the store, the sync protocol and the
// engine. A nil *Metrics records nothing.
type Metrics struct {
	// EntriesInserted counts inserted entries by origin (local, remote).
	EntriesInserted *prometheus.CounterVec
	// EntriesRejected counts received entries refused, by reason
	// (signature, future, namespace, empty, key_size, newer_exists,
	// read_only).
	EntriesRejected *prometheus.CounterVec
	// Syncs counts finished sync sessions by role (initiator, acceptor) and
	// result (ok, aborted, error).
	Syncs *prometheus.CounterVec
	// SyncBytes counts sync frame bytes by direction (sent, received).
	SyncBytes *prometheus.CounterVec
	// ContentDownloads counts content downloads by result (ok, failed).
	ContentDownloads *prometheus.CounterVec
}

var rejectReasons = []string{"signature", "future", "namespace", "empty", "key_size", "newer_exists", "read_only"}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Registering twice with one registry reuses the collectors
// already there instead of panicking.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		EntriesInserted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_docs_entries_inserted_total", Help: "Entries inserted into replicas, by origin.",
		}, []string{"origin"}),
		EntriesRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_docs_entries_rejected_total", Help: "Received entries refused, by reason.",
		}, []string{"reason"}),
		Syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_docs_syncs_total", Help: "Sync sessions finished, by role and result.",
		}, []string{"role", "result"}),
		SyncBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_docs_sync_bytes_total", Help: "Sync frame bytes, by direction.",
		}, []string{"direction"}),
		ContentDownloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_docs_content_downloads_total", Help: "Content downloads of entries, by result.",
		}, []string{"result"}),
	}
	for _, o := range []string{"local", "remote"} {
		m.EntriesInserted.WithLabelValues(o)
	}
	for _, r := range rejectReasons {
		m.EntriesRejected.WithLabelValues(r)
	}
	for _, role := range []string{"initiator", "acceptor"} {
		for _, r := range []string{"ok", "aborted", "error"} {
			m.Syncs.WithLabelValues(role, r)
		}
	}
	for _, d := range []string{"sent", "received"} {
		m.SyncBytes.WithLabelValues(d)
	}
	for _, r := range []string{"ok", "failed"} {
		m.ContentDownloads.WithLabelValues(r)
	}
	m.EntriesInserted = metrics.Register(reg, m.EntriesInserted)
	m.EntriesRejected = metrics.Register(reg, m.EntriesRejected)
	m.Syncs = metrics.Register(reg, m.Syncs)
	m.SyncBytes = metrics.Register(reg, m.SyncBytes)
	m.ContentDownloads = metrics.Register(reg, m.ContentDownloads)
	return m
}

func (m *Metrics) inserted(o InsertOrigin, n int) {
	if m == nil || n == 0 {
		return
	}
	l := "local"
	if o == Remote {
		l = "remote"
	}
	m.EntriesInserted.WithLabelValues(l).Add(float64(n))
}

func (m *Metrics) rejected(err error) {
	if m == nil {
		return
	}
	m.EntriesRejected.WithLabelValues(rejectReason(err)).Inc()
}

func rejectReason(err error) string {
	switch {
	case errors.Is(err, ErrBadSignature):
		return "signature"
	case errors.Is(err, ErrFutureTimestamp):
		return "future"
	case errors.Is(err, ErrWrongNamespace):
		return "namespace"
	case errors.Is(err, ErrEmptyMismatch):
		return "empty"
	case errors.Is(err, ErrKeyTooLong):
		return "key_size"
	case errors.Is(err, ErrReadOnly):
		return "read_only"
	}
	return "newer_exists"
}
