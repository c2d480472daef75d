package relayserver_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/relay"
	"github.com/iroh-go/iroh/relay/relaytest"
)

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestRoutes(t *testing.T) {
	r := relaytest.Start(t, nil)
	base := strings.TrimSuffix(r.URL, "/")
	cases := []struct {
		path     string
		hdr      map[string]string
		status   int
		header   string
		value    string
		bodyHas  string
		noHeader string
	}{
		{path: "/ping", status: 200, header: "Access-Control-Allow-Origin", value: "*"},
		{path: "/generate_204", status: 204, noHeader: "X-Iroh-Response"},
		{path: "/generate_204", hdr: map[string]string{"X-Iroh-Challenge": "abc.DEF_12-3"}, status: 204, header: "X-Iroh-Response", value: "response abc.DEF_12-3"},
		{path: "/generate_204", hdr: map[string]string{"X-Iroh-Challenge": "bad challenge!"}, status: 204, noHeader: "X-Iroh-Response"},
		{path: "/generate_204", hdr: map[string]string{"X-Iroh-Challenge": strings.Repeat("a", 64)}, status: 204, noHeader: "X-Iroh-Response"},
		{path: "/healthz", status: 200, header: "Content-Type", value: "application/json", bodyHas: `"status":"ok"`},
		{path: "/", status: 200, header: "Content-Type", value: "text/html; charset=utf-8", bodyHas: "iroh relay"},
		{path: "/index.html", status: 200, bodyHas: "iroh relay"},
		{path: "/robots.txt", status: 200, bodyHas: "Disallow: /"},
		{path: "/nope", status: 404, bodyHas: "Not Found"},
		{path: "/relay", status: 400, bodyHas: "websocket"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			resp, body := get(t, base+c.path, c.hdr)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			if c.header != "" && resp.Header.Get(c.header) != c.value {
				t.Fatalf("%s: %q, want %q", c.header, resp.Header.Get(c.header), c.value)
			}
			if c.noHeader != "" && resp.Header.Get(c.noHeader) != "" {
				t.Fatalf("unexpected %s: %q", c.noHeader, resp.Header.Get(c.noHeader))
			}
			if !strings.Contains(body, c.bodyHas) {
				t.Fatalf("body %q lacks %q", body, c.bodyHas)
			}
			if !strings.HasPrefix(resp.Header.Get("Strict-Transport-Security"), "max-age=63072000") {
				t.Fatalf("no HSTS header")
			}
		})
	}
}

func TestUpgradeValidation(t *testing.T) {
	r := relaytest.Start(t, nil)
	t.Run("v2 preferred", func(t *testing.T) {
		rc, _ := dialRaw(t, r.Addr, "iroh-relay-v1, iroh-relay-v2", nil, nil)
		if rc == nil || rc.proto != relay.ProtocolV2 {
			t.Fatalf("got %+v", rc)
		}
	})
	t.Run("v1 only", func(t *testing.T) {
		rc, _ := dialRaw(t, r.Addr, "foo, iroh-relay-v1", nil, nil)
		if rc == nil || rc.proto != relay.ProtocolV1 {
			t.Fatalf("got %+v", rc)
		}
	})
	t.Run("no protocol", func(t *testing.T) {
		rc, resp := dialRaw(t, r.Addr, "", nil, nil)
		if rc != nil || resp.StatusCode != 400 {
			t.Fatalf("upgraded without a subprotocol")
		}
	})
	t.Run("unknown protocol", func(t *testing.T) {
		rc, resp := dialRaw(t, r.Addr, "iroh-relay-v3", nil, nil)
		if rc != nil || resp.StatusCode != 400 {
			t.Fatalf("upgraded with an unknown subprotocol")
		}
	})
	before := testutil.MetricValue(r.Server.Metrics().Handshakes.WithLabelValues("bad_upgrade"))
	t.Run("bad version", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+r.Addr+"/relay", nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Version", "12")
		req.Header.Set("Sec-WebSocket-Protocol", "iroh-relay-v2")
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Fatalf("status %d, version header %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Version"))
		}
	})
	t.Run("upgrade header case", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+r.Addr+"/relay", nil)
		req.Header.Set("Upgrade", "WebSocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Protocol", "iroh-relay-v2")
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("status %d for Upgrade: WebSocket", resp.StatusCode)
		}
	})
	if got := testutil.MetricValue(r.Server.Metrics().Handshakes.WithLabelValues("bad_upgrade")) - before; got < 2 {
		t.Fatalf("bad_upgrade counted %v times", got)
	}
}
