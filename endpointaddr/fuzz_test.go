package endpointaddr

import "testing"

// FuzzParseRelayURL: relay URLs come from tickets, address records and
// users. No panic; a parsed URL's string form parses to the same URL.
func FuzzParseRelayURL(f *testing.F) {
	for _, s := range []string{"https://relay.example.org./", "http://127.0.0.1:3340/", "https://[::1]:443/x",
		"", "ftp://x/", "https://", "http://a b/", "https://xn--bcher-kva.example/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseRelayURL(s)
		if err != nil {
			return
		}
		back, err := ParseRelayURL(u.String())
		if err != nil {
			t.Fatalf("%q parsed to %q, which does not parse: %v", s, u.String(), err)
		}
		if back.String() != u.String() {
			t.Fatalf("round trip %q -> %q -> %q", s, u.String(), back.String())
		}
	})
}
