package key

import "testing"

// FuzzParseZ32 feeds the z-base-32 parser (the DNS server parses the
// label of every query and every pkarr URL with it): no panic, and what
// parses re-encodes to the same key.
func FuzzParseZ32(f *testing.F) {
	f.Add("hnvcppgow2sc2yvdvdicu3ynonsteflxdxrehjr2ybekdc2z3iuq")
	f.Add(NewSecretKey().Public().Z32())
	f.Add("")
	f.Add("yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseZ32(s)
		if err != nil {
			return
		}
		back, err := ParseZ32(k.Z32())
		if err != nil || back != k {
			t.Fatalf("round trip of %q: %v %v", s, back, err)
		}
	})
}

// FuzzParseSecretKey: no panic; a parsed key re-encodes to itself.
func FuzzParseSecretKey(f *testing.F) {
	f.Add(NewSecretKey().HexString())
	f.Add("")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		sk, err := ParseSecretKey(s)
		if err != nil {
			return
		}
		back, err := ParseSecretKey(sk.HexString())
		if err != nil || back != sk {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzParseSNIName: the TLS server name parser; what parses is the SNI of
// that key.
func FuzzParseSNIName(f *testing.F) {
	f.Add(NewSecretKey().Public().SNIName())
	f.Add(".iroh.invalid")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseSNIName(s)
		if err != nil {
			return
		}
		if back, err := ParseSNIName(k.SNIName()); err != nil || back != k {
			t.Fatalf("round trip of %q: %v", s, err)
		}
	})
}
