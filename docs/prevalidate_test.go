package docs

import (
	"fmt"
	"testing"

	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

// TestPrevalidatedMessage: a message large enough to be verified before
// the store's lock is taken inserts exactly its valid entries, counts the
// rest as rejected, and does not verify again what is already held.
func TestPrevalidatedMessage(t *testing.T) {
	m := NewMetrics(nil)
	s := NewMemStore(&StoreOptions{Metrics: m})
	secret := NewNamespaceSecret()
	if _, err := s.ImportNamespace(ReadCapability(secret.ID())); err != nil {
		t.Fatal(err)
	}
	r, err := s.Replica(secret.ID())
	if err != nil {
		t.Fatal(err)
	}
	author := NewAuthor()
	var vals []ranger.Value[*SignedEntry]
	bad := 0
	for i := range 3 * prevalidateMin {
		e := Sign(secret, author, Entry{Key: fmt.Appendf(nil, "k%04d", i), Len: 1, Hash: [32]byte{byte(i), 1}, Timestamp: uint64(1000 + i)})
		if i%7 == 3 { // a broken author signature
			as := e.AuthorSignature()
			as[40] ^= 1
			e = NewSignedEntry(e.Entry(), as, e.NamespaceSignature())
			bad++
		}
		vals = append(vals, ranger.Value[*SignedEntry]{Entry: e})
	}
	msg := ProtocolMessage{Parts: []ranger.Part[*SignedEntry]{{Kind: ranger.RangeItem, Range: ranger.Range{X: defaultID, Y: defaultID}, Values: vals, HaveLocal: true}}}
	for round := range 2 { // the second time every valid entry is held
		ss, err := r.newSession(nil, key.PublicKey{1}, nil, ranger.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		ss.prevalidate(msg)
		if round == 0 && len(ss.view.pre) != len(vals) {
			t.Fatalf("%d of %d values prevalidated", len(ss.view.pre), len(vals))
		}
		if round == 1 && len(ss.view.pre) != 0 {
			t.Fatalf("%d held values verified again", len(ss.view.pre))
		}
		if _, err := ss.process(msg); err != nil {
			t.Fatal(err)
		}
		want := len(vals) - bad
		if round == 1 {
			want = 0
		}
		if ss.stats.Inserted != want {
			t.Fatalf("round %d: %d inserted, want %d", round, ss.stats.Inserted, want)
		}
	}
	if n, _ := r.Len(); n != len(vals)-bad {
		t.Fatalf("%d entries held, want %d", n, len(vals)-bad)
	}
	// Round 1 saw the bad ones again (they are not held; too few to
	// prevalidate, so checked under the lock): 2·bad rejects.
	if got := testutil.MetricValue(m.EntriesRejected.WithLabelValues("signature")); got != float64(2*bad) {
		t.Fatalf("%v bad signatures counted, want %d", got, 2*bad)
	}
}
