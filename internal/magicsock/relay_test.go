package magicsock

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// closeRecorder is a RelayClient that records sends and closes; the
// real client is tested in package relay and end to end in package iroh.
type closeRecorder struct {
	mu     sync.Mutex
	sent   int
	closed bool
}

func (r *closeRecorder) Send(key.PublicKey, uint8, uint16, []byte) error {
	r.mu.Lock()
	r.sent++
	r.mu.Unlock()
	return nil
}

func (r *closeRecorder) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

func TestIdleNonHomeRelaysClosed(t *testing.T) {
	clients := map[endpointaddr.RelayURL]*closeRecorder{}
	var mu sync.Mutex
	dial := func(url endpointaddr.RelayURL, _ func(key.PublicKey, uint8, uint16, []byte)) (RelayClient, error) {
		mu.Lock()
		defer mu.Unlock()
		rc := &closeRecorder{}
		clients[url] = rc
		return rc, nil
	}
	home, other := endpointaddr.RelayURL("http://home.test/"), endpointaddr.RelayURL("http://other.test/")
	c, err := New(&Options{SecretKey: key.NewSecretKey(), BindV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableV6: true, HomeRelay: home, DialRelay: dial})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.sendRelay([]byte("x"), other, key.NewSecretKey().Public()); err != nil {
		t.Fatal(err)
	}
	c.pruneRelays(time.Now().Add(30 * time.Second))
	mu.Lock()
	if clients[other].closed {
		t.Fatal("relay closed after 30 s idle")
	}
	mu.Unlock()
	c.pruneRelays(time.Now().Add(relayIdleTimeout + time.Second))
	mu.Lock()
	defer mu.Unlock()
	if !clients[other].closed {
		t.Fatal("idle non-home relay not closed")
	}
	if clients[home].closed {
		t.Fatal("home relay closed")
	}
}

func TestRelayFrameWithTinySegmentsDropped(t *testing.T) {
	c, err := New(&Options{SecretKey: key.NewSecretKey(), BindV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableV6: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	src := key.NewSecretKey().Public()
	c.deliverRelay("http://r.test/", src, 1, make([]byte, 60000))
	if _, ok := c.byID.Load(src); ok {
		t.Fatal("a frame of 60000 one-byte segments was delivered")
	}
	c.deliverRelay("http://r.test/", src, 1200, make([]byte, 2400))
	if _, ok := c.byID.Load(src); !ok {
		t.Fatal("a normal batch was not delivered")
	}
}
