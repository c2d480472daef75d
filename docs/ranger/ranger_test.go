package ranger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/iroh-go/iroh/internal/postcard"
	"github.com/zeebo/blake3"
)

// item is a test entry: an id and a version; its fingerprint covers both.
type item struct {
	id  []byte
	ver uint64
	fp  Fingerprint
}

func newItem(id []byte, ver uint64) *item {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ver)
	h := blake3.New()
	h.Write(id)
	h.Write(b[:])
	it := &item{id: id, ver: ver}
	copy(it.fp[:], h.Sum(nil))
	return it
}

func (i *item) ID() []byte               { return i.id }
func (i *item) Fingerprint() Fingerprint { return i.fp }
func (i *item) CompareRecord(o *item) int {
	switch {
	case i.ver < o.ver:
		return -1
	case i.ver > o.ver:
		return 1
	}
	return 0
}

// padSize makes an encoded test item as large as a SignedEntry with a
// 10-byte key (64+64 signatures, 1+64+10 id, 1 len, 32 hash, 8 timestamp).
const padSize = 128 + 32

type itemCodec struct{}

func (itemCodec) AppendEntry(b []byte, e *item) []byte {
	b = postcard.AppendBytes(b, e.id)
	b = postcard.AppendUvarint(b, e.ver)
	return append(b, make([]byte, padSize)...)
}

func (itemCodec) ParseEntry(b []byte) (*item, int, error) {
	id, n, err := postcard.Bytes(b, MaxIDSize)
	if err != nil {
		return nil, 0, err
	}
	v, m, err := postcard.Uvarint(b[n:])
	if err != nil {
		return nil, 0, err
	}
	if len(b) < n+m+padSize {
		return nil, 0, postcard.ErrTruncated
	}
	return newItem(bytes.Clone(id), v), n + m + padSize, nil
}

func (itemCodec) MinEntrySize() int { return 2 + padSize }

// memStore is a Store over a Tree.
type memStore struct {
	t    Tree[*item]
	puts int
}

func (s *memStore) Len() int                            { return s.t.Len() }
func (s *memStore) Rank(id []byte) int                  { return s.t.Rank(id) }
func (s *memStore) PrefixFingerprint(k int) Fingerprint { return s.t.PrefixFingerprint(k) }
func (s *memStore) ContentStatus(*item) ContentStatus   { return Complete }
func (s *memStore) Slice(i, j int) ([]*item, error) {
	out := make([]*item, 0, j-i)
	s.t.Ascend(i, func(e *item) bool {
		if len(out) == j-i {
			return false
		}
		out = append(out, e)
		return true
	})
	return out, nil
}

func (s *memStore) Put(vals []Value[*item]) error {
	for _, v := range vals {
		if old, ok := s.t.Get(v.Entry.id); ok && old.CompareRecord(v.Entry) >= 0 {
			continue
		}
		s.t.Insert(v.Entry)
		s.puts++
	}
	return nil
}

func (s *memStore) dump() []string {
	var out []string
	s.t.Ascend(0, func(e *item) bool {
		out = append(out, fmt.Sprintf("%x@%d", e.id, e.ver))
		return true
	})
	return out
}

type result struct {
	messages, bytes int
	alice, bob      Stats
}

// reconcile runs a full exchange between a and b, through the wire
// encoding, and returns the traffic.
func reconcile(t testing.TB, a, b *memStore) result {
	t.Helper()
	alice := NewSession[*item](a, Limits{})
	bob := NewSession[*item](b, Limits{})
	m, err := alice.Init(make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	var res result
	sides := [2]*Session[*item]{bob, alice}
	for turn := 0; ; turn++ {
		enc := AppendMessage(nil, itemCodec{}, m)
		res.messages++
		res.bytes += len(enc)
		dec, n, err := ParseMessage(enc, itemCodec{})
		if err != nil || n != len(enc) {
			t.Fatalf("round trip of message %d: n %d of %d, %v", turn, n, len(enc), err)
		}
		m, err = sides[turn%2].Process(dec)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Parts) == 0 {
			break
		}
	}
	res.alice, res.bob = alice.Stats, bob.Stats
	return res
}

func randID(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(4)) // small alphabet: shared prefixes, ties
	}
	return b
}

func TestRandomReplicasConverge(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			var a, b memStore
			want := map[string]uint64{}
			n := r.IntN(60)
			for range n {
				id := randID(r, 1+r.IntN(4))
				ver := r.Uint64N(3)
				switch r.IntN(3) {
				case 0:
					a.Put([]Value[*item]{{Entry: newItem(id, ver)}})
				case 1:
					b.Put([]Value[*item]{{Entry: newItem(id, ver)}})
				default:
					a.Put([]Value[*item]{{Entry: newItem(id, ver)}})
					b.Put([]Value[*item]{{Entry: newItem(id, ver+r.Uint64N(2))}})
				}
			}
			for _, s := range []*memStore{&a, &b} {
				s.t.Ascend(0, func(e *item) bool {
					want[string(e.id)] = max(want[string(e.id)], e.ver)
					return true
				})
			}
			res := reconcile(t, &a, &b)
			da, db := a.dump(), b.dump()
			if !slices.Equal(da, db) {
				t.Fatalf("replicas differ after %d messages:\n%v\n%v", res.messages, da, db)
			}
			if len(da) != len(want) {
				t.Fatalf("%d entries, want %d", len(da), len(want))
			}
			a.t.Ascend(0, func(e *item) bool {
				if want[string(e.id)] != e.ver {
					t.Errorf("%x: version %d, want %d", e.id, e.ver, want[string(e.id)])
				}
				return true
			})
		})
	}
}

func TestEqualSetsOneRoundTrip(t *testing.T) {
	var a, b memStore
	for i := range 1000 {
		id := fmt.Appendf(nil, "key-%05d", i)
		a.Put([]Value[*item]{{Entry: newItem(id, 1)}})
		b.Put([]Value[*item]{{Entry: newItem(id, 1)}})
	}
	res := reconcile(t, &a, &b)
	if res.messages != 1 {
		t.Fatalf("%d messages for equal sets, want 1 (the Init, answered by nothing)", res.messages)
	}
}

// buildPair returns two stores of n entries that differ in about diff
// entries: some only on one side, some newer on one side.
func buildPair(n, diff int, seed uint64) (*memStore, *memStore) {
	r := rand.New(rand.NewPCG(seed, 1))
	a, b := &memStore{}, &memStore{}
	differ := map[int]int{}
	for len(differ) < diff {
		differ[r.IntN(n)] = r.IntN(3)
	}
	for i := range n {
		id := make([]byte, 64+10)
		binary.BigEndian.PutUint64(id[56:], r.Uint64())
		binary.BigEndian.PutUint64(id[64:], uint64(i))
		e := newItem(id, 1)
		kind, ok := differ[i]
		switch {
		case !ok:
			a.t.Insert(e)
			b.t.Insert(e)
		case kind == 0:
			a.t.Insert(e)
		case kind == 1:
			b.t.Insert(e)
		default:
			a.t.Insert(e)
			b.t.Insert(newItem(id, 2))
		}
	}
	return a, b
}

// TestBytesGrowWithDifferences: the traffic of a reconciliation follows the
// number of differences, not the size of the set.
func TestBytesGrowWithDifferences(t *testing.T) {
	const diff = 50
	var perDiff []float64
	for _, n := range []int{1_000, 10_000, 50_000} {
		a, b := buildPair(n, diff, 3)
		res := reconcile(t, a, b)
		if !slices.Equal(a.dump(), b.dump()) {
			t.Fatalf("n=%d: replicas differ", n)
		}
		perDiff = append(perDiff, float64(res.bytes)/diff)
		t.Logf("n=%d diff=%d: %d messages, %d bytes (%.0f per difference)", n, diff, res.messages, res.bytes, float64(res.bytes)/diff)
	}
	// 50x more entries cost a few more levels of splitting, not 50x.
	if perDiff[2] > 3*perDiff[0] {
		t.Fatalf("bytes per difference grew from %.0f to %.0f with 50x the entries", perDiff[0], perDiff[2])
	}
}

func TestTreeAgainstSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tr Tree[*item]
	var ref []*item
	find := func(id []byte) (int, bool) {
		return slices.BinarySearchFunc(ref, id, func(e *item, id []byte) int { return bytes.Compare(e.id, id) })
	}
	for step := range 20000 {
		id := randID(r, 1+r.IntN(5))
		if r.IntN(3) == 0 {
			_, ok := tr.Delete(id)
			i, found := find(id)
			if ok != found {
				t.Fatalf("step %d: delete %x: %v, want %v", step, id, ok, found)
			}
			if found {
				ref = slices.Delete(ref, i, i+1)
			}
		} else {
			e := newItem(id, r.Uint64N(5))
			tr.Insert(e)
			if i, found := find(id); found {
				ref[i] = e
			} else {
				ref = slices.Insert(ref, i, e)
			}
		}
		if tr.Len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, tr.Len(), len(ref))
		}
		q := randID(r, 1+r.IntN(5))
		want, _ := find(q)
		if got := tr.Rank(q); got != want {
			t.Fatalf("step %d: rank %x = %d, want %d", step, q, got, want)
		}
		k := r.IntN(len(ref) + 1)
		var fp Fingerprint
		for _, e := range ref[:k] {
			fp = fp.Xor(e.fp)
		}
		if got := tr.PrefixFingerprint(k); got != fp {
			t.Fatalf("step %d: prefix %d fingerprint differs", step, k)
		}
		if k < len(ref) {
			if e, ok := tr.At(k); !ok || e != ref[k] {
				t.Fatalf("step %d: At(%d) wrong", step, k)
			}
			var got []*item
			tr.Ascend(k, func(e *item) bool { got = append(got, e); return len(got) < 3 })
			if !slices.Equal(got, ref[k:min(k+3, len(ref))]) {
				t.Fatalf("step %d: Ascend(%d) wrong", step, k)
			}
		}
	}
}

func TestRangeContains(t *testing.T) {
	for _, c := range []struct {
		name    string
		x, y, v string
		want    bool
	}{
		{"whole", "b", "b", "a", true},
		{"inside", "b", "d", "c", true},
		{"lower bound", "b", "d", "b", true},
		{"upper bound", "b", "d", "d", false},
		{"wrap high", "d", "b", "e", true},
		{"wrap low", "d", "b", "a", true},
		{"wrap gap", "d", "b", "c", false},
		{"prefix shorter first", "ab", "b", "a", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := (Range{X: []byte(c.x), Y: []byte(c.y)}).Contains([]byte(c.v)); got != c.want {
				t.Fatalf("got %v", got)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	var s memStore
	for i := range 100 {
		s.Put([]Value[*item]{{Entry: newItem([]byte{byte(i)}, 1)}})
	}
	sess := NewSession[*item](&s, Limits{MaxRounds: 3, MaxParts: 10})
	bogus := Message[*item]{Parts: []Part[*item]{{Kind: RangeFingerprint, Range: Range{X: []byte{0}, Y: []byte{0}}}}}
	for i := range 3 {
		if _, err := sess.Process(bogus); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if _, err := sess.Process(bogus); err == nil {
		t.Fatal("a fourth round was processed with MaxRounds 3")
	}
	sess = NewSession[*item](&s, Limits{MaxParts: 10})
	if _, err := sess.Process(Message[*item]{Parts: make([]Part[*item], 11)}); err == nil {
		t.Fatal("11 parts accepted with MaxParts 10")
	}
	sess = NewSession[*item](&s, Limits{MaxTotalParts: 25})
	six := Message[*item]{Parts: []Part[*item]{bogus.Parts[0], bogus.Parts[0], bogus.Parts[0], bogus.Parts[0], bogus.Parts[0], bogus.Parts[0]}}
	for i := range 4 {
		if _, err := sess.Process(six); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if _, err := sess.Process(six); !errors.Is(err, ErrLimit) {
		t.Fatalf("30 parts in a session with MaxTotalParts 25: %v", err)
	}
}

func FuzzParseMessage(f *testing.F) {
	a, b := buildPair(50, 10, 1)
	sess := NewSession[*item](a, Limits{})
	m, _ := sess.Init(make([]byte, 64))
	f.Add(AppendMessage(nil, itemCodec{}, m))
	r, _ := NewSession[*item](b, Limits{}).Process(m)
	f.Add(AppendMessage(nil, itemCodec{}, r))
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, n, err := ParseMessage(data, itemCodec{})
		if err != nil {
			return
		}
		enc := AppendMessage(nil, itemCodec{}, m)
		if !bytes.Equal(enc, data[:n]) {
			// Padding bytes are not checked on parse; compare re-parsed.
			m2, _, err := ParseMessage(enc, itemCodec{})
			if err != nil || len(m2.Parts) != len(m.Parts) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
