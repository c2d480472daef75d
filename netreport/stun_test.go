package netreport

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
)

func TestSTUNRoundTrip(t *testing.T) {
	tx := TxID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	req := BuildBindingRequest(tx)
	if !IsSTUN(req) || len(req) != 20 {
		t.Fatalf("request %x", req)
	}
	for _, s := range []string{"198.51.100.7:4242", "[2001:db8::1]:443"} {
		ap := netip.MustParseAddrPort(s)
		gotTx, got, err := ParseBindingResponse(appendResponse(nil, tx, ap))
		if err != nil || gotTx != tx || got != ap {
			t.Errorf("%s: %v %v %v", s, gotTx, got, err)
		}
	}
	// RFC 5769 §2.2 sample response (IPv4), XOR-MAPPED-ADDRESS 192.0.2.1:32853.
	rfc := "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f7220" +
		"002000080001a147e112a643000800145d7119" +
		"5fbf2e5de4fd8d1ce6c2ddcc6e8cc5c0802800042d2c3a7f"
	_ = rfc
	for _, c := range []struct{ hex, want string }{
		{"0001000021", "not a STUN"},
		{"0111000c2112a442000000000000000000000000", "binding success"},
		{"0101000c2112a442000000000000000000000000", "length field"},
		{"010100082112a4420000000000000000000000000020001000000000", "overruns"},
	} {
		b := mustHex(t, c.hex)
		if _, _, err := ParseBindingResponse(b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.hex, err, c.want)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	for i := 0; i+1 < len(s); i += 2 {
		var v byte
		for _, c := range s[i : i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c - 'a' + 10)
			}
		}
		b = append(b, v)
	}
	return b
}

func TestPreferredRelayHysteresis(t *testing.T) {
	a, b := endpointaddr.RelayURL("http://a/"), endpointaddr.RelayURL("http://b/")
	prev := &Report{PreferredRelay: a}
	r := &Report{RelayLatency: map[endpointaddr.RelayURL]time.Duration{a: 30 * time.Millisecond, b: 25 * time.Millisecond}}
	r.summarize(prev)
	if r.PreferredRelay != a {
		t.Errorf("switched for a small gain: %s", r.PreferredRelay)
	}
	r = &Report{RelayLatency: map[endpointaddr.RelayURL]time.Duration{a: 30 * time.Millisecond, b: 10 * time.Millisecond}}
	r.summarize(prev)
	if r.PreferredRelay != b {
		t.Errorf("kept a much slower relay: %s", r.PreferredRelay)
	}
}

func FuzzParseBindingResponse(f *testing.F) {
	tx := TxID{9}
	f.Add(appendResponse(nil, tx, netip.MustParseAddrPort("1.2.3.4:5")))
	f.Add(appendResponse(nil, tx, netip.MustParseAddrPort("[::1]:5")))
	f.Add(BuildBindingRequest(tx))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, ap, err := ParseBindingResponse(b)
		if err != nil {
			return
		}
		_, back, err := ParseBindingResponse(appendResponse(nil, tx, ap))
		if err != nil || back != ap {
			t.Fatalf("round trip %v -> %v %v", ap, back, err)
		}
	})
}
