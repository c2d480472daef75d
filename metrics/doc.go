// Package metrics holds what iroh-go's packages share about Prometheus
// metrics. Each package keeps its own documented Metrics struct, built by
// its NewMetrics(prometheus.Registerer); this package makes registering
// them safe when a process has several endpoints, relay clients or servers
// on one registry: the second registration of a metric shares the first
// one's collector instead of panicking, so counters add up across them.
package metrics
