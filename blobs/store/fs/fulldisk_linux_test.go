package fs_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs/store/storetest"
)

// limitFileSize makes writes beyond n bytes per file fail (EFBIG), the
// way a full disk fails them (ENOSPC), without needing a full disk.
func limitFileSize(n uint64) {
	signalIgnoreXFSZ()
	syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n})
}

// TestFullDisk imports a file bigger than the process may write: the
// import fails with a clear error and the store stays consistent.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	s := open(t, dir)
	keep := storetest.Data(70000)
	tt, _ := s.AddBytes(context.Background(), keep)
	tt.Close()
	s.Close()
	src := filepath.Join(t.TempDir(), "src.bin")
	os.WriteFile(src, storetest.Data(4<<20), 0o644)
	exe, _ := os.Executable()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a stuck child fails the test
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "IROH_FSSTORE_CHILD=fulldisk", "DIR="+dir, "SRC="+src)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "import: add") || !strings.Contains(string(out), "file too large") {
		t.Fatalf("child output %q: want a clear import error", out)
	}
	t.Logf("child: %s", strings.TrimSpace(string(out)))
	s = checkConsistent(t, dir)
	storetest.CheckBlob(t, s, keep)
}
