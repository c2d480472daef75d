package magicsock

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

// fakeID is a distinct id without the cost of a key generation (the socket
// does not check ids it only files remotes under).
func fakeID(i int) key.PublicKey {
	var id key.PublicKey
	binary.LittleEndian.PutUint64(id[:], uint64(i)+1)
	id[31] = 0xa5
	return id
}

// TestRelayStrangersBounded floods the socket with relay datagrams from
// 5,000 ids it has never heard of, as fast as it can take them: remotes
// are created at most at the stranger burst (plus the rate for the time
// the flood took), the rest is dropped and counted, and an id we dial
// ourselves still gets its remote.
func TestRelayStrangersBounded(t *testing.T) {
	c := newTestConn(t)
	url, _ := endpointaddr.ParseRelayURL("http://127.0.0.1:1/")
	start := time.Now()
	for i := range 5000 {
		c.deliverRelay(url, fakeID(i), 0, quicish(i, 100))
	}
	elapsed := time.Since(start)
	limit := int64(strangerRemoteBurst) + int64(elapsed.Seconds()*strangerRemoteRate) + 1
	if n := c.nRemotes.Load(); n > limit {
		t.Fatalf("%d remotes created by strangers in %v, want at most %d", n, elapsed, limit)
	}
	if got := testutil.MetricValue(c.metrics.Dropped.WithLabelValues("remote_rate")); got < 5000-float64(limit) {
		t.Fatalf("remote_rate drops %v", got)
	}
	mine := key.NewSecretKey().Public()
	if _, err := c.AddRemote(endpointaddr.Addr{ID: mine}); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.byID.Load(mine); !ok {
		t.Fatal("a remote we dial was refused")
	}
}

// TestStrangerRemoteCap: even at a rate the limiter allows, strangers
// cannot create more than maxStrangerRemotes; forgetting one frees a slot.
func TestStrangerRemoteCap(t *testing.T) {
	c := newTestConn(t)
	now := time.Now()
	var last *remote
	for i := range maxStrangerRemotes + 50 {
		now = now.Add(time.Second / strangerRemoteRate)
		if r := c.remoteForStranger(fakeID(i), now); r != nil {
			last = r
		}
	}
	if n := c.nRemotes.Load(); n != maxStrangerRemotes {
		t.Fatalf("%d remotes, want the cap %d", n, maxStrangerRemotes)
	}
	if got := testutil.MetricValue(c.metrics.Dropped.WithLabelValues("remote_limit")); got != 50 {
		t.Fatalf("remote_limit drops %v, want 50", got)
	}
	c.forgetRemote(last)
	if r := c.remoteForStranger(key.NewSecretKey().Public(), now.Add(time.Second)); r == nil {
		t.Fatal("no slot after a remote was forgotten")
	}
}

// TestUpdatePathConcurrent: callers that change a remote's state and call
// updatePath concurrently leave r.current equal to the real state, and
// the events form a chain (each Old is the previous New).
func TestUpdatePathConcurrent(t *testing.T) {
	c := newTestConn(t)
	r := c.remoteFor(fakeID(1))
	events, stop := r.subscribe(1 << 16)
	defer stop()
	u1, _ := endpointaddr.ParseRelayURL("http://127.0.0.1:1/")
	u2, _ := endpointaddr.ParseRelayURL("http://127.0.0.1:2/")
	var wg sync.WaitGroup
	for g, u := range []endpointaddr.RelayURL{u1, u2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				r.mu.Lock()
				r.relayURL = u
				if i%7 == g {
					r.relayURL = ""
				}
				r.mu.Unlock()
				r.updatePath(time.Now())
			}
		}()
	}
	wg.Wait()
	r.mu.Lock()
	cur := r.current
	r.mu.Unlock()
	if want := r.info(time.Now()); cur.Kind != want.Kind || cur.RelayURL != want.RelayURL {
		t.Fatalf("current path %+v, but the state says %+v", cur, want)
	}
	var prev *PathInfo
	for len(events) > 0 {
		ev := <-events
		if prev != nil && (ev.Old.Kind != prev.Kind || ev.Old.RelayURL != prev.RelayURL) {
			t.Fatalf("event from %+v after an event to %+v", ev.Old, *prev)
		}
		nu := ev.New
		prev = &nu
	}
}
