package gateway_test

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/gateway"
)

func TestMetricsAndAccessLog(t *testing.T) {
	s := mem.New()
	defer s.Close()
	h := addBytes(t, s, []byte("metrics"))
	reg := prometheus.NewRegistry()
	m := gateway.NewMetrics(reg)
	if m2 := gateway.NewMetrics(reg); m2.Requests != m.Requests {
		t.Errorf("second NewMetrics on one registry did not reuse the collectors")
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	srv, _ := serve(t, s, &gateway.Options{Metrics: m, Logger: log, AccessLog: true})
	do(t, srv, req{path: "/blob/" + h.String()})
	do(t, srv, req{path: "/blob/bad"})
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("blob", "200")); got != 1 {
		t.Errorf("blob 200 count %v", got)
	}
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("blob", "400")); got != 1 {
		t.Errorf("blob 400 count %v", got)
	}
	if got := testutil.ToFloat64(m.ResponseBytes.WithLabelValues("blob")); got < 7 {
		t.Errorf("bytes %v", got)
	}
	if n := testutil.CollectAndCount(m.TimeToFirstByte, "iroh_gateway_time_to_first_byte_seconds"); n == 0 {
		t.Errorf("no time-to-first-byte series")
	}
	for _, want := range []string{"msg=request", "path=/blob/" + h.String(), "status=200", "status=400", "component=gateway"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("access log lacks %q:\n%s", want, logs.String())
		}
	}
}

// startServer runs NewServer for the gateway on a loopback listener.
func startServer(t *testing.T, tune func(*http.Server)) string {
	t.Helper()
	s := mem.New()
	t.Cleanup(func() { s.Close() })
	g, err := gateway.New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := gateway.NewServer(ln.Addr().String(), g)
	if srv.ReadHeaderTimeout <= 0 || srv.MaxHeaderBytes <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("NewServer without limits: %+v", srv)
	}
	if tune != nil {
		tune(srv)
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done; g.Close() })
	return ln.Addr().String()
}

func TestServerLimits(t *testing.T) {
	t.Run("huge header", func(t *testing.T) {
		addr := startServer(t, nil)
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("64 KiB header: %d, want 431", resp.StatusCode)
		}
	})
	t.Run("slowloris", func(t *testing.T) {
		// The header timeout, shortened for the test, cuts a client that
		// never finishes its headers.
		addr := startServer(t, func(s *http.Server) { s.ReadHeaderTimeout = 300 * time.Millisecond })
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
		stop := time.AfterFunc(100*time.Millisecond, func() { c.Write([]byte("X-A: 1\r\n")) })
		defer stop.Stop()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("slow client held the connection %v", d)
		}
		if strings.Contains(line, "200") {
			t.Errorf("slow client served: %q", line)
		}
	})
}
