package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iroh-go/iroh/blobs"
)

// fileRef is a blob whose data stays in a file outside the store: only
// its outboard is in memory.
type fileRef struct {
	path    string
	size    int64
	modTime time.Time
}

// AddFileRef adds the file at path without copying it: the store reads the
// data from the file when serving it and keeps only the outboard (about
// 1/256 of the size) in memory, as sendme serves files in place. The file
// must stay as it is: OpenReader fails once its size or modification time
// differ from when it was added (and a getter rejects changed data anyway,
// since every chunk group is verified). The file is hashed once, on all
// cores.
func (s *Store) AddFileRef(ctx context.Context, path string) (*blobs.TempTag, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("add %s: not a regular file", path)
	}
	size := uint64(fi.Size())
	ob := &sliceWriterAt{b: make([]byte, blobs.OutboardSize(size))}
	h, err := blobs.WriteOutboard(f, size, ob)
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", path, err)
	}
	fi2, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", path, err)
	}
	if fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		return nil, fmt.Errorf("add %s: file changed while it was hashed", path)
	}
	s.mu.Lock()
	if err := s.check(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if e := s.blobs[h]; e == nil || !e.bf.Complete() {
		s.blobs[h] = &entry{
			bf:       blobs.NewCompleteBitfield(size),
			outboard: ob.b,
			ref:      &fileRef{path: path, size: fi.Size(), modTime: fi.ModTime()},
		}
	}
	s.mu.Unlock()
	s.notifier.Notify(h)
	return s.TempTag(blobs.HashAndFormat{Hash: h}), nil
}

// open opens the referenced file, checking it is unchanged.
func (r *fileRef) open(h blobs.Hash) (*os.File, error) {
	f, err := os.Open(r.path)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h.ShortString(), err)
	}
	fi, err := f.Stat()
	if err == nil && (fi.Size() != r.size || !fi.ModTime().Equal(r.modTime)) {
		err = fmt.Errorf("%s changed since it was added", r.path)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob %s: %w", h.ShortString(), err)
	}
	return f, nil
}

// refReader reads a blob from its file.
type refReader struct {
	size     uint64
	f        *os.File
	outboard *bytes.Reader
}

func (r *refReader) Size() uint64          { return r.size }
func (r *refReader) Data() io.ReaderAt     { return r.f }
func (r *refReader) Outboard() io.ReaderAt { return r.outboard }
func (r *refReader) Close() error          { return r.f.Close() }

// sliceWriterAt is an io.WriterAt over a fixed-size slice.
type sliceWriterAt struct{ b []byte }

func (w *sliceWriterAt) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(w.b)) {
		return 0, fmt.Errorf("outboard write [%d,%d) beyond %d", off, off+int64(len(p)), len(w.b))
	}
	return copy(w.b[off:], p), nil
}
