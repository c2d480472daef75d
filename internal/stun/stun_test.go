package stun

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

func TestResponseRoundTrip(t *testing.T) {
	tx := TxID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	req := AppendRequest(nil, tx)
	if !Is(req) || len(req) != 20 {
		t.Fatalf("request %x", req)
	}
	if got, err := ParseRequest(req); err != nil || got != tx {
		t.Fatalf("parse request: %v %v", got, err)
	}
	for _, s := range []string{"198.51.100.7:4242", "[2001:db8::1]:443"} {
		ap := netip.MustParseAddrPort(s)
		gotTx, got, err := ParseResponse(AppendResponse(nil, tx, ap))
		if err != nil || gotTx != tx || got != ap {
			t.Errorf("%s: %v %v %v", s, gotTx, got, err)
		}
	}
}

// TestRFC5769Response parses the IPv4 sample response of RFC 5769 §2.2
// (XOR-MAPPED-ADDRESS 192.0.2.1:32853, with SOFTWARE, MESSAGE-INTEGRITY and
// FINGERPRINT attributes around it).
func TestRFC5769Response(t *testing.T) {
	b, _ := hex.DecodeString("0101003c2112a442b7e7a701bc34d686fa87dfae" +
		"8022000b7465737420766563746f7220" +
		"002000080001a147e112a643" +
		"000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7" +
		"802800040a5f2e2c")
	_, ap, err := ParseResponse(b)
	if err != nil || ap != netip.MustParseAddrPort("192.0.2.1:32853") {
		t.Fatalf("got %v %v", ap, err)
	}
}

func TestBadResponses(t *testing.T) {
	for _, c := range []struct{ hex, want string }{
		{"0001000021", "shorter than the 20-byte header"},
		{"0111000c2112a442000000000000000000000000", "binding success"},
		{"0101000c2112a442000000000000000000000000", "length field"},
		{"010100082112a4420000000000000000000000000020001000000000", "overruns"},
		{"010100002112a442000000000000000000000000", "no mapped address"},
	} {
		b, _ := hex.DecodeString(c.hex)
		if _, _, err := ParseResponse(b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.hex, err, c.want)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	tx := TxID{9}
	f.Add(AppendResponse(nil, tx, netip.MustParseAddrPort("1.2.3.4:5")))
	f.Add(AppendResponse(nil, tx, netip.MustParseAddrPort("[::1]:5")))
	f.Add(AppendRequest(nil, tx))
	f.Fuzz(func(t *testing.T, b []byte) {
		tx, ap, err := ParseResponse(b)
		if err != nil {
			return
		}
		_, back, err := ParseResponse(AppendResponse(nil, tx, ap))
		if err != nil || back.Port() != ap.Port() || back.Addr().Unmap() != ap.Addr().Unmap() {
			t.Fatalf("round trip %v -> %v %v", ap, back, err)
		}
	})
}
