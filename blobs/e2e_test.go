package blobs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/endpointaddr"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("IROH_BLOBS_TEST_CHILD"); mode != "" {
		os.Exit(childMain(mode))
	}
	goleak.VerifyTestMain(m)
}

var loopback4 = netip.MustParseAddrPort("127.0.0.1:0")

func bind(t testing.TB) *iroh.Endpoint {
	t.Helper()
	ep, err := iroh.Bind(context.Background(), &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close(context.Background()) })
	return ep
}

// providerNode is a real endpoint serving a store over /iroh-bytes/4.
type providerNode struct {
	ep     *iroh.Endpoint
	store  blobs.Store
	prov   *blobs.Provider
	router *iroh.Router
}

func startProvider(t testing.TB, s blobs.Store, opts *blobs.ProviderOptions) *providerNode {
	t.Helper()
	ep := bind(t)
	p := blobs.NewProvider(s, opts)
	r := iroh.NewRouter(ep).Handle(blobs.ALPN, p)
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
	return &providerNode{ep: ep, store: s, prov: p, router: r}
}

func (p *providerNode) addr() endpointaddr.Addr { return p.ep.Addr() }

func newDownloader(t testing.TB, s blobs.Store, opts *blobs.DownloaderOptions) *blobs.Downloader {
	t.Helper()
	ep := bind(t)
	d, err := blobs.NewDownloader(s, blobs.EndpointDialer(ep), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openFS(t testing.TB, dir string) *fs.Store {
	t.Helper()
	s, err := fs.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestTransferBlob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := randBytes(t, 3<<20+12345)
	src := filepath.Join(t.TempDir(), "src.bin")
	os.WriteFile(src, data, 0o644)
	for _, kind := range []string{"mem", "fs"} {
		t.Run(kind, func(t *testing.T) {
			var ps blobs.Store = mem.New()
			if kind == "fs" {
				ps = openFS(t, t.TempDir())
			}
			tt, err := ps.AddFile(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			defer tt.Close()
			if tt.Hash() != blobs.ComputeHash(data) {
				t.Fatalf("import hash %s, want %s", tt.Hash(), blobs.ComputeHash(data))
			}
			p := startProvider(t, ps, nil)
			gs := openFS(t, t.TempDir())
			d := newDownloader(t, gs, nil)
			var last blobs.DownloadProgress
			got, err := d.Download(ctx, blobs.DownloadRequest{
				Content:    tt.HashAndFormat(),
				Providers:  []endpointaddr.Addr{p.addr()},
				OnProgress: func(pr blobs.DownloadProgress) { last = pr },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			if !last.Done || last.Fetched != uint64(len(data)) || last.Total != uint64(len(data)) {
				t.Errorf("final progress %+v", last)
			}
			out := filepath.Join(t.TempDir(), "out.bin")
			if err := gs.ExportFile(ctx, tt.Hash(), out); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(out)
			if !bytes.Equal(b, data) {
				t.Fatal("exported data differs")
			}
			// The downloaded blob can be served again (outboard is complete).
			r, err := gs.OpenReader(ctx, tt.Hash())
			if err != nil {
				t.Fatal(err)
			}
			ob := make([]byte, blobs.OutboardSize(uint64(len(data))))
			r.Outboard().ReadAt(ob, 0)
			r.Close()
			_, want := blobs.ComputeOutboard(data)
			if !bytes.Equal(ob, want) {
				t.Fatal("outboard differs")
			}
		})
	}
}

func TestTransferCollection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "tree")
	files := map[string][]byte{
		"a.txt":          []byte("hello"),
		"empty":          {},
		"sub/big.bin":    randBytes(t, 1<<20+7),
		"sub/deep/x.bin": randBytes(t, 20000),
	}
	for i := range 50 {
		files[filepath.Join("many", string(rune('a'+i%26))+string(rune('a'+i/26))+".txt")] = randBytes(t, i*300)
	}
	for n, b := range files {
		p := filepath.Join(dir, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, b, 0o644)
	}
	ps := openFS(t, t.TempDir())
	c, root, err := store.AddDir(ctx, ps, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if len(c) != len(files) {
		t.Fatalf("collection has %d entries, want %d", len(c), len(files))
	}
	p := startProvider(t, ps, &blobs.ProviderOptions{OnEvent: logEvents(t)})
	gs := openFS(t, t.TempDir())
	d := newDownloader(t, gs, nil)
	got, err := d.Download(ctx, blobs.DownloadRequest{Content: root.HashAndFormat(), Providers: []endpointaddr.Addr{p.addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	gc, err := store.LoadCollection(ctx, gs, root.Hash())
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := store.ExportCollection(ctx, gs, gc, out); err != nil {
		t.Fatal(err)
	}
	for n, want := range files {
		b, err := os.ReadFile(filepath.Join(out, "tree", n))
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s: differs (err %v)", n, err)
		}
	}
}

func logEvents(t testing.TB) func(blobs.ProviderEvent) {
	return func(ev blobs.ProviderEvent) {
		if ev.Err != nil {
			t.Logf("provider event %d %s %s: %v", ev.Kind, ev.Type, ev.Hash.ShortString(), ev.Err)
		}
	}
}
