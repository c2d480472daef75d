package edverify

import (
	"math/rand/v2"
	"testing"

	"github.com/iroh-go/iroh/key"
)

// FuzzVerify is a differential test: on any key, message and signature the
// table path must decide as key.PublicKey.Verify does. Seeds are honest,
// mixed-order and small-order cases; mutations of them probe the rest.
func FuzzVerify(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	good := newSigner(r, nil)
	mixed := newSigner(r, order8(f))
	for i := range 4 {
		m := []byte{byte(i), 'x'}
		sig, _ := good.sign(r, m, nil)
		f.Add(good.pub[:], m, sig[:])
		sig, _ = mixed.sign(r, m, nil)
		f.Add(mixed.pub[:], m, sig[:])
		sig, _ = mixed.sign(r, m, order8(f))
		f.Add(mixed.pub[:], m, sig[:])
	}
	for _, h := range smallOrderHex[:3] {
		var sig key.Signature
		b := mustHex(f, h)
		copy(sig[:32], b)
		f.Add(good.pub[:], []byte("Zcash"), sig[:])
		f.Add(b, []byte("Zcash"), sig[:])
	}
	tabs := map[key.PublicKey]*table{}
	f.Fuzz(func(t *testing.T, pubB, msg, sigB []byte) {
		if len(pubB) != 32 || len(sigB) != 64 {
			return
		}
		pub, sig := key.PublicKey(pubB), key.Signature(sigB)
		want := pub.Verify(msg, sig)
		ks := newKeyState(pub)
		got := false
		if ks.ok {
			tab := tabs[pub]
			if tab == nil {
				if len(tabs) > 64 {
					clear(tabs)
				}
				tab = newTable(ks.A)
				tabs[pub] = tab
			}
			got = verifyTable(tab, pub, msg, sig)
			// and the VerifyMany path: encoding with a shared inversion
			items := []Item{{Pub: pub, Msg: msg, Sig: sig}}
			ok := []bool{false}
			if p, good := equation(tab, pub, msg, &sig); good {
				finish([]pending{p}, items, ok)
			}
			if ok[0] != want {
				t.Fatalf("pub %x sig %x msg %x: VerifyMany path %v, key.Verify %v", pubB, sigB, msg, ok[0], want)
			}
		}
		if got != want {
			t.Fatalf("pub %x sig %x msg %x: table path %v, key.Verify %v", pubB, sigB, msg, got, want)
		}
	})
}
