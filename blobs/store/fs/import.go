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
// The files are made durable by the commit loop before the record is
// committed (Sync waits for that).
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
	var h blobs.Hash
	obTmp, err := os.CreateTemp(s.tmpDir, "import-ob-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		obTmp.Close()
		os.Remove(obTmp.Name())
	}()
	if f, ok := r.(*os.File); ok && knownSize >= 0 {
		// A file: the kernel copies it (copy_file_range on Linux, a reflink
		// where the filesystem can) while we hash the source on all cores;
		// a source that changes meanwhile is detected and refused.
		before, err := f.Stat()
		if err != nil {
			return nil, err
		}
		var copyErr error
		var n int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			n, copyErr = io.Copy(tmp, io.NewSectionReader(f, 0, knownSize))
		}()
		hh, hashErr := bao.ComputeOutboard(ctx, f, uint64(knownSize), obTmp, 0)
		<-done
		if copyErr != nil {
			return nil, fmt.Errorf("copy: %w", copyErr)
		}
		if hashErr != nil {
			return nil, fmt.Errorf("outboard: %w", hashErr)
		}
		after, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if n != knownSize || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
			return nil, fmt.Errorf("file changed while importing")
		}
		size, h = uint64(n), blobs.Hash(hh)
	} else {
		buf := make([]byte, copyBufSize)
		n, err := io.CopyBuffer(onlyWriter{tmp}, ctxReader{ctx, r}, buf)
		if err != nil {
			return nil, fmt.Errorf("copy: %w", err)
		}
		size = uint64(n)
		if int64(size) <= s.inlineMax {
			b := make([]byte, size)
			if _, err := tmp.ReadAt(b, 0); err != nil && size > 0 {
				return nil, err
			}
			return s.addInline(b)
		}
		hh, err := bao.ComputeOutboard(ctx, tmp, size, obTmp, 0)
		if err != nil {
			return nil, fmt.Errorf("outboard: %w", err)
		}
		h = blobs.Hash(hh)
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
		obTmp.Close() // Windows cannot rename open files
		tmp.Close()
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
		s.enqueueLocked(h, &record{kind: kindComplete, bf: blobs.NewCompleteBitfield(size), sync: []string{s.dataPath(h), s.outboardPath(h)}})
	}
	s.notifier.Notify(h)
	return tt, nil
}

// onlyWriter hides ReadFrom so io.CopyBuffer uses our buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
