package store

import (
	"context"
	"sync"

	"github.com/iroh-go/iroh/blobs"
)

// Store is the blob store interface shared by the mem and fs stores. It is
// declared in package blobs (the provider and downloader need it, and
// blobs/store imports blobs for Hash) and aliased here.
type Store = blobs.Store

// TempTags counts live temp tags per content. The zero value is ready.
type TempTags struct {
	mu sync.Mutex
	m  map[blobs.HashAndFormat]int
}

// New returns a TempTag for hf registered in t.
func (t *TempTags) New(hf blobs.HashAndFormat) *blobs.TempTag {
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[blobs.HashAndFormat]int)
	}
	t.m[hf]++
	t.mu.Unlock()
	return blobs.NewTempTag(hf, func() {
		t.mu.Lock()
		if t.m[hf]--; t.m[hf] <= 0 {
			delete(t.m, hf)
		}
		t.mu.Unlock()
	})
}

// Roots returns the protected contents.
func (t *TempTags) Roots() []blobs.HashAndFormat {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]blobs.HashAndFormat, 0, len(t.m))
	for hf := range t.m {
		out = append(out, hf)
	}
	return out
}

// LiveSet computes the GC live set (spec §11): every root hash, plus every
// hash inside a root of format HashSeq whose blob is complete (one level).
// readSeq reads a complete blob's bytes; errors other than ErrNotFound abort.
func LiveSet(ctx context.Context, roots []blobs.HashAndFormat, readSeq func(blobs.Hash) ([]byte, error)) (map[blobs.Hash]bool, error) {
	live := make(map[blobs.Hash]bool)
	for _, r := range roots {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		live[r.Hash] = true
		if r.Format != blobs.HashSeqFormat {
			continue
		}
		b, err := readSeq(r.Hash)
		if err != nil {
			continue // absent or partial: its children are not known yet
		}
		seq, err := blobs.ParseHashSeq(b)
		if err != nil {
			continue
		}
		for _, h := range seq {
			live[h] = true
		}
	}
	return live, nil
}

// Live returns the GC live set of s: its tags and temp tags are the roots
// of LiveSet, and hash sequences are read from s itself. Both stores' GC
// start here.
func Live(ctx context.Context, s Store, temps *TempTags) (map[blobs.Hash]bool, error) {
	tags, err := s.Tags(ctx)
	if err != nil {
		return nil, err
	}
	roots := temps.Roots()
	for _, t := range tags {
		roots = append(roots, t.Value)
	}
	return LiveSet(ctx, roots, func(h blobs.Hash) ([]byte, error) {
		return ReadBlob(ctx, s, h, 1<<30)
	})
}

// Notifier wakes observers of a hash. The zero value is ready.
type Notifier struct {
	mu   sync.Mutex
	subs map[blobs.Hash]map[chan struct{}]struct{}
}

// Subscribe returns a channel that receives (coalesced) a value each time
// Notify(h) is called, and a function to unsubscribe.
func (n *Notifier) Subscribe(h blobs.Hash) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.subs == nil {
		n.subs = make(map[blobs.Hash]map[chan struct{}]struct{})
	}
	if n.subs[h] == nil {
		n.subs[h] = make(map[chan struct{}]struct{})
	}
	n.subs[h][ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.subs[h], ch)
		if len(n.subs[h]) == 0 {
			delete(n.subs, h)
		}
		n.mu.Unlock()
	}
}

// Notify wakes the subscribers of h without blocking.
func (n *Notifier) Notify(h blobs.Hash) {
	n.mu.Lock()
	for ch := range n.subs[h] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	n.mu.Unlock()
}

// Observe implements Store.Observe on top of a bitfield getter and n.
func Observe(ctx context.Context, n *Notifier, h blobs.Hash, get func() (blobs.Bitfield, error), fn func(blobs.Bitfield) error) error {
	ch, cancel := n.Subscribe(h)
	defer cancel()
	for {
		bf, err := get()
		if err != nil {
			return err
		}
		if err := fn(bf); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		}
	}
}
