package pkarrlookup

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/dnsserver"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startServer(t *testing.T) *dnsserver.Server {
	t.Helper()
	s, err := dnsserver.New(&dnsserver.Options{HTTPAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		RateLimit: dnsserver.RateLimit{Mode: dnsserver.RateLimitDisabled}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testInfo(t *testing.T, sk key.SecretKey) addrlookup.EndpointInfo {
	u, err := endpointaddr.ParseRelayURL("http://127.0.0.1:3340")
	if err != nil {
		t.Fatal(err)
	}
	return addrlookup.EndpointInfo{ID: sk.Public(), RelayURLs: []endpointaddr.RelayURL{u},
		Direct: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4433")}, UserData: "hello"}
}

func TestPublishResolve(t *testing.T) {
	s := startServer(t)
	sk := key.NewSecretKey()
	info := testInfo(t, sk)
	for _, direct := range []bool{false, true} {
		pub, err := NewPublisher(sk, &PublisherOptions{RelayURL: s.PkarrURL(), PublishDirect: direct})
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(t.Context(), info); err != nil {
			t.Fatal(err)
		}
		res, err := NewResolver(&ResolverOptions{RelayURL: s.PkarrURL() + "/"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := res.Resolve(t.Context(), sk.Public())
		if err != nil {
			t.Fatal(err)
		}
		want := info
		if !direct {
			want.Direct = nil // iroh's default: relay URLs only
		}
		if !got.Equal(want) || got.TTL != pkarr.DefaultTTL*time.Second {
			t.Fatalf("direct=%v: got %+v, want %+v", direct, got, want)
		}
	}
	// Unknown ids are ErrNotFound.
	res, _ := NewResolver(&ResolverOptions{RelayURL: s.PkarrURL()})
	if _, err := res.Resolve(t.Context(), key.NewSecretKey().Public()); !errors.Is(err, addrlookup.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	// Publishing someone else's info is refused locally.
	pub, _ := NewPublisher(sk, &PublisherOptions{RelayURL: s.PkarrURL()})
	other := testInfo(t, key.NewSecretKey())
	if err := pub.Publish(t.Context(), other); err == nil {
		t.Fatal("published another id's info")
	}
}

// TestPublishLoopAgainstServer drives a real publisher with PublishLoop.
func TestPublishLoopAgainstServer(t *testing.T) {
	s := startServer(t)
	sk := key.NewSecretKey()
	pub, _ := NewPublisher(sk, &PublisherOptions{RelayURL: s.PkarrURL(), PublishDirect: true})
	loop, err := addrlookup.NewPublishLoop(pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	info := testInfo(t, sk)
	loop.Update(info)
	res, _ := NewResolver(&ResolverOptions{RelayURL: s.PkarrURL()})
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := res.Resolve(t.Context(), sk.Public())
		// The server serves a packet as soon as it accepted the PUT, which
		// can be before the loop has read the response and updated its
		// status: wait for both.
		st := loop.Status()
		if err == nil && got.Equal(info) && st.Err == nil && st.Published.Equal(info) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not published: %v; status %+v", err, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestResolverRejectsForgery runs a relay that answers with a packet signed
// by another key, one with a bad status and one with junk.
func TestResolverRejectsForgery(t *testing.T) {
	sk := key.NewSecretKey()
	forged, _ := pkarr.SignInfo(key.NewSecretKey(), pkarr.Info{UserData: "evil"}, 0, 0)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /forged/{k}", func(w http.ResponseWriter, r *http.Request) { w.Write(forged.AppendRelayPayload(nil)) })
	mux.HandleFunc("GET /broken/{k}", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nope", 500) })
	mux.HandleFunc("GET /junk/{k}", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("junk")) })
	mux.HandleFunc("PUT /broken/{k}", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "rate limited", 429) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]string{"forged": "signature", "broken": "status 500", "junk": "truncated"} {
		res, _ := NewResolver(&ResolverOptions{RelayURL: srv.URL + "/" + path})
		_, err := res.Resolve(t.Context(), sk.Public())
		if err == nil || !strings.Contains(err.Error(), want) || errors.Is(err, addrlookup.ErrNotFound) {
			t.Fatalf("%s: %v", path, err)
		}
	}
	pub, _ := NewPublisher(sk, &PublisherOptions{RelayURL: srv.URL + "/broken"})
	if err := pub.Publish(t.Context(), testInfo(t, sk)); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("publish error %v", err)
	}
}

func TestOptions(t *testing.T) {
	if _, err := NewPublisher(key.NewSecretKey(), &PublisherOptions{RelayURL: "ftp://x"}); err == nil {
		t.Fatal("bad scheme accepted")
	}
	if _, err := NewResolver(nil); err == nil {
		t.Fatal("nil options accepted")
	}
	if o := N0PublisherOptions(); o.RelayURL != N0RelayURL {
		t.Fatal(o)
	}
	if _, err := NewResolver(&[]ResolverOptions{N0ResolverOptions()}[0]); err != nil {
		t.Fatal(err)
	}
}
