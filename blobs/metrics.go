package blobs

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/metrics"
)

// Metrics are the Prometheus metrics of the provider and the downloader.
// Create them with NewMetrics; a nil *Metrics records nothing.
type Metrics struct {
	// ProviderRequests counts requests by type (get, get_many, observe,
	// push, invalid).
	ProviderRequests *prometheus.CounterVec
	// ProviderBytesSent counts response bytes written.
	ProviderBytesSent prometheus.Counter
	// ProviderTransfers counts finished requests by result (completed,
	// aborted, not_found, rejected, error).
	ProviderTransfers *prometheus.CounterVec
	// DownloadBytes counts verified bytes received by the downloader.
	DownloadBytes prometheus.Counter
	// Downloads counts downloads by result (ok, failed).
	Downloads *prometheus.CounterVec
	// DownloadProviderFailures counts providers given up on during a
	// download, by reason (connect, not_found, verify, io).
	DownloadProviderFailures *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		ProviderRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_blobs_provider_requests_total", Help: "Blob requests received, by type.",
		}, []string{"type"}),
		ProviderBytesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_blobs_provider_bytes_sent_total", Help: "Response bytes written by the blob provider.",
		}),
		ProviderTransfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_blobs_provider_transfers_total", Help: "Blob requests finished, by result.",
		}, []string{"result"}),
		DownloadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "iroh_blobs_download_bytes_total", Help: "Verified bytes received by the downloader.",
		}),
		Downloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_blobs_downloads_total", Help: "Downloads finished, by result.",
		}, []string{"result"}),
		DownloadProviderFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "iroh_blobs_download_provider_failures_total", Help: "Providers abandoned during a download, by reason.",
		}, []string{"reason"}),
	}
	for _, t := range []string{"get", "get_many", "observe", "push", "invalid"} {
		m.ProviderRequests.WithLabelValues(t)
	}
	for _, r := range []string{"completed", "aborted", "not_found", "rejected", "error"} {
		m.ProviderTransfers.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "failed"} {
		m.Downloads.WithLabelValues(r)
	}
	for _, r := range []string{"connect", "not_found", "verify", "io"} {
		m.DownloadProviderFailures.WithLabelValues(r)
	}
	m.ProviderRequests = metrics.Register(reg, m.ProviderRequests)
	m.ProviderBytesSent = metrics.Register(reg, m.ProviderBytesSent)
	m.ProviderTransfers = metrics.Register(reg, m.ProviderTransfers)
	m.DownloadBytes = metrics.Register(reg, m.DownloadBytes)
	m.Downloads = metrics.Register(reg, m.Downloads)
	m.DownloadProviderFailures = metrics.Register(reg, m.DownloadProviderFailures)
	return m
}
