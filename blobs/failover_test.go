package blobs_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/endpointaddr"
)

// corruptStoreFile flips one byte at off in the data file of h in an fs
// store directory, behind the store's back.
func corruptStoreFile(t *testing.T, dir string, h blobs.Hash, off int64) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "data", h.String()+".data"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x55
	f.WriteAt(b, off)
}

// TestFailoverCorruptProvider downloads from a provider whose stored data
// was corrupted and a good one. The bad data is detected at the first bad
// chunk group, never written, and the rest comes from the good provider.
func TestFailoverCorruptProvider(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := randBytes(t, 8<<20)
	h := blobs.ComputeHash(data)
	badDir := t.TempDir()
	bad := openFS(t, badDir)
	good := openFS(t, t.TempDir())
	for _, s := range []blobs.Store{bad, good} {
		tt, err := s.AddBytes(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		defer tt.Close()
	}
	bad.Sync(ctx)
	// One bad byte in each half of the blob, so whichever parts the split
	// gives the bad provider, one of them hits a bad chunk group.
	corruptStoreFile(t, badDir, h, 1<<20+5000)
	corruptStoreFile(t, badDir, h, 3<<20+5000)
	// Small parts so an 8 MiB blob is split: the first 1 MiB learns the
	// size, the other 7 MiB go out in four parts alternating providers.
	defer blobs.SetSplitForTest(1024, 512)()
	pb := startProvider(t, bad, nil)
	pg := startProvider(t, good, nil)

	for _, order := range []string{"bad-first", "good-first"} {
		t.Run(order, func(t *testing.T) {
			gs := openFS(t, t.TempDir())
			m := blobs.NewMetrics(prometheus.NewRegistry())
			d := newDownloader(t, gs, &blobs.DownloaderOptions{Metrics: m})
			provs := []endpointaddr.Addr{pb.addr(), pg.addr()}
			if order == "good-first" {
				provs[0], provs[1] = provs[1], provs[0]
			}
			var last blobs.DownloadProgress
			tt, err := d.Download(ctx, blobs.DownloadRequest{Content: blobs.HashAndFormat{Hash: h}, Providers: provs,
				OnProgress: func(p blobs.DownloadProgress) { last = p }})
			if err != nil {
				t.Fatal(err)
			}
			defer tt.Close()
			r, err := gs.OpenReader(ctx, h)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, r.Size())
			r.Data().ReadAt(got, 0)
			r.Close()
			if !bytes.Equal(got, data) {
				t.Fatal("downloaded data differs")
			}
			if n := counterValue(m.DownloadProviderFailures.WithLabelValues("verify")); n != 1 {
				t.Errorf("verify failures %v, want 1", n)
			}
			// Every verified byte was fetched once: what the bad provider
			// sent before the bad group was kept, not refetched.
			if last.Fetched != uint64(len(data)) {
				t.Errorf("fetched %d bytes, want exactly %d", last.Fetched, len(data))
			}
		})
	}
}

// TestFailoverMissingProvider: the first provider does not have the blob
// (or cannot be dialed); the download moves on.
func TestFailoverMissingProvider(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data := randBytes(t, 1<<20)
	empty := openFS(t, t.TempDir())
	full := openFS(t, t.TempDir())
	tt, _ := full.AddBytes(ctx, data)
	defer tt.Close()
	pe := startProvider(t, empty, nil)
	pf := startProvider(t, full, nil)
	gs := openFS(t, t.TempDir())
	d := newDownloader(t, gs, nil)
	got, err := d.Download(ctx, blobs.DownloadRequest{Content: tt.HashAndFormat(), Providers: []endpointaddr.Addr{pe.addr(), pf.addr()}})
	if err != nil {
		t.Fatal(err)
	}
	got.Close()
	// Only providers without it: a clear error.
	gs2 := openFS(t, t.TempDir())
	d2 := newDownloader(t, gs2, nil)
	_, err = d2.Download(ctx, blobs.DownloadRequest{Content: tt.HashAndFormat(), Providers: []endpointaddr.Addr{pe.addr()}})
	if err == nil {
		t.Fatal("download from a provider without the blob succeeded")
	}
	t.Logf("expected error: %v", err)
}

// TestCollectionSplitAcrossProviders: the children of a collection are
// fetched from two providers at once, both doing part of the work.
func TestCollectionSplitAcrossProviders(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var c blobs.Collection
	stores := []blobs.Store{openFS(t, t.TempDir()), openFS(t, t.TempDir())}
	for i := range 40 {
		data := randBytes(t, 1000+i*3000)
		for _, s := range stores {
			tt, err := s.AddBytes(ctx, data)
			if err != nil {
				t.Fatal(err)
			}
			defer tt.Close()
		}
		c = append(c, blobs.CollectionEntry{Name: fmt.Sprintf("f%02d", i), Hash: blobs.ComputeHash(data)})
	}
	var served [2]atomic.Int64
	var addrs []endpointaddr.Addr
	var root *blobs.TempTag
	for i, s := range stores {
		tt, err := store.AddCollection(ctx, s, c)
		if err != nil {
			t.Fatal(err)
		}
		defer tt.Close()
		root = tt
		p := startProvider(t, s, &blobs.ProviderOptions{OnEvent: func(ev blobs.ProviderEvent) {
			if ev.Kind == blobs.EventBlobSent {
				served[i].Add(1)
			}
		}})
		addrs = append(addrs, p.addr())
	}
	gs := openFS(t, t.TempDir())
	d := newDownloader(t, gs, nil)
	got, err := d.Download(ctx, blobs.DownloadRequest{Content: root.HashAndFormat(), Providers: addrs})
	if err != nil {
		t.Fatal(err)
	}
	got.Close()
	back, err := store.LoadCollection(ctx, gs, root.Hash())
	if err != nil || len(back) != len(c) {
		t.Fatalf("collection: %d entries, %v", len(back), err)
	}
	for _, e := range c {
		if bf, _ := gs.Bitfield(ctx, e.Hash); !bf.Complete() {
			t.Fatalf("%s incomplete", e.Name)
		}
	}
	if served[0].Load() == 0 || served[1].Load() == 0 {
		t.Errorf("blobs served per provider: %d, %d; want both > 0", served[0].Load(), served[1].Load())
	}
}
