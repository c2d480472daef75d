package fs_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/fs"
)

// TestExportMoveRenames: a complete blob's data file becomes the output
// file (same inode: no copy), the blob leaves the store, and an inline
// blob is written out instead.
func TestExportMoveRenames(t *testing.T) {
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "store"))
	big := make([]byte, 1<<20)
	rand.Read(big)
	tt, err := s.AddBytes(t.Context(), big)
	if err != nil {
		t.Fatal(err)
	}
	defer tt.Close()
	data := filepath.Join(dir, "store", "data", tt.Hash().String()+".data")
	before, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.bin")
	if err := s.ExportMove(t.Context(), tt.Hash(), out); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if before.Sys().(*syscall.Stat_t).Ino != after.Sys().(*syscall.Stat_t).Ino {
		t.Error("export copied the data instead of renaming it")
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
		t.Fatal("moved file differs")
	}
	if _, err := s.OpenReader(t.Context(), tt.Hash()); !errors.Is(err, blobs.ErrNotFound) {
		t.Errorf("blob still in the store after the move: %v", err)
	}
	small, err := s.AddBytes(t.Context(), []byte("inline"))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if err := s.ExportMove(t.Context(), small.Hash(), filepath.Join(dir, "small")); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "small")); string(got) != "inline" {
		t.Fatalf("inline export %q", got)
	}
}

// TestOpenLockedSaysSo: a second Open of a store in use fails with
// ErrLocked (and leaves the first one's temporary files alone).
func TestOpenLockedSaysSo(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	tmp := filepath.Join(dir, "tmp", "import-in-progress")
	os.WriteFile(tmp, []byte("x"), 0o644)
	if _, err := fs.Open(dir, nil); !errors.Is(err, fs.ErrLocked) {
		t.Fatalf("second open: %v", err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("second open removed the first one's temporary file: %v", err)
	}
}
