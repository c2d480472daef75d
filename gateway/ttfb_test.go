package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/gateway"
)

// BenchmarkTicketTTFB measures the time to the first verified byte of a
// blob fetched on demand from another endpoint: through the gateway (HTTP
// request to first body byte, a fresh gateway and connection each time)
// and through the downloader that `iroh receive` uses (download start to
// the first verified chunk in the store, a fresh downloader and connection
// each time), in the same run, over loopback.
func BenchmarkTicketTTFB(b *testing.B) {
	prov := mem.New()
	defer prov.Close()
	data := randBytes(64 << 20)
	tt, err := prov.AddBytes(b.Context(), data)
	if err != nil {
		b.Fatal(err)
	}
	defer tt.Close()
	h := tt.HashAndFormat().Hash
	provEp := startProvider(b, prov, nil)
	clientEp := bind(b)
	tk := blobs.BlobTicket{Addr: provEp.Addr(), Hash: h}.String()

	gatewayTTFB := func() time.Duration {
		s := mem.New()
		defer s.Close()
		g, err := gateway.New(s, &gateway.Options{Dial: blobs.EndpointDialer(clientEp), AllowProvider: gateway.AllowAllProviders})
		if err != nil {
			b.Fatal(err)
		}
		defer g.Close()
		srv := httptest.NewServer(g)
		defer srv.Close()
		start := time.Now()
		resp, err := http.Get(srv.URL + "/ticket/" + tk)
		if err != nil {
			b.Fatal(err)
		}
		one := make([]byte, 1)
		if _, err := resp.Body.Read(one); err != nil || one[0] != data[0] {
			b.Fatalf("first byte: %v", err)
		}
		d := time.Since(start)
		resp.Body.Close()
		return d
	}
	receiveTTFB := func() time.Duration {
		s := mem.New()
		defer s.Close()
		dl, err := blobs.NewDownloader(s, blobs.EndpointDialer(clientEp), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer dl.Close()
		ctx, cancel := context.WithCancel(b.Context())
		defer cancel()
		start := time.Now()
		errc := make(chan error, 1)
		go func() {
			_, err := dl.Download(ctx, blobs.DownloadRequest{Content: blobs.HashAndFormat{Hash: h}, Providers: []endpointaddr.Addr{provEp.Addr()}})
			errc <- err
		}()
		var d time.Duration
		errFirst := errors.New("first")
		s.Observe(ctx, h, func(bf blobs.Bitfield) error {
			if bf.VerifiedBytes() > 0 {
				d = time.Since(start)
				return errFirst
			}
			return nil
		})
		cancel()
		<-errc
		return d
	}
	var gw, rx time.Duration
	i := 0
	for b.Loop() {
		// Alternate the order: the second connection of a round may find
		// the path already known.
		if i%2 == 0 {
			gw += gatewayTTFB()
			rx += receiveTTFB()
		} else {
			rx += receiveTTFB()
			gw += gatewayTTFB()
		}
		i++
	}
	n := float64(b.N)
	b.ReportMetric(float64(gw.Microseconds())/n/1000, "gateway-ttfb-ms")
	b.ReportMetric(float64(rx.Microseconds())/n/1000, "receive-ttfb-ms")
	b.ReportMetric(float64(gw-rx)/n/1e6, "extra-ms")
}
