package blobs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/mem"
)

func addBlobs(t *testing.T, s blobs.Store, n int) ([]blobs.Hash, map[blobs.Hash][]byte) {
	t.Helper()
	data := map[blobs.Hash][]byte{}
	var hs []blobs.Hash
	for i := range n {
		b := fmt.Appendf(nil, "blob %d ", i)
		if i%500 == 7 {
			b = append(b, randBytes(t, 40000)...) // several chunk groups
		}
		tt, err := s.AddBytes(t.Context(), b)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tt.Close() })
		hs = append(hs, tt.Hash())
		data[tt.Hash()] = b
	}
	return hs, data
}

func readAll(t *testing.T, s blobs.Store, h blobs.Hash) []byte {
	t.Helper()
	r, err := s.OpenReader(t.Context(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := make([]byte, r.Size())
	if _, err := r.Data().ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

// TestDownloadMany fetches more blobs than one GetMany request carries,
// then again (nothing to fetch), then from a provider lacking one.
func TestDownloadMany(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ps := mem.New()
	hs, data := addBlobs(t, ps, blobs.MaxDownloadManyRequest+300)
	p := startProvider(t, ps, nil)
	gs := mem.New()
	d := newDownloader(t, gs, nil)
	// A duplicate and one blob already present locally.
	if _, err := gs.AddBytes(ctx, data[hs[3]]); err != nil {
		t.Fatal(err)
	}
	n, err := d.DownloadMany(ctx, p.addr(), append(slices.Clone(hs), hs[0]))
	if err != nil || n != len(hs) {
		t.Fatalf("DownloadMany: %d of %d, %v", n, len(hs), err)
	}
	for _, h := range hs {
		if !bytes.Equal(readAll(t, gs, h), data[h]) {
			t.Fatalf("blob %s differs", h.ShortString())
		}
	}
	if n, err := d.DownloadMany(ctx, p.addr(), hs); err != nil || n != len(hs) {
		t.Fatalf("second DownloadMany: %d of %d, %v", n, len(hs), err)
	}

	// The provider lacks one: it resets the stream there, so at most the
	// blobs before it (in hash order) arrive (a reset may discard some in
	// flight); those that did are stored and counted.
	ps2 := mem.New()
	hs2, _ := addBlobs(t, ps2, 50)
	missing := blobs.ComputeHash([]byte("not there"))
	p2 := startProvider(t, ps2, nil)
	gs2 := mem.New()
	d2 := newDownloader(t, gs2, nil)
	all := append(slices.Clone(hs2), missing)
	n, err = d2.DownloadMany(ctx, p2.addr(), all)
	var pe *blobs.ProviderError
	if !errors.As(err, &pe) || pe.Provider != p2.ep.ID() {
		t.Fatalf("DownloadMany with a missing blob: %d, %v", n, err)
	}
	slices.SortFunc(all, func(a, b blobs.Hash) int { return slices.Compare(a[:], b[:]) })
	before := slices.Index(all, missing)
	complete := 0
	for i, h := range all {
		if bf, _ := gs2.Bitfield(ctx, h); bf.Complete() {
			complete++
			if i >= before {
				t.Fatalf("blob %d complete, after the missing one (%d)", i, before)
			}
		}
	}
	if n != complete || n > before {
		t.Fatalf("DownloadMany says %d complete, the store %d (%d before the missing one)", n, complete, before)
	}
}

// TestDownloadManyEmptyResponse: a provider that answers GetMany with an
// empty, cleanly finished stream (as iroh-blobs 0.35 does) gives
// ErrEmptyResponse.
func TestDownloadManyEmptyResponse(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ep := bind(t)
	r := iroh.NewRouter(ep).Handle(blobs.ALPN, iroh.ProtocolHandlerFunc(func(ctx context.Context, c *iroh.Connection) error {
		for {
			st, err := c.AcceptStream(ctx)
			if err != nil {
				return nil
			}
			io.Copy(io.Discard, st)
			st.Close()
		}
	}))
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
	d := newDownloader(t, mem.New(), nil)
	n, err := d.DownloadMany(ctx, ep.Addr(), []blobs.Hash{blobs.ComputeHash([]byte("a")), blobs.ComputeHash([]byte("b"))})
	if n != 0 || !errors.Is(err, blobs.ErrEmptyResponse) {
		t.Fatalf("DownloadMany from an empty responder: %d, %v", n, err)
	}
}
