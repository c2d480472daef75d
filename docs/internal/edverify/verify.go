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
	S, err := edwards25519.NewScalar().SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(rb)
	h.Write(pub[:])
	h.Write(msg)
	var digest [64]byte
	k, _ := edwards25519.NewScalar().SetUniformBytes(h.Sum(digest[:0]))
	var acc ext
	acc.setIdentity()
	base().mulAdd(&acc, S.Bytes(), false)
	tab.mulAdd(&acc, k.Bytes(), true) // [S]B - [k]A
	return acc.equal(R)
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
