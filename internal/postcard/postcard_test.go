package postcard

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
)

func TestUvarint(t *testing.T) {
	for _, c := range []struct {
		v   uint64
		hex string
	}{{0, "00"}, {127, "7f"}, {1234, "d209"}, {1024, "8008"}, {5678, "ae2c"}, {1<<64 - 1, "ffffffffffffffffff01"}} {
		b := AppendUvarint(nil, c.v)
		if hex.EncodeToString(b) != c.hex {
			t.Errorf("%d: got %x want %s", c.v, b, c.hex)
		}
		if UvarintLen(c.v) != len(b) {
			t.Errorf("%d: len %d", c.v, UvarintLen(c.v))
		}
		v, n, err := Uvarint(b)
		if err != nil || v != c.v || n != len(b) {
			t.Errorf("%d: decode %d %d %v", c.v, v, n, err)
		}
	}
	for _, bad := range []string{"", "80", "ffffffffffffffffff02", "ffffffffffffffffffff01"} {
		b, _ := hex.DecodeString(bad)
		if _, _, err := Uvarint(b); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestSocketAddr(t *testing.T) {
	for _, s := range []string{"127.0.0.1:1234", "[::1]:5678", "[fe80::1]:0"} {
		ap := netip.MustParseAddrPort(s)
		b := AppendSocketAddr(nil, ap)
		got, n, err := SocketAddr(b)
		if err != nil || got != ap || n != len(b) {
			t.Errorf("%s: %v %d %v", s, got, n, err)
		}
	}
}

func FuzzSocketAddr(f *testing.F) {
	f.Add(AppendSocketAddr(nil, netip.MustParseAddrPort("127.0.0.1:1234")))
	f.Add(AppendSocketAddr(nil, netip.MustParseAddrPort("[::1]:5678")))
	f.Fuzz(func(t *testing.T, b []byte) {
		ap, n, err := SocketAddr(b)
		if err != nil {
			return
		}
		if !bytes.Equal(AppendSocketAddr(nil, ap)[:1], b[:1]) || n > len(b) {
			t.Fatal("round trip")
		}
	})
}
