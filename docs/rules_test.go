package docs

import (
	"bytes"
	"errors"
	"testing"

	"github.com/iroh-go/iroh/key"
	"github.com/prometheus/client_golang/prometheus"
)

// TestAcceptRules checks spec §7.3: one sync per (namespace, peer); while
// we dial a peer that dials us, the connection dialed by the greater id
// loses, so exactly one survives.
func TestAcceptRules(t *testing.T) {
	n := startNode(t, false, nil)
	ns, _ := n.engine.CreateDoc(t.Context())
	me := n.ep.ID()
	var lower, higher key.PublicKey
	for {
		p := key.NewSecretKey().Public()
		if bytes.Compare(p[:], me[:]) < 0 && lower.IsZero() {
			lower = p
		}
		if bytes.Compare(p[:], me[:]) > 0 && higher.IsZero() {
			higher = p
		}
		if !lower.IsZero() && !higher.IsZero() {
			break
		}
	}
	refused := func(err error) bool {
		var ae *AbortError
		return errors.As(err, &ae) && ae.Reason == AbortAlreadySyncing
	}
	// Idle: allowed; a second incoming one while accepting: refused.
	release, err := n.engine.acceptSync(ns, lower)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.engine.acceptSync(ns, lower); !refused(err) {
		t.Fatalf("second accept: %v", err)
	}
	release()
	// Crossing dials.
	for _, c := range []struct {
		peer   key.PublicKey
		accept bool
	}{{lower, true}, {higher, false}} {
		n.engine.mu.Lock()
		n.engine.syncs[syncKey{ns, c.peer}] = &syncState{dialing: true}
		n.engine.mu.Unlock()
		rel, err := n.engine.acceptSync(ns, c.peer)
		if c.accept != (err == nil) || (!c.accept && !refused(err)) {
			t.Fatalf("crossing with a peer whose id is %s than ours: %v", map[bool]string{true: "lower", false: "higher"}[c.peer == lower], err)
		}
		if rel != nil {
			rel()
		}
	}
	// A namespace that is not live is not found.
	other, _ := n.store.NewNamespace()
	var ae *AbortError
	if _, err := n.engine.acceptSync(other, lower); !errors.As(err, &ae) || ae.Reason != AbortNotFound {
		t.Fatalf("not syncing: %v", err)
	}
}

func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	m1 := NewMetrics(reg)
	m2 := NewMetrics(reg) // must not panic; shares the collectors
	m1.rejected(ErrBadSignature)
	m2.rejected(ErrFutureTimestamp)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got float64
	for _, mf := range mfs {
		if mf.GetName() == "iroh_docs_entries_rejected_total" {
			for _, m := range mf.Metric {
				got += m.GetCounter().GetValue()
			}
		}
	}
	if got != 2 {
		t.Fatalf("rejected total %v, want 2", got)
	}
}
