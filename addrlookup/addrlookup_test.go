package addrlookup

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newInfo(t *testing.T) EndpointInfo {
	t.Helper()
	u, err := endpointaddr.ParseRelayURL("https://relay.example.org.")
	if err != nil {
		t.Fatal(err)
	}
	return EndpointInfo{ID: key.NewSecretKey().Public(), RelayURLs: []endpointaddr.RelayURL{u},
		Direct: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4433")}, UserData: "ud"}
}

// countingLookup wraps a Lookup, counting calls and optionally delaying.
type countingLookup struct {
	inner Lookup
	delay time.Duration
	mu    sync.Mutex
	calls int
	// cancelled counts calls that returned because ctx ended.
	cancelled int
}

func (c *countingLookup) Resolve(ctx context.Context, id key.PublicKey) (EndpointInfo, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	if c.delay > 0 {
		select {
		case <-time.After(c.delay):
		case <-ctx.Done():
			c.mu.Lock()
			c.cancelled++
			c.mu.Unlock()
			return EndpointInfo{}, ctx.Err()
		}
	}
	return c.inner.Resolve(ctx, id)
}

func (c *countingLookup) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.cancelled
}

func TestInfoConversions(t *testing.T) {
	info := newInfo(t)
	a := info.Addr()
	if a.ID != info.ID || len(a.RelayURLs) != 1 || len(a.Direct) != 1 {
		t.Fatalf("Addr %+v", a)
	}
	back := InfoFromAddr(a)
	back.UserData = info.UserData
	if !back.Equal(info) {
		t.Fatal("InfoFromAddr round trip")
	}
	p := info.PkarrInfo()
	p.RelayURLs = append(p.RelayURLs, "ftp://not-a-relay/")
	got := InfoFromPkarr(info.ID, p, time.Second)
	if !got.Equal(info) || got.TTL != time.Second {
		t.Fatalf("InfoFromPkarr %+v", got)
	}
	// Equal ignores order and duplicates.
	j := info
	j.Direct = []netip.AddrPort{info.Direct[0], info.Direct[0]}
	if !j.Equal(info) {
		t.Fatal("duplicates matter")
	}
	j.UserData = "other"
	if j.Equal(info) {
		t.Fatal("user data ignored")
	}
	// The record round trip through package pkarr.
	sk := key.NewSecretKey()
	info.ID = sk.Public()
	sp, err := pkarr.SignInfo(sk, info.PkarrInfo(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	pi, ttl, err := sp.Info()
	if err != nil || !InfoFromPkarr(info.ID, pi, ttl).Equal(info) {
		t.Fatalf("pkarr round trip: %v", err)
	}
}

func TestCombinedFirstWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		info := newInfo(t)
		slow := &countingLookup{inner: NewMemory(info), delay: time.Minute}
		fast := &countingLookup{inner: NewMemory(info), delay: 10 * time.Millisecond}
		missing := &countingLookup{inner: NewMemory()}
		c, err := NewCombined([]Lookup{slow, missing, fast}, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		got, err := c.Resolve(t.Context(), info.ID)
		if err != nil || !got.Equal(info) {
			t.Fatalf("%v %+v", err, got)
		}
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Fatalf("resolve took %v, want the fast lookup's 10ms", d)
		}
		if _, cancelled := slow.counts(); cancelled != 1 {
			t.Fatal("slow lookup not cancelled and waited for")
		}
	})
}

func TestCombinedErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		info := newInfo(t)
		boom := errors.New("boom")
		failing := LookupFunc(func(ctx context.Context, id key.PublicKey) (EndpointInfo, error) { return EndpointInfo{}, boom })
		wrongID := LookupFunc(func(ctx context.Context, id key.PublicKey) (EndpointInfo, error) {
			i := info
			i.ID = key.NewSecretKey().Public()
			return i, nil
		})
		noAddr := LookupFunc(func(ctx context.Context, id key.PublicKey) (EndpointInfo, error) {
			return EndpointInfo{ID: id, UserData: "only"}, nil
		})
		cases := []struct {
			name     string
			lookups  []Lookup
			notFound bool
			is       error
		}{
			{"none", nil, true, nil},
			{"all not found", []Lookup{NewMemory(), NewMemory()}, true, nil},
			{"one fails", []Lookup{NewMemory(), failing}, false, boom},
			{"wrong id rejected", []Lookup{wrongID}, false, nil},
			{"no address", []Lookup{noAddr}, true, nil},
		}
		for _, tc := range cases {
			c, err := NewCombined(tc.lookups, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Resolve(t.Context(), info.ID)
			if err == nil || errors.Is(err, ErrNotFound) != tc.notFound || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		// A Timeout bounds the whole resolve.
		slow := &countingLookup{inner: NewMemory(info), delay: time.Hour}
		c, _ := NewCombined([]Lookup{slow}, &CombinedOptions{Timeout: time.Second})
		start := time.Now()
		if _, err := c.Resolve(t.Context(), info.ID); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("timeout: %v after %v", err, time.Since(start))
		}
	})
}

func TestCombinedCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		info := newInfo(t)
		info.TTL = 10 * time.Second
		mem := NewMemory(info)
		cl := &countingLookup{inner: mem}
		metrics := NewMetrics(nil)
		c, _ := NewCombined([]Lookup{cl}, &CombinedOptions{MaxCacheTTL: time.Minute, Metrics: metrics})
		resolve := func() EndpointInfo {
			got, err := c.Resolve(t.Context(), info.ID)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		resolve()
		time.Sleep(9 * time.Second)
		if got := resolve(); got.TTL != time.Second {
			t.Fatalf("remaining TTL %v", got.TTL)
		}
		if calls, _ := cl.counts(); calls != 1 {
			t.Fatalf("cached answer not used: %d calls", calls)
		}
		if v := testutil.MetricValue(metrics.Resolves.WithLabelValues("cached")); v != 1 {
			t.Fatalf("cached metric %v", v)
		}
		time.Sleep(time.Second)
		resolve()
		if calls, _ := cl.counts(); calls != 2 {
			t.Fatalf("expired answer used: %d calls", calls)
		}
		c.Forget(info.ID)
		resolve()
		if calls, _ := cl.counts(); calls != 3 {
			t.Fatalf("Forget ignored: %d calls", calls)
		}
		// MaxCacheTTL caps a long TTL; zero TTL uses CacheTTL.
		info.TTL = time.Hour
		mem.Add(info)
		c.Forget(info.ID)
		resolve()
		time.Sleep(time.Minute)
		resolve()
		if calls, _ := cl.counts(); calls != 5 {
			t.Fatalf("MaxCacheTTL not applied: %d calls", calls)
		}
		// Bounded size.
		small, _ := NewCombined([]Lookup{mem}, &CombinedOptions{CacheSize: 2})
		for range 5 {
			i := newInfo(t)
			mem.Add(i)
			if _, err := small.Resolve(t.Context(), i.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(small.cache); n > 2 {
			t.Fatalf("cache holds %d entries", n)
		}
	})
}

// recordingPublisher records publications; it fails while fail > 0.
type recordingPublisher struct {
	mu    sync.Mutex
	fail  int
	times []time.Duration
	infos []EndpointInfo
	start time.Time
}

func (r *recordingPublisher) Publish(ctx context.Context, info EndpointInfo) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.times = append(r.times, time.Since(r.start))
	if r.fail > 0 {
		r.fail--
		return errors.New("unreachable")
	}
	r.infos = append(r.infos, info)
	return nil
}

func (r *recordingPublisher) snapshot() ([]time.Duration, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.times...), len(r.infos)
}

func TestPublishLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recordingPublisher{start: time.Now()}
		l, err := NewPublishLoop(rec, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		info := newInfo(t)
		synctest.Wait()
		if times, _ := rec.snapshot(); len(times) != 0 {
			t.Fatal("published before the first Update")
		}
		l.Update(info)
		synctest.Wait()
		l.Update(info) // unchanged: no publication
		synctest.Wait()
		if times, n := rec.snapshot(); len(times) != 1 || n != 1 || times[0] != 0 {
			t.Fatalf("after first update: %v", times)
		}
		time.Sleep(DefaultRepublish)
		synctest.Wait()
		if times, _ := rec.snapshot(); len(times) != 2 || times[1] != DefaultRepublish {
			t.Fatalf("republish: %v", times)
		}
		// A change publishes at once, then failures back off 1s, 2s, 3s.
		rec.mu.Lock()
		rec.fail = 3
		rec.mu.Unlock()
		info2 := info
		info2.UserData = "changed"
		l.Update(info2)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		times, n := rec.snapshot()
		base := DefaultRepublish
		want := []time.Duration{0, base, base, base + time.Second, base + 3*time.Second, base + 6*time.Second}
		if len(times) != len(want) || n != 3 {
			t.Fatalf("retries: %v (want %v), %d successes", times, want, n)
		}
		for i := range want {
			if times[i] != want[i] {
				t.Fatalf("retries: %v, want %v", times, want)
			}
		}
		st := l.Status()
		if st.Err != nil || st.Failures != 0 || st.Published.UserData != "changed" {
			t.Fatalf("status %+v", st)
		}
		l.Close()
		l.Close()
		l.Update(info) // after Close: does not block
	})
}

func TestMemory(t *testing.T) {
	var m Memory
	info := newInfo(t)
	if _, err := m.Resolve(t.Context(), info.ID); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if err := m.Publish(t.Context(), info); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Resolve(t.Context(), info.ID); err != nil || !got.Equal(info) {
		t.Fatal(err)
	}
	m.Remove(info.ID)
	if _, err := m.Resolve(t.Context(), info.ID); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}
