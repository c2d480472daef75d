package pkarr

import (
	"net/netip"
	"testing"

	"github.com/iroh-go/iroh/key"
)

func benchInfo() Info {
	return Info{RelayURLs: []string{"https://relay.example.org./"},
		Addrs:    []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:4433"), netip.MustParseAddrPort("[2001:db8::1]:4433")},
		UserData: "hello"}
}

func BenchmarkSignInfo(b *testing.B) {
	sk := key.NewSecretKey()
	info := benchInfo()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignInfo(sk, info, 0, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSignedPacket(b *testing.B) {
	p, _ := SignInfo(key.NewSecretKey(), benchInfo(), 0, 0)
	raw := p.AppendBytes(nil)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSignedPacket(raw); err != nil {
			b.Fatal(err)
		}
	}
}
