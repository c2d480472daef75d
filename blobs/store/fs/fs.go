package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
)

// Options configures Open. A nil *Options means all defaults.
type Options struct {
	// Logger receives store logs; nil means slog.Default().
	Logger *slog.Logger
	// InlineMax is the largest blob kept inside the index instead of in its
	// own files. Zero means 16 KiB (iroh's default); negative means never.
	InlineMax int
	// CheckpointBytes is how many newly written bytes a download writer
	// accumulates before it makes them durable and persists its bitfield:
	// about this much is fetched again after a crash. Zero means 64 MiB
	// (smaller steps fsync so often that they slow a fast download).
	CheckpointBytes int64
}

const (
	bucketBlobs  = "blobs"
	bucketInline = "inline"
	bucketTags   = "tags"
)

// Record kinds stored as the first byte of a blobs-bucket value.
const (
	kindPartial  = 0 // data in <hex>.data, state in the bitfield
	kindComplete = 1 // data in <hex>.data, outboard in <hex>.obao4
	kindInline   = 2 // data in the inline bucket; no outboard (≤ 16 KiB)
)

// Store is a persistent blob store in a directory. Open it with Open.
type Store struct {
	// Set in Open, then read-only.
	dir, dataDir, tmpDir string
	db                   *bolt.DB
	log                  *slog.Logger
	inlineMax            int64
	checkpointBytes      int64
	temps                store.TempTags
	notifier             store.Notifier
	done                 chan struct{}
	wg                   sync.WaitGroup

	// Atomic.
	outboardRehashes atomic.Int64 // finished blobs whose outboard was computed from the data

	// mu guards the following. Lock order: a writer's wstate.mu may be
	// held while taking mu, never the other way round.
	mu          sync.Mutex
	cond        *sync.Cond             // signalled when committed advances or on close
	dirtyInline int                    // inline bytes in dirty (backpressure)
	dirty       map[blobs.Hash]*record // pending index updates
	inflight    map[blobs.Hash]*record // the batch being committed
	enqueued    uint64                 // generation of the last enqueued update
	committed   uint64                 // generation durably committed
	commitErr   error                  // last commit error (sticky until the next success)
	writers     map[blobs.Hash]*wstate
	closed      bool
}

// record is the index entry of a blob; a nil *record in dirty deletes it.
type record struct {
	kind   byte
	bf     blobs.Bitfield
	inline []byte
	// sync lists files whose data must be durable before this record is
	// committed (the commit loop fsyncs them, and the data directory).
	sync []string
}

func (r *record) marshal() []byte {
	return r.bf.AppendBinary([]byte{r.kind})
}

func parseRecord(b []byte) (*record, error) {
	if len(b) < 1 || b[0] > kindInline {
		return nil, fmt.Errorf("index record: bad kind")
	}
	bf, _, err := blobs.ParseBitfield(b[1:])
	if err != nil {
		return nil, fmt.Errorf("index record: %w", err)
	}
	return &record{kind: b[0], bf: bf}, nil
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir. Files left behind by a
// crash (temporary imports, data files the index does not name) are removed.
func Open(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.InlineMax == 0 {
		o.InlineMax = 16 << 10
	}
	if o.CheckpointBytes == 0 {
		o.CheckpointBytes = 64 << 20
	}
	if o.CheckpointBytes < 0 {
		return nil, fmt.Errorf("blob store: negative CheckpointBytes %d", o.CheckpointBytes)
	}
	s := &Store{
		dir:             dir,
		dataDir:         filepath.Join(dir, "data"),
		tmpDir:          filepath.Join(dir, "tmp"),
		log:             o.Logger.With("component", "blobstore"),
		inlineMax:       int64(o.InlineMax),
		checkpointBytes: o.CheckpointBytes,
		dirty:           make(map[blobs.Hash]*record),
		writers:         make(map[blobs.Hash]*wstate),
		done:            make(chan struct{}),
	}
	s.cond = sync.NewCond(&s.mu)
	for _, d := range []string{s.dataDir, s.tmpDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("blob store: %w", err)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "index.db"), 0o644, &bolt.Options{Timeout: 1e9})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("blob store %s: %w", dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("blob store: open index %s: %w", dir, err)
	}
	s.db = db
	// Leftover temporary files belong to imports that never finished (the
	// index lock, held from here, says no other process is importing).
	if ents, err := os.ReadDir(s.tmpDir); err == nil {
		for _, e := range ents {
			os.Remove(filepath.Join(s.tmpDir, e.Name()))
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{bucketBlobs, bucketInline, bucketTags} {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("blob store: init index: %w", err)
	}
	if err := s.removeOrphans(); err != nil {
		db.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.commitLoop()
	return s, nil
}

// removeOrphans deletes data/outboard files that no index record names:
// complete imports whose record was never committed.
func (s *Store) removeOrphans() error {
	known := make(map[string]bool)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketBlobs)).ForEach(func(k, v []byte) error {
			if len(k) == blobs.HashSize && len(v) > 0 && v[0] != kindInline {
				known[blobs.Hash(k).String()] = true
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("blob store: scan index: %w", err)
	}
	ents, err := os.ReadDir(s.dataDir)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		base := name
		if i := len(name) - len(filepath.Ext(name)); i > 0 {
			base = name[:i]
		}
		if !known[base] {
			os.Remove(filepath.Join(s.dataDir, name))
		}
	}
	return nil
}

func (s *Store) dataPath(h blobs.Hash) string { return filepath.Join(s.dataDir, h.String()+".data") }
func (s *Store) outboardPath(h blobs.Hash) string {
	return filepath.Join(s.dataDir, h.String()+".obao4")
}

// enqueueLocked schedules rec (nil = delete) for h and returns the
// generation to wait for. s.mu must be held.
func (s *Store) enqueueLocked(h blobs.Hash, rec *record) uint64 {
	// Backpressure: inline data waits in memory until committed, so an
	// import of many small files must not run ahead of the index.
	for rec != nil && len(rec.inline) > 0 && s.dirtyInline > maxPendingInline && !s.closed {
		s.cond.Wait()
	}
	if old := s.dirty[h]; old != nil {
		s.dirtyInline -= len(old.inline)
	}
	if rec != nil {
		s.dirtyInline += len(rec.inline)
	}
	s.dirty[h] = rec
	s.enqueued++
	s.cond.Broadcast()
	return s.enqueued
}

// waitLocked waits until generation gen is committed. s.mu must be held.
func (s *Store) waitLocked(gen uint64) error {
	for s.committed < gen && !s.closed {
		s.cond.Wait()
	}
	if s.committed < gen {
		return blobs.ErrStoreClosed
	}
	return s.commitErr
}

// commitLoop owns index writes: it commits all dirty records in one
// transaction at a time, so many small blobs share one fsync.
func (s *Store) commitLoop() {
	defer s.wg.Done()
	s.mu.Lock()
	for {
		for len(s.dirty) == 0 && !s.closed {
			s.cond.Wait()
		}
		if len(s.dirty) == 0 && s.closed {
			s.mu.Unlock()
			return
		}
		// Commit at most commitMaxRecords / commitMaxBytes per
		// transaction, so a burst of small blobs does not make one huge
		// transaction (bbolt buffers its dirty pages in memory).
		batch, gen := s.dirty, s.enqueued
		if len(s.dirty) > commitMaxRecords || s.dirtyBytesLocked() > commitMaxBytes {
			batch, gen = make(map[blobs.Hash]*record), s.committed
			var n int
			for h, r := range s.dirty {
				batch[h] = r
				delete(s.dirty, h)
				if r != nil {
					n += len(r.inline)
					s.dirtyInline -= len(r.inline)
				}
				if len(batch) >= commitMaxRecords || n >= commitMaxBytes {
					break
				}
			}
		} else {
			s.dirty = make(map[blobs.Hash]*record)
			s.dirtyInline = 0
		}
		s.inflight = batch
		s.mu.Unlock()
		err := s.syncFiles(batch)
		if err == nil {
			err = s.db.Update(func(tx *bolt.Tx) error {
				bb, ib := tx.Bucket([]byte(bucketBlobs)), tx.Bucket([]byte(bucketInline))
				for h, r := range batch {
					if r == nil {
						if err := bb.Delete(h[:]); err != nil {
							return err
						}
						if err := ib.Delete(h[:]); err != nil {
							return err
						}
						continue
					}
					if err := bb.Put(h[:], r.marshal()); err != nil {
						return err
					}
					if r.kind == kindInline {
						if err := ib.Put(h[:], r.inline); err != nil {
							return err
						}
					}
				}
				return nil
			})
		}
		s.mu.Lock()
		if err != nil {
			s.log.Error("index commit failed", "err", err)
			s.commitErr = fmt.Errorf("blob store: commit index: %w", err)
			// Put the batch back (unless newer values replaced it) so
			// reads stay consistent and the next commit retries it.
			for h, r := range batch {
				if _, ok := s.dirty[h]; !ok {
					s.dirty[h] = r
					if r != nil {
						s.dirtyInline += len(r.inline)
					}
				}
			}
			s.inflight = nil
			s.committed = gen
			s.cond.Broadcast()
			s.mu.Unlock()
			select {
			case <-s.done:
			case <-timeAfter():
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				return
			}
			continue
		}
		s.commitErr = nil
		s.inflight = nil
		s.committed = gen
		s.cond.Broadcast()
	}
}

// syncFiles makes the files named by the batch's records durable, then
// the data directory (their renames), before the records are committed.
func (s *Store) syncFiles(batch map[blobs.Hash]*record) error {
	n := 0
	for _, r := range batch {
		if r == nil {
			continue
		}
		for _, p := range r.sync {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				return fmt.Errorf("sync %s: %w", p, err)
			}
			err = f.Sync()
			f.Close()
			if err != nil {
				return fmt.Errorf("sync %s: %w", p, err)
			}
			n++
		}
	}
	if n > 0 {
		syncDir(s.dataDir)
	}
	return nil
}

// syncDir fsyncs a directory so renames into it are durable; platforms
// that cannot (Windows) make renames durable by other means, so errors are
// ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Transaction size bounds of the commit loop.
const (
	commitMaxRecords = 4096
	commitMaxBytes   = 8 << 20
)

// maxPendingInline bounds the inline data waiting for the commit loop.
const maxPendingInline = 16 << 20

// dirtyBytesLocked returns the inline data pending in dirty.
func (s *Store) dirtyBytesLocked() int { return s.dirtyInline }

// lookup returns the record of h (pending or committed), or nil.
func (s *Store) lookup(h blobs.Hash) (*record, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, blobs.ErrStoreClosed
	}
	defer s.mu.Unlock()
	return s.lookupLocked(h)
}

// lookupLocked is lookup with s.mu held.
func (s *Store) lookupLocked(h blobs.Hash) (*record, error) {
	if r, ok := s.dirty[h]; ok {
		return r, nil
	}
	if r, ok := s.inflight[h]; ok {
		return r, nil
	}
	var rec *record
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(bucketBlobs)).Get(h[:])
		if v == nil {
			return nil
		}
		r, err := parseRecord(v)
		if err != nil {
			return fmt.Errorf("blob %s: %w", h.ShortString(), err)
		}
		if r.kind == kindInline {
			r.inline = bytes.Clone(tx.Bucket([]byte(bucketInline)).Get(h[:]))
			if uint64(len(r.inline)) != r.bf.Size {
				return fmt.Errorf("blob %s: inline data is %d bytes, index says %d", h.ShortString(), len(r.inline), r.bf.Size)
			}
		}
		rec = r
		return nil
	})
	return rec, err
}

// Bitfield implements blobs.Store.
func (s *Store) Bitfield(ctx context.Context, h blobs.Hash) (blobs.Bitfield, error) {
	s.mu.Lock()
	w := s.writers[h]
	s.mu.Unlock()
	if w != nil {
		w.mu.Lock()
		bf := w.bf
		w.mu.Unlock()
		return bf, nil
	}
	r, err := s.lookup(h)
	if err != nil || r == nil {
		return blobs.Bitfield{}, err
	}
	return r.bf, nil
}

// fileReader is a BlobReader over files.
type fileReader struct {
	size     uint64
	data, ob *os.File
}

func (r *fileReader) Size() uint64          { return r.size }
func (r *fileReader) Data() io.ReaderAt     { return r.data }
func (r *fileReader) Outboard() io.ReaderAt { return r.ob }
func (r *fileReader) Close() error {
	r.data.Close()
	return r.ob.Close()
}

type memReader struct {
	size uint64
	data *bytes.Reader
}

func (r *memReader) Size() uint64          { return r.size }
func (r *memReader) Data() io.ReaderAt     { return r.data }
func (r *memReader) Outboard() io.ReaderAt { return bytes.NewReader(nil) }
func (r *memReader) Close() error          { return nil }

// OpenReader implements blobs.Store.
func (s *Store) OpenReader(ctx context.Context, h blobs.Hash) (blobs.BlobReader, error) {
	r, err := s.lookup(h)
	if err != nil {
		return nil, err
	}
	if r == nil || r.kind == kindPartial {
		return nil, fmt.Errorf("blob %s: %w", h.ShortString(), blobs.ErrNotFound)
	}
	if r.kind == kindInline {
		return &memReader{size: r.bf.Size, data: bytes.NewReader(r.inline)}, nil
	}
	d, err := os.Open(s.dataPath(h))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h.ShortString(), err)
	}
	ob, err := os.Open(s.outboardPath(h))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("blob %s: %w", h.ShortString(), err)
	}
	return &fileReader{size: r.bf.Size, data: d, ob: ob}, nil
}

// ExportFile implements blobs.Store.
func (s *Store) ExportFile(ctx context.Context, h blobs.Hash, path string) error {
	r, err := s.OpenReader(ctx, h)
	if err != nil {
		return err
	}
	defer r.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	tmp.Chmod(0o644)
	_, err = io.Copy(tmp, io.NewSectionReader(r.Data(), 0, int64(r.Size())))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("export %s: %w", path, err)
	}
	return nil
}

// List implements blobs.Store.
func (s *Store) List(ctx context.Context) ([]blobs.BlobInfo, error) {
	m := make(map[blobs.Hash]blobs.Bitfield)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketBlobs)).ForEach(func(k, v []byte) error {
			r, err := parseRecord(v)
			if err != nil || len(k) != blobs.HashSize {
				return fmt.Errorf("blob store: corrupt index entry %x: %v", k, err)
			}
			m[blobs.Hash(k)] = r.bf
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	for h, r := range s.inflight {
		if r == nil {
			delete(m, h)
		} else {
			m[h] = r.bf
		}
	}
	for h, r := range s.dirty {
		if r == nil {
			delete(m, h)
		} else {
			m[h] = r.bf
		}
	}
	ws := make([]*wstate, 0, len(s.writers))
	for _, w := range s.writers {
		ws = append(ws, w)
	}
	s.mu.Unlock()
	for _, w := range ws {
		w.mu.Lock()
		m[w.h] = w.bf
		w.mu.Unlock()
	}
	out := make([]blobs.BlobInfo, 0, len(m))
	for h, bf := range m {
		out = append(out, blobs.BlobInfo{Hash: h, Size: bf.Size, Complete: bf.Complete(), Verified: bf.VerifiedBytes()})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Hash[:], out[j].Hash[:]) < 0 })
	return out, nil
}

// SetTag implements blobs.Store. Tags are written synchronously.
func (s *Store) SetTag(ctx context.Context, name string, hf blobs.HashAndFormat) error {
	if err := s.Sync(ctx); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketTags)).Put([]byte(name), hf.AppendBinary(nil))
	})
}

// DeleteTag implements blobs.Store.
func (s *Store) DeleteTag(ctx context.Context, name string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketTags)).Delete([]byte(name))
	})
}

// Tags implements blobs.Store.
func (s *Store) Tags(ctx context.Context) ([]blobs.Tag, error) {
	var out []blobs.Tag
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketTags)).ForEach(func(k, v []byte) error {
			hf, _, err := blobs.ParseHashAndFormatBinary(v)
			if err != nil {
				return fmt.Errorf("blob store: tag %q: %w", k, err)
			}
			out = append(out, blobs.Tag{Name: string(k), Value: hf})
			return nil
		})
	})
	return out, err
}

// TempTag implements blobs.Store.
func (s *Store) TempTag(hf blobs.HashAndFormat) *blobs.TempTag { return s.temps.New(hf) }

// GC implements blobs.Store.
func (s *Store) GC(ctx context.Context) (blobs.GCStats, error) {
	live, err := store.Live(ctx, s, &s.temps)
	if err != nil {
		return blobs.GCStats{}, err
	}
	all, err := s.List(ctx)
	if err != nil {
		return blobs.GCStats{}, err
	}
	var st blobs.GCStats
	var dead []blobs.Hash
	s.mu.Lock()
	var gen uint64
	for _, bi := range all {
		if live[bi.Hash] || s.writers[bi.Hash] != nil {
			st.Live++
			continue
		}
		st.Deleted++
		st.Bytes += bi.Verified
		dead = append(dead, bi.Hash)
		gen = s.enqueueLocked(bi.Hash, nil)
	}
	err = s.waitLocked(gen)
	s.mu.Unlock()
	if err != nil {
		return st, err
	}
	// The records are gone; now the files (a crash here leaves orphans
	// that Open removes).
	for _, h := range dead {
		os.Remove(s.dataPath(h))
		os.Remove(s.outboardPath(h))
	}
	return st, nil
}

// Observe implements blobs.Store.
func (s *Store) Observe(ctx context.Context, h blobs.Hash, fn func(blobs.Bitfield) error) error {
	return store.Observe(ctx, &s.notifier, h, func() (blobs.Bitfield, error) { return s.Bitfield(ctx, h) }, fn)
}

// Sync implements blobs.Store.
func (s *Store) Sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return blobs.ErrStoreClosed
	}
	return s.waitLocked(s.enqueued)
}

// Close implements blobs.Store: it commits pending index updates and
// closes the index. Open writers must be closed first; their unsaved
// progress since the last checkpoint is lost.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	err := s.waitLockedNoClose(s.enqueued)
	s.closed = true
	close(s.done)
	s.cond.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *Store) waitLockedNoClose(gen uint64) error {
	for s.committed < gen {
		s.cond.Wait()
	}
	return s.commitErr
}

var errClosedWriter = errors.New("blob writer closed")
