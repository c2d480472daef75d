package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c with reg and returns the collector to use: c
// itself, or, when reg already holds a collector with the same
// descriptors (a second endpoint in the same process, say), that existing
// collector, so both share one series. A nil reg leaves c unregistered. A
// collector whose name clashes with a different metric (other help text
// or labels) is left unregistered rather than panicking: it still counts,
// it just is not exported; RegisterErr reports that case.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	got, _ := RegisterErr(reg, c)
	return got
}

// RegisterErr is Register that also returns the error of a clash that left
// c unregistered.
func RegisterErr[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
