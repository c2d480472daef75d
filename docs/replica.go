package docs

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/key"
)

// Replica is a handle on one namespace's entries in a Store. Handles are
// cheap; all state lives in the Store. Safe for concurrent use.
type Replica struct {
	s  *Store
	ns NamespaceID
}

// Namespace returns the replica's namespace.
func (r *Replica) Namespace() NamespaceID { return r.ns }

// Store returns the store the replica lives in.
func (r *Replica) Store() *Store { return r.s }

// Len returns the number of entries, tombstones included.
func (r *Replica) Len() (int, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	rs, err := r.s.replicaLocked(r.ns)
	if err != nil {
		return 0, err
	}
	return rs.tree.Len(), nil
}

func (s *Store) localTimestamp(rs *replicaState) uint64 {
	ts := uint64(max(s.now().UnixMicro(), 0))
	// Keep local timestamps increasing even when the clock stands still
	// or steps back, so a second write of a key always wins.
	for _, li := range rs.latest {
		if li.Timestamp >= ts {
			ts = li.Timestamp + 1
		}
	}
	return ts
}

// Set writes content (hash, length) under key as author, signed with the
// namespace secret and the author's key. It needs a write capability and a
// stored author; len 0 or the empty hash is refused (use DeletePrefix).
func (r *Replica) Set(author AuthorID, k []byte, hash blobs.Hash, length uint64) (*SignedEntry, error) {
	if length == 0 || hash == blobs.EmptyHash {
		return nil, ErrEmptyValue
	}
	e, _, err := r.insertLocal(author, k, hash, length)
	return e, err
}

// DeletePrefix writes a tombstone at prefix as author, removing every older
// entry of that author whose key starts with prefix, and returns how many
// entries it removed.
func (r *Replica) DeletePrefix(author AuthorID, prefix []byte) (int, error) {
	_, n, err := r.insertLocal(author, prefix, blobs.EmptyHash, 0)
	return n, err
}

func (r *Replica) insertLocal(author AuthorID, k []byte, hash blobs.Hash, length uint64) (*SignedEntry, int, error) {
	if len(k) > MaxKeySize {
		return nil, 0, fmt.Errorf("%w: %d bytes, max %d", ErrKeyTooLong, len(k), MaxKeySize)
	}
	s := r.s
	s.mu.Lock()
	rs, err := s.replicaLocked(r.ns)
	if err != nil {
		s.mu.Unlock()
		return nil, 0, err
	}
	if rs.cap.Kind != Write {
		s.mu.Unlock()
		return nil, 0, fmt.Errorf("%w: %s", ErrReadOnly, r.ns.ShortString())
	}
	a, ok := s.authors[author]
	if !ok {
		s.mu.Unlock()
		return nil, 0, fmt.Errorf("%w: %s", ErrAuthorUnknown, author.ShortString())
	}
	sg := rs.signers[author]
	if sg == nil {
		sg = newSigner(rs.cap.Secret, a)
		if rs.signers == nil {
			rs.signers = make(map[AuthorID]*signer)
		}
		rs.signers[author] = sg
	}
	e := sg.sign(Entry{Key: k, Len: length, Hash: hash, Timestamp: s.localTimestamp(rs)})
	b := &batch{ns: r.ns}
	ok, removed := rs.insertLocked(e, b)
	if !ok {
		s.mu.Unlock()
		return nil, 0, ErrNewerEntryExists
	}
	if err := s.commit(b); err != nil {
		err = s.failLocked(err)
		s.mu.Unlock()
		return nil, 0, err
	}
	s.mu.Unlock()
	s.metrics.inserted(Local, 1)
	s.emit([]InsertEvent{{Namespace: r.ns, Entry: e, Origin: Local}})
	return e, removed, nil
}

// InsertRemote validates and inserts an entry received from peer from, with
// its content status there. It reports whether the entry was inserted (an
// entry superseded by a newer one is not, and is no error).
func (r *Replica) InsertRemote(e *SignedEntry, from key.PublicKey, status ranger.ContentStatus, gossip bool) (bool, error) {
	n, err := r.insertRemote([]ranger.Value[*SignedEntry]{{Entry: e, Status: status}}, from, gossip)
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// insertRemote inserts a batch of received values in one commit and
// returns how many were inserted. Invalid values are counted and skipped.
func (r *Replica) insertRemote(vals []ranger.Value[*SignedEntry], from key.PublicKey, gossip bool) (int, error) {
	s := r.s
	s.mu.Lock()
	rs, err := s.replicaLocked(r.ns)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	var evs []InsertEvent
	err = s.putRemoteLocked(rs, r.ns, vals, from, gossip, &evs)
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	s.metrics.inserted(Remote, len(evs))
	s.emit(evs)
	return len(evs), nil
}

func (s *Store) putRemoteLocked(rs *replicaState, ns NamespaceID, vals []ranger.Value[*SignedEntry], from key.PublicKey, gossip bool, evs *[]InsertEvent) error {
	return s.putValidatedLocked(rs, ns, vals, nil, from, gossip, evs)
}

// freshLocked returns the values that could be inserted: values whose key
// already holds an equal or newer non-empty entry would not be, so their
// (costly) verification is skipped. Re-syncs and entries arriving by both
// gossip and sync are mostly such.
func (rs *replicaState) freshLocked(vals []ranger.Value[*SignedEntry]) []ranger.Value[*SignedEntry] {
	fresh := vals[:0:0]
	for _, v := range vals {
		// (The empty key is never checked by insertLocked: not skipped.)
		if old, ok := rs.tree.Get(v.Entry.ID()); ok && len(v.Entry.Key()) > 0 && !old.IsEmpty() && old.CompareRecord(v.Entry) >= 0 {
			continue
		}
		fresh = append(fresh, v)
	}
	return fresh
}

// putValidatedLocked is putRemoteLocked with the validation results of
// some values known already (pre: nil error for valid), so a sync session
// can verify outside the store's lock.
func (s *Store) putValidatedLocked(rs *replicaState, ns NamespaceID, vals []ranger.Value[*SignedEntry], pre map[*SignedEntry]error, from key.PublicKey, gossip bool, evs *[]InsertEvent) error {
	b := &batch{ns: ns}
	if len(pre) == 0 {
		vals = rs.freshLocked(vals)
	} else {
		// Prevalidated values were fresh a moment ago; insertLocked
		// decides for them. Only the others are looked up.
		kept := vals[:0:0]
		for i, v := range vals {
			if _, ok := pre[v.Entry]; ok || len(rs.freshLocked(vals[i:i+1])) > 0 {
				kept = append(kept, v)
			}
		}
		vals = kept
	}
	errs := make([]error, len(vals))
	var todo []ranger.Value[*SignedEntry]
	var todoIdx []int
	for i, v := range vals {
		if err, ok := pre[v.Entry]; ok {
			errs[i] = err
			continue
		}
		todo = append(todo, v)
		todoIdx = append(todoIdx, i)
	}
	if len(todo) > 0 {
		for j, err := range validateAll(todo, ns, s.now()) {
			errs[todoIdx[j]] = err
		}
	}
	for i, v := range vals {
		if err := errs[i]; err != nil {
			s.metrics.rejected(err)
			s.log.Debug("entry rejected", "remote", from.ShortString(), "err", err)
			continue
		}
		if ok, _ := rs.insertLocked(v.Entry, b); !ok {
			continue
		}
		*evs = append(*evs, InsertEvent{Namespace: ns, Entry: v.Entry, Origin: Remote, From: from, Status: v.Status, Gossip: gossip})
	}
	if err := s.commit(b); err != nil {
		return s.failLocked(err)
	}
	return nil
}

// Get returns author's entry at exactly key (tombstones included), or nil.
func (r *Replica) Get(author AuthorID, k []byte) (*SignedEntry, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	rs, err := r.s.replicaLocked(r.ns)
	if err != nil {
		return nil, err
	}
	e, _ := rs.tree.Get(recordID(r.ns, author, k))
	return e, nil
}

func recordID(ns NamespaceID, a AuthorID, k []byte) []byte {
	id := make([]byte, 0, 64+len(k))
	id = append(id, ns[:]...)
	id = append(id, a[:]...)
	return append(id, k...)
}

// SortBy orders query results.
type SortBy uint8

// Sort orders of a Query.
const (
	SortKeyAuthor SortBy = iota // by key, then author
	SortAuthorKey               // by author, then key
)

// Query selects entries of a replica. The zero Query lists every non-empty
// entry of every author, sorted by key then author.
type Query struct {
	// Author, if set, selects one author's entries.
	Author *AuthorID
	// Key selects entries whose key equals Key (KeyPrefix false) or starts
	// with it (KeyPrefix true); nil Key with KeyPrefix false selects all.
	Key       []byte
	KeyPrefix bool
	// LatestPerKey keeps, for each key, only the newest entry across
	// authors (equal timestamps: the smallest author id). A key whose
	// newest entry is a tombstone is then hidden.
	LatestPerKey bool
	// IncludeEmpty includes tombstones.
	IncludeEmpty bool
	Sort         SortBy
	Descending   bool
	// Offset skips results; Limit caps them (zero: no cap).
	Offset, Limit int
}

func (q *Query) matchKey(k []byte) bool {
	switch {
	case q.KeyPrefix:
		return bytes.HasPrefix(k, q.Key)
	case q.Key != nil:
		return bytes.Equal(k, q.Key)
	}
	return true
}

// Query returns the entries q selects.
func (r *Replica) Query(q Query) ([]*SignedEntry, error) {
	r.s.mu.Lock()
	rs, err := r.s.replicaLocked(r.ns)
	if err != nil {
		r.s.mu.Unlock()
		return nil, err
	}
	var out []*SignedEntry
	start, prefix := 0, r.ns[:]
	if q.Author != nil {
		prefix = recordID(r.ns, *q.Author, nil)
		if q.KeyPrefix || q.Key != nil {
			prefix = recordID(r.ns, *q.Author, q.Key)
		}
		start = rs.tree.Rank(prefix)
	}
	rs.tree.Ascend(start, func(e *SignedEntry) bool {
		if !bytes.HasPrefix(e.ID(), prefix) {
			return false
		}
		if q.matchKey(e.Key()) && (q.LatestPerKey || q.IncludeEmpty || !e.IsEmpty()) {
			out = append(out, e)
		}
		return true
	})
	r.s.mu.Unlock()
	if q.LatestPerKey {
		best := map[string]*SignedEntry{}
		for _, e := range out {
			b := best[string(e.Key())]
			if b == nil || e.Timestamp() > b.Timestamp() ||
				(e.Timestamp() == b.Timestamp() && bytes.Compare(e.entry.Author[:], b.entry.Author[:]) < 0) {
				best[string(e.Key())] = e
			}
		}
		out = out[:0]
		for _, e := range best {
			if q.IncludeEmpty || !e.IsEmpty() {
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b *SignedEntry) int {
		ak, bk := a.Key(), b.Key()
		aa, ba := a.Author(), b.Author()
		var c int
		if q.Sort == SortAuthorKey {
			c = cmp.Or(bytes.Compare(aa[:], ba[:]), bytes.Compare(ak, bk))
		} else {
			c = cmp.Or(bytes.Compare(ak, bk), bytes.Compare(aa[:], ba[:]))
		}
		if q.Descending {
			c = -c
		}
		return c
	})
	if q.Offset > 0 {
		out = out[min(q.Offset, len(out)):]
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// GetLatest returns the newest non-empty entry at key across authors, or
// nil.
func (r *Replica) GetLatest(k []byte) (*SignedEntry, error) {
	es, err := r.Query(Query{Key: k, LatestPerKey: true})
	if err != nil || len(es) == 0 {
		return nil, err
	}
	return es[0], nil
}

// Heads returns each author's timestamp of the last entry written to the
// replica, newest first (the heads of a SyncReport, spec §7.2).
func (r *Replica) Heads() ([]Head, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	rs, err := r.s.replicaLocked(r.ns)
	if err != nil {
		return nil, err
	}
	heads := make([]Head, 0, len(rs.latest))
	for a, li := range rs.latest {
		heads = append(heads, Head{Timestamp: li.Timestamp, Author: a})
	}
	slices.SortFunc(heads, func(a, b Head) int {
		return cmp.Or(cmp.Compare(b.Timestamp, a.Timestamp), bytes.Compare(a.Author[:], b.Author[:]))
	})
	return heads, nil
}

// HasNews reports whether heads name an author we have nothing of, or a
// newer timestamp than our last entry of that author.
func (r *Replica) HasNews(heads []Head) bool {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	rs, err := r.s.replicaLocked(r.ns)
	if err != nil {
		return false
	}
	for _, h := range heads {
		if li, ok := rs.latest[h.Author]; !ok || h.Timestamp > li.Timestamp {
			return true
		}
	}
	return false
}

// UsefulPeers returns the peers of the last successful syncs, most recent
// first (at most MaxUsefulPeers).
func (r *Replica) UsefulPeers() []key.PublicKey {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	rs, err := r.s.replicaLocked(r.ns)
	if err != nil {
		return nil
	}
	return slices.Clone(rs.peers)
}

// AddUsefulPeer records p as the most recent useful peer.
func (r *Replica) AddUsefulPeer(p key.PublicKey) error {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, err := s.replicaLocked(r.ns)
	if err != nil {
		return err
	}
	if len(rs.peers) > 0 && rs.peers[0] == p {
		return nil
	}
	peers := append([]key.PublicKey{p}, slices.DeleteFunc(slices.Clone(rs.peers), func(q key.PublicKey) bool { return q == p })...)
	if len(peers) > MaxUsefulPeers {
		peers = peers[:MaxUsefulPeers]
	}
	if err := s.commit(&batch{ns: r.ns, peers: peers, setPeers: true}); err != nil {
		return s.failLocked(err)
	}
	rs.peers = peers
	return nil
}

// ContentHashes returns the distinct content hashes of the replica's
// non-empty entries (what blob GC must keep).
func (r *Replica) ContentHashes() ([]blobs.Hash, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	rs, err := r.s.replicaLocked(r.ns)
	if err != nil {
		return nil, err
	}
	seen := map[blobs.Hash]bool{}
	var out []blobs.Hash
	rs.tree.Ascend(0, func(e *SignedEntry) bool {
		if !e.IsEmpty() && !seen[e.Hash()] {
			seen[e.Hash()] = true
			out = append(out, e.Hash())
		}
		return true
	})
	return out, nil
}
