package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/iroh-go/iroh/blobs"
)

// ErrLocked is returned by Open when another process holds the store
// (its index is locked while a store is open).
var ErrLocked = errors.New("in use by another process")

// ExportMove moves the complete blob h out of the store to path and
// removes it from the store: when path is on the store's file system the
// data file is renamed there, so a large download becomes the output file
// without a copy; otherwise (or for a blob kept inline in the index) it is
// copied as ExportFile does. Like a rename, it replaces an existing file
// at path: callers that must not overwrite check first. The blob must not
// be open for writing; a TempTag or tag on it does not keep it.
func (s *Store) ExportMove(ctx context.Context, h blobs.Hash, path string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return blobs.ErrStoreClosed
	}
	if s.writers[h] != nil {
		s.mu.Unlock()
		return fmt.Errorf("export %s: blob %s is being written", path, h.ShortString())
	}
	rec, err := s.lookupLocked(h)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if rec == nil || !rec.bf.Complete() {
		return fmt.Errorf("blob %s: %w", h.ShortString(), blobs.ErrNotFound)
	}
	if rec.kind != kindComplete {
		return s.ExportFile(ctx, h, path)
	}
	if err := os.Rename(s.dataPath(h), path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && errors.Is(le.Err, syscall.EXDEV) {
			return s.ExportFile(ctx, h, path)
		}
		return fmt.Errorf("export %s: %w", path, err)
	}
	os.Chmod(path, 0o644)
	syncDir(filepath.Dir(path))
	// The data is gone from the store: so is its record.
	s.mu.Lock()
	gen := s.enqueueLocked(h, nil)
	err = s.waitLocked(gen)
	s.mu.Unlock()
	os.Remove(s.outboardPath(h))
	if err != nil {
		return fmt.Errorf("export %s: drop blob %s from the index: %w", path, h.ShortString(), err)
	}
	return nil
}
