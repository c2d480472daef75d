package ranger

import (
	"bytes"
	"errors"
	"fmt"
)

// Entry is an entry of a reconciled set: an Item whose records can be
// ordered. Two entries with the same id are versions of one record; the
// greater record wins.
type Entry[E any] interface {
	Item
	// CompareRecord compares e's record with o's (same id): negative if e
	// is older, zero if equal, positive if newer.
	CompareRecord(o E) int
}

// ContentStatus is the sender's state of an entry's content (spec §6.1).
type ContentStatus uint8

// Content states, numbered as on the wire.
const (
	Complete   ContentStatus = 0
	Incomplete ContentStatus = 1
	Missing    ContentStatus = 2
)

// String returns the status's name.
func (c ContentStatus) String() string {
	switch c {
	case Complete:
		return "complete"
	case Incomplete:
		return "incomplete"
	case Missing:
		return "missing"
	}
	return fmt.Sprintf("ContentStatus(%d)", uint8(c))
}

// Value is an entry sent in a RangeItem with its sender's content status.
type Value[E any] struct {
	Entry  E
	Status ContentStatus
}

// PartKind tells the two kinds of MessagePart apart.
type PartKind uint8

// Part kinds, numbered as on the wire.
const (
	RangeFingerprint PartKind = 0
	RangeItem        PartKind = 1
)

// Part is one MessagePart: a range's fingerprint, or a range's entries.
type Part[E any] struct {
	Kind        PartKind
	Range       Range
	Fingerprint Fingerprint // RangeFingerprint
	Values      []Value[E]  // RangeItem
	HaveLocal   bool        // RangeItem: the sender already holds this range's entries
}

// Message is a ProtocolMessage: a list of parts. An empty message ends the
// exchange.
type Message[E any] struct {
	Parts []Part[E]
}

// Store is the set a Session reconciles. The Session calls it from one
// goroutine and expects no concurrent change during one Process call.
type Store[E Entry[E]] interface {
	// Len returns the number of entries.
	Len() int
	// Rank returns the number of entries whose id is less than id.
	Rank(id []byte) int
	// PrefixFingerprint returns the XOR of the fingerprints of the k
	// entries of smallest id (without the empty-set seed).
	PrefixFingerprint(k int) Fingerprint
	// Slice returns the entries of rank i to j-1 in id order.
	Slice(i, j int) ([]E, error)
	// Put validates and inserts received values. Invalid or superseded
	// values are skipped, not errors; an error is a failure of the store.
	Put(vals []Value[E]) error
	// ContentStatus returns the local state of e's content.
	ContentStatus(e E) ContentStatus
}

// Limits bound what one peer can make a Session do. Zero fields take the
// defaults.
type Limits struct {
	// MaxParts is the most parts a received message may have. A
	// reconciliation of 1,000,000 entries with 10,000 differences sends
	// messages of about 20,000 parts; zero means 1<<20.
	MaxParts int
	// MaxTotalParts is the most parts all received messages of a Session
	// may have together, bounding the work a peer can ask for (each part
	// costs O(log n)); zero means 1<<23, four times what two completely
	// different sets of 1,000,000 entries need.
	MaxTotalParts int
	// MaxRounds is the most messages a Session processes. A legitimate
	// exchange needs about log2(n) rounds plus a few; zero means 256.
	MaxRounds int
	// MaxValues is the most values all received messages of a Session may
	// carry together. Zero means 4,000,000.
	MaxValues int
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits { return l.withDefaults() }

func (l Limits) withDefaults() Limits {
	if l.MaxParts == 0 {
		l.MaxParts = 1 << 20
	}
	if l.MaxTotalParts == 0 {
		l.MaxTotalParts = 1 << 23
	}
	if l.MaxRounds == 0 {
		l.MaxRounds = 256
	}
	if l.MaxValues == 0 {
		l.MaxValues = 4_000_000
	}
	return l
}

// ErrLimit is wrapped by errors of a Session whose peer exceeded a Limit.
var ErrLimit = errors.New("ranger: limit exceeded")

// Stats counts what a Session did.
type Stats struct {
	Rounds     int // messages processed
	PartsSent  int
	PartsRecv  int
	ValuesSent int
	ValuesRecv int
}

// Session runs one side of a reconciliation against a Store.
type Session[E Entry[E]] struct {
	store  Store[E]
	limits Limits
	Stats  Stats
}

// NewSession returns a session over s.
func NewSession[E Entry[E]](s Store[E], l Limits) *Session[E] {
	return &Session[E]{store: s, limits: l.withDefaults()}
}

// Init returns the initiator's first message (spec §6.2): the fingerprint of
// the whole set, as the range (x, x) where x is the smallest id, or
// defaultID when the set is empty.
func (s *Session[E]) Init(defaultID []byte) (Message[E], error) {
	x := defaultID
	if s.store.Len() > 0 {
		first, err := s.store.Slice(0, 1)
		if err != nil {
			return Message[E]{}, err
		}
		x = first[0].ID()
	}
	r := Range{X: x, Y: x}
	m := Message[E]{Parts: []Part[E]{{Kind: RangeFingerprint, Range: r, Fingerprint: s.fingerprint(r)}}}
	s.Stats.PartsSent++
	return m, nil
}

// interval is a run of ranks [a, b).
type interval struct{ a, b int }

// intervals returns the rank runs of r's members in iteration order, and
// s, the number of members that sort below r.X.
func (s *Session[E]) intervals(r Range) (iv [2]interval, k int, below int) {
	n := s.store.Len()
	switch c := bytes.Compare(r.X, r.Y); {
	case c == 0:
		iv[0] = interval{0, n}
		return iv, 1, s.store.Rank(r.X)
	case c < 0:
		iv[0] = interval{s.store.Rank(r.X), s.store.Rank(r.Y)}
		return iv, 1, 0
	default:
		y := s.store.Rank(r.Y)
		iv[0] = interval{0, y}
		iv[1] = interval{s.store.Rank(r.X), n}
		return iv, 2, y
	}
}

func (s *Session[E]) count(r Range) int {
	iv, k, _ := s.intervals(r)
	c := 0
	for _, v := range iv[:k] {
		c += v.b - v.a
	}
	return c
}

func (s *Session[E]) fingerprint(r Range) Fingerprint {
	iv, k, _ := s.intervals(r)
	fp := EmptyFingerprint
	for _, v := range iv[:k] {
		fp = fp.Xor(s.store.PrefixFingerprint(v.b)).Xor(s.store.PrefixFingerprint(v.a))
	}
	return fp
}

func (s *Session[E]) entries(r Range) ([]E, error) {
	iv, k, _ := s.intervals(r)
	var out []E
	for _, v := range iv[:k] {
		if v.b <= v.a {
			continue
		}
		es, err := s.store.Slice(v.a, v.b)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// at returns the i-th member of r in iteration order.
func (s *Session[E]) at(r Range, i int) (E, error) {
	iv, k, _ := s.intervals(r)
	for _, v := range iv[:k] {
		if i < v.b-v.a {
			es, err := s.store.Slice(v.a+i, v.a+i+1)
			if err != nil {
				var zero E
				return zero, err
			}
			return es[0], nil
		}
		i -= v.b - v.a
	}
	var zero E
	return zero, fmt.Errorf("ranger: rank %d outside range %v", i, r)
}

func (s *Session[E]) values(es []E) []Value[E] {
	vs := make([]Value[E], len(es))
	for i, e := range es {
		vs[i] = Value[E]{Entry: e, Status: s.store.ContentStatus(e)}
	}
	s.Stats.ValuesSent += len(vs)
	return vs
}

// Process applies a received message and returns the reply (spec §6.3):
// first every RangeItem in order, then every RangeFingerprint. An empty
// reply means the exchange is over for this side. Errors are failures of
// the store or a peer over its Limits (wrapping ErrLimit).
func (s *Session[E]) Process(m Message[E]) (Message[E], error) {
	var out Message[E]
	s.Stats.Rounds++
	if s.Stats.Rounds > s.limits.MaxRounds {
		return out, fmt.Errorf("%w: more than %d rounds", ErrLimit, s.limits.MaxRounds)
	}
	if len(m.Parts) > s.limits.MaxParts {
		return out, fmt.Errorf("%w: %d parts in a message, max %d", ErrLimit, len(m.Parts), s.limits.MaxParts)
	}
	s.Stats.PartsRecv += len(m.Parts)
	if s.Stats.PartsRecv > s.limits.MaxTotalParts {
		return out, fmt.Errorf("%w: more than %d parts in a session", ErrLimit, s.limits.MaxTotalParts)
	}
	for _, p := range m.Parts {
		if p.Kind != RangeItem {
			continue
		}
		s.Stats.ValuesRecv += len(p.Values)
		if s.Stats.ValuesRecv > s.limits.MaxValues {
			return out, fmt.Errorf("%w: more than %d values", ErrLimit, s.limits.MaxValues)
		}
		var diff []E
		if !p.HaveLocal {
			local, err := s.entries(p.Range)
			if err != nil {
				return out, err
			}
			recv := make(map[string]int, len(p.Values))
			for i, v := range p.Values {
				recv[string(v.Entry.ID())] = i
			}
			for _, e := range local {
				if i, ok := recv[string(e.ID())]; ok && p.Values[i].Entry.CompareRecord(e) >= 0 {
					continue
				}
				diff = append(diff, e)
			}
		}
		if len(p.Values) > 0 {
			if err := s.store.Put(p.Values); err != nil {
				return out, err
			}
		}
		if len(diff) > 0 {
			out.Parts = append(out.Parts, Part[E]{Kind: RangeItem, Range: p.Range, Values: s.values(diff), HaveLocal: true})
		}
	}
	for _, p := range m.Parts {
		if p.Kind != RangeFingerprint {
			continue
		}
		if err := s.processFingerprint(p, &out); err != nil {
			return out, err
		}
	}
	s.Stats.PartsSent += len(out.Parts)
	return out, nil
}

func (s *Session[E]) processFingerprint(p Part[E], out *Message[E]) error {
	r := p.Range
	if s.fingerprint(r) == p.Fingerprint {
		return nil
	}
	iv, k, below := s.intervals(r)
	n := 0
	for _, v := range iv[:k] {
		n += v.b - v.a
	}
	if n <= 1 || p.Fingerprint == EmptyFingerprint {
		es, err := s.entries(r)
		if err != nil {
			return err
		}
		out.Parts = append(out.Parts, Part[E]{Kind: RangeItem, Range: r, Values: s.values(es)})
		return nil
	}
	p0e, err := s.at(r, (below+n/2)%n)
	if err != nil {
		return err
	}
	p0 := p0e.ID()
	var subs []Range
	if r.Whole() {
		p1e, err := s.at(r, below%n)
		if err != nil {
			return err
		}
		p1 := p1e.ID()
		if !bytes.Equal(p0, p1) {
			subs = append(subs, Range{X: p0, Y: p1}, Range{X: p1, Y: p0})
		}
	} else {
		subs = append(subs, Range{X: r.X, Y: p0}, Range{X: p0, Y: r.Y})
	}
	for _, sr := range subs {
		if s.count(sr) > 1 {
			out.Parts = append(out.Parts, Part[E]{Kind: RangeFingerprint, Range: sr, Fingerprint: s.fingerprint(sr)})
			continue
		}
		es, err := s.entries(sr)
		if err != nil {
			return err
		}
		out.Parts = append(out.Parts, Part[E]{Kind: RangeItem, Range: sr, Values: s.values(es)})
	}
	return nil
}
