package edverify

import (
	"crypto/sha512"
	"sync"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
	"github.com/iroh-go/iroh/key"
)

// Bounds of a Verifier's memory.
const (
	// MaxKeys bounds the keys a Verifier remembers (use counts and the
	// small-order check); all are forgotten when it is full.
	MaxKeys = 4096
	// MaxTables bounds the precomputed tables (480 KiB each).
	MaxTables = 8
	// MinUses is how many signatures a key must have had checked before
	// its table is built: a table costs about as much as 25
	// verifications and saves three quarters of every later one.
	MinUses = 16
)

// Verifier verifies signatures with key.PublicKey.Verify's rules, caching
// per-key work. The zero Verifier is ready to use.
type Verifier struct {
	mu      sync.Mutex // guards keys and ntables
	keys    map[key.PublicKey]*keyState
	ntables int
}

type keyState struct {
	ok bool // A decodes and is not of small order
	A  *edwards25519.Point

	// Guarded by Verifier.mu.
	uses  int
	built chan struct{} // closed when tab is set; nil before a build starts
	tab   *table
}

var (
	baseOnce  sync.Once
	baseTable *table
)

func base() *table {
	baseOnce.Do(func() { baseTable = newTable(edwards25519.NewGeneratorPoint()) })
	return baseTable
}

func isSmallOrder(p *edwards25519.Point) bool {
	return new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1
}

func newKeyState(pub key.PublicKey) *keyState {
	A, err := new(edwards25519.Point).SetBytes(pub[:])
	if err != nil {
		return &keyState{}
	}
	return &keyState{ok: !isSmallOrder(A), A: A}
}

// state returns pub's state and its table (nil if it has none). The
// MinUses-th use builds the table, evicting another key's when MaxTables
// are held; uses meanwhile wait for it (cheaper than verifying without).
func (v *Verifier) state(pub key.PublicKey) (*keyState, *table) {
	v.mu.Lock()
	ks := v.keys[pub]
	if ks == nil {
		v.mu.Unlock()
		fresh := newKeyState(pub)
		v.mu.Lock()
		if ks = v.keys[pub]; ks == nil {
			if v.keys == nil || len(v.keys) >= MaxKeys {
				v.keys = make(map[key.PublicKey]*keyState)
				v.ntables = 0
			}
			ks = fresh
			v.keys[pub] = ks
		}
	}
	ks.uses++
	if !ks.ok || ks.uses < MinUses {
		v.mu.Unlock()
		return ks, nil
	}
	built := ks.built
	if built == nil {
		built = make(chan struct{})
		ks.built = built
		if v.ntables >= MaxTables {
			v.evictLocked()
		}
		v.ntables++
		v.mu.Unlock()
		tab := newTable(ks.A)
		v.mu.Lock()
		ks.tab = tab
		close(built)
		v.mu.Unlock()
		return ks, tab
	}
	tab := ks.tab
	v.mu.Unlock()
	if tab == nil {
		<-built
		v.mu.Lock()
		tab = ks.tab
		v.mu.Unlock()
	}
	return ks, tab
}

// evictLocked drops the table of some key (map order: an arbitrary one).
// The key's state stays; it is rebuilt after MinUses more uses.
func (v *Verifier) evictLocked() {
	for _, ks := range v.keys {
		if ks.tab != nil {
			ks.tab, ks.built, ks.uses = nil, nil, 0
			v.ntables--
			return
		}
	}
}

// Verify reports whether sig is a valid signature of msg by pub, with the
// rules of key.PublicKey.Verify.
func (v *Verifier) Verify(pub key.PublicKey, msg []byte, sig key.Signature) bool {
	ks, tab := v.state(pub)
	if !ks.ok {
		return false
	}
	if tab == nil {
		return pub.Verify(msg, sig)
	}
	return verifyTable(tab, pub, msg, sig)
}

// Item is one signature for VerifyMany.
type Item struct {
	Pub key.PublicKey
	Msg []byte
	Sig key.Signature
}

// manyBatch is how many results share one field inversion.
const manyBatch = 64

// VerifyMany sets ok[i] to whether Verify would accept items[i]. It is
// Verify with the last step shared: the points the equations yield are
// encoded with one field inversion per 64 signatures, which spares each
// the decompression of R. ok must be as long as items.
func (v *Verifier) VerifyMany(items []Item, ok []bool) {
	var ps []pending
	for i := range items {
		it := &items[i]
		ks, tab := v.state(it.Pub)
		switch {
		case !ks.ok:
			ok[i] = false
		case tab == nil:
			ok[i] = it.Pub.Verify(it.Msg, it.Sig)
		default:
			ok[i] = false
			if ps == nil {
				ps = make([]pending, 0, min(manyBatch, len(items)-i))
			}
			if p, good := equation(tab, it.Pub, it.Msg, &it.Sig); good {
				p.i = i
				ps = append(ps, p)
			}
			if len(ps) == manyBatch {
				finish(ps, items, ok)
				ps = ps[:0]
			}
		}
	}
	finish(ps, items, ok)
}

// pending is [S]B - [k]A of items[i], to be compared with its R.
type pending struct {
	acc ext
	i   int
}

// equation computes [S]B - [k]A for sig with pub's table; false if S is
// not canonical.
func equation(tab *table, pub key.PublicKey, msg []byte, sig *key.Signature) (pending, bool) {
	var p pending
	S, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return p, false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(pub[:])
	h.Write(msg)
	var digest [64]byte
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	p.acc.setIdentity()
	base().mulAdd(&p.acc, S.Bytes(), false)
	tab.mulAdd(&p.acc, k.Bytes(), true)
	return p, true
}

// finish encodes each pending point (one inversion for all) and accepts
// its item when the encoding is the signature's R and R is not of small
// order: crypto/ed25519 compares the encoding with R's bytes, so R is then
// canonical and one of the eight canonical small-order encodings exactly
// when it is of small order.
func finish(ps []pending, items []Item, ok []bool) {
	if len(ps) == 0 {
		return
	}
	var prefix [manyBatch]field.Element
	var acc field.Element
	acc.One()
	for j := range ps {
		prefix[j] = acc
		acc.Multiply(&acc, &ps[j].acc.Z)
	}
	acc.Invert(&acc)
	for j := len(ps) - 1; j >= 0; j-- {
		p := &ps[j]
		var zi, x, y field.Element
		zi.Multiply(&acc, &prefix[j])
		acc.Multiply(&acc, &p.acc.Z)
		x.Multiply(&p.acc.X, &zi)
		y.Multiply(&p.acc.Y, &zi)
		var enc [32]byte
		copy(enc[:], y.Bytes())
		enc[31] |= byte(x.IsNegative()) << 7
		ok[p.i] = [32]byte(items[p.i].Sig[:32]) == enc && !smallOrderEncoding(enc)
	}
}

// smallOrderEncodings are the canonical encodings of the eight points of
// small order (a test derives them from a point of order 8).
var smallOrderEncodings = [8][32]byte{
	{0x01},
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	{},
	{31: 0x80},
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x85},
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0xfa},
}

func smallOrderEncoding(b [32]byte) bool {
	for _, e := range &smallOrderEncodings {
		if b == e {
			return true
		}
	}
	return false
}

// verifyTable verifies with pub's table; pub decodes and is not of small
// order. It accepts exactly when crypto/ed25519 does (S canonical,
// encode([S]B - [k]A) = R's bytes) and R is not of small order.
func verifyTable(tab *table, pub key.PublicKey, msg []byte, sig key.Signature) bool {
	// encode(P) = rb exactly when rb is canonical and decodes to P.
	rb := sig[:32]
	if !canonicalY(rb) {
		return false
	}
	R, err := new(edwards25519.Point).SetBytes(rb)
	if err != nil || isSmallOrder(R) {
		return false
	}
	p, good := equation(tab, pub, msg, &sig)
	return good && p.acc.equal(R)
}

// canonicalY reports whether the y coordinate of an encoded point is below
// 2^255-19 (the sign bit aside).
func canonicalY(b []byte) bool {
	var y field.Element
	if _, err := y.SetBytes(b); err != nil {
		return false
	}
	yb := y.Bytes()
	for i := range 31 {
		if yb[i] != b[i] {
			return false
		}
	}
	return yb[31] == b[31]&0x7f
}

// equal reports whether p is the point q.
func (p *ext) equal(q *edwards25519.Point) bool {
	X, Y, Z, _ := q.ExtendedCoordinates()
	var l, r field.Element
	l.Multiply(&p.X, Z)
	r.Multiply(X, &p.Z)
	if l.Equal(&r) != 1 {
		return false
	}
	l.Multiply(&p.Y, Z)
	r.Multiply(Y, &p.Z)
	return l.Equal(&r) == 1
}
