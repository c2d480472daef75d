package blobs_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/endpointaddr"
)

// TestProviderMalformedRequests sends bad requests to a real provider:
// each is answered by a stream reset with the documented code, nothing
// crashes, and a good request still works afterwards.
func TestProviderMalformedRequests(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	data := randBytes(t, 50000)
	tt, _ := s.AddBytes(ctx, data)
	defer tt.Close()
	m := blobs.NewMetrics(prometheus.NewRegistry())
	var mu sync.Mutex
	var events []blobs.ProviderEvent
	p := startProvider(t, s, &blobs.ProviderOptions{Metrics: m, OnEvent: func(ev blobs.ProviderEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}})
	ep := bind(t)
	h := tt.Hash()
	huge := append([]byte{0}, h[:]...)
	huge = append(huge, bytes.Repeat([]byte{0}, blobs.MaxRequestSize)...)
	cases := []struct {
		name string
		req  []byte
		code uint64
	}{
		{"empty", nil, 3},
		{"reserved type 2", []byte{2, 1, 2, 3}, 3},
		{"unknown type 200", []byte{200}, 3},
		{"push", (&blobs.PushRequest{GetRequest: *blobs.NewGetBlob(h)}).AppendBinary(nil), 1},
		{"truncated hash", []byte{0, 1, 2, 3}, 3},
		{"truncated ranges", append(append([]byte{0}, h[:]...), 5, 0), 3},
		{"trailing bytes", append(blobs.NewGetBlob(h).AppendBinary(nil), 0), 3},
		{"get many huge count", []byte{9, 0xff, 0xff, 0xff, 0xff, 0x0f}, 3},
		{"bad varint", append(append([]byte{0}, h[:]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 3},
		{"too large", huge, 2},
		{"unknown hash", blobs.NewGetBlob(blobs.EmptyHash).AppendBinary(nil), 3},
		{"children of a raw blob", (&blobs.GetRequest{Hash: h, Ranges: bao.SeqFromRanges([]bao.ChunkRanges{{}, bao.All()})}).AppendBinary(nil), 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := rawExchange(t, ep, p.addr(), c.req)
			var se *iroh.StreamError
			if len(got) != 0 || !errors.As(err, &se) || uint64(se.Code) != c.code {
				t.Fatalf("got %d bytes, err %v; want reset with code %d", len(got), err, c.code)
			}
		})
	}
	// A get-many beyond its hashes stops; a get of children beyond the seq
	// stops: both are valid requests answered in full.
	gm := &blobs.GetManyRequest{Hashes: []blobs.Hash{h}, Ranges: bao.SeqFromRangesInfinite([]bao.ChunkRanges{bao.All()})}
	got, err := rawExchange(t, ep, p.addr(), gm.AppendBinary(nil))
	if err != nil || uint64(len(got)) != bao.EncodedLen(uint64(len(data)), bao.All()) {
		t.Fatalf("get many: %d bytes, %v", len(got), err)
	}
	got, err = rawExchange(t, ep, p.addr(), blobs.NewGetBlob(h).AppendBinary(nil))
	if err != nil || uint64(len(got)) != bao.EncodedLen(uint64(len(data)), bao.All()) {
		t.Fatalf("good request after bad ones: %d bytes, %v", len(got), err)
	}
	if n := counterValue(m.ProviderRequests.WithLabelValues("invalid")); n != 10 {
		t.Errorf("invalid requests metric %v, want 10", n)
	}
	if n := counterValue(m.ProviderTransfers.WithLabelValues("completed")); n != 2 {
		t.Errorf("completed transfers metric %v, want 2", n)
	}
	if n := counterValue(m.ProviderBytesSent); n < float64(2*len(data)) {
		t.Errorf("bytes sent metric %v", n)
	}
	mu.Lock()
	defer mu.Unlock()
	var done, sent int
	for _, ev := range events {
		switch ev.Kind {
		case blobs.EventDone:
			done++
		case blobs.EventBlobSent:
			sent++
		}
	}
	if done != 4 || sent != 2 {
		t.Errorf("events: %d done, %d blob-sent; want 4, 2", done, sent)
	}
}

// TestObserve watches a blob arrive on a provider through Observe.
func TestObserve(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := mem.New()
	doneEv := make(chan blobs.ProviderEvent, 1)
	p := startProvider(t, s, &blobs.ProviderOptions{OnEvent: func(ev blobs.ProviderEvent) {
		if ev.Kind == blobs.EventDone {
			doneEv <- ev
		}
	}})
	ep := bind(t)
	data := randBytes(t, 40000)
	h := blobs.ComputeHash(data)
	conn, err := ep.Connect(ctx, p.addr(), blobs.ALPN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(0, "")
	st, err := conn.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline, _ := ctx.Deadline()
	st.SetDeadline(deadline) // a frame that never comes fails the read, not hangs it
	st.Write((&blobs.ObserveRequest{Hash: h, Ranges: bao.All()}).AppendBinary(nil))
	st.Close()
	readFrame := func() blobs.ObserveItem {
		t.Helper()
		var buf []byte
		one := make([]byte, 1)
		for {
			if _, err := st.Read(one); err != nil {
				t.Fatal(err)
			}
			buf = append(buf, one[0])
			if it, _, err := blobs.ParseObserveFrame(buf); err == nil {
				return it
			}
		}
	}
	if it := readFrame(); !it.Ranges.IsEmpty() {
		t.Fatalf("first frame %+v, want empty", it)
	}
	tt, _ := s.AddBytes(ctx, data)
	defer tt.Close()
	if it := readFrame(); it.Size != uint64(len(data)) || !it.Ranges.IsAll() {
		t.Fatalf("second frame %+v, want complete", it)
	}
	// Stopping reading ends the provider's side promptly.
	st.CancelRead(0)
	select {
	case ev := <-doneEv:
		if ev.Type != blobs.RequestObserve {
			t.Errorf("done event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("provider kept observing after the getter stopped reading")
	}
}

var _ = endpointaddr.Addr{}

func counterValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var pb dto.Metric
	(<-ch).Write(&pb)
	return pb.GetCounter().GetValue()
}
