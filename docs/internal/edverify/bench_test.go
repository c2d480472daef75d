package edverify

import (
	"crypto/ed25519"
	"testing"

	"github.com/iroh-go/iroh/key"
)

func benchSig(b *testing.B) (key.PublicKey, []byte, key.Signature) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 150) // a docs entry's signed bytes
	var pk key.PublicKey
	var sig key.Signature
	copy(pk[:], pub)
	copy(sig[:], ed25519.Sign(priv, msg))
	return pk, msg, sig
}

// BenchmarkVerify is the table path on a key used often.
func BenchmarkVerify(b *testing.B) {
	pk, msg, sig := benchSig(b)
	var v Verifier
	for range MinUses {
		v.Verify(pk, msg, sig)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !v.Verify(pk, msg, sig) {
			b.Fatal("rejected")
		}
	}
}

// BenchmarkKeyVerify is the baseline: key.PublicKey.Verify.
func BenchmarkKeyVerify(b *testing.B) {
	pk, msg, sig := benchSig(b)
	b.ReportAllocs()
	for b.Loop() {
		if !pk.Verify(msg, sig) {
			b.Fatal("rejected")
		}
	}
}

// BenchmarkNewTable is the cost of a key's table.
func BenchmarkNewTable(b *testing.B) {
	pk, _, _ := benchSig(b)
	ks := newKeyState(pk)
	b.ReportAllocs()
	for b.Loop() {
		newTable(ks.A)
	}
}

// BenchmarkVerifyMany is VerifyMany per signature on a key used often.
func BenchmarkVerifyMany(b *testing.B) {
	pk, msg, sig := benchSig(b)
	var v Verifier
	for range MinUses {
		v.Verify(pk, msg, sig)
	}
	items := make([]Item, 256)
	for i := range items {
		items[i] = Item{Pub: pk, Msg: msg, Sig: sig}
	}
	ok := make([]bool, len(items))
	b.ReportAllocs()
	for b.Loop() {
		v.VerifyMany(items, ok)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/sig")
}
