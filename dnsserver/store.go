package dnsserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
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

// store keeps signed packets by public key in a bbolt database. Values are
// full signed packets (key included); every write is one fsynced
// transaction, so an acknowledged PUT survives a crash.
type store struct {
	db *bolt.DB
}

func openStore(dir string) (*store, error) {
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
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// put stores p unless the stored packet for its key is at least as recent
// (newer-wins rule). It reports whether p was stored.
func (s *store) put(p pkarr.SignedPacket) (bool, error) {
	stored := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPackets)
		if old := b.Get(p.Key[:]); old != nil {
			if q, err := pkarr.ParseSignedPacket(old); err == nil && !p.MoreRecentThan(q) {
				return nil
			}
		}
		stored = true
		return b.Put(p.Key[:], p.AppendBytes(nil))
	})
	if err != nil {
		return false, fmt.Errorf("dnsserver: store put: %w", err)
	}
	return stored, nil
}

// errNotFound reports a key with no stored packet.
var errNotFound = errors.New("dnsserver: no packet stored")

// get returns the packet stored for k, verified again so a corrupted file
// never yields an unsigned answer.
func (s *store) get(k key.PublicKey) (pkarr.SignedPacket, error) {
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
		return pkarr.SignedPacket{}, fmt.Errorf("dnsserver: stored packet for %s: %w", k.ShortString(), err)
	}
	return p, nil
}

// evict deletes packets whose timestamp is before cutoff and returns how
// many it deleted.
func (s *store) evict(cutoff time.Time) (int, error) {
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
	return n, nil
}

// count returns the number of stored packets.
func (s *store) count() int {
	n := 0
	s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketPackets).Stats().KeyN
		return nil
	})
	return n
}
