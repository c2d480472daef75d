package docs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/key"
)

// Store errors callers branch on.
var (
	ErrClosed           = errors.New("docs: store closed")
	ErrNamespaceUnknown = errors.New("docs: namespace unknown")
	ErrAuthorUnknown    = errors.New("docs: author unknown")
	ErrReadOnly         = errors.New("docs: replica has no write capability")
	ErrNewerEntryExists = errors.New("docs: a newer entry exists for this key or a prefix of it")
	ErrEmptyValue       = errors.New("docs: empty content (use DeletePrefix to delete)")
)

// MaxUsefulPeers is how many recent sync peers a replica remembers (spec §1).
const MaxUsefulPeers = 5

// StoreOptions configures a Store. A nil *StoreOptions means all defaults.
type StoreOptions struct {
	// Now is the clock for local timestamps and the future-timestamp rule;
	// nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Metrics to count inserts and rejects into; nil means none.
	Metrics *Metrics
}

// Store holds the replicas (one per namespace, with its capability), the
// authors and the entries of every replica. NewMemStore keeps everything in
// memory; OpenStore persists to a bbolt file and keeps an index of every
// entry in memory (loaded at open), so queries and range fingerprints never
// touch the disk. Writes are committed (fsync) before a call returns, so an
// insert or a processed sync message that was acknowledged survives a
// crash. Safe for concurrent use.
type Store struct {
	// Set in the constructor, then read-only.
	be      backend
	now     func() time.Time
	log     *slog.Logger
	metrics *Metrics

	// mu guards the following.
	mu            sync.Mutex
	closed        bool
	replicas      map[NamespaceID]*replicaState
	authors       map[AuthorID]Author
	defaultAuthor AuthorID
	hooks         map[int]func([]InsertEvent)
	nextHook      int
}

type latestInfo struct {
	Timestamp uint64
	Key       []byte
}

// replicaState is the in-memory index of one namespace.
type replicaState struct {
	cap    Capability
	tree   ranger.Tree[*SignedEntry]
	latest map[AuthorID]latestInfo
	peers  []key.PublicKey // most recent first
	policy DownloadPolicy
	// signers caches expanded keys of local authors (write replicas).
	signers map[AuthorID]*signer
}

// InsertOrigin tells local writes from entries received from a peer.
type InsertOrigin uint8

// Origins of an InsertEvent.
const (
	Local InsertOrigin = iota
	Remote
)

// InsertEvent reports one entry inserted into a replica.
type InsertEvent struct {
	Namespace NamespaceID
	Entry     *SignedEntry
	Origin    InsertOrigin
	// From is the peer that sent a remote entry, Status its content state
	// there.
	From   key.PublicKey
	Status ranger.ContentStatus
	// Gossip is set for entries received from a gossip broadcast.
	Gossip bool
}

func newStore(be backend, opts *StoreOptions) *Store {
	var o StoreOptions
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Store{
		be:       be,
		now:      o.Now,
		log:      o.Logger.With("component", "docs"),
		metrics:  o.Metrics,
		replicas: make(map[NamespaceID]*replicaState),
		authors:  make(map[AuthorID]Author),
	}
}

// NewMemStore returns a Store that keeps everything in memory.
func NewMemStore(opts *StoreOptions) *Store { return newStore(memBackend{}, opts) }

// Close releases the store; later calls return ErrClosed. Safe to call
// twice.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.be.close()
}

// OnInsert registers fn to be called after entries are inserted, from the
// inserting goroutine, outside the store's lock; fn must not block for
// long. It is how the live-sync Engine learns of new entries. The returned
// function removes fn.
func (s *Store) OnInsert(fn func([]InsertEvent)) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hooks == nil {
		s.hooks = make(map[int]func([]InsertEvent))
	}
	id := s.nextHook
	s.nextHook++
	s.hooks[id] = fn
	return func() {
		s.mu.Lock()
		delete(s.hooks, id)
		s.mu.Unlock()
	}
}

func (s *Store) emit(evs []InsertEvent) {
	if len(evs) == 0 {
		return
	}
	s.mu.Lock()
	hooks := make([]func([]InsertEvent), 0, len(s.hooks))
	for _, h := range s.hooks {
		hooks = append(hooks, h)
	}
	s.mu.Unlock()
	for _, h := range hooks {
		h(evs)
	}
}

func (s *Store) commit(b *batch) error {
	if b.empty() {
		return nil
	}
	return s.be.commit(b)
}

// ImportNamespace adds a replica for c's namespace, or upgrades a read
// replica to write. It returns the resulting capability.
func (s *Store) ImportNamespace(c Capability) (Capability, error) {
	if c.Kind == Write {
		c.ID = c.Secret.ID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return c, ErrClosed
	}
	rs := s.replicas[c.ID]
	if rs != nil {
		c = rs.cap.Merge(c)
		if c == rs.cap {
			return c, nil
		}
	}
	if err := s.commit(&batch{caps: []Capability{c}}); err != nil {
		return c, err
	}
	if rs == nil {
		rs = &replicaState{latest: make(map[AuthorID]latestInfo)}
		s.replicas[c.ID] = rs
	}
	rs.cap = c
	return c, nil
}

// NewNamespace creates a document with a fresh secret.
func (s *Store) NewNamespace() (NamespaceID, error) {
	c, err := s.ImportNamespace(WriteCapability(NewNamespaceSecret()))
	return c.ID, err
}

// NamespaceInfo lists one replica.
type NamespaceInfo struct {
	ID   NamespaceID
	Kind CapabilityKind
}

// Namespaces lists the replicas, sorted by id.
func (s *Store) Namespaces() []NamespaceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []NamespaceInfo
	for id, rs := range s.replicas {
		out = append(out, NamespaceInfo{ID: id, Kind: rs.cap.Kind})
	}
	slices.SortFunc(out, func(a, b NamespaceInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

// Capability returns the capability held for ns.
func (s *Store) Capability(ns NamespaceID) (Capability, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.replicas[ns]
	if rs == nil {
		return Capability{}, fmt.Errorf("%w: %s", ErrNamespaceUnknown, ns.ShortString())
	}
	return rs.cap, nil
}

// DropNamespace removes a replica and all its entries.
func (s *Store) DropNamespace(ns NamespaceID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.replicas[ns] == nil {
		return fmt.Errorf("%w: %s", ErrNamespaceUnknown, ns.ShortString())
	}
	if err := s.commit(&batch{ns: ns, dropNS: true}); err != nil {
		return err
	}
	delete(s.replicas, ns)
	return nil
}

// ImportAuthor stores an author.
func (s *Store) ImportAuthor(a Author) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, ok := s.authors[a.ID()]; ok {
		return nil
	}
	if err := s.commit(&batch{authors: []Author{a}}); err != nil {
		return err
	}
	s.authors[a.ID()] = a
	return nil
}

// NewAuthor creates and stores a fresh author.
func (s *Store) NewAuthor() (AuthorID, error) {
	a := NewAuthor()
	return a.ID(), s.ImportAuthor(a)
}

// Author returns a stored author's secret (for export).
func (s *Store) Author(id AuthorID) (Author, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authors[id]
	if !ok {
		return a, fmt.Errorf("%w: %s", ErrAuthorUnknown, id.ShortString())
	}
	return a, nil
}

// Authors lists the stored authors' ids, sorted.
func (s *Store) Authors() []AuthorID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AuthorID
	for id := range s.authors {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b AuthorID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// DefaultAuthor returns the default author, creating and persisting one the
// first time.
func (s *Store) DefaultAuthor() (AuthorID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return AuthorID{}, ErrClosed
	}
	if _, ok := s.authors[s.defaultAuthor]; ok {
		return s.defaultAuthor, nil
	}
	a := NewAuthor()
	if err := s.commit(&batch{authors: []Author{a}, defaultAuthor: a.ID()}); err != nil {
		return AuthorID{}, err
	}
	s.authors[a.ID()] = a
	s.defaultAuthor = a.ID()
	return a.ID(), nil
}

// SetDefaultAuthor makes a stored author the default.
func (s *Store) SetDefaultAuthor(id AuthorID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.authors[id]; !ok {
		return fmt.Errorf("%w: %s", ErrAuthorUnknown, id.ShortString())
	}
	if err := s.commit(&batch{defaultAuthor: id}); err != nil {
		return err
	}
	s.defaultAuthor = id
	return nil
}

// SetDownloadPolicy stores which entries' content ns downloads.
func (s *Store) SetDownloadPolicy(ns NamespaceID, p DownloadPolicy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, err := s.replicaLocked(ns)
	if err != nil {
		return err
	}
	if err := s.commit(&batch{ns: ns, policy: &p}); err != nil {
		return s.failLocked(err)
	}
	rs.policy = p
	return nil
}

// DownloadPolicy returns the download policy of ns (everything unless
// set).
func (s *Store) DownloadPolicy(ns NamespaceID) (DownloadPolicy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, err := s.replicaLocked(ns)
	if err != nil {
		return DownloadEverything(), err
	}
	return rs.policy, nil
}

// Replica returns a handle on the replica of ns.
func (s *Store) Replica(ns NamespaceID) (*Replica, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.replicas[ns] == nil {
		return nil, fmt.Errorf("%w: %s", ErrNamespaceUnknown, ns.ShortString())
	}
	return &Replica{s: s, ns: ns}, nil
}

func (s *Store) replicaLocked(ns NamespaceID) (*replicaState, error) {
	if s.closed {
		return nil, ErrClosed
	}
	rs := s.replicas[ns]
	if rs == nil {
		return nil, fmt.Errorf("%w: %s", ErrNamespaceUnknown, ns.ShortString())
	}
	return rs, nil
}

// insertLocked applies the insertion rules of spec §3.6 to e (already
// validated) and records the changes in b. It reports whether e was
// inserted and how many entries it removed.
func (rs *replicaState) insertLocked(e *SignedEntry, b *batch) (bool, int) {
	id := e.ID()
	// A non-empty entry of the same author at e's key or a non-empty
	// prefix of it with a record >= e's blocks the insert. Tombstones and
	// the empty key are not looked at (Rust's behaviour).
	for l := len(id); l > idPrefixSize; l-- {
		if old, ok := rs.tree.Get(id[:l]); ok && !old.IsEmpty() && old.CompareRecord(e) >= 0 {
			return false, 0
		}
	}
	// Remove the author's entries under e's key with records <= e's.
	var dels []*SignedEntry
	rs.tree.Ascend(rs.tree.Rank(id), func(old *SignedEntry) bool {
		if !bytes.HasPrefix(old.ID(), id) {
			return false
		}
		if old.CompareRecord(e) <= 0 || bytes.Equal(old.ID(), id) {
			dels = append(dels, old)
		}
		return true
	})
	// removed counts the entries e replaces, its own key's included.
	removed := len(dels)
	for _, d := range dels {
		rs.tree.Delete(d.ID())
		if !bytes.Equal(d.ID(), id) {
			b.dels = append(b.dels, d.ID()) // e's own key is overwritten by the put
		}
	}
	rs.tree.Insert(e)
	b.puts = append(b.puts, e)
	li := latestInfo{Timestamp: e.Timestamp(), Key: e.Key()}
	rs.latest[e.Author()] = li
	if b.latest == nil {
		b.latest = make(map[AuthorID]latestInfo)
	}
	b.latest[e.Author()] = li
	return true, removed
}

// failLocked handles a failed commit after the in-memory index was already
// changed: memory and disk may disagree, so the store closes itself (the
// disk still holds the last committed state, which a reopen loads).
func (s *Store) failLocked(err error) error {
	s.closed = true
	s.be.close()
	s.log.Error("docs store write failed, store closed", "err", err)
	return fmt.Errorf("docs: commit: %w (store closed)", err)
}
