package netreport_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/magicsock"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/netreport"
	"github.com/iroh-go/iroh/relay/relaytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stunServer serves STUN with the relay server's implementation on
// 127.0.0.1:0 and returns its port.
func stunServer(t *testing.T, r *relaytest.Relay) int {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); r.Server.ServeSTUN(pc) }()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func TestReportAgainstRealRelay(t *testing.T) {
	r := relaytest.Start(t, nil)
	port1 := stunServer(t, r)
	port2 := stunServer(t, r)
	sock, err := magicsock.New(&magicsock.Options{SecretKey: key.NewSecretKey(), BindV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableV6: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	relayURL, _ := endpointaddr.ParseRelayURL(r.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := netreport.Run(ctx, netreport.Config{
		Relays:      []endpointaddr.RelayURL{relayURL},
		STUNPort:    port1,
		STUNServers: []string{"127.0.0.1:" + strconv.Itoa(port2)},
		Prober:      sock,
	})
	if err != nil {
		t.Fatal(err)
	}
	local := sock.LocalAddrs()[0]
	if !rep.UDPv4 || rep.GlobalV4 != local {
		t.Errorf("global v4 %v (udp %v), want %v; errors %v", rep.GlobalV4, rep.UDPv4, local, rep.Errors)
	}
	if rep.MappingVariesByDestIPv4 == nil || *rep.MappingVariesByDestIPv4 {
		t.Errorf("mapping varies: %v (no NAT on loopback)", rep.MappingVariesByDestIPv4)
	}
	if rep.PreferredRelay != relayURL || rep.RelayLatency[relayURL] <= 0 {
		t.Errorf("preferred %q latency %v", rep.PreferredRelay, rep.RelayLatency)
	}
	if len(rep.STUN) != 2 {
		t.Errorf("stun results %+v", rep.STUN)
	}
	// The STUN answer is now one of the socket's direct addresses.
	found := false
	for _, a := range sock.DirectAddrs() {
		found = found || a == local
	}
	if !found {
		t.Errorf("direct addrs %v lack %v", sock.DirectAddrs(), local)
	}
}

func TestReportUnreachable(t *testing.T) {
	sock, err := magicsock.New(&magicsock.Options{SecretKey: key.NewSecretKey(), BindV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableV6: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	// A port nobody listens on: STUN times out, /ping is refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	u, _ := endpointaddr.ParseRelayURL("http://" + addr)
	rep, err := netreport.Run(context.Background(), netreport.Config{
		Relays: []endpointaddr.RelayURL{u}, STUNPort: 9, Prober: sock, Timeout: 2 * time.Second,
	})
	if err == nil && rep.PreferredRelay != "" {
		t.Fatalf("preferred relay %q from an unreachable relay", rep.PreferredRelay)
	}
	if rep == nil || len(rep.Errors) == 0 {
		t.Fatalf("no errors recorded: %+v", rep)
	}
}
