package edverify

import (
	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// window is the width in bits of a signed digit; a table holds, for each
// of the ndigits positions i, the multiples 1..half of 2^(window·i)·P.
// A wider window means fewer additions and a larger table; 8 bits: 32
// additions per scalar, 32·128 points (480 KiB).
const (
	window  = 8
	half    = 1 << (window - 1)
	ndigits = (254 + window - 1) / window // digits of a scalar < 2^253, the last without carry out
)

// d2 is 2·d, d = -121665/121666 the curve constant of edwards25519.
var d2 = func() field.Element {
	var n, dd, d field.Element
	n.Mult32(new(field.Element).One(), 121665)
	n.Negate(&n)
	dd.Mult32(new(field.Element).One(), 121666)
	dd.Invert(&dd)
	d.Multiply(&n, &dd)
	return *d.Add(&d, &d)
}()

// ext is a point in extended coordinates (X:Y:Z:T): x = X/Z, y = Y/Z,
// xy = T/Z (Hisil, Wong, Carter, Dawson 2008).
type ext struct{ X, Y, Z, T field.Element }

func (p *ext) setIdentity() {
	p.X.Zero()
	p.Y.One()
	p.Z.One()
	p.T.Zero()
}

func (p *ext) setPoint(q *edwards25519.Point) {
	X, Y, Z, T := q.ExtendedCoordinates()
	p.X, p.Y, p.Z, p.T = *X, *Y, *Z, *T
}

// add sets p = q + r with the unified addition for a = -1 (complete on
// edwards25519, so doubling and the identity need no special case).
func (p *ext) add(q, r *ext) {
	var a, b, c, d, t field.Element
	a.Subtract(&q.Y, &q.X)
	t.Subtract(&r.Y, &r.X)
	a.Multiply(&a, &t)
	b.Add(&q.Y, &q.X)
	t.Add(&r.Y, &r.X)
	b.Multiply(&b, &t)
	c.Multiply(&q.T, &r.T)
	c.Multiply(&c, &d2)
	d.Multiply(&q.Z, &r.Z)
	d.Add(&d, &d)
	p.finish(&a, &b, &c, &d)
}

// finish completes an addition from A, B, C, D of the formulas.
func (p *ext) finish(a, b, c, d *field.Element) {
	var e, f, g, h field.Element
	e.Subtract(b, a)
	f.Subtract(d, c)
	g.Add(d, c)
	h.Add(b, a)
	p.X.Multiply(&e, &f)
	p.Y.Multiply(&g, &h)
	p.T.Multiply(&e, &h)
	p.Z.Multiply(&f, &g)
}

// niels is an affine point (x, y) kept as y+x, y-x and 2d·x·y, the form a
// mixed addition takes.
type niels struct{ ypx, ymx, t2d field.Element }

// addNiels sets p = p + q (sub false) or p - q (sub true).
func (p *ext) addNiels(q *niels, sub bool) {
	var a, b, c, d field.Element
	ypx, ymx := &q.ypx, &q.ymx
	if sub { // -(x, y) = (-x, y): y+x and y-x swap, 2dxy changes sign
		ypx, ymx = ymx, ypx
	}
	a.Subtract(&p.Y, &p.X)
	a.Multiply(&a, ymx)
	b.Add(&p.Y, &p.X)
	b.Multiply(&b, ypx)
	c.Multiply(&p.T, &q.t2d)
	if sub {
		c.Negate(&c)
	}
	d.Add(&p.Z, &p.Z)
	p.finish(&a, &b, &c, &d)
}

// table holds the multiples j·2^(window·i)·P, j = 1..half, for each digit
// position i.
type table [ndigits][half]niels

// newTable precomputes the table of P.
func newTable(P *edwards25519.Point) *table {
	pts := make([]ext, ndigits*half)
	var base ext
	base.setPoint(P)
	for i := range ndigits {
		row := pts[i*half : (i+1)*half]
		row[0] = base
		for j := 1; j < half; j++ {
			row[j].add(&row[j-1], &base)
		}
		base.add(&row[half-1], &row[half-1]) // 2·half·base = 2^window·base
	}
	// One inversion for all Z (Montgomery's trick).
	prefix := make([]field.Element, len(pts))
	var acc field.Element
	acc.One()
	for i := range pts {
		prefix[i] = acc
		acc.Multiply(&acc, &pts[i].Z)
	}
	acc.Invert(&acc) // 1 / (Z0·Z1·…·Zn-1)
	t := new(table)
	for i := len(pts) - 1; i >= 0; i-- {
		var zi, x, y field.Element
		zi.Multiply(&acc, &prefix[i]) // 1/Zi
		acc.Multiply(&acc, &pts[i].Z)
		x.Multiply(&pts[i].X, &zi)
		y.Multiply(&pts[i].Y, &zi)
		n := &t[i/half][i%half]
		n.ypx.Add(&y, &x)
		n.ymx.Subtract(&y, &x)
		n.t2d.Multiply(&x, &y)
		n.t2d.Multiply(&n.t2d, &d2)
	}
	return t
}

// digits recodes a scalar (32 bytes little-endian, value below 2^253) into
// signed digits in [-half, half) with sum d[i]·2^(window·i) = s.
func digits(s []byte) [ndigits]int8 {
	var d [ndigits]int8
	carry := 0
	for i := range d {
		bit := i * window
		var v uint
		if k := bit / 8; k < 32 {
			v = uint(s[k])
			if k+1 < 32 {
				v |= uint(s[k+1]) << 8
			}
		}
		x := int(v>>(bit%8)&(1<<window-1)) + carry
		carry = 0
		if x >= half {
			x -= 1 << window
			carry = 1
		}
		d[i] = int8(x)
	}
	return d
}

// mulAdd adds [s]P to acc (sub false) or subtracts it (sub true), t being
// P's table (variable time). Subtracting is not adding [l-s]P: P may have
// a torsion component, on which l is not zero.
func (t *table) mulAdd(acc *ext, s []byte, sub bool) {
	d := digits(s)
	for i, di := range d {
		switch {
		case di > 0:
			acc.addNiels(&t[i][di-1], sub)
		case di < 0:
			acc.addNiels(&t[i][-int(di)-1], !sub)
		}
	}
}
