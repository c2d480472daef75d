package blobs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/endpointaddr"
)

// benchSize is the payload of the transfer benchmarks (env
// IROH_BENCH_SIZE overrides; the README's comparison uses 1 GiB).
func benchSize() int64 {
	if s := os.Getenv("IROH_BENCH_SIZE"); s != "" {
		var n int64
		fmt.Sscan(s, &n)
		return n
	}
	return 256 << 20
}

func writeRandomFile(b testing.TB, path string, n int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	buf := randBytes(b, 1<<20)
	for w := int64(0); w < n; w += int64(len(buf)) {
		k := min(int64(len(buf)), n-w)
		buf[0]++
		f.Write(buf[:k])
	}
	f.Close()
}

// BenchmarkImport copies a file into a fresh fs store and computes its
// outboard (the blobs import path of `iroh send`).
func BenchmarkImport(b *testing.B) {
	n := benchSize()
	src := filepath.Join(b.TempDir(), "src.bin")
	writeRandomFile(b, src, n)
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s := openFS(b, b.TempDir())
		b.StartTimer()
		tt, err := s.AddFile(context.Background(), src)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		tt.Close()
		s.Close() // waits for the data to be durable
		b.StartTimer()
	}
}

// rawALPN is the baseline protocol: the server writes n bytes on a stream.
const rawALPN = "iroh-go/bench-raw/0"

type rawHandler struct{ buf []byte }

func (h rawHandler) Accept(ctx context.Context, conn *iroh.Connection) error {
	defer conn.Close(0, "")
	for {
		st, err := conn.AcceptStream(ctx)
		if err != nil {
			return nil
		}
		var req [8]byte
		io.ReadFull(st, req[:])
		n := int64(0)
		for i := range 8 {
			n |= int64(req[i]) << (8 * i)
		}
		for n > 0 {
			k := min(n, int64(len(h.buf)))
			if _, err := st.Write(h.buf[:k]); err != nil {
				break
			}
			n -= k
		}
		st.Close()
	}
}

// BenchmarkTransfer moves one blob between two endpoints over loopback,
// fs stores on both sides, and reports the ratio to a raw endpoint stream
// of the same size measured in the same run (goal >= 0.8).
func BenchmarkTransfer(b *testing.B) {
	ctx := context.Background()
	n := benchSize()
	src := filepath.Join(b.TempDir(), "src.bin")
	writeRandomFile(b, src, n)
	ps := openFS(b, b.TempDir())
	tt, err := ps.AddFile(ctx, src)
	if err != nil {
		b.Fatal(err)
	}
	defer tt.Close()
	ep := bind(b)
	r := iroh.NewRouter(ep).Handle(blobs.ALPN, blobs.NewProvider(ps, nil)).Handle(rawALPN, rawHandler{buf: make([]byte, 1<<20)})
	r.Start()
	defer r.Shutdown(ctx)

	// Baseline: raw stream of n bytes.
	cep := bind(b)
	conn, err := cep.Connect(ctx, ep.Addr(), rawALPN)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	st, _ := conn.OpenStream(ctx)
	var req [8]byte
	for i := range 8 {
		req[i] = byte(n >> (8 * i))
	}
	st.Write(req[:])
	st.Close()
	got, _ := io.Copy(io.Discard, st)
	rawRate := float64(got) / time.Since(start).Seconds()
	conn.Close(0, "")
	if got != n {
		b.Fatalf("raw stream: %d bytes", got)
	}

	b.SetBytes(n)
	b.ReportAllocs()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		gs := openFS(b, b.TempDir())
		d, _ := blobs.NewDownloader(gs, blobs.EndpointDialer(cep), nil)
		b.StartTimer()
		t0 := time.Now()
		got, err := d.Download(ctx, blobs.DownloadRequest{Content: tt.HashAndFormat(), Providers: []endpointaddr.Addr{ep.Addr()}})
		total += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		got.Close()
		d.Close()
		gs.Close()
		b.StartTimer()
	}
	rate := float64(n) * float64(b.N) / total.Seconds()
	b.ReportMetric(rawRate/1e6, "raw-MB/s")
	b.ReportMetric(rate/rawRate, "ratio-vs-raw-stream")
}

// BenchmarkCollection10k transfers a directory of 10,000 files of 10 KiB.
func BenchmarkCollection10k(b *testing.B) {
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "many")
	os.MkdirAll(dir, 0o755)
	buf := randBytes(b, 10<<10)
	for i := range 10000 {
		buf[0], buf[1] = byte(i), byte(i>>8)
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), buf, 0o644)
	}
	ps := openFS(b, b.TempDir())
	t0 := time.Now()
	_, root, err := store.AddDir(ctx, ps, dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(t0).Seconds(), "import-s")
	defer root.Close()
	ep := bind(b)
	r := iroh.NewRouter(ep).Handle(blobs.ALPN, blobs.NewProvider(ps, nil))
	r.Start()
	defer r.Shutdown(ctx)
	cep := bind(b)
	b.SetBytes(10000 * 10 << 10)
	for b.Loop() {
		b.StopTimer()
		gs := openFS(b, b.TempDir())
		d, _ := blobs.NewDownloader(gs, blobs.EndpointDialer(cep), nil)
		b.StartTimer()
		got, err := d.Download(ctx, blobs.DownloadRequest{Content: root.HashAndFormat(), Providers: []endpointaddr.Addr{ep.Addr()}})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		got.Close()
		d.Close()
		gs.Close()
		b.StartTimer()
	}
}

// BenchmarkReceive is the fetcher's side of a transfer without the network:
// a full-blob response held in memory is decoded, verified and written into
// a fresh fs store (finished, outboard included), on one stream.
func BenchmarkReceive(b *testing.B) {
	ctx := context.Background()
	n := benchSize()
	data := randBytes(b, int(n))
	h, ob := blobs.ComputeOutboard(data)
	var resp bytes.Buffer
	if err := bao.Encode(&resp, bytes.NewReader(data), uint64(n), bytes.NewReader(ob), bao.All()); err != nil {
		b.Fatal(err)
	}
	req := blobs.NewGetBlob(h)
	b.SetBytes(n)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		s, err := fs.Open(filepath.Join(b.TempDir(), fmt.Sprint(i)), nil)
		if err != nil {
			b.Fatal(err)
		}
		i++
		b.StartTimer()
		if err := blobs.ReceiveResponseForTest(s, req, []blobs.Hash{h}, bytes.NewReader(resp.Bytes())); err != nil {
			b.Fatal(err)
		}
		if err := s.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}
