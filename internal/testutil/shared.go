package testutil

import (
	"encoding/json"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedDir returns the directory holding the team's shared material (spec,
// vectors, interop harness, netsim). It is $IROH_SHARED if set, else the
// "shared" directory beside the repository root. The test fails if it is
// missing: vectors are never skipped silently.
func SharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("IROH_SHARED"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	d := filepath.Join(root, "..", "shared")
	if _, err := os.Stat(filepath.Join(d, "spec")); err != nil {
		t.Fatalf("shared directory not found at %s (set IROH_SHARED): %v", d, err)
	}
	abs, _ := filepath.Abs(d)
	return abs
}

// RepoRoot returns the module root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	abs, _ := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	return abs
}

// LoadVectors decodes shared/spec/vectors/<name> into v.
func LoadVectors(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(SharedDir(t), "spec", "vectors", name))
	if err != nil {
		t.Fatalf("read vectors: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode vectors %s: %v", name, err)
	}
}

// MetricValue returns the value of a Prometheus counter or gauge; it
// panics on a metric that cannot be read (a test bug).
func MetricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
