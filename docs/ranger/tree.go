package ranger

import "bytes"

// Item is what a Tree indexes: an identifier (ordered bytewise) and the
// entry's fingerprint.
type Item interface {
	ID() []byte
	Fingerprint() Fingerprint
}

// Tree is an ordered set of items keyed by ID, kept as a treap whose nodes
// carry the size and XOR fingerprint of their subtree. Insert, Delete, Rank,
// At and PrefixFingerprint cost O(log n) expected. The zero Tree is empty and
// ready to use. Not safe for concurrent use.
type Tree[E Item] struct {
	root *node[E]
	rng  uint64
}

type node[E Item] struct {
	e    E
	agg  Fingerprint // XOR of the fingerprints in this subtree (no seed)
	size int
	prio uint64
	l, r *node[E]
}

func (n *node[E]) fix() {
	n.size = 1
	n.agg = n.e.Fingerprint()
	if n.l != nil {
		n.size += n.l.size
		n.agg = n.agg.Xor(n.l.agg)
	}
	if n.r != nil {
		n.size += n.r.size
		n.agg = n.agg.Xor(n.r.agg)
	}
}

func (t *Tree[E]) nextPrio() uint64 {
	// splitmix64: deterministic, no global state.
	t.rng += 0x9e3779b97f4a7c15
	z := t.rng
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Len returns the number of items.
func (t *Tree[E]) Len() int {
	if t.root == nil {
		return 0
	}
	return t.root.size
}

// Get returns the item with the given id.
func (t *Tree[E]) Get(id []byte) (E, bool) {
	n := t.root
	for n != nil {
		switch c := bytes.Compare(id, n.e.ID()); {
		case c == 0:
			return n.e, true
		case c < 0:
			n = n.l
		default:
			n = n.r
		}
	}
	var zero E
	return zero, false
}

// Insert adds e, replacing an item with the same id (and returning it).
func (t *Tree[E]) Insert(e E) (old E, replaced bool) {
	if old, replaced = t.Get(e.ID()); replaced {
		t.root = replace(t.root, e)
		return old, true
	}
	n := &node[E]{e: e, prio: t.nextPrio()}
	n.fix()
	t.root = insert(t.root, n)
	return old, false
}

func replace[E Item](n *node[E], e E) *node[E] {
	switch c := bytes.Compare(e.ID(), n.e.ID()); {
	case c == 0:
		n.e = e
	case c < 0:
		n.l = replace(n.l, e)
	default:
		n.r = replace(n.r, e)
	}
	n.fix()
	return n
}

func insert[E Item](t, n *node[E]) *node[E] {
	if t == nil {
		return n
	}
	if n.prio > t.prio {
		n.l, n.r = split(t, n.e.ID())
		n.fix()
		return n
	}
	if bytes.Compare(n.e.ID(), t.e.ID()) < 0 {
		t.l = insert(t.l, n)
	} else {
		t.r = insert(t.r, n)
	}
	t.fix()
	return t
}

// split divides t into the items with id < k and those with id >= k.
func split[E Item](t *node[E], k []byte) (*node[E], *node[E]) {
	if t == nil {
		return nil, nil
	}
	if bytes.Compare(t.e.ID(), k) < 0 {
		l, r := split(t.r, k)
		t.r = l
		t.fix()
		return t, r
	}
	l, r := split(t.l, k)
	t.l = r
	t.fix()
	return l, t
}

func merge[E Item](a, b *node[E]) *node[E] {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if a.prio > b.prio {
		a.r = merge(a.r, b)
		a.fix()
		return a
	}
	b.l = merge(a, b.l)
	b.fix()
	return b
}

// Delete removes the item with the given id and returns it.
func (t *Tree[E]) Delete(id []byte) (E, bool) {
	old, ok := t.Get(id)
	if ok {
		t.root = del(t.root, id)
	}
	return old, ok
}

func del[E Item](n *node[E], id []byte) *node[E] {
	switch c := bytes.Compare(id, n.e.ID()); {
	case c == 0:
		return merge(n.l, n.r)
	case c < 0:
		n.l = del(n.l, id)
	default:
		n.r = del(n.r, id)
	}
	n.fix()
	return n
}

// Rank returns the number of items whose id is less than id.
func (t *Tree[E]) Rank(id []byte) int {
	r := 0
	n := t.root
	for n != nil {
		if bytes.Compare(n.e.ID(), id) < 0 {
			r++
			if n.l != nil {
				r += n.l.size
			}
			n = n.r
		} else {
			n = n.l
		}
	}
	return r
}

// At returns the item of rank i (0 is the smallest id). It reports false
// when i is out of range.
func (t *Tree[E]) At(i int) (E, bool) {
	n := t.root
	for n != nil {
		ls := 0
		if n.l != nil {
			ls = n.l.size
		}
		switch {
		case i < ls:
			n = n.l
		case i == ls:
			return n.e, true
		default:
			i -= ls + 1
			n = n.r
		}
	}
	var zero E
	return zero, false
}

// PrefixFingerprint returns the XOR of the fingerprints of the k smallest
// items, without the empty-set seed (zero for k <= 0).
func (t *Tree[E]) PrefixFingerprint(k int) Fingerprint {
	var acc Fingerprint
	n := t.root
	for n != nil && k > 0 {
		ls := 0
		if n.l != nil {
			ls = n.l.size
		}
		if k <= ls {
			n = n.l
			continue
		}
		if n.l != nil {
			acc = acc.Xor(n.l.agg)
		}
		acc = acc.Xor(n.e.Fingerprint())
		k -= ls + 1
		n = n.r
	}
	return acc
}

// Ascend calls fn for the items of rank i, i+1, ... in order until fn
// returns false or the items run out.
func (t *Tree[E]) Ascend(i int, fn func(E) bool) {
	var stack []*node[E]
	n := t.root
	// Descend to rank i, keeping the nodes whose item comes later.
	for n != nil {
		ls := 0
		if n.l != nil {
			ls = n.l.size
		}
		switch {
		case i < ls:
			stack = append(stack, n)
			n = n.l
		case i == ls:
			stack = append(stack, n)
			n = nil
		default:
			i -= ls + 1
			n = n.r
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !fn(n.e) {
			return
		}
		for c := n.r; c != nil; c = c.l {
			stack = append(stack, c)
		}
	}
}
