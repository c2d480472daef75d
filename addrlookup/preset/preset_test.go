package preset

import (
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/addrlookup/dnslookup"
	"github.com/iroh-go/iroh/addrlookup/pkarrlookup"
	"github.com/iroh-go/iroh/dnsserver"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestPublishThenResolve: one endpoint publishes through a Set to an
// in-process dnsserver, another resolves through a Set via DNS only, a
// third via the pkarr relay only.
func TestPublishThenResolve(t *testing.T) {
	srv, err := dnsserver.New(&dnsserver.Options{HTTPAddr: "127.0.0.1:0", DNSAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		Origins: []string{"irohdns.example."}, RateLimit: dnsserver.RateLimit{Mode: dnsserver.RateLimitDisabled}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	skA := key.NewSecretKey()
	a, err := New(skA, &Options{PkarrRelay: srv.PkarrURL(), PublishDirect: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.HasLookups() {
		t.Fatal("publish-only set has lookups")
	}
	u, _ := endpointaddr.ParseRelayURL("http://127.0.0.1:3340")
	info := addrlookup.EndpointInfo{ID: skA.Public(), RelayURLs: []endpointaddr.RelayURL{u},
		Direct: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4433")}}
	a.Update(info)

	viaDNS, err := New(key.NewSecretKey(), &Options{DNSOrigin: "irohdns.example.", DNSResolver: srv.DNSAddr().String(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer viaDNS.Close()
	viaPkarr, err := New(key.NewSecretKey(), &Options{PkarrRelay: srv.PkarrURL(), PkarrResolve: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer viaPkarr.Close()
	for name, s := range map[string]*Set{"dns": viaDNS, "pkarr": viaPkarr} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := s.Resolve(t.Context(), skA.Public())
			if err == nil {
				if !got.Equal(info) {
					t.Fatalf("%s: %+v", name, got)
				}
				break
			}
			if !errors.Is(err, addrlookup.ErrNotFound) || time.Now().After(deadline) {
				t.Fatalf("%s: %v", name, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if st := a.PublishStatus(); len(st) != 1 || st[0].Err != nil {
		t.Fatalf("publish status %+v", st)
	}
}

func TestPresets(t *testing.T) {
	n0 := N0Options()
	if n0.PkarrRelay != pkarrlookup.N0RelayURL || n0.DNSOrigin != dnslookup.N0Origin || !n0.PkarrResolve {
		t.Fatalf("n0 preset %+v", n0)
	}
	minimal, err := New(key.NewSecretKey(), &[]Options{MinimalOptions()}[0])
	if err != nil {
		t.Fatal(err)
	}
	defer minimal.Close()
	if _, err := minimal.Resolve(t.Context(), key.NewSecretKey().Public()); !errors.Is(err, addrlookup.ErrNotFound) {
		t.Fatalf("minimal: %v", err)
	}
	if _, err := New(key.NewSecretKey(), &Options{DNSResolver: "127.0.0.1:53"}); err == nil {
		t.Fatal("resolver without origin accepted")
	}
	if _, err := New(key.NewSecretKey(), &Options{PkarrRelay: "nope"}); err == nil {
		t.Fatal("bad relay URL accepted")
	}
}
