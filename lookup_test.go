package iroh_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/dnsserver"
)

// TestDialByIDThroughDNSServer: A publishes to our dns-server's pkarr
// relay; B knows only A's id and resolves it over DNS from the same server.
func TestDialByIDThroughDNSServer(t *testing.T) {
	srv, err := dnsserver.New(&dnsserver.Options{HTTPAddr: "127.0.0.1:0", DNSAddr: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := iroh.Bind(ctx, &iroh.Options{ALPNs: []string{"x"}, BindAddrV4: loopback4, DisableIPv6: true,
		AddressLookup: iroh.AddressLookupOptions{PkarrRelay: srv.PkarrURL(), PublishDirect: true}, UserData: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	origin := dnsserver.DefaultOrigin
	b, err := iroh.Bind(ctx, &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true,
		AddressLookup: iroh.AddressLookupOptions{DNSOrigin: origin, DNSResolver: srv.DNSAddr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	go func() {
		if c, err := a.Accept(ctx); err == nil {
			<-c.Context().Done()
		}
	}()
	var conn *iroh.Connection
	for {
		conn, err = b.Connect(ctx, iroh.EndpointAddr{ID: a.ID()}, "x")
		if err == nil {
			break
		}
		if ctx.Err() != nil || !errors.Is(err, addrlookup.ErrNotFound) {
			t.Fatalf("dial by id: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // not published yet
	}
	if conn.RemoteID() != a.ID() {
		t.Fatalf("remote %s", conn.RemoteID())
	}
	conn.Close(0, "")
}

func TestDialByIDWithoutLookupSaysSo(t *testing.T) {
	b := bind(t)
	_, err := b.Connect(context.Background(), iroh.EndpointAddr{ID: iroh.NewSecretKey().Public()}, "x")
	if !errors.Is(err, iroh.ErrNoAddress) || !strings.Contains(err.Error(), "no relay URL or direct address") {
		t.Fatalf("got %v", err)
	}
}

var _ = netip.AddrPort{}
