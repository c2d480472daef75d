package dnsserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
	bolt "go.etcd.io/bbolt"
)

// StoreFileName is the database file inside Options.DataDir. The name
// matches iroh-dns-server's (whose database is redb, not bbolt, so the
// files are not interchangeable).
const StoreFileName = "signed-packets-1.db"

var bucketPackets = []byte("packets")

// maxPending bounds the PUTs accepted but not yet committed; a PUT beyond
// it waits for the commit in progress (backpressure, not memory growth).
const maxPending = 16384

// store keeps signed packets by public key in a bbolt database. Values are
// full signed packets (key included).
//
// One writer goroutine commits PUTs in groups: whatever arrived while the
// previous commit was being fsynced goes into the next transaction, with
// no added wait. A disk sync costs milliseconds, so one fsync per PUT
// would cap the server at a few hundred PUTs a second; grouping makes
// throughput grow with load. Two durability modes (Options.SyncPuts):
//
//   - false (default): a PUT is acknowledged once it is accepted into the
//     group being formed, and is served (DNS, GET) from then on; a crash
//     loses at most the PUTs of the commit in flight, which their
//     publishers repeat (iroh republishes every few minutes).
//   - true: a PUT is acknowledged only once the commit holding it is
//     durable; throughput is then concurrency divided by sync latency.
//
// A running count of stored packets is kept beside the database (read
// once at open), so a PUT never walks the database to count it.
type store struct {
	// Set in openStore, then read-only.
	db       *bolt.DB
	syncPuts bool
	kick     chan struct{} // cap 1: pending is non-empty
	done     chan struct{} // closed by close: the writer flushes and stops
	wg       sync.WaitGroup

	// Atomic.
	// n counts stored packets, accepted puts of new keys included from the
	// moment put returns (approximate under concurrent eviction).
	n atomic.Int64

	// mu guards the following. Lock order: mu, then bbolt's own locks
	// (a read transaction may be opened while holding mu; never an
	// update).
	mu         sync.Mutex
	pending    map[key.PublicKey]*pendingPut // accepted, not yet committing
	committing map[key.PublicKey]*pendingPut // in the commit in flight
	committed  *sync.Cond                    // signalled after each commit
	commits    uint64                        // completed commits
	lastErr    error                         // of the last commit
	closed     bool
}

type pendingPut struct {
	p     pkarr.SignedPacket
	val   []byte
	added bool // the key was new
}

func openStore(dir string, syncPuts bool) (*store, error) {
	path := filepath.Join(dir, StoreFileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("dnsserver: open store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketPackets)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("dnsserver: init store: %w", err)
	}
	st := &store{db: db, syncPuts: syncPuts, kick: make(chan struct{}, 1), done: make(chan struct{}),
		pending: map[key.PublicKey]*pendingPut{}}
	st.committed = sync.NewCond(&st.mu)
	db.View(func(tx *bolt.Tx) error {
		st.n.Store(int64(tx.Bucket(bucketPackets).Stats().KeyN))
		return nil
	})
	st.wg.Add(1)
	go st.writeLoop()
	return st, nil
}

// close commits what is pending, stops the writer and closes the
// database. Puts after close fail with errStoreClosed.
func (s *store) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	return s.db.Close()
}

// errStoreClosed is returned by put after close.
var errStoreClosed = errors.New("dnsserver: store closed")

// writeLoop commits pending puts, one transaction per group, until close
// (after a last commit).
func (s *store) writeLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.kick:
			s.commit()
		case <-s.done:
			s.commit()
			s.mu.Lock()
			s.committed.Broadcast()
			s.mu.Unlock()
			return
		}
	}
}

// commit writes the pending group in one transaction.
func (s *store) commit() {
	s.mu.Lock()
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return
	}
	s.committing, s.pending = s.pending, make(map[key.PublicKey]*pendingPut, len(s.pending))
	group := s.committing
	s.mu.Unlock()
	added := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPackets)
		for k, pp := range group {
			if err := b.Put(k[:], pp.val); err != nil {
				return err
			}
		}
		return nil
	})
	for _, pp := range group {
		if pp.added {
			added++
		}
	}
	s.mu.Lock()
	if err != nil {
		s.n.Add(-int64(added)) // counted by put, lost with the group
	}
	s.committing = nil
	s.commits++
	s.lastErr = err
	s.committed.Broadcast()
	s.mu.Unlock()
}

// put stores p unless the stored packet for its key is at least as recent
// (newer-wins rule), and reports whether p was stored. See store for when
// it returns.
func (s *store) put(p pkarr.SignedPacket) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && len(s.pending) >= maxPending {
		s.committed.Wait()
	}
	if s.closed {
		return false, errStoreClosed
	}
	old, present, err := s.newestLocked(p.Key)
	if err != nil {
		return false, err
	}
	if present && !p.MoreRecentThan(old) {
		return false, nil
	}
	added := !present
	if prev, ok := s.pending[p.Key]; ok {
		added = prev.added // replacing a pending put of a new key
	} else if added {
		// Counted now, not at commit: a PUT that returned is counted
		// (the write loop commits a moment later, or fails and uncounts it).
		s.n.Add(1)
	}
	s.pending[p.Key] = &pendingPut{p: p, val: p.AppendBytes(nil), added: added}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	if !s.syncPuts {
		return true, nil
	}
	// Wait for the commit that takes our group: the one after the commit
	// in flight now (if any) has finished.
	target := s.commits + 1
	if s.committing != nil {
		target++
	}
	for s.commits < target && !s.closedAndFlushedLocked() {
		s.committed.Wait()
	}
	if s.lastErr != nil {
		return false, fmt.Errorf("dnsserver: store put: %w", s.lastErr)
	}
	return true, nil
}

// flush waits until every accepted put is committed (or the store closed).
func (s *store) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for (len(s.pending) > 0 || s.committing != nil) && !s.closedAndFlushedLocked() {
		if s.closed && len(s.pending) > 0 && s.committing == nil {
			// The writer has stopped; nothing will commit these.
			return
		}
		s.committed.Wait()
	}
}

func (s *store) closedAndFlushedLocked() bool {
	return s.closed && len(s.pending) == 0 && s.committing == nil
}

// newestLocked returns the newest packet known for k: pending, being
// committed, or in the database.
func (s *store) newestLocked(k key.PublicKey) (pkarr.SignedPacket, bool, error) {
	if pp, ok := s.pending[k]; ok {
		return pp.p, true, nil
	}
	if pp, ok := s.committing[k]; ok {
		return pp.p, true, nil
	}
	p, err := s.getDB(k)
	if errors.Is(err, errNotFound) {
		return pkarr.SignedPacket{}, false, nil
	}
	if err != nil {
		// A stored packet that no longer parses is replaced.
		var pe *storedPacketError
		if errors.As(err, &pe) {
			return pkarr.SignedPacket{}, true, nil
		}
		return pkarr.SignedPacket{}, false, err
	}
	return p, true, nil
}

// errNotFound reports a key with no stored packet.
var errNotFound = errors.New("dnsserver: no packet stored")

// storedPacketError is a stored packet that does not parse.
type storedPacketError struct {
	key key.PublicKey
	err error
}

func (e *storedPacketError) Error() string {
	return fmt.Sprintf("dnsserver: stored packet for %s: %v", e.key.ShortString(), e.err)
}

func (e *storedPacketError) Unwrap() error { return e.err }

// get returns the newest packet for k, including accepted PUTs not yet
// committed. Packets from the database are verified again, so a corrupted
// file never yields an unsigned answer.
func (s *store) get(k key.PublicKey) (pkarr.SignedPacket, error) {
	s.mu.Lock()
	if pp, ok := s.pending[k]; ok {
		s.mu.Unlock()
		return pp.p, nil
	}
	if pp, ok := s.committing[k]; ok {
		s.mu.Unlock()
		return pp.p, nil
	}
	s.mu.Unlock()
	return s.getDB(k)
}

func (s *store) getDB(k key.PublicKey) (pkarr.SignedPacket, error) {
	var raw []byte
	if err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketPackets).Get(k[:]); v != nil {
			raw = append([]byte(nil), v...)
		}
		return nil
	}); err != nil {
		return pkarr.SignedPacket{}, fmt.Errorf("dnsserver: store get: %w", err)
	}
	if raw == nil {
		return pkarr.SignedPacket{}, errNotFound
	}
	p, err := pkarr.ParseSignedPacket(raw)
	if err != nil {
		return pkarr.SignedPacket{}, &storedPacketError{key: k, err: err}
	}
	return p, nil
}

// evict deletes packets whose timestamp is before cutoff and returns how
// many it deleted.
func (s *store) evict(cutoff time.Time) (int, error) {
	s.flush()
	c := uint64(cutoff.UnixMicro())
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPackets)
		var old [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			if len(v) < pkarr.HeaderSize || binary.BigEndian.Uint64(v[key.Size+key.SignatureSize:]) < c {
				old = append(old, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("dnsserver: evict: %w", err)
	}
	s.n.Add(-int64(n))
	return n, nil
}

// count returns the number of stored packets, from the running count.
func (s *store) count() int { return int(s.n.Load()) }
