package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
)

// Store is an in-memory blob store. Its zero value is not usable; call New.
type Store struct {
	temps    store.TempTags
	notifier store.Notifier

	// mu guards the following.
	mu     sync.Mutex
	blobs  map[blobs.Hash]*entry
	tags   map[string]blobs.HashAndFormat
	closed bool
}

var _ store.Store = (*Store)(nil)

// entry is one blob. Its fields are guarded by Store.mu; data and outboard
// grow in place for partial blobs and are immutable once complete.
type entry struct {
	bf       blobs.Bitfield
	data     []byte
	outboard []byte
	writers  int
	// ref, when set, holds the data instead of data (AddFileRef).
	ref *fileRef
}

// New returns an empty store.
func New() *Store {
	return &Store{blobs: make(map[blobs.Hash]*entry), tags: make(map[string]blobs.HashAndFormat)}
}

func (s *Store) check() error {
	if s.closed {
		return blobs.ErrStoreClosed
	}
	return nil
}

// Bitfield implements blobs.Store.
func (s *Store) Bitfield(ctx context.Context, h blobs.Hash) (blobs.Bitfield, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return blobs.Bitfield{}, err
	}
	if e := s.blobs[h]; e != nil {
		return e.bf, nil
	}
	return blobs.Bitfield{}, nil
}

type reader struct {
	size           uint64
	data, outboard *bytes.Reader
}

func (r *reader) Size() uint64          { return r.size }
func (r *reader) Data() io.ReaderAt     { return r.data }
func (r *reader) Outboard() io.ReaderAt { return r.outboard }
func (r *reader) Close() error          { return nil }

// OpenReader implements blobs.Store.
func (s *Store) OpenReader(ctx context.Context, h blobs.Hash) (blobs.BlobReader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	e := s.blobs[h]
	if e == nil || !e.bf.Complete() {
		return nil, fmt.Errorf("blob %s: %w", h.ShortString(), blobs.ErrNotFound)
	}
	if e.ref != nil {
		f, err := e.ref.open(h)
		if err != nil {
			return nil, err
		}
		return &refReader{size: e.bf.Size, f: f, outboard: bytes.NewReader(e.outboard)}, nil
	}
	return &reader{size: e.bf.Size, data: bytes.NewReader(e.data), outboard: bytes.NewReader(e.outboard)}, nil
}

func (s *Store) insertComplete(data []byte) blobs.Hash {
	h, ob := blobs.ComputeOutboard(data)
	s.mu.Lock()
	if e := s.blobs[h]; e == nil || !e.bf.Complete() {
		s.blobs[h] = &entry{bf: blobs.NewCompleteBitfield(uint64(len(data))), data: data, outboard: ob}
	}
	s.mu.Unlock()
	s.notifier.Notify(h)
	return h
}

// AddBytes implements blobs.Store. The store keeps b; the caller must not
// modify it afterwards.
func (s *Store) AddBytes(ctx context.Context, b []byte) (*blobs.TempTag, error) {
	if b == nil {
		b = []byte{}
	}
	s.mu.Lock()
	err := s.check()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	h := s.insertComplete(b)
	return s.TempTag(blobs.HashAndFormat{Hash: h}), nil
}

// AddReader implements blobs.Store.
func (s *Store) AddReader(ctx context.Context, r io.Reader) (*blobs.TempTag, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("add: read: %w", err)
	}
	return s.AddBytes(ctx, b)
}

// AddFile implements blobs.Store.
func (s *Store) AddFile(ctx context.Context, path string) (*blobs.TempTag, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", path, err)
	}
	return s.AddBytes(ctx, b)
}

// ExportFile implements blobs.Store.
func (s *Store) ExportFile(ctx context.Context, h blobs.Hash, path string) error {
	r, err := s.OpenReader(ctx, h)
	if err != nil {
		return err
	}
	defer r.Close()
	data := r.Data()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	tmp.Chmod(0o644)
	_, err = io.Copy(tmp, io.NewSectionReader(data, 0, int64(r.Size())))
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	out := make([]blobs.BlobInfo, 0, len(s.blobs))
	for h, e := range s.blobs {
		out = append(out, blobs.BlobInfo{Hash: h, Size: e.bf.Size, Complete: e.bf.Complete(), Verified: e.bf.VerifiedBytes()})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Hash[:], out[j].Hash[:]) < 0 })
	return out, nil
}

// SetTag implements blobs.Store.
func (s *Store) SetTag(ctx context.Context, name string, hf blobs.HashAndFormat) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	s.tags[name] = hf
	return nil
}

// DeleteTag implements blobs.Store.
func (s *Store) DeleteTag(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	delete(s.tags, name)
	return nil
}

// Tags implements blobs.Store.
func (s *Store) Tags(ctx context.Context) ([]blobs.Tag, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	out := make([]blobs.Tag, 0, len(s.tags))
	for n, v := range s.tags {
		out = append(out, blobs.Tag{Name: n, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// TempTag implements blobs.Store.
func (s *Store) TempTag(hf blobs.HashAndFormat) *blobs.TempTag { return s.temps.New(hf) }

// GC implements blobs.Store.
func (s *Store) GC(ctx context.Context) (blobs.GCStats, error) {
	live, err := store.Live(ctx, s, &s.temps)
	if err != nil {
		return blobs.GCStats{}, err
	}
	var st blobs.GCStats
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, e := range s.blobs {
		if live[h] || e.writers > 0 {
			st.Live++
			continue
		}
		st.Deleted++
		st.Bytes += uint64(len(e.data))
		if e.ref != nil {
			st.Bytes += e.bf.Size
		}
		delete(s.blobs, h)
	}
	return st, nil
}

// Observe implements blobs.Store.
func (s *Store) Observe(ctx context.Context, h blobs.Hash, fn func(blobs.Bitfield) error) error {
	return store.Observe(ctx, &s.notifier, h, func() (blobs.Bitfield, error) { return s.Bitfield(ctx, h) }, fn)
}

// Sync implements blobs.Store; memory is always "durable".
func (s *Store) Sync(ctx context.Context) error { return nil }

// Close implements blobs.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// writer writes into an entry.
type writer struct {
	s      *Store
	h      blobs.Hash
	e      *entry
	closed bool
}

// OpenWriter implements blobs.Store.
func (s *Store) OpenWriter(ctx context.Context, h blobs.Hash) (blobs.BlobWriter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	e := s.blobs[h]
	if e == nil {
		e = &entry{}
		s.blobs[h] = e
	}
	e.writers++
	return &writer{s: s, h: h, e: e}, nil
}

func (w *writer) Bitfield() blobs.Bitfield {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.e.bf
}

func (w *writer) SetSize(size uint64) error {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	e := w.e
	if e.bf.Known && e.bf.Size == size {
		return nil
	}
	if e.bf.SizeValidated() {
		return fmt.Errorf("blob %s: size header %d contradicts validated size %d", w.h.ShortString(), size, e.bf.Size)
	}
	e.bf = blobs.Bitfield{Size: size, Known: true}
	e.data = nil
	e.outboard = nil
	return nil
}

func (w *writer) WriteChunks(start uint64, data []byte) error {
	w.s.mu.Lock()
	e := w.e
	if !e.bf.Known {
		w.s.mu.Unlock()
		return fmt.Errorf("blob %s: write before size", w.h.ShortString())
	}
	off := start * blobs.ChunkSize
	end := off + uint64(len(data))
	if end > e.bf.Size {
		w.s.mu.Unlock()
		return fmt.Errorf("blob %s: write [%d,%d) beyond size %d", w.h.ShortString(), off, end, e.bf.Size)
	}
	if uint64(len(e.data)) < end {
		grow := make([]byte, end)
		copy(grow, e.data)
		e.data = grow
	}
	copy(e.data[off:], data)
	endChunk := (end + blobs.ChunkSize - 1) / blobs.ChunkSize
	if len(data) == 0 {
		endChunk = start + 1
	}
	e.bf = e.bf.Add(start, endChunk)
	w.s.mu.Unlock()
	w.s.notifier.Notify(w.h)
	return nil
}

// WriteParent ignores the pair: the outboard is computed from the data
// when the blob completes, and the size header the index would depend on
// is not verified (a hostile one must not make us allocate).
func (w *writer) WriteParent(idx uint64, pair *[64]byte) error { return nil }

func (w *writer) Checkpoint() error { return nil }

func (w *writer) Close() error {
	w.s.mu.Lock()
	if w.closed {
		w.s.mu.Unlock()
		return nil
	}
	w.closed = true
	e := w.e
	e.writers--
	finish := e.writers == 0 && e.bf.Complete()
	var data []byte
	if finish {
		if uint64(len(e.data)) < e.bf.Size {
			grow := make([]byte, e.bf.Size)
			copy(grow, e.data)
			e.data = grow
		}
		data = e.data
	}
	w.s.mu.Unlock()
	if finish {
		// Recompute the outboard from the verified data: parents received
		// for partial ranges may not cover every node.
		h, ob := blobs.ComputeOutboard(data)
		w.s.mu.Lock()
		if h == w.h {
			e.outboard = ob
		}
		w.s.mu.Unlock()
		if h != w.h {
			return fmt.Errorf("blob %s: complete data hashes to %s", w.h.ShortString(), h.ShortString())
		}
	}
	return nil
}
