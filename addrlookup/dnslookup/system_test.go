package dnslookup

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/addrlookup/pkarrlookup"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// TestNoResolvConf is a machine without /etc/resolv.conf (Windows,
// Android): New must not fail, and resolving goes through the platform
// resolver (here pointed at our DNS server) to the right answer.
func TestNoResolvConf(t *testing.T) {
	s := startServer(t)
	oldConf, oldSys := resolvConf, systemResolver
	t.Cleanup(func() { resolvConf, systemResolver = oldConf, oldSys })
	resolvConf = filepath.Join(t.TempDir(), "missing-resolv.conf")
	dnsAddr := s.DNSAddr().String()
	systemResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, dnsAddr)
	}}

	sk := key.NewSecretKey()
	u, _ := endpointaddr.ParseRelayURL("https://relay.example.org./")
	info := addrlookup.EndpointInfo{ID: sk.Public(), RelayURLs: []endpointaddr.RelayURL{u},
		Direct: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4433")}}
	pub, err := pkarrlookup.NewPublisher(sk, &pkarrlookup.PublisherOptions{RelayURL: s.PkarrURL(), PublishDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(t.Context(), info); err != nil {
		t.Fatal(err)
	}
	r, err := New(&Options{Origin: origin})
	if err != nil {
		t.Fatalf("New without resolv.conf: %v", err)
	}
	if r.sys == nil {
		t.Fatal("resolver did not fall back to the platform resolver")
	}
	got, err := r.Resolve(t.Context(), sk.Public())
	if err != nil || !got.Equal(info) {
		t.Fatalf("resolve via the platform resolver: %v %+v", err, got)
	}
	if _, err := r.Resolve(t.Context(), key.NewSecretKey().Public()); !errors.Is(err, addrlookup.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}
