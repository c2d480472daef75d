package fs

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
)

// copyBufSize is the buffer used to stream imports into the store.
const copyBufSize = 1 << 20

// AddFile implements blobs.Store: the file is copied into the store in
// 1 MiB pieces, then hashed from the copy.
func (s *Store) AddFile(ctx context.Context, path string) (*blobs.TempTag, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("add %s: not a regular file", path)
	}
	if st.Size() <= s.inlineMax {
		b := make([]byte, st.Size())
		if _, err := io.ReadFull(f, b); err != nil {
			return nil, fmt.Errorf("add %s: %w", path, err)
		}
		return s.addInline(b)
	}
	tt, err := s.addStream(ctx, f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", path, err)
	}
	return tt, nil
}

// AddReader implements blobs.Store.
func (s *Store) AddReader(ctx context.Context, r io.Reader) (*blobs.TempTag, error) {
	tt, err := s.addStream(ctx, r, -1)
	if err != nil {
		return nil, fmt.Errorf("add: %w", err)
	}
	return tt, nil
}

// AddBytes implements blobs.Store.
func (s *Store) AddBytes(ctx context.Context, b []byte) (*blobs.TempTag, error) {
	if int64(len(b)) <= s.inlineMax {
		return s.addInline(append([]byte{}, b...))
	}
	return s.AddReader(ctx, bytesReader(b))
}

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (s *Store) addInline(b []byte) (*blobs.TempTag, error) {
	h := blobs.ComputeHash(b)
	tt := s.TempTag(blobs.HashAndFormat{Hash: h})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		tt.Close()
		return nil, blobs.ErrStoreClosed
	}
	if r, ok := s.dirty[h]; !ok || r == nil || r.kind == kindPartial {
		s.enqueueLocked(h, &record{kind: kindInline, bf: blobs.NewCompleteBitfield(uint64(len(b))), inline: b})
	}
	s.notifier.Notify(h)
	return tt, nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// addStream copies r into a temporary file, computes its outboard, and
// moves both into place. On any error the temporary files are removed and
// the index is untouched.
//
// With a known size (a file) copying and hashing are one pass: the reader
// is teed into the copy while the outboard is computed on all cores.
func (s *Store) addStream(ctx context.Context, r io.Reader, knownSize int64) (*blobs.TempTag, error) {
	tmp, err := os.CreateTemp(s.tmpDir, "import-*")
	if err != nil {
		return nil, err
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	var size uint64
	if knownSize < 0 {
		buf := make([]byte, copyBufSize)
		n, err := io.CopyBuffer(onlyWriter{tmp}, ctxReader{ctx, r}, buf)
		if err != nil {
			return nil, fmt.Errorf("copy: %w", err)
		}
		size = uint64(n)
	} else {
		size = uint64(knownSize)
	}
	if knownSize < 0 && int64(size) <= s.inlineMax {
		b := make([]byte, size)
		if _, err := tmp.ReadAt(b, 0); err != nil && size > 0 {
			return nil, err
		}
		return s.addInline(b)
	}
	obTmp, err := os.CreateTemp(s.tmpDir, "import-ob-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		obTmp.Close()
		os.Remove(obTmp.Name())
	}()
	var h blobs.Hash
	if knownSize < 0 {
		h, err = blobs.WriteOutboard(tmp, size, obTmp)
	} else {
		var hh [32]byte
		hh, err = bao.OutboardFromReader(ctx, io.TeeReader(r, tmp), size, obTmp, 0)
		h = blobs.Hash(hh)
	}
	if err != nil {
		return nil, fmt.Errorf("outboard: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	if err := obTmp.Sync(); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	tt := s.TempTag(blobs.HashAndFormat{Hash: h})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		tt.Close()
		return nil, blobs.ErrStoreClosed
	}
	if s.writers[h] == nil {
		if rec, err := s.lookupLocked(h); err == nil && rec != nil && rec.kind != kindPartial {
			return tt, nil // already complete: drop the copy
		}
		if err := os.Rename(obTmp.Name(), s.outboardPath(h)); err != nil {
			tt.Close()
			return nil, err
		}
		if err := os.Rename(tmpName, s.dataPath(h)); err != nil {
			tt.Close()
			return nil, err
		}
		ok = true
		tmp.Close()
		s.enqueueLocked(h, &record{kind: kindComplete, bf: blobs.NewCompleteBitfield(size)})
	}
	s.notifier.Notify(h)
	return tt, nil
}

// onlyWriter hides ReadFrom so io.CopyBuffer uses our buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
