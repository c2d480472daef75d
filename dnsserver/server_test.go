package dnsserver

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs a server on loopback with rate limiting off unless opts says
// otherwise.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.HTTPAddr == "" {
		opts.HTTPAddr = "127.0.0.1:0"
	}
	if opts.DNSAddr == "" {
		opts.DNSAddr = "127.0.0.1:0"
	}
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

var noLimit = RateLimit{Mode: RateLimitDisabled}

// testHTTP bounds every request of the tests, so that a server that never
// answers fails the test rather than hanging it.
var testHTTP = &http.Client{Timeout: 30 * time.Second}

func put(t *testing.T, s *Server, z32 string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, s.PkarrURL()+"/"+z32, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, s *Server, z32 string) (int, []byte, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.PkarrURL()+"/"+z32, nil)
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get("Content-Type")
}

func signed(t *testing.T, sk key.SecretKey, info pkarr.Info, ts uint64) pkarr.SignedPacket {
	t.Helper()
	p, err := pkarr.SignInfo(sk, info, ts, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func query(t *testing.T, s *Server, net, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: net, Timeout: 3 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	resp, _, err := c.ExchangeContext(t.Context(), m, s.DNSAddr().String())
	if err != nil {
		t.Fatalf("%s query %s: %v", net, name, err)
	}
	return resp
}

func doh(t *testing.T, s *Server, post bool, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	raw, _ := m.Pack()
	u := "http://" + s.HTTPAddr().String() + "/dns-query"
	var req *http.Request
	if post {
		req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, u, bytes.NewReader(raw))
		req.Header.Set("Content-Type", DNSMessageType)
	} else {
		req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, u+"?dns="+base64.RawURLEncoding.EncodeToString(raw), nil)
	}
	resp, err := testHTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != DNSMessageType {
		t.Fatalf("DoH status %d type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var out dns.Msg
	if err := out.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return &out
}

type vector struct {
	Z32        string   `json:"z32"`
	DNSName    string   `json:"dns_name_under_origin"`
	TXTStrings []string `json:"txt_strings"`
	TTL        uint32   `json:"ttl"`
	PutBodyHex string   `json:"http_put_body_hex"`
	PutPath    string   `json:"http_put_path"`
}

// TestVectorPutThenDNS PUTs the Rust-made vector body at the vector's path
// and reads it back over pkarr GET, DNS (UDP, TCP) and DoH (GET, POST)
// under the vector's origin; nothing leaves loopback.
func TestVectorPutThenDNS(t *testing.T) {
	var vs struct {
		Pkarr []vector `json:"pkarr"`
	}
	testutil.LoadVectors(t, "core.json", &vs)
	v := vs.Pkarr[0]
	_, origin, _ := strings.Cut(strings.TrimPrefix(v.DNSName, "_iroh."), ".")
	s := start(t, Options{Origins: []string{origin}, RateLimit: noLimit, MaxAge: 100 * 365 * 24 * time.Hour}) // the vector is older than the default MaxAge
	body, _ := hex.DecodeString(v.PutBodyHex)
	if got := strings.TrimPrefix(v.PutPath, "/pkarr/"); got != v.Z32 {
		t.Fatalf("vector path %q", v.PutPath)
	}
	if code, msg := put(t, s, v.Z32, body, nil); code != http.StatusNoContent {
		t.Fatalf("PUT: %d %s", code, msg)
	}
	code, b, ct := get(t, s, v.Z32)
	if code != 200 || ct != pkarr.ContentType || !bytes.Equal(b, body) {
		t.Fatalf("GET: %d %q %x", code, ct, b)
	}
	check := func(name string, resp *dns.Msg) {
		t.Helper()
		if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative {
			t.Fatalf("%s: rcode %s aa %v", name, dns.RcodeToString[resp.Rcode], resp.Authoritative)
		}
		var strs []string
		for _, rr := range resp.Answer {
			txt := rr.(*dns.TXT)
			if txt.Hdr.Name != v.DNSName || txt.Hdr.Ttl != v.TTL {
				t.Fatalf("%s: record %s", name, rr)
			}
			strs = append(strs, txt.Txt...)
		}
		if !reflect.DeepEqual(strs, v.TXTStrings) {
			t.Fatalf("%s: strings %q, want %q", name, strs, v.TXTStrings)
		}
	}
	check("udp", query(t, s, "udp", v.DNSName, dns.TypeTXT))
	check("tcp", query(t, s, "tcp", v.DNSName, dns.TypeTXT))
	check("doh get", doh(t, s, false, v.DNSName, dns.TypeTXT))
	check("doh post", doh(t, s, true, v.DNSName, dns.TypeTXT))
	// Names are case-insensitive.
	check("upper", query(t, s, "udp", strings.ToUpper(v.DNSName), dns.TypeTXT))
}

func TestPublishResolveAndNames(t *testing.T) {
	s := start(t, Options{Origins: []string{"irohdns.example.", "."}, RateLimit: noLimit, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53")}})
	sk := key.NewSecretKey()
	id := sk.Public()
	info := pkarr.Info{RelayURLs: []string{"http://127.0.0.1:3340/"}, Addrs: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4433")}, UserData: "hi"}
	p := signed(t, sk, info, 0)
	if code, msg := put(t, s, id.Z32(), p.AppendRelayPayload(nil), nil); code != 204 {
		t.Fatalf("PUT %d %s", code, msg)
	}
	for _, name := range []string{"_iroh." + id.Z32() + ".irohdns.example.", "_iroh." + id.Z32() + "."} {
		resp := query(t, s, "udp", name, dns.TypeTXT)
		got, ttl, err := pkarr.InfoFromRecords(id, resp.Answer)
		if err != nil || !reflect.DeepEqual(got, info) || ttl != pkarr.DefaultTTL*time.Second {
			t.Fatalf("%s: %v %+v %v", name, err, got, ttl)
		}
	}
	unknown := key.NewSecretKey().Public().Z32()
	cases := []struct {
		name  string
		qname string
		qtype uint16
		rcode int
		nAns  int
		soaNs bool // SOA in the authority section
	}{
		{"unknown key", "_iroh." + unknown + ".irohdns.example.", dns.TypeTXT, dns.RcodeNameError, 0, true},
		{"not a key", "www.irohdns.example.", dns.TypeA, dns.RcodeNameError, 0, true},
		{"unknown subname", "_other." + id.Z32() + ".irohdns.example.", dns.TypeTXT, dns.RcodeNameError, 0, true},
		{"nodata", "_iroh." + id.Z32() + ".irohdns.example.", dns.TypeA, dns.RcodeSuccess, 0, true},
		{"empty non-terminal", id.Z32() + ".irohdns.example.", dns.TypeTXT, dns.RcodeSuccess, 0, true},
		{"apex soa", "irohdns.example.", dns.TypeSOA, dns.RcodeSuccess, 1, false},
		{"apex ns", "irohdns.example.", dns.TypeNS, dns.RcodeSuccess, 1, false},
		{"apex a", "irohdns.example.", dns.TypeA, dns.RcodeSuccess, 1, false},
		{"apex aaaa nodata", "irohdns.example.", dns.TypeAAAA, dns.RcodeSuccess, 0, true},
		{"axfr refused", "irohdns.example.", dns.TypeAXFR, dns.RcodeRefused, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := query(t, s, "tcp", c.qname, c.qtype)
			if resp.Rcode != c.rcode || len(resp.Answer) != c.nAns {
				t.Fatalf("rcode %s answers %d: %v", dns.RcodeToString[resp.Rcode], len(resp.Answer), resp)
			}
			if c.soaNs && (len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA) {
				t.Fatalf("no SOA in authority: %v", resp.Ns)
			}
		})
	}
	// A server with one origin refuses names outside it.
	s2 := start(t, Options{RateLimit: noLimit})
	if resp := query(t, s2, "udp", "example.com.", dns.TypeA); resp.Rcode != dns.RcodeRefused {
		t.Fatalf("out of zone: %s", dns.RcodeToString[resp.Rcode])
	}
}

func TestBadPuts(t *testing.T) {
	m := NewMetrics(nil)
	s := start(t, Options{RateLimit: noLimit, Metrics: m})
	sk := key.NewSecretKey()
	id := sk.Public()
	good := signed(t, sk, pkarr.Info{UserData: "good"}, 0)
	if code, _ := put(t, s, id.Z32(), good.AppendRelayPayload(nil), nil); code != 204 {
		t.Fatal("good put failed")
	}
	older := signed(t, sk, pkarr.Info{UserData: "older"}, good.Timestamp-1)
	forged := signed(t, key.NewSecretKey(), pkarr.Info{UserData: "forged"}, 0)
	flipped := good.AppendRelayPayload(nil)
	flipped[len(flipped)-1] ^= 1
	bigDNS := make([]byte, pkarr.MaxPacketSize)
	cases := []struct {
		name   string
		z32    string
		body   []byte
		status int
		detail string
	}{
		{"replayed same", id.Z32(), good.AppendRelayPayload(nil), 204, ""},
		{"older", id.Z32(), older.AppendRelayPayload(nil), 204, ""},
		{"forged by other key", id.Z32(), forged.AppendRelayPayload(nil), 400, "signature"},
		{"tampered", id.Z32(), flipped, 400, "signature"},
		{"truncated", id.Z32(), good.AppendRelayPayload(nil)[:50], 400, "truncated"},
		{"empty", id.Z32(), nil, 400, "truncated"},
		{"oversized", id.Z32(), bigDNS, 400, "too large"},
		{"bad key", "notakey", good.AppendRelayPayload(nil), 400, "z-base-32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := put(t, s, c.z32, c.body, nil)
			if code != c.status {
				t.Fatalf("status %d, want %d: %s", code, c.status, body)
			}
			if c.status == 400 {
				var e struct{ Status, Detail string }
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Status != "400" || !strings.Contains(e.Detail, c.detail) {
					t.Fatalf("error body %q", body)
				}
			}
			code, b, _ := get(t, s, id.Z32())
			if code != 200 || !bytes.Equal(b, good.AppendRelayPayload(nil)) {
				t.Fatalf("stored packet changed: %d", code)
			}
		})
	}
	if code, _, _ := get(t, s, forged.Key.Z32()); code != 404 {
		t.Fatalf("forged key stored: %d", code)
	}
	if code, _, _ := get(t, s, "x"); code != 400 {
		t.Fatalf("bad key GET: %d", code)
	}
	if got := testutil.MetricValue(m.PkarrPuts.WithLabelValues("stale")); got != 2 {
		t.Fatalf("stale puts %v", got)
	}
	if got := testutil.MetricValue(m.PkarrPuts.WithLabelValues("bad_packet")); got != 5 {
		t.Fatalf("bad puts %v", got)
	}
	// Newer replaces.
	newer := signed(t, sk, pkarr.Info{UserData: "newer"}, 0)
	put(t, s, id.Z32(), newer.AppendRelayPayload(nil), nil)
	if _, b, _ := get(t, s, id.Z32()); !bytes.Equal(b, newer.AppendRelayPayload(nil)) {
		t.Fatal("newer packet not stored")
	}
	if got := testutil.MetricValue(m.StoredPackets); got != 1 {
		t.Fatalf("stored gauge %v", got)
	}
}

func TestRestartKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	sk := key.NewSecretKey()
	p := signed(t, sk, pkarr.Info{UserData: "persist"}, 0)
	s, err := New(&Options{DataDir: dir, HTTPAddr: "127.0.0.1:0", RateLimit: noLimit})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := put(t, s, sk.Public().Z32(), p.AppendRelayPayload(nil), nil); code != 204 {
		t.Fatal("put")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := start(t, Options{DataDir: dir, RateLimit: noLimit})
	resp := query(t, s2, "udp", "_iroh."+sk.Public().Z32()+"."+DefaultOrigin, dns.TypeTXT)
	info, _, err := pkarr.InfoFromRecords(sk.Public(), resp.Answer)
	if err != nil || info.UserData != "persist" {
		t.Fatalf("after restart: %v %+v", err, info)
	}
}

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func newFakeClock(t time.Time) *fakeClock    { c := new(fakeClock); c.ns.Store(t.UnixNano()); return c }

func TestRateLimit(t *testing.T) {
	clk := newFakeClock(time.Now())
	m := NewMetrics(nil)
	s := start(t, Options{now: clk.now, Metrics: m})
	sk := key.NewSecretKey()
	try := func(hdr map[string]string) int {
		p := signed(t, sk, pkarr.Info{UserData: "x"}, 0)
		code, _ := put(t, s, sk.Public().Z32(), p.AppendRelayPayload(nil), hdr)
		return code
	}
	for i, want := range []int{204, 204, 429} {
		if got := try(nil); got != want {
			t.Fatalf("put %d: %d, want %d", i, got, want)
		}
	}
	clk.advance(DefaultRateLimitPeriod)
	if got := try(nil); got != 204 {
		t.Fatalf("after one period: %d", got)
	}
	if got := try(nil); got != 429 {
		t.Fatalf("second after one period: %d", got)
	}
	// Simple mode ignores forwarding headers.
	if got := try(map[string]string{"X-Forwarded-For": "192.0.2.1"}); got != 429 {
		t.Fatalf("simple mode honoured X-Forwarded-For: %d", got)
	}
	if got := testutil.MetricValue(m.PkarrPuts.WithLabelValues("rate_limited")); got != 3 {
		t.Fatalf("rate_limited %v", got)
	}
	// GETs are never limited.
	for range 5 {
		if code, _, _ := get(t, s, sk.Public().Z32()); code != 200 {
			t.Fatalf("GET limited: %d", code)
		}
	}

	// Smart mode believes forwarding headers only from trusted proxies:
	// without any, a client cannot pick a fresh bucket by naming a new IP.
	untrusting := start(t, Options{now: clk.now, RateLimit: RateLimit{Mode: RateLimitSmart, Burst: 1, Period: time.Minute}})
	smart := start(t, Options{now: clk.now, RateLimit: RateLimit{Mode: RateLimitSmart, Burst: 1, Period: time.Minute},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	trySmart := func(s *Server, ip string) int {
		p := signed(t, sk, pkarr.Info{UserData: "x"}, 0)
		code, _ := put(t, s, sk.Public().Z32(), p.AppendRelayPayload(nil), map[string]string{"X-Forwarded-For": ip + ", 10.0.0.1"})
		return code
	}
	if trySmart(untrusting, "192.0.2.1") != 204 || trySmart(untrusting, "192.0.2.2") != 429 {
		t.Fatal("smart mode honoured X-Forwarded-For from a peer that is no trusted proxy")
	}
	if trySmart(smart, "192.0.2.1") != 204 || trySmart(smart, "192.0.2.1") != 429 || trySmart(smart, "192.0.2.2") != 204 {
		t.Fatal("smart mode does not key on X-Forwarded-For from a trusted proxy")
	}
}

// TestFutureTimestamp: a packet dated beyond MaxFuture would never be
// evicted and would beat every honest update; it is refused and counted.
func TestFutureTimestamp(t *testing.T) {
	clk := newFakeClock(time.Now())
	m := NewMetrics(nil)
	s := start(t, Options{now: clk.now, RateLimit: noLimit, Metrics: m})
	sk := key.NewSecretKey()
	far := signed(t, sk, pkarr.Info{UserData: "far"}, uint64(clk.now().Add(DefaultMaxFuture+time.Minute).UnixMicro()))
	code, body := put(t, s, sk.Public().Z32(), far.AppendRelayPayload(nil), nil)
	if code != 400 || !strings.Contains(body, "ahead of the server's clock") {
		t.Fatalf("far-future PUT: %d %s", code, body)
	}
	if got := testutil.MetricValue(m.PkarrPuts.WithLabelValues("future")); got != 1 {
		t.Fatalf("future counted %v", got)
	}
	near := signed(t, sk, pkarr.Info{UserData: "near"}, uint64(clk.now().Add(DefaultMaxFuture-time.Minute).UnixMicro()))
	if code, body := put(t, s, sk.Public().Z32(), near.AppendRelayPayload(nil), nil); code != 204 {
		t.Fatalf("PUT within the tolerance: %d %s", code, body)
	}
}

// TestStoredCount: the stored-packets gauge follows a running count
// (no database walk per PUT) through new keys, updates, eviction and a
// reopen of the store.
func TestStoredCount(t *testing.T) {
	for _, syncPuts := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%v", syncPuts), func(t *testing.T) { testStoredCount(t, syncPuts) })
	}
}

func testStoredCount(t *testing.T, syncPuts bool) {
	clk := newFakeClock(time.Now())
	dir := t.TempDir()
	m := NewMetrics(nil)
	s := start(t, Options{now: clk.now, RateLimit: noLimit, Metrics: m, DataDir: dir, EvictInterval: time.Hour, SyncPuts: syncPuts})
	var keys []key.SecretKey
	for i := range 5 {
		sk := key.NewSecretKey()
		keys = append(keys, sk)
		ts := uint64(0)
		if i < 2 {
			ts = uint64(clk.now().Add(-DefaultMaxAge - time.Minute).UnixMicro())
		}
		p := signed(t, sk, pkarr.Info{UserData: "x"}, ts)
		if code, body := put(t, s, sk.Public().Z32(), p.AppendRelayPayload(nil), nil); code != 204 {
			t.Fatalf("put: %d %s", code, body)
		}
	}
	// An update of a stored key does not add to the count.
	p := signed(t, keys[4], pkarr.Info{UserData: "y"}, uint64(clk.now().Add(time.Second).UnixMicro()))
	put(t, s, keys[4].Public().Z32(), p.AppendRelayPayload(nil), nil)
	// Served at once, whether committed yet or not.
	if code, _, _ := get(t, s, keys[4].Public().Z32()); code != 200 {
		t.Fatalf("GET right after PUT: %d", code)
	}
	s.store.flush()
	if got := s.store.count(); got != 5 {
		t.Fatalf("count %d, want 5", got)
	}
	s.evict()
	if got := testutil.MetricValue(m.StoredPackets); got != 3 {
		t.Fatalf("stored after eviction %v, want 3", got)
	}
	s.Close()
	s2 := start(t, Options{now: clk.now, RateLimit: noLimit, DataDir: dir})
	if got := s2.store.count(); got != 3 {
		t.Fatalf("count after reopen %d, want 3", got)
	}
}

func TestEviction(t *testing.T) {
	clk := newFakeClock(time.Now())
	s := start(t, Options{now: clk.now, RateLimit: noLimit, EvictInterval: time.Hour})
	oldKey, newKey := key.NewSecretKey(), key.NewSecretKey()
	old := signed(t, oldKey, pkarr.Info{UserData: "old"}, uint64(clk.now().Add(-DefaultMaxAge-time.Minute).UnixMicro()))
	fresh := signed(t, newKey, pkarr.Info{UserData: "new"}, 0)
	put(t, s, oldKey.Public().Z32(), old.AppendRelayPayload(nil), nil)
	put(t, s, newKey.Public().Z32(), fresh.AppendRelayPayload(nil), nil)
	s.evict()
	if code, _, _ := get(t, s, oldKey.Public().Z32()); code != 404 {
		t.Fatalf("old packet kept: %d", code)
	}
	if code, _, _ := get(t, s, newKey.Public().Z32()); code != 200 {
		t.Fatalf("fresh packet evicted: %d", code)
	}
	clk.advance(DefaultMaxAge + time.Minute)
	s.evict()
	if code, _, _ := get(t, s, newKey.Public().Z32()); code != 404 {
		t.Fatalf("packet kept past max age: %d", code)
	}
}

func TestHTTPMisc(t *testing.T) {
	s := start(t, Options{RateLimit: noLimit})
	base := "http://" + s.HTTPAddr().String()
	for path, want := range map[string]string{"/healthz": "OK", "/": "Hi!"} {
		resp, err := testHTTP.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s: %d %q", path, resp.StatusCode, b)
		}
	}
	bad := []struct {
		name, method, url, ct string
		body                  []byte
		status                int
	}{
		{"doh bad base64", "GET", "/dns-query?dns=!!", "", nil, 400},
		{"doh no param", "GET", "/dns-query", "", nil, 400},
		{"doh bad type", "POST", "/dns-query", "text/plain", []byte{1}, 415},
		{"doh junk", "POST", "/dns-query", DNSMessageType, []byte{1, 2, 3}, 400},
		{"pkarr post", "POST", "/pkarr/x", "", nil, 405},
	}
	for _, c := range bad {
		req, _ := http.NewRequest(c.method, base+c.url, bytes.NewReader(c.body))
		if c.ct != "" {
			req.Header.Set("Content-Type", c.ct)
		}
		resp, err := testHTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("%s: %d, want %d", c.name, resp.StatusCode, c.status)
		}
	}
}

func TestUDPTruncation(t *testing.T) {
	s := start(t, Options{RateLimit: noLimit})
	sk := key.NewSecretKey()
	var info pkarr.Info
	for i := range 20 {
		info.Addrs = append(info.Addrs, netip.MustParseAddrPort("[2001:db8::"+strconv.Itoa(i+1)+"]:4433"))
	}
	p := signed(t, sk, info, 0)
	put(t, s, sk.Public().Z32(), p.AppendRelayPayload(nil), nil)
	name := "_iroh." + sk.Public().Z32() + "." + DefaultOrigin
	c := &dns.Client{Net: "udp"}
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	resp, _, err := c.ExchangeContext(t.Context(), m, s.DNSAddr().String())
	if err != nil || !resp.Truncated {
		t.Fatalf("expected truncated UDP answer: %v", err)
	}
	full := query(t, s, "tcp", name, dns.TypeTXT)
	if len(full.Answer) != 20 {
		t.Fatalf("tcp answers %d", len(full.Answer))
	}
}

func TestConfig(t *testing.T) {
	c, err := ParseConfig(`
data_dir = "/tmp/x"
pkarr_put_rate_limit = "disabled"
[http]
bind_addr = "127.0.0.1"
port = 8080
[dns]
bind_addr = "127.0.0.1"
port = 5300
origins = ["irohdns.example.", "."]
rr_a = "192.0.2.1"
rr_ns = "ns1.irohdns.example."
[metrics]
disabled = true
`)
	if err != nil {
		t.Fatal(err)
	}
	o, metrics, err := c.Options()
	if err != nil {
		t.Fatal(err)
	}
	if o.HTTPAddr != "127.0.0.1:8080" || o.DNSAddr != "127.0.0.1:5300" || metrics != "" || o.RateLimit.Mode != RateLimitDisabled ||
		len(o.Origins) != 2 || len(o.Addrs) != 1 || o.NS[0] != "ns1.irohdns.example." || o.DataDir != "/tmp/x" {
		t.Fatalf("options %+v metrics %q", o, metrics)
	}
	for _, bad := range []string{`bogus = 1`, `[dns]` + "\n" + `origins = ["no-dot"]`, `pkarr_put_rate_limit = "fast"`, `[http]` + "\nport = 70000"} {
		c, err := ParseConfig(bad)
		if err == nil {
			_, _, err = c.Options()
		}
		if err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
}

// fuzzServer is a Server without listeners for fuzz targets, with one
// packet stored for the zero key (returned).
func fuzzServer(f *testing.F) (*Server, key.SecretKey) {
	s := &Server{}
	o, zones, _ := (&Options{Origins: []string{"irohdns.example.", "."}}).fill()
	s.opts, s.zones, s.log, s.metrics = o, zones, o.Logger, o.Metrics
	st, err := openStore(f.TempDir(), false)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.close() })
	s.store = st
	sk := key.SecretKey{}
	p, _ := pkarr.SignInfo(sk, pkarr.Info{UserData: "x", RelayURLs: []string{"https://r/"}}, 0, 0)
	st.put(p)
	return s, sk
}

// FuzzAnswer feeds arbitrary bytes to the query path as DoH and the DNS
// listeners see them: parse, answer, pack. It must never panic and every
// answer must pack.
func FuzzAnswer(f *testing.F) {
	s, sk := fuzzServer(f)
	for _, q := range []struct {
		name string
		t    uint16
	}{{"_iroh." + sk.Public().Z32() + ".irohdns.example.", dns.TypeTXT}, {"irohdns.example.", dns.TypeSOA}, {"x.", dns.TypeANY}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.t)
		m.SetEdns0(1232, false)
		b, _ := m.Pack()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req dns.Msg
		if req.Unpack(b) != nil {
			return
		}
		resp := s.answer(&req)
		if _, err := resp.Pack(); err != nil {
			t.Fatalf("response does not pack: %v", err)
		}
	})
}

// TestOtherRecords stores a packet with more than `_iroh` TXT records:
// they are served re-rooted under the origin, while SOA/NS records in the
// packet and records not under the signer's key are dropped.
func TestOtherRecords(t *testing.T) {
	s := start(t, Options{RateLimit: noLimit})
	sk := key.NewSecretKey()
	z := sk.Public().Z32()
	other := key.NewSecretKey().Public().Z32()
	m := new(dns.Msg)
	m.Response = true
	for _, r := range []string{
		"_iroh." + z + ". 30 IN TXT \"user-data=x\"",
		"www." + z + ". 60 IN A 192.0.2.1",
		"www." + z + ". 60 IN AAAA 2001:db8::1",
		z + ". 60 IN SOA ns.evil. host.evil. 1 2 3 4 5",
		z + ". 60 IN NS ns.evil.",
		"foo." + other + ". 60 IN A 192.0.2.66",
	} {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	raw, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pkarr.Sign(sk, pkarr.Now(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := put(t, s, z, p.AppendRelayPayload(nil), nil); code != 204 {
		t.Fatalf("put %d %s", code, body)
	}
	resp := query(t, s, "udp", "www."+z+"."+DefaultOrigin, dns.TypeA)
	if len(resp.Answer) != 1 || resp.Answer[0].String() != "www."+z+"."+DefaultOrigin+"\t60\tIN\tA\t192.0.2.1" {
		t.Fatalf("A: %v", resp.Answer)
	}
	resp = query(t, s, "udp", "www."+z+"."+DefaultOrigin, dns.TypeANY)
	if len(resp.Answer) != 2 {
		t.Fatalf("ANY: %v", resp.Answer)
	}
	resp = query(t, s, "udp", z+"."+DefaultOrigin, dns.TypeSOA)
	if len(resp.Answer) != 0 || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("packet SOA served: %v", resp)
	}
	resp = query(t, s, "udp", "foo."+other+"."+DefaultOrigin, dns.TypeA)
	if resp.Rcode != dns.RcodeNameError {
		t.Fatalf("record of another key served: %v", resp)
	}
}

func TestDoHJSON(t *testing.T) {
	s := start(t, Options{RateLimit: noLimit})
	sk := key.NewSecretKey()
	p := signed(t, sk, pkarr.Info{RelayURLs: []string{"https://relay.example.org./"}}, 0)
	put(t, s, sk.Public().Z32(), p.AppendRelayPayload(nil), nil)
	name := "_iroh." + sk.Public().Z32() + "." + DefaultOrigin
	get := func(query string) (int, dohJSON, http.Header) {
		resp, err := testHTTP.Get("http://" + s.HTTPAddr().String() + "/dns-query?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out dohJSON
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, out, resp.Header
	}
	code, out, hdr := get("name=" + name + "&type=TXT")
	if code != 200 || out.Status != 0 || len(out.Answer) != 1 || out.Answer[0].Data != `"relay=https://relay.example.org./"` ||
		out.Answer[0].TTL != 30 || out.Answer[0].Type != dns.TypeTXT || hdr.Get("Content-Type") != DNSJSONType || hdr.Get("Cache-Control") != "s-maxage=30" {
		t.Fatalf("%d %+v %v", code, out, hdr)
	}
	if code, out, _ := get("name=" + name + "&type=16"); code != 200 || len(out.Answer) != 1 {
		t.Fatalf("numeric type: %d %+v", code, out)
	}
	if code, out, _ := get("name=nope.irohdns.example"); code != 200 || out.Status != dns.RcodeNameError || len(out.Authority) != 1 {
		t.Fatalf("nxdomain: %d %+v", code, out)
	}
	if code, _, _ := get("name=" + name + "&type=BOGUS"); code != 400 {
		t.Fatalf("bad type: %d", code)
	}
}

// TestHTTPConnCap: HTTP connections past MaxConnsPerIP are closed at
// accept and counted; one within the cap is served.
func TestHTTPConnCap(t *testing.T) {
	m := NewMetrics(nil)
	s := start(t, Options{Metrics: m, MaxConnsPerIP: 10})
	addr := strings.TrimPrefix(strings.TrimSuffix(s.PkarrURL(), "/pkarr"), "http://")
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 13 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.MetricValue(m.ConnsRefused.WithLabelValues("per_ip")) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("refused %v, want 3", testutil.MetricValue(m.ConnsRefused.WithLabelValues("per_ip")))
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(conns[0], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 9)
	if _, err := io.ReadFull(conns[0], buf); err != nil || string(buf) != "HTTP/1.1 " {
		t.Fatalf("request within the cap: %q %v", buf, err)
	}
}
