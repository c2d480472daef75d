package endpointaddr

import (
	"net/netip"
	"testing"
)

func TestParseRelayURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:3340":       "http://localhost:3340/",
		"https://relay.example.org./": "https://relay.example.org./",
		"HTTPS://Relay.Example.ORG":   "https://relay.example.org/",
		"https://a.b:443/x":           "https://a.b/x",
		"http://[::1]:80":             "http://[::1]/",
	} {
		got, err := ParseRelayURL(in)
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://x/", "relay.example.org", "http://"} {
		if _, err := ParseRelayURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCanonical(t *testing.T) {
	a := Addr{Direct: []netip.AddrPort{
		netip.MustParseAddrPort("[::1]:5"), netip.MustParseAddrPort("10.0.0.1:9"),
		netip.MustParseAddrPort("10.0.0.1:2"), netip.MustParseAddrPort("[fe80::1%eth0]:1"),
		netip.MustParseAddrPort("10.0.0.1:2"),
	}, RelayURLs: []RelayURL{"https://b/", "https://a/"}}
	c := a.Canonical()
	want := []string{"10.0.0.1:2", "10.0.0.1:9", "[::1]:5", "[fe80::1]:1"}
	if len(c.Direct) != len(want) {
		t.Fatalf("got %v", c.Direct)
	}
	for i, w := range want {
		if c.Direct[i].String() != w {
			t.Errorf("%d: got %v want %s", i, c.Direct[i], w)
		}
	}
	if c.RelayURLs[0] != "https://a/" {
		t.Errorf("relays %v", c.RelayURLs)
	}
}
