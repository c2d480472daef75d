package key

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/iroh-go/iroh/internal/testutil"
)

type coreVectors struct {
	Keys []struct {
		Name       string         `json:"name"`
		Secret     string         `json:"secret_key_hex"`
		ID         string         `json:"endpoint_id_hex"`
		Display    string         `json:"display"`
		Short      string         `json:"fmt_short"`
		Base32     string         `json:"base32_rfc4648_lower_nopad"`
		Z32        string         `json:"z32"`
		SNI        string         `json:"tls_server_name"`
		FromString map[string]any `json:"from_string_accepts"`
	} `json:"keys"`
	Z32Check struct {
		ID  string `json:"endpoint_id_hex"`
		Z32 string `json:"z32_upstream"`
	} `json:"z32_upstream_check"`
	Signatures []struct {
		ID       string `json:"endpoint_id_hex"`
		Msg      string `json:"message_hex"`
		Sig      string `json:"signature_hex"`
		Verifies bool   `json:"verifies"`
	} `json:"signatures"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKeyVectors(t *testing.T) {
	var v coreVectors
	testutil.LoadVectors(t, "core.json", &v)
	if len(v.Keys) == 0 {
		t.Fatal("no key vectors")
	}
	for _, k := range v.Keys {
		t.Run(k.Name, func(t *testing.T) {
			sk, err := ParseSecretKey(k.Secret)
			if err != nil {
				t.Fatal(err)
			}
			pk := sk.Public()
			for _, c := range []struct{ got, want string }{
				{pk.String(), k.ID}, {pk.String(), k.Display}, {pk.ShortString(), k.Short},
				{pk.Base32(), k.Base32}, {pk.Z32(), k.Z32}, {pk.SNIName(), k.SNI},
			} {
				if c.got != c.want {
					t.Errorf("got %s, want %s", c.got, c.want)
				}
			}
			forms := map[string]string{
				"hex_lower": k.ID, "hex_upper": strings.ToUpper(k.ID),
				"base32_lower": k.Base32, "base32_upper": strings.ToUpper(k.Base32), "z32": k.Z32,
			}
			for form, in := range forms {
				want, ok := k.FromString[form]
				if !ok {
					continue
				}
				got, err := ParsePublicKey(in)
				accepts := want == true
				if accepts && (err != nil || got != pk) {
					t.Errorf("%s: Rust accepts %q, we got %v, %v", form, in, got, err)
				}
				if !accepts && err == nil {
					t.Errorf("%s: Rust rejects %q (%v), we accepted", form, in, want)
				}
			}
			if z, err := ParseZ32(k.Z32); err != nil || z != pk {
				t.Errorf("ParseZ32: %v %v", z, err)
			}
			if s, err := ParseSNIName(k.SNI); err != nil || s != pk {
				t.Errorf("ParseSNIName: %v %v", s, err)
			}
		})
	}
	id, _ := ParsePublicKey(v.Z32Check.ID)
	if id.Z32() != v.Z32Check.Z32 {
		t.Errorf("z32 upstream: got %s want %s", id.Z32(), v.Z32Check.Z32)
	}
}

func TestSignatureVectors(t *testing.T) {
	var v coreVectors
	testutil.LoadVectors(t, "core.json", &v)
	if len(v.Signatures) == 0 {
		t.Fatal("no signature vectors")
	}
	seeds := map[string]SecretKey{}
	for _, k := range v.Keys {
		sk, _ := ParseSecretKey(k.Secret)
		seeds[k.ID] = sk
	}
	for i, s := range v.Signatures {
		pk, err := ParsePublicKey(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		sig, _ := SignatureFromBytes(unhex(t, s.Sig))
		msg := unhex(t, s.Msg)
		if got := pk.Verify(msg, sig); got != s.Verifies {
			t.Errorf("%d: verify = %v, want %v", i, got, s.Verifies)
		}
		if sk, ok := seeds[s.ID]; ok {
			if got := sk.Sign(msg); got != sig {
				t.Errorf("%d: sign = %s, want %s", i, got, sig)
			}
		}
		bad := sig
		bad[5] ^= 1
		if pk.Verify(msg, bad) {
			t.Errorf("%d: tampered signature verifies", i)
		}
	}
}

func TestVerifyStrictRejectsSmallOrder(t *testing.T) {
	// The identity point (small order) as public key with a signature whose
	// R is also the identity and S = 0 is accepted by lax verifiers.
	var ident PublicKey
	ident[0] = 1
	var sig Signature
	sig[0] = 1
	if ident.Verify([]byte("x"), sig) {
		t.Fatal("small-order key accepted")
	}
	// Non-canonical S (S >= L) must be rejected.
	sk := SecretKey{}
	good := sk.Sign([]byte("m"))
	bad := good
	for i := 32; i < 64; i++ {
		bad[i] = 0xff
	}
	if sk.Public().Verify([]byte("m"), bad) {
		t.Fatal("non-canonical S accepted")
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "xyz", strings.Repeat("g", 64), strings.Repeat("a", 63), "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da2"} {
		if _, err := ParsePublicKey(in); err == nil {
			t.Errorf("%q parsed", in)
		} else if !strings.Contains(err.Error(), "public key") {
			t.Errorf("%q: unclear error %v", in, err)
		}
	}
	sk := NewSecretKey()
	if strings.Contains(sk.String(), sk.HexString()) {
		t.Fatal("secret key printed")
	}
	back, err := ParseSecretKey(sk.HexString())
	if err != nil || back != sk {
		t.Fatal("secret key round trip", err)
	}
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add("3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29")
	f.Add("hnvcppgow2sc2yvdvdicu3ynonsteflxdxrehjr2ybekdc2z3iuq")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePublicKey(s)
		if err != nil {
			return
		}
		back, err := ParsePublicKey(k.String())
		if err != nil || back != k {
			t.Fatalf("round trip: %v %v", back, err)
		}
		back, err = ParsePublicKey(k.Base32())
		if err != nil || back != k {
			t.Fatalf("base32 round trip: %v %v", back, err)
		}
	})
}
