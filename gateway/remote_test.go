package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/gateway"
)

// remoteSetup is a provider endpoint serving prov and a gateway with an
// empty store that may fetch from it.
type remoteSetup struct {
	prov    *mem.Store
	provEp  *iroh.Endpoint
	local   *mem.Store
	url     string
	metrics *gateway.Metrics
}

func newRemote(t *testing.T, handler iroh.ProtocolHandler) (*remoteSetup, func(r req) (*http.Response, []byte)) {
	t.Helper()
	rs := &remoteSetup{prov: mem.New(), local: mem.New()}
	t.Cleanup(func() { rs.prov.Close(); rs.local.Close() })
	rs.provEp = startProvider(t, rs.prov, handler)
	gwEp := bind(t)
	rs.metrics = gateway.NewMetrics(prometheus.NewRegistry())
	opts := &gateway.Options{
		Dial:          blobs.EndpointDialer(gwEp),
		AllowProvider: gateway.AllowProviders(rs.provEp.ID()),
		Metrics:       rs.metrics,
	}
	srv, _ := serve(t, rs.local, opts)
	rs.url = srv.URL
	return rs, func(r req) (*http.Response, []byte) { return do(t, srv, r) }
}

func (rs *remoteSetup) ticket(h blobs.Hash, f blobs.BlobFormat) string {
	return blobs.BlobTicket{Addr: rs.provEp.Addr(), Hash: h, Format: f}.String()
}

func TestTicketBlob(t *testing.T) {
	rs, get := newRemote(t, nil)
	data := randBytes(1 << 20)
	h := addBytes(t, rs.prov, data)
	p := "/ticket/" + rs.ticket(h, blobs.Raw)

	// One range: only the chunk groups covering it (and the last chunk,
	// which proves the size) are fetched.
	resp, body := get(req{path: p, hdr: map[string]string{"Range": "bytes=300000-300099"}})
	if resp.StatusCode != 206 || !bytes.Equal(body, data[300000:300100]) {
		t.Fatalf("range: status %d, %d bytes", resp.StatusCode, len(body))
	}
	if cr := resp.Header.Get("Content-Range"); cr != "bytes 300000-300099/1048576" {
		t.Errorf("Content-Range %q", cr)
	}
	bf, err := rs.local.Bitfield(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	if v := bf.VerifiedBytes(); bf.Complete() || v > 2*16384 {
		t.Errorf("after a 100-byte range the store holds %d verified bytes (complete %v), want at most two chunk groups", v, bf.Complete())
	}
	// HEAD needs the size only.
	resp, _ = get(req{method: "HEAD", path: p})
	if resp.StatusCode != 200 || resp.ContentLength != 1<<20 || resp.Header.Get("ETag") != `"`+h.String()+`"` {
		t.Errorf("HEAD: %d len %d", resp.StatusCode, resp.ContentLength)
	}
	// Conditional: the hash is the ETag, nothing is fetched.
	resp, _ = get(req{path: p, hdr: map[string]string{"If-None-Match": `"` + h.String() + `"`}})
	if resp.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}
	// The whole blob streams, and stays in the store.
	resp, body = get(req{path: p})
	if resp.StatusCode != 200 || !bytes.Equal(body, data) || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("get: status %d, %d bytes, type %q", resp.StatusCode, len(body), resp.Header.Get("Content-Type"))
	}
	if bf, _ := rs.local.Bitfield(t.Context(), h); !bf.Complete() {
		t.Errorf("blob not complete in the store after a full GET")
	}
	if got := testutil.ToFloat64(rs.metrics.RemoteBytes); got < 1<<20 {
		t.Errorf("remote bytes metric %v", got)
	}
	// Several ranges of a remote blob (now local) form a multipart body.
	resp, _ = get(req{path: p, hdr: map[string]string{"Range": "bytes=0-0,5-6"}})
	if resp.StatusCode != 206 {
		t.Errorf("multi range: %d", resp.StatusCode)
	}
}

func TestTicketMultiRangeRemote(t *testing.T) {
	rs, get := newRemote(t, nil)
	data := randBytes(200_000)
	h := addBytes(t, rs.prov, data)
	resp, body := get(req{path: "/ticket/" + rs.ticket(h, blobs.Raw), hdr: map[string]string{"Range": "bytes=0-0,100000-100001"}})
	if resp.StatusCode != 206 || !bytes.Contains(body, data[100000:100002]) {
		t.Errorf("multi range: %d", resp.StatusCode)
	}
}

func TestTicketCollection(t *testing.T) {
	rs, get := newRemote(t, nil)
	files := map[string][]byte{"a/one.txt": []byte("one"), "b.bin": randBytes(70_000)}
	c := addCollection(t, rs.prov, files)
	p := "/ticket/" + rs.ticket(c.Root().Hash, blobs.HashSeqFormat)
	resp, body := get(req{path: p + "/", hdr: map[string]string{"Accept": "text/html"}})
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(">b.bin<")) || !bytes.Contains(body, []byte(">a/<")) {
		t.Fatalf("listing: %d %s", resp.StatusCode, body)
	}
	for name, want := range files {
		resp, body := get(req{path: p + "/" + name})
		if resp.StatusCode != 200 || !bytes.Equal(body, want) {
			t.Errorf("%s: %d, %d bytes", name, resp.StatusCode, len(body))
		}
	}
	if resp, _ := get(req{path: p + "/a/../b.bin"}); resp.StatusCode != 400 {
		t.Errorf("escaping path: %d", resp.StatusCode)
	}
}

func TestTicketRefused(t *testing.T) {
	s := mem.New()
	defer s.Close()
	provEp := startProvider(t, mem.New(), nil)
	h := blobs.ComputeHash([]byte("x"))
	tk := blobs.BlobTicket{Addr: provEp.Addr(), Hash: h}.String()

	// Not an allowed provider: never dialed.
	dialed := false
	srv, _ := serve(t, s, &gateway.Options{Dial: func(ctx context.Context, a iroh.EndpointAddr) (blobs.Conn, error) {
		dialed = true
		return nil, errors.New("no")
	}})
	resp, body := do(t, srv, req{path: "/ticket/" + tk})
	if resp.StatusCode != 403 || dialed || !bytes.Contains(body, []byte("not allowed")) {
		t.Errorf("disallowed provider: %d %q dialed %v", resp.StatusCode, body, dialed)
	}
	// No dialer: the store only.
	srv2, _ := serve(t, s, &gateway.Options{AllowProvider: gateway.AllowAllProviders})
	if resp, _ := do(t, srv2, req{path: "/ticket/" + tk}); resp.StatusCode != 502 {
		t.Errorf("no dialer: %d", resp.StatusCode)
	}
	for _, bad := range []string{"blobxyz", "endpointabc", tk[:len(tk)-3]} {
		if resp, _ := do(t, srv, req{path: "/ticket/" + bad}); resp.StatusCode != 400 {
			t.Errorf("ticket %q: %d", bad, resp.StatusCode)
		}
	}
}

// TestTicketBadProvider: a provider whose data does not match the hash is
// cut off at the first bad chunk group; the HTTP client sees a broken
// transfer whose bytes are a correct prefix, never wrong bytes.
func TestTicketBadProvider(t *testing.T) {
	data := randBytes(300_000)
	h, ob := blobs.ComputeOutboard(data)
	var enc bytes.Buffer
	if err := bao.Encode(&enc, bytes.NewReader(data), uint64(len(data)), bytes.NewReader(ob), bao.All()); err != nil {
		t.Fatal(err)
	}
	corrupt := enc.Bytes()
	corrupt[len(corrupt)-50_000] ^= 1 // in a late chunk group
	handler := iroh.ProtocolHandlerFunc(func(ctx context.Context, conn *iroh.Connection) error {
		for {
			s, err := conn.AcceptStream(ctx)
			if err != nil {
				return nil
			}
			io.ReadAll(s)
			s.Write(corrupt)
			s.Close()
		}
	})
	rs, _ := newRemote(t, handler)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rs.url+"/ticket/"+rs.ticket(h, blobs.Raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("read %d bytes without error from a bad provider (status %d)", len(got), resp.StatusCode)
	}
	if !bytes.Equal(got, data[:len(got)]) || len(got) >= len(data) {
		t.Fatalf("got %d bytes that are not a strict prefix of the blob", len(got))
	}
	if bf, _ := rs.local.Bitfield(t.Context(), h); bf.Complete() {
		t.Errorf("bad data completed the blob in the store")
	}
}
