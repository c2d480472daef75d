package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/gateway"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serve starts a gateway over s on a real loopback socket.
func serve(t testing.TB, s blobs.Store, opts *gateway.Options) (*httptest.Server, *gateway.Gateway) {
	t.Helper()
	g, err := gateway.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		srv.Close()
		g.Close()
	})
	return srv, g
}

func addBytes(t testing.TB, s blobs.Store, b []byte) blobs.Hash {
	t.Helper()
	tt, err := s.AddBytes(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tt.Close() })
	return tt.HashAndFormat().Hash
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

type req struct {
	method string
	path   string
	hdr    map[string]string
}

func do(t testing.TB, srv *httptest.Server, r req) (*http.Response, []byte) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	// Bounded, so that a gateway stuck on a fetch fails the test rather
	// than hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, r.method, srv.URL+r.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.hdr {
		hr.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", r.method, r.path, err)
	}
	return resp, body
}

var pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

func TestBlobHeaders(t *testing.T) {
	s := mem.New()
	defer s.Close()
	data := append(append([]byte{}, pngHeader...), randBytes(100_000)...)
	h := addBytes(t, s, data)
	srv, _ := serve(t, s, nil)
	etag := `"` + h.String() + `"`
	p := "/blob/" + h.String()

	t.Run("get", func(t *testing.T) {
		resp, body := do(t, srv, req{path: p})
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
		}
		want := map[string]string{
			"ETag":                        etag,
			"Cache-Control":               "public, max-age=29030400, immutable",
			"Accept-Ranges":               "bytes",
			"Content-Type":                "image/png",
			"Content-Length":              fmt.Sprint(len(data)),
			"Access-Control-Allow-Origin": "*",
			"X-Content-Type-Options":      "nosniff",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: got %q, want %q", k, got, v)
			}
		}
		if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Content-Range") {
			t.Errorf("CORS expose headers %q lack Content-Range", resp.Header.Get("Access-Control-Expose-Headers"))
		}
	})
	t.Run("base32 hash and name", func(t *testing.T) {
		resp, body := do(t, srv, req{path: "/blob/" + h.Base32() + "/picture.txt"})
		if resp.StatusCode != 200 || !bytes.Equal(body, data) {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type from name: %q", ct)
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != `inline; filename=picture.txt` {
			t.Errorf("Content-Disposition %q", cd)
		}
	})
	t.Run("head", func(t *testing.T) {
		resp, body := do(t, srv, req{method: "HEAD", path: p})
		if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(data)) || resp.Header.Get("ETag") != etag {
			t.Fatalf("status %d len %d body %d", resp.StatusCode, resp.ContentLength, len(body))
		}
	})
	t.Run("if-none-match", func(t *testing.T) {
		for _, inm := range []string{etag, `"x", ` + etag, "W/" + etag, "*"} {
			resp, body := do(t, srv, req{path: p, hdr: map[string]string{"If-None-Match": inm}})
			if resp.StatusCode != 304 || len(body) != 0 || resp.Header.Get("ETag") != etag {
				t.Errorf("If-None-Match %s: status %d", inm, resp.StatusCode)
			}
		}
		resp, _ := do(t, srv, req{path: p, hdr: map[string]string{"If-None-Match": `"other"`}})
		if resp.StatusCode != 200 {
			t.Errorf("non-matching If-None-Match: status %d", resp.StatusCode)
		}
	})
	t.Run("range", func(t *testing.T) {
		resp, body := do(t, srv, req{path: p, hdr: map[string]string{"Range": "bytes=100-199"}})
		if resp.StatusCode != 206 || !bytes.Equal(body, data[100:200]) {
			t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
		}
		if cr := resp.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 100-199/%d", len(data)) {
			t.Errorf("Content-Range %q", cr)
		}
		resp, body = do(t, srv, req{path: p, hdr: map[string]string{"Range": "bytes=-10"}})
		if resp.StatusCode != 206 || !bytes.Equal(body, data[len(data)-10:]) {
			t.Errorf("suffix range: status %d", resp.StatusCode)
		}
	})
	t.Run("multi range", func(t *testing.T) {
		resp, body := do(t, srv, req{path: p, hdr: map[string]string{"Range": "bytes=0-9,50000-50009"}})
		mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != 206 || mt != "multipart/byteranges" {
			t.Fatalf("status %d type %q", resp.StatusCode, mt)
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for _, want := range [][]byte{data[:10], data[50000:50010]} {
			part, err := mr.NextPart()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(part)
			if !bytes.Equal(got, want) {
				t.Errorf("part %s: wrong bytes", part.Header.Get("Content-Range"))
			}
		}
	})
	t.Run("if-range", func(t *testing.T) {
		resp, body := do(t, srv, req{path: p, hdr: map[string]string{"Range": "bytes=0-9", "If-Range": etag}})
		if resp.StatusCode != 206 || len(body) != 10 {
			t.Errorf("matching If-Range: status %d", resp.StatusCode)
		}
		resp, body = do(t, srv, req{path: p, hdr: map[string]string{"Range": "bytes=0-9", "If-Range": `"stale"`}})
		if resp.StatusCode != 200 || len(body) != len(data) {
			t.Errorf("stale If-Range: status %d", resp.StatusCode)
		}
	})
	t.Run("download", func(t *testing.T) {
		resp, _ := do(t, srv, req{path: p + "?download=true&filename=a%20b.png"})
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="a b.png"` {
			t.Errorf("Content-Disposition %q", cd)
		}
	})
	t.Run("preflight", func(t *testing.T) {
		resp, _ := do(t, srv, req{method: "OPTIONS", path: p, hdr: map[string]string{"Origin": "http://x.example", "Access-Control-Request-Headers": "range"}})
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Range") {
			t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})
	bad := []struct {
		name   string
		r      req
		status int
		reason string
	}{
		{"bad hash", req{path: "/blob/xyz"}, 400, "invalid hash"},
		{"uppercase hex", req{path: "/blob/" + strings.ToUpper(h.String())}, 400, "uppercase"},
		{"missing", req{path: "/blob/" + blobs.ComputeHash([]byte("nope")).String()}, 404, "not found"},
		{"bad range", req{path: p, hdr: map[string]string{"Range": "bytes=x-1"}}, 400, "not a digit"},
		{"reversed range", req{path: p, hdr: map[string]string{"Range": "bytes=9-1"}}, 400, "before first"},
		{"unsatisfiable", req{path: p, hdr: map[string]string{"Range": "bytes=999999-"}}, 416, ""},
		{"post", req{method: "POST", path: p}, 405, "not allowed"},
		{"no route", req{path: "/nothing"}, 404, "no route"},
		{"ipns", req{path: "/ipns/example.com"}, 501, "not supported"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			resp, body := do(t, srv, c.r)
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.reason) {
				t.Errorf("status %d body %q, want %d %q", resp.StatusCode, body, c.status, c.reason)
			}
			if resp.Header.Get("ETag") != "" && c.status >= 400 {
				t.Errorf("error with ETag")
			}
		})
	}
}

func addCollection(t testing.TB, s blobs.Store, files map[string][]byte) blobs.Collection {
	t.Helper()
	var c blobs.Collection
	for name, b := range files {
		c = append(c, blobs.CollectionEntry{Name: name, Hash: addBytes(t, s, b)})
	}
	tt, err := store.AddCollection(t.Context(), s, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tt.Close() })
	return c
}

func TestCollection(t *testing.T) {
	s := mem.New()
	defer s.Close()
	files := map[string][]byte{
		"index.html":     []byte("<html><body>hi</body></html>"),
		"docs/a.txt":     []byte("alpha"),
		"docs/deep/b.js": []byte("let b = 1"),
		"we ird#name.md": []byte("# weird"),
	}
	c := addCollection(t, s, files)
	root := c.Root().Hash
	srv, _ := serve(t, s, nil)
	base := "/collection/" + root.String()

	resp, body := do(t, srv, req{path: base})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("listing: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{">index.html<", ">docs/<", `href="` + base + `/we%20ird%23name.md"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("listing lacks %s:\n%s", want, body)
		}
	}
	resp, body = do(t, srv, req{path: base + "/docs/", hdr: map[string]string{"Accept": "application/json"}})
	var l struct {
		Entries []struct {
			Name string
			Dir  bool
			Size uint64
			URL  string
		}
	}
	if err := json.Unmarshal(body, &l); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("json listing: %v %q", err, body)
	}
	if len(l.Entries) != 2 || l.Entries[0].Name != "a.txt" || l.Entries[0].Size != 5 || !l.Entries[1].Dir || l.Entries[1].Name != "deep" {
		t.Errorf("json listing of docs/: %+v", l.Entries)
	}
	for name, b := range files {
		resp, body := do(t, srv, req{path: base + "/" + escape(name)})
		if resp.StatusCode != 200 || !bytes.Equal(body, b) {
			t.Errorf("%s: %d %q", name, resp.StatusCode, body)
		}
		if name == "docs/a.txt" && resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", name, resp.Header.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/../x", "/docs/../index.html", "/docs//a.txt", "/%2e%2e/x", "/docs%5ca.txt", "/./index.html"} {
		resp, body := do(t, srv, req{path: base + p})
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d %q, want 400", p, resp.StatusCode, body)
		}
	}
	if resp, _ := do(t, srv, req{path: base + "/nothing"}); resp.StatusCode != 404 {
		t.Errorf("missing member: %d", resp.StatusCode)
	}
	if resp, _ := do(t, srv, req{path: "/collection/" + blobs.ComputeHash(nil).String()}); resp.StatusCode != 404 {
		t.Errorf("missing collection: %d", resp.StatusCode)
	}
}

func escape(name string) string {
	return strings.NewReplacer(" ", "%20", "#", "%23").Replace(name)
}

var loopback4 = netip.MustParseAddrPort("127.0.0.1:0")

func bind(t testing.TB) *iroh.Endpoint {
	t.Helper()
	ep, err := iroh.Bind(context.Background(), &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close(context.Background()) })
	return ep
}

// startProvider serves s over /iroh-bytes/4 on a real endpoint.
func startProvider(t testing.TB, s blobs.Store, h iroh.ProtocolHandler) *iroh.Endpoint {
	t.Helper()
	ep := bind(t)
	if h == nil {
		h = blobs.NewProvider(s, nil)
	}
	r := iroh.NewRouter(ep).Handle(blobs.ALPN, h)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Bounded: a handler that never returns leaves goroutines that
		// goleak reports, instead of hanging the cleanup.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Shutdown(ctx)
	})
	return ep
}
