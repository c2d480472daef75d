package docs

import (
	"sync"
	"sync/atomic"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/key"
)

// EventKind tells engine events apart.
type EventKind uint8

// Engine events.
const (
	EventInsertLocal  EventKind = iota // Entry written here
	EventInsertRemote                  // Entry received from Peer (Status: its content there)
	EventContentReady                  // content Hash downloaded
	EventSyncFinished                  // a sync with Peer ended (Sync, Err)
	EventNeighborUp                    // gossip neighbour Peer joined
	EventNeighborDown                  // gossip neighbour Peer left
)

// String names the kind.
func (k EventKind) String() string {
	return [...]string{"insert_local", "insert_remote", "content_ready", "sync_finished", "neighbor_up", "neighbor_down"}[k]
}

// Event is a happening in a live document, for UIs.
type Event struct {
	Kind      EventKind
	Namespace NamespaceID
	Entry     *SignedEntry
	Peer      key.PublicKey
	Status    ranger.ContentStatus
	ViaGossip bool // InsertRemote: the entry came in a gossip broadcast
	Hash      blobs.Hash
	Sync      *SyncStats
	Err       error
}

// eventBuffer is the capacity of a subscription; a subscriber that falls
// further behind loses events (counted by Dropped).
const eventBuffer = 1024

type subscription struct {
	ns      NamespaceID
	ch      chan Event
	once    sync.Once
	dropped atomic.Uint64
	mu      sync.Mutex // guards closed against a concurrent send
	closed  bool
}

func (s *subscription) close() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.ch)
		s.mu.Unlock()
	})
}

// Subscription is a stream of a document's events.
type Subscription struct {
	s *subscription
	e *Engine
}

// Events returns the channel of events, in the order they happened; it is
// closed by Close or when the engine closes.
func (s *Subscription) Events() <-chan Event { return s.s.ch }

// Dropped returns how many events were lost because the subscriber was
// slow.
func (s *Subscription) Dropped() uint64 { return s.s.dropped.Load() }

// Close ends the subscription.
func (s *Subscription) Close() {
	s.e.mu.Lock()
	delete(s.e.subs, s.s)
	s.e.mu.Unlock()
	s.s.close()
}

// Subscribe returns a subscription to the events of ns. Events are never
// waited for: when the buffer is full the event is dropped and counted.
func (e *Engine) Subscribe(ns NamespaceID) *Subscription {
	s := &subscription{ns: ns, ch: make(chan Event, eventBuffer)}
	e.mu.Lock()
	if e.closed {
		s.close()
	} else {
		e.subs[s] = struct{}{}
	}
	e.mu.Unlock()
	return &Subscription{s: s, e: e}
}

func (e *Engine) emit(ev Event) {
	e.mu.Lock()
	var targets []*subscription
	for s := range e.subs {
		if s.ns == ev.Namespace {
			targets = append(targets, s)
		}
	}
	e.mu.Unlock()
	for _, s := range targets {
		s.mu.Lock()
		if !s.closed {
			select {
			case s.ch <- ev:
			default:
				s.dropped.Add(1)
			}
		}
		s.mu.Unlock()
	}
}
