package docs

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/iroh-go/iroh/key"
	bolt "go.etcd.io/bbolt"
)

// batch is one atomic change of the store.
type batch struct {
	ns            NamespaceID // of puts, dels, latest, peers, dropNS
	puts          []*SignedEntry
	dels          [][]byte
	latest        map[AuthorID]latestInfo
	caps          []Capability
	dropNS        bool
	authors       []Author
	defaultAuthor AuthorID
	peers         []key.PublicKey
	setPeers      bool
	policy        *DownloadPolicy
}

func (b *batch) empty() bool {
	return len(b.puts) == 0 && len(b.dels) == 0 && len(b.latest) == 0 && len(b.caps) == 0 &&
		!b.dropNS && len(b.authors) == 0 && b.defaultAuthor == (AuthorID{}) && !b.setPeers && b.policy == nil
}

// backend persists batches.
type backend interface {
	commit(b *batch) error
	close() error
}

type memBackend struct{}

func (memBackend) commit(*batch) error { return nil }
func (memBackend) close() error        { return nil }

// Bucket names of the bbolt file.
var (
	bucketNamespaces = []byte("namespaces") // id -> capability (postcard)
	bucketAuthors    = []byte("authors")    // id -> secret
	bucketEntries    = []byte("entries")    // namespace||author||key -> SignedEntry (postcard)
	bucketLatest     = []byte("latest")     // namespace||author -> timestamp (u64 BE) || key
	bucketPeers      = []byte("peers")      // namespace -> ids of useful peers
	bucketMeta       = []byte("meta")       // "default_author" -> id
	bucketPolicies   = []byte("policies")   // namespace -> DownloadPolicy (postcard)
)

var keyDefaultAuthor = []byte("default_author")

type boltBackend struct{ db *bolt.DB }

// OpenStore opens (creating it if needed) a persistent store in dir: one
// bbolt file, docs.db. It loads every entry into the in-memory index.
func OpenStore(dir string, opts *StoreOptions) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("docs store: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, "docs.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("docs store: open %s: %w", dir, err)
	}
	s := newStore(&boltBackend{db: db}, opts)
	if err := s.load(db); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) load(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketNamespaces, bucketAuthors, bucketEntries, bucketLatest, bucketPeers, bucketMeta, bucketPolicies} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		err := tx.Bucket(bucketNamespaces).ForEach(func(k, v []byte) error {
			c, _, err := ParseCapability(v)
			if err != nil {
				return fmt.Errorf("docs store: namespace %x: %w", k, err)
			}
			s.replicas[c.ID] = &replicaState{cap: c, latest: make(map[AuthorID]latestInfo)}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketAuthors).ForEach(func(k, v []byte) error {
			if len(v) != 32 {
				return fmt.Errorf("docs store: author %x: %d bytes", k, len(v))
			}
			a := Author(v)
			s.authors[a.ID()] = a
			return nil
		})
		if err != nil {
			return err
		}
		if v := tx.Bucket(bucketMeta).Get(keyDefaultAuthor); len(v) == 32 {
			s.defaultAuthor = AuthorID(v)
		}
		err = tx.Bucket(bucketEntries).ForEach(func(k, v []byte) error {
			e, n, err := ParseSignedEntry(v)
			if err != nil || n != len(v) {
				return fmt.Errorf("docs store: entry %x: bad encoding: %v", k, err)
			}
			rs := s.replicas[e.Namespace()]
			if rs == nil {
				return nil // namespace dropped half-way: ignore
			}
			rs.tree.Insert(e) // e copies what it keeps of v
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketLatest).ForEach(func(k, v []byte) error {
			if len(k) != 64 || len(v) < 8 {
				return fmt.Errorf("docs store: latest %x: bad record", k)
			}
			if rs := s.replicas[NamespaceID(k[:32])]; rs != nil {
				rs.latest[AuthorID(k[32:])] = latestInfo{Timestamp: binary.BigEndian.Uint64(v), Key: append([]byte(nil), v[8:]...)}
			}
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketPolicies).ForEach(func(k, v []byte) error {
			if rs := s.replicas[NamespaceID(k)]; rs != nil && len(k) == 32 {
				p, err := ParseDownloadPolicy(v)
				if err != nil {
					return fmt.Errorf("docs store: policy of %x: %w", k, err)
				}
				rs.policy = p
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketPeers).ForEach(func(k, v []byte) error {
			if rs := s.replicas[NamespaceID(k)]; rs != nil && len(k) == 32 {
				for i := 0; i+32 <= len(v); i += 32 {
					rs.peers = append(rs.peers, key.PublicKey(v[i:i+32]))
				}
			}
			return nil
		})
	})
}

func (bb *boltBackend) commit(b *batch) error {
	return bb.db.Update(func(tx *bolt.Tx) error {
		entries := tx.Bucket(bucketEntries)
		for _, c := range b.caps {
			if err := tx.Bucket(bucketNamespaces).Put(c.ID[:], c.AppendBinary(nil)); err != nil {
				return err
			}
		}
		for _, a := range b.authors {
			id := a.ID()
			if err := tx.Bucket(bucketAuthors).Put(id[:], a[:]); err != nil {
				return err
			}
		}
		if b.defaultAuthor != (AuthorID{}) {
			if err := tx.Bucket(bucketMeta).Put(keyDefaultAuthor, b.defaultAuthor[:]); err != nil {
				return err
			}
		}
		for _, id := range b.dels {
			if err := entries.Delete(id); err != nil {
				return err
			}
		}
		for _, e := range b.puts {
			// bbolt keeps the value until the commit: one buffer each.
			if err := entries.Put(e.ID(), e.AppendBinary(nil)); err != nil {
				return err
			}
		}
		for a, li := range b.latest {
			k := append(append([]byte(nil), b.ns[:]...), a[:]...)
			v := binary.BigEndian.AppendUint64(nil, li.Timestamp)
			if err := tx.Bucket(bucketLatest).Put(k, append(v, li.Key...)); err != nil {
				return err
			}
		}
		if b.setPeers {
			var v []byte
			for _, p := range b.peers {
				v = append(v, p[:]...)
			}
			if err := tx.Bucket(bucketPeers).Put(b.ns[:], v); err != nil {
				return err
			}
		}
		if b.policy != nil {
			if err := tx.Bucket(bucketPolicies).Put(b.ns[:], b.policy.AppendBinary(nil)); err != nil {
				return err
			}
		}
		if b.dropNS {
			if err := deletePrefix(entries, b.ns[:]); err != nil {
				return err
			}
			if err := deletePrefix(tx.Bucket(bucketLatest), b.ns[:]); err != nil {
				return err
			}
			if err := tx.Bucket(bucketPeers).Delete(b.ns[:]); err != nil {
				return err
			}
			if err := tx.Bucket(bucketPolicies).Delete(b.ns[:]); err != nil {
				return err
			}
			if err := tx.Bucket(bucketNamespaces).Delete(b.ns[:]); err != nil {
				return err
			}
		}
		return nil
	})
}

func deletePrefix(bk *bolt.Bucket, prefix []byte) error {
	c := bk.Cursor()
	for k, _ := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func (bb *boltBackend) close() error { return bb.db.Close() }
