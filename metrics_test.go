package iroh_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/internal/testutil"
)

// TestEndpointsShareRegisterer binds two endpoints on one Prometheus
// registry, as a process with several endpoints does: the second Bind must
// not panic on duplicate registration, and both count into shared series.
func TestEndpointsShareRegisterer(t *testing.T) {
	reg := prometheus.NewRegistry()
	var eps []*iroh.Endpoint
	for range 2 {
		ep, err := iroh.Bind(context.Background(), &iroh.Options{ALPNs: []string{"m"}, BindAddrV4: loopback4,
			DisableIPv6: true, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ep.Close(context.Background()) })
		eps = append(eps, ep)
	}
	done := echoOnce(t, eps[0])
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := eps[1].Connect(ctx, eps[0].Addr(), "m")
	if err != nil {
		t.Fatal(err)
	}
	s, err := conn.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bound(s)
	s.Write([]byte("x"))
	s.Close()
	if got, err := io.ReadAll(s); err != nil || string(got) != "x" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	conn.Close(0, "")
	if err := testutil.WaitFor(t, done, 30*time.Second, "echo server end"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "iroh_magicsock_sent_bytes_total" {
			for _, m := range mf.GetMetric() {
				if m.GetCounter().GetValue() > 0 {
					found = true
				}
			}
		}
		if !strings.HasPrefix(mf.GetName(), "iroh_") {
			t.Errorf("unexpected metric %s", mf.GetName())
		}
	}
	if !found {
		t.Error("iroh_magicsock_sent_bytes_total stayed zero for both endpoints")
	}
}
