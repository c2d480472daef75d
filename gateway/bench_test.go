package gateway_test

import (
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/gateway"
)

// benchSize is the blob served by BenchmarkServeBlob; IROH_GATEWAY_BENCH_MB
// overrides it (the figure is 1024).
func benchSize(b *testing.B) int64 {
	if v := os.Getenv("IROH_GATEWAY_BENCH_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		return int64(n) << 20
	}
	return 256 << 20
}

// BenchmarkServeBlob downloads one blob over loopback HTTP: through the
// gateway from an fs store, and the same file through http.ServeFile, in
// the same run; it reports the gateway's throughput as a ratio of
// ServeFile's.
func BenchmarkServeBlob(b *testing.B) {
	size := benchSize(b)
	dir := b.TempDir()
	path := filepath.Join(dir, "blob")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, err := fs.Open(filepath.Join(dir, "store"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tt, err := st.AddFile(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	defer tt.Close()
	h := tt.HashAndFormat().Hash
	g, err := gateway.New(st, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	gw := httptest.NewServer(g)
	defer gw.Close()
	sf := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) }))
	defer sf.Close()

	fetch := func(b *testing.B, url string) time.Duration {
		start := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("%s: %d bytes, %v", url, n, err)
		}
		return time.Since(start)
	}
	var gwT, sfT time.Duration
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		gwT += fetch(b, gw.URL+"/blob/"+h.String())
		sfT += fetch(b, sf.URL+"/blob")
	}
	b.ReportMetric(float64(sfT)/float64(gwT), "ratio-vs-servefile")
	b.ReportMetric(float64(size)*float64(b.N)/gwT.Seconds()/1e6, "gateway-MB/s")
	b.ReportMetric(float64(size)*float64(b.N)/sfT.Seconds()/1e6, "servefile-MB/s")
}
