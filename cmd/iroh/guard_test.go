package main

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/iroh-go/iroh"
)

// TestMain runs the tests with the loopback guard on every endpoint the
// commands build, then checks for leaked goroutines.
func TestMain(m *testing.M) {
	optionsHook = guardOptions
	code := m.Run()
	guard.mu.Lock()
	for _, v := range guard.violations {
		fmt.Fprintf(os.Stderr, "FAIL: loopback guard: %s\n", v)
		code = 1
	}
	guard.mu.Unlock()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

var guard struct {
	mu         sync.Mutex
	violations []string
}

// guardOptions is the options hook of the tests: a command run by a test
// may only reach loopback. A relay, pkarr relay or DNS lookup elsewhere
// (n0's defaults) is recorded, which fails the test binary, and removed
// before the endpoint binds, so no packet leaves the machine.
func guardOptions(o *iroh.Options) {
	var bad []string
	for _, r := range o.Relays {
		if !loopbackURL(string(r)) {
			bad = append(bad, "relay "+string(r))
		}
	}
	al := &o.AddressLookup
	if al.PkarrRelay != "" && !loopbackURL(al.PkarrRelay) {
		bad = append(bad, "pkarr relay "+al.PkarrRelay)
	}
	if al.DNSOrigin != "" && !loopbackHostPort(al.DNSResolver) {
		bad = append(bad, fmt.Sprintf("DNS lookup of %s through %q", al.DNSOrigin, al.DNSResolver))
	}
	if len(bad) == 0 {
		return
	}
	guard.mu.Lock()
	guard.violations = append(guard.violations, fmt.Sprintf("a command would reach %v", bad))
	guard.mu.Unlock()
	o.Relays = slices.DeleteFunc(o.Relays, func(r iroh.RelayURL) bool { return !loopbackURL(string(r)) })
	*al = iroh.AddressLookupOptions{MDNS: al.MDNS, Logger: al.Logger}
}

func loopbackURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && loopbackHost(u.Hostname())
}

func loopbackHostPort(s string) bool {
	h, _, err := net.SplitHostPort(s)
	return err == nil && loopbackHost(h)
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// TestLoopbackGuard checks the guard itself: n0's defaults are caught and
// stripped, local services pass.
func TestLoopbackGuard(t *testing.T) {
	guard.mu.Lock()
	saved := guard.violations
	guard.mu.Unlock()
	defer func() { guard.mu.Lock(); guard.violations = saved; guard.mu.Unlock() }()

	var ef endpointFlags
	o, err := ef.options(testEnv(nil, nil, discardW{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Relays) != 0 || o.AddressLookup.DNSOrigin != "" || o.AddressLookup.PkarrRelay != "" {
		t.Fatalf("default options not stripped: %+v", o)
	}
	guard.mu.Lock()
	n := len(guard.violations) - len(saved)
	guard.mu.Unlock()
	if n != 1 {
		t.Fatalf("default options (n0) made %d violations, want 1", n)
	}
	ef = endpointFlags{relays: []string{"http://127.0.0.1:1/"}, pkarrRelay: "http://127.0.0.1:2/pkarr"}
	o, err = ef.options(testEnv(nil, nil, discardW{}), nil)
	if err != nil || len(o.Relays) != 1 {
		t.Fatalf("local relay: %v %v", o, err)
	}
}

type discardW struct{}

func (discardW) Write(p []byte) (int, error) { return len(p), nil }

// testCommit is the commit the test binary is stamped with.
const testCommit = "0123456789abcdef-test"
