package dnslookup

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/addrlookup/pkarrlookup"
	"github.com/iroh-go/iroh/dnsserver"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const origin = "irohdns.example."

func startServer(t *testing.T) *dnsserver.Server {
	t.Helper()
	s, err := dnsserver.New(&dnsserver.Options{HTTPAddr: "127.0.0.1:0", DNSAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		Origins: []string{origin}, RateLimit: dnsserver.RateLimit{Mode: dnsserver.RateLimitDisabled},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPublishViaPkarrResolveViaDNS is the full path: publish over the pkarr
// HTTP API, resolve with DNS over UDP and TCP, and through Combined.
func TestPublishViaPkarrResolveViaDNS(t *testing.T) {
	s := startServer(t)
	sk := key.NewSecretKey()
	u, _ := endpointaddr.ParseRelayURL("https://relay.example.org./")
	info := addrlookup.EndpointInfo{ID: sk.Public(), RelayURLs: []endpointaddr.RelayURL{u},
		Direct: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4433"), netip.MustParseAddrPort("[::1]:4433")}, UserData: "x"}
	pub, err := pkarrlookup.NewPublisher(sk, &pkarrlookup.PublisherOptions{RelayURL: s.PkarrURL(), PublishDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(t.Context(), info); err != nil {
		t.Fatal(err)
	}
	for _, tcp := range []bool{false, true} {
		r, err := New(&Options{Server: s.DNSAddr().String(), Origin: "irohdns.example", TCP: tcp})
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Resolve(t.Context(), sk.Public())
		if err != nil || !got.Equal(info) || got.TTL != 30*time.Second {
			t.Fatalf("tcp=%v: %v %+v", tcp, err, got)
		}
		if _, err := r.Resolve(t.Context(), key.NewSecretKey().Public()); !errors.Is(err, addrlookup.ErrNotFound) {
			t.Fatalf("unknown id: %v", err)
		}
	}
	r, _ := New(&Options{Server: s.DNSAddr().String(), Origin: origin})
	c, _ := addrlookup.NewCombined([]addrlookup.Lookup{addrlookup.NewMemory(), r}, nil)
	if got, err := c.Resolve(t.Context(), sk.Public()); err != nil || !got.Equal(info) {
		t.Fatalf("combined: %v", err)
	}
}

// TestStaggered points the resolver at a UDP socket that drops the first
// two queries and answers the third from the real server: the lookup
// succeeds on the staggered attempt, well before the first one times out.
func TestStaggered(t *testing.T) {
	s := startServer(t)
	sk := key.NewSecretKey()
	u, _ := endpointaddr.ParseRelayURL("https://relay.example.org./")
	info := addrlookup.EndpointInfo{ID: sk.Public(), RelayURLs: []endpointaddr.RelayURL{u}}
	pub, _ := pkarrlookup.NewPublisher(sk, &pkarrlookup.PublisherOptions{RelayURL: s.PkarrURL()})
	if err := pub.Publish(t.Context(), info); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		up, err := net.Dial("udp", s.DNSAddr().String())
		if err != nil {
			return
		}
		defer up.Close()
		buf := make([]byte, 2048)
		for n := 0; ; n++ {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 2 {
				continue // drop
			}
			up.Write(buf[:k])
			up.SetReadDeadline(time.Now().Add(2 * time.Second))
			m, err := up.Read(buf)
			if err == nil {
				pc.WriteTo(buf[:m], from)
			}
		}
	}()
	defer func() { pc.Close(); <-done }()
	r, _ := New(&Options{Server: pc.LocalAddr().String(), Origin: origin,
		Stagger: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond}, Timeout: 5 * time.Second})
	start := time.Now()
	got, err := r.Resolve(t.Context(), sk.Public())
	if err != nil || !got.Equal(info) {
		t.Fatalf("%v %+v", err, got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v: the staggered attempt did not win", d)
	}
}

func TestOptions(t *testing.T) {
	if _, err := New(&Options{Server: "127.0.0.1:53"}); err == nil {
		t.Fatal("missing origin accepted")
	}
	if _, err := New(&Options{Server: "nope", Origin: origin}); err == nil {
		t.Fatal("server without port accepted")
	}
	r, err := New(&Options{Server: "127.0.0.1:1", Origin: "."})
	if err != nil {
		t.Fatal(err)
	}
	id := key.SecretKey{}.Public()
	if got := r.Name(id); got != "_iroh."+id.Z32()+"." {
		t.Fatal(got)
	}
	if N0Options().Origin != N0Origin {
		t.Fatal("n0 preset")
	}
}
