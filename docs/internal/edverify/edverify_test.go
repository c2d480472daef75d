package edverify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"

	"filippo.io/edwards25519"
	"github.com/iroh-go/iroh/key"
)

// smallOrderHex are the eight points of small order, canonically encoded.
var smallOrderHex = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

func mustPoint(t testing.TB, b []byte) *edwards25519.Point {
	t.Helper()
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		t.Fatalf("point %x: %v", b, err)
	}
	return p
}

func mustHex(t testing.TB, h string) []byte {
	t.Helper()
	b, err := hex.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func smallOrderPoints(t testing.TB) []*edwards25519.Point {
	t.Helper()
	var out []*edwards25519.Point
	for _, h := range smallOrderHex {
		b, _ := hex.DecodeString(h)
		p := mustPoint(t, b)
		if !isSmallOrder(p) {
			t.Fatalf("%s is not of small order", h)
		}
		out = append(out, p)
	}
	return out
}

// order8 returns a point of order 8.
func order8(t testing.TB) *edwards25519.Point {
	t.Helper()
	T := smallOrderPoints(t)[4]
	four := new(edwards25519.Point).Add(T, T)
	four.Add(four, four)
	if four.Equal(edwards25519.NewIdentityPoint()) == 1 {
		t.Fatal("not of order 8")
	}
	return T
}

func randScalar(r *rand.Rand) *edwards25519.Scalar {
	var b [64]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	s, _ := edwards25519.NewScalar().SetUniformBytes(b[:])
	return s
}

// edgeScalars are scalars whose digits hit the table's limits.
func edgeScalars(t testing.TB) []*edwards25519.Scalar {
	t.Helper()
	var out []*edwards25519.Scalar
	add := func(b []byte) {
		s, err := edwards25519.NewScalar().SetCanonicalBytes(b)
		if err != nil {
			t.Fatalf("scalar %x: %v", b, err)
		}
		out = append(out, s)
	}
	var b [32]byte
	add(b[:]) // 0
	b[0] = 1
	add(b[:]) // 1
	lMinus1, _ := hex.DecodeString("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	add(lMinus1)
	b = [32]byte{}
	b[31] = 0x10 // 2^252
	add(b[:])
	for _, fill := range []byte{0x20, 0x1f, 0x3f, 0x7f, 0x80, 0xff, 0x55, 0xaa} {
		for i := range b {
			b[i] = fill
		}
		b[31] &= 0x0f // below 2^252 < l
		add(b[:])
	}
	return out
}

// TestSmallOrderEncodings derives the list VerifyMany checks R against:
// the multiples of a point of order 8.
func TestSmallOrderEncodings(t *testing.T) {
	T := order8(t)
	P := edwards25519.NewIdentityPoint()
	got := map[[32]byte]bool{}
	for range 8 {
		got[[32]byte(P.Bytes())] = true
		P.Add(P, T)
	}
	want := map[[32]byte]bool{}
	for _, e := range smallOrderEncodings {
		want[e] = true
	}
	if len(got) != 8 || len(want) != 8 {
		t.Fatalf("%d multiples, %d listed", len(got), len(want))
	}
	for e := range got {
		if !want[e] {
			t.Fatalf("small-order point %x not listed", e)
		}
	}
}

// TestTableMatchesDoubleScalarMult checks the table arithmetic: [b]B +
// [a]P against filippo.io/edwards25519, for points of every order and
// scalars at the digits' limits.
func TestTableMatchesDoubleScalarMult(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var points []*edwards25519.Point
	points = append(points, edwards25519.NewGeneratorPoint())
	prime := new(edwards25519.Point).ScalarBaseMult(randScalar(r))
	points = append(points, prime)
	for i, T := range smallOrderPoints(t) {
		switch i {
		case 2, 4: // orders 4 and 8, alone
			points = append(points, T)
		}
		switch i {
		case 1, 2, 4, 6: // mixed: torsion of orders 2, 4, 8 and 8
			points = append(points, new(edwards25519.Point).Add(prime, T))
		}
	}
	var pairs [][2]*edwards25519.Scalar
	fixed := randScalar(r)
	for _, s := range append(edgeScalars(t), randScalar(r), randScalar(r)) {
		pairs = append(pairs, [2]*edwards25519.Scalar{s, fixed}, [2]*edwards25519.Scalar{fixed, s})
	}
	for pi, P := range points {
		tab := newTable(P)
		negP := new(edwards25519.Point).Negate(P)
		for qi, q := range pairs {
			a, b := q[0], q[1]
			want := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(a, P, b)
			var acc ext
			acc.setIdentity()
			base().mulAdd(&acc, b.Bytes(), false)
			tab.mulAdd(&acc, a.Bytes(), false)
			if !acc.equal(want) {
				t.Fatalf("point %d, pair %d: [b]B + [a]P differs", pi, qi)
			}
			want.VarTimeDoubleScalarBaseMult(a, negP, b)
			acc.setIdentity()
			base().mulAdd(&acc, b.Bytes(), false)
			tab.mulAdd(&acc, a.Bytes(), true)
			if !acc.equal(want) {
				t.Fatalf("point %d, pair %d: [b]B - [a]P differs", pi, qi)
			}
		}
	}
	if len(points) != 8 {
		t.Fatalf("%d points", len(points))
	}
}

func TestDigits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	scalars := edgeScalars(t)
	for range 100 {
		scalars = append(scalars, randScalar(r))
	}
	for _, s := range scalars {
		d := digits(s.Bytes())
		// sum d[i]·2^(window·i), evaluated as a scalar
		sum := edwards25519.NewScalar()
		var pow [32]byte
		pow[0] = 1
		p, _ := edwards25519.NewScalar().SetCanonicalBytes(pow[:])
		var radix [32]byte
		radix[window/8] = 1 << (window % 8)
		rs, _ := edwards25519.NewScalar().SetCanonicalBytes(radix[:])
		for _, di := range d {
			if int(di) < -half || int(di) >= half {
				t.Fatalf("digit %d out of range", di)
			}
			var db [32]byte
			db[0] = byte(max(di, -di))
			ds, _ := edwards25519.NewScalar().SetCanonicalBytes(db[:])
			ds.Multiply(ds, p)
			if di < 0 {
				ds.Negate(ds)
			}
			sum.Add(sum, ds)
			p.Multiply(p, rs)
		}
		if sum.Equal(s) != 1 {
			t.Fatalf("digits of %x do not sum to it", s.Bytes())
		}
	}
}

// TestCanonicalY checks canonicalY against re-encoding, over every
// non-canonical y and both sign bits.
func TestCanonicalY(t *testing.T) {
	var encs [][]byte
	for v := range 19 { // y = 2^255-19+v, the non-canonical values
		b := bytes.Repeat([]byte{0xff}, 32)
		b[0] = byte(0xed + v)
		b[31] = 0x7f
		encs = append(encs, b)
	}
	for v := range 20 { // small canonical values
		b := make([]byte, 32)
		b[0] = byte(v)
		encs = append(encs, b)
	}
	for _, h := range smallOrderHex {
		b, _ := hex.DecodeString(h)
		encs = append(encs, b)
	}
	for _, b := range encs {
		for _, sign := range []byte{0, 0x80} {
			e := bytes.Clone(b)
			e[31] = e[31]&0x7f | sign
			p, err := new(edwards25519.Point).SetBytes(e)
			if err != nil {
				continue
			}
			if isSmallOrder(p) {
				continue // rejected before canonicalY is asked (x = 0 with the sign bit set is one of them)
			}
			want := bytes.Equal(p.Bytes(), e)
			if got := canonicalY(e); got != want {
				t.Errorf("canonicalY(%x) = %v, re-encoding says %v", e, got, want)
			}
		}
	}
}

// signer makes signatures for a key A = [a]B + T (T of any order), with
// chosen nonces.
type signer struct {
	a   *edwards25519.Scalar
	A   *edwards25519.Point
	pub key.PublicKey
}

func newSigner(r *rand.Rand, T *edwards25519.Point) *signer {
	a := randScalar(r)
	A := new(edwards25519.Point).ScalarBaseMult(a)
	if T != nil {
		A.Add(A, T)
	}
	s := &signer{a: a, A: A}
	copy(s.pub[:], A.Bytes())
	return s
}

func challenge(R, A, msg []byte) *edwards25519.Scalar {
	h := sha512.New()
	h.Write(R)
	h.Write(A)
	h.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	return k
}

// sign returns (R || s) with R = [r]B + TR and s = r + k·a.
func (s *signer) sign(r *rand.Rand, msg []byte, TR *edwards25519.Point) (key.Signature, *edwards25519.Scalar) {
	rs := randScalar(r)
	R := new(edwards25519.Point).ScalarBaseMult(rs)
	if TR != nil {
		R.Add(R, TR)
	}
	k := challenge(R.Bytes(), s.pub[:], msg)
	S := edwards25519.NewScalar().MultiplyAdd(k, s.a, rs)
	var sig key.Signature
	copy(sig[:32], R.Bytes())
	copy(sig[32:], S.Bytes())
	return sig, k
}

type verdict struct {
	name string
	pub  key.PublicKey
	msg  []byte
	sig  key.Signature
}

// check asserts that the table path and key.PublicKey.Verify agree on
// every case, and returns how many of each name were accepted. Both ways in are
// checked: verifyTable directly, and a Verifier already warmed up on each
// key (so it uses its table).
func check(t *testing.T, cases []verdict) map[string]int {
	t.Helper()
	tabs := map[key.PublicKey]*table{}
	var v Verifier
	accepted := map[string]int{}
	for _, c := range cases {
		want := c.pub.Verify(c.msg, c.sig)
		ks := newKeyState(c.pub)
		got := false
		if ks.ok {
			tab := tabs[c.pub]
			if tab == nil {
				tab = newTable(ks.A)
				tabs[c.pub] = tab
				for range MinUses {
					v.Verify(c.pub, nil, key.Signature{})
				}
			}
			got = verifyTable(tab, c.pub, c.msg, c.sig)
		}
		if got != want {
			t.Fatalf("%s: table path says %v, key.Verify %v", c.name, got, want)
		}
		if g := v.Verify(c.pub, c.msg, c.sig); g != want {
			t.Fatalf("%s: Verifier says %v, key.Verify %v", c.name, g, want)
		}
		if want {
			accepted[c.name]++
		}
	}
	// VerifyMany on all at once (batches of inversions across keys).
	items := make([]Item, len(cases))
	for i, c := range cases {
		items[i] = Item{Pub: c.pub, Msg: c.msg, Sig: c.sig}
	}
	ok := make([]bool, len(items))
	v.VerifyMany(items, ok)
	for i, c := range cases {
		if want := c.pub.Verify(c.msg, c.sig); ok[i] != want {
			t.Fatalf("%s (%d): VerifyMany says %v, key.Verify %v", c.name, i, ok[i], want)
		}
	}
	return accepted
}

// TestEdgeCases compares the decisions with key.PublicKey.Verify on the
// cases where Ed25519 verifiers differ: small-order and non-canonical A
// and R (the ZIP-215 set), non-canonical S, and mixed-order keys and
// nonces where only the cofactorless equation decides.
func TestEdgeCases(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	msg := []byte("Zcash")
	var cases []verdict

	// ZIP-215: every small-order A and R, canonical and not, with S = 0.
	var encs [][]byte
	for _, h := range smallOrderHex {
		b, _ := hex.DecodeString(h)
		encs = append(encs, b)
		p := mustPoint(t, b)
		if y := p.Bytes(); y[0] <= 18 && bytes.Equal(y[1:31], make([]byte, 30)) && y[31]&0x7f == 0 {
			nc := bytes.Clone(b) // y + p
			nc[0] += 0xed
			for i := 1; i < 31; i++ {
				nc[i] = 0xff
			}
			nc[31] = 0x7f | b[31]&0x80
			encs = append(encs, nc)
		}
		if x := p.Bytes(); bytes.Equal(x[:31], b[:31]) && (b[0] == 1 || b[0] == 0xec) {
			encs = append(encs, append(bytes.Clone(b[:31]), b[31]|0x80)) // x = -0
		}
	}
	good := newSigner(r, nil)
	pubs := append([][]byte{good.pub[:]}, encs...)
	for ai, A := range pubs {
		for ri, R := range encs {
			var sig key.Signature
			copy(sig[:32], R)
			var pub key.PublicKey
			copy(pub[:], A)
			cases = append(cases, verdict{fmt.Sprintf("zip215 A%d R%d", ai, ri), pub, msg, sig})
		}
	}

	// Honest signatures, and their S made non-canonical (S + l).
	l, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	for i := range 8 {
		m := fmt.Appendf(nil, "message %d", i)
		sig, _ := good.sign(r, m, nil)
		cases = append(cases, verdict{"honest", good.pub, m, sig})
		bad := sig
		var c uint16
		for j := range 32 {
			c += uint16(bad[32+j]) + uint16(l[j])
			bad[32+j] = byte(c)
			c >>= 8
		}
		cases = append(cases, verdict{"S+l", good.pub, m, bad})
		other := sig
		other[0] ^= 1
		cases = append(cases, verdict{"R flipped", good.pub, m, other})
		cases = append(cases, verdict{"other message", good.pub, append(m, '!'), sig})
	}

	// A mixed-order key: [S]B - [k]A = R - [k]T, valid cofactorless
	// only when k = 0 mod 8 (valid cofactored always).
	T := order8(t)
	mixed := newSigner(r, T)
	sawK0 := false
	for i := 0; i < 200 || !sawK0; i++ {
		m := fmt.Appendf(nil, "mixed %d", i)
		sig, k := mixed.sign(r, m, nil)
		if k.Bytes()[0]%8 == 0 {
			sawK0 = true
		}
		cases = append(cases, verdict{"mixed A", mixed.pub, m, sig})
	}
	// A mixed-order R that the equation accepts: R = [r]B - [k]T needs
	// k = 1 mod 8 for the chosen torsion -T.
	negT := new(edwards25519.Point).Negate(T)
	found := 0
	for i := 0; found < 4; i++ {
		m := fmt.Appendf(nil, "mixed R %d", i)
		sig, k := mixed.sign(r, m, negT)
		if k.Bytes()[0]%8 == 1 {
			found++
		}
		cases = append(cases, verdict{"mixed A and R", mixed.pub, m, sig})
		hsig, _ := good.sign(r, m, negT) // mixed R, prime-order A: never valid
		cases = append(cases, verdict{"mixed R", good.pub, m, hsig})
	}
	// A key with a non-canonical encoding of a prime-order... point:
	// key.Verify hashes the bytes as given.
	nonCanonA := good.pub
	cases = append(cases, verdict{"A sign flipped", key.PublicKey(append(bytes.Clone(nonCanonA[:31]), nonCanonA[31]^0x80)), msg, key.Signature{}})

	accepted := check(t, cases)
	// The constructions must have made what they claim: valid honest
	// signatures, mixed-order ones valid only when k = 0 mod 8, and
	// mixed-order R accepted when k = 1 mod 8; no S+l, no zip215 case.
	if accepted["honest"] != 8 || accepted["mixed A"] == 0 || accepted["mixed A"] == 200 ||
		accepted["mixed A and R"] < 4 || accepted["S+l"] != 0 || accepted["mixed R"] != 0 {
		t.Fatalf("accepted by both: %v", accepted)
	}
	t.Logf("%d cases; accepted by both: %v", len(cases), accepted)
}

// TestStdlibSignatures checks signatures made by crypto/ed25519.
func TestStdlibSignatures(t *testing.T) {
	var v Verifier
	pub, priv, _ := ed25519.GenerateKey(nil)
	var pk key.PublicKey
	copy(pk[:], pub)
	for i := range 3 * MinUses {
		m := fmt.Appendf(nil, "entry %d", i)
		var sig key.Signature
		copy(sig[:], ed25519.Sign(priv, m))
		if !v.Verify(pk, m, sig) {
			t.Fatalf("signature %d rejected", i)
		}
		if v.Verify(pk, append(m, 0), sig) {
			t.Fatalf("signature %d accepted for another message", i)
		}
	}
}

// TestBounds checks that the key and table caches stay bounded.
func TestBounds(t *testing.T) {
	var v Verifier
	r := rand.New(rand.NewPCG(7, 8))
	for range MaxTables + 4 {
		s := newSigner(r, nil)
		for range MinUses {
			v.Verify(s.pub, nil, key.Signature{})
		}
	}
	v.mu.Lock()
	n := 0
	for _, ks := range v.keys {
		if ks.tab != nil {
			n++
		}
	}
	v.mu.Unlock()
	if n > MaxTables || v.ntables > MaxTables {
		t.Fatalf("%d tables, max %d", n, MaxTables)
	}
	for i := range MaxKeys + 10 {
		var pk key.PublicKey
		pk[0], pk[1] = byte(i), byte(i>>8)
		pk[2] = 9
		v.Verify(pk, nil, key.Signature{})
	}
	if len(v.keys) > MaxKeys {
		t.Fatalf("%d keys, max %d", len(v.keys), MaxKeys)
	}
}
