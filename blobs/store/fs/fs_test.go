package fs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/blobs/store/storetest"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("IROH_FSSTORE_CHILD"); mode != "" {
		os.Exit(childMain(mode))
	}
	goleak.VerifyTestMain(m)
}

// childMain runs in a child process: "import" imports $SRC into the store
// at $DIR (and is killed part way by the parent); "fulldisk" does the same
// under a file size limit (see fulldisk_linux_test.go) and reports.
func childMain(mode string) int {
	if mode == "fulldisk" {
		limitFileSize(1 << 20)
	}
	s, err := fs.Open(os.Getenv("DIR"), nil)
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	fmt.Println("ready")
	_, err = s.AddFile(context.Background(), os.Getenv("SRC"))
	fmt.Println("import:", err)
	if err := s.Close(); err != nil {
		fmt.Println("close:", err)
	}
	return 0
}

func open(t *testing.T, dir string) *fs.Store {
	t.Helper()
	s, err := fs.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blobs.Store { return open(t, t.TempDir()) })
}

// TestReopen: complete blobs, tags and partial progress survive a restart.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := fs.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	small, big, part := storetest.Data(100), storetest.Data(2<<20), storetest.Data(1<<20)
	for _, b := range [][]byte{small, big} {
		tt, err := s.AddBytes(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		s.SetTag(ctx, fmt.Sprintf("t%d", len(b)), tt.HashAndFormat())
		tt.Close()
	}
	ph := blobs.ComputeHash(part)
	w, _ := s.OpenWriter(ctx, ph)
	storetest.WriteVerified(t, w, part, bao.Range(0, 300))
	w.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	storetest.CheckBlob(t, s, small)
	storetest.CheckBlob(t, s, big)
	if tags, _ := s.Tags(ctx); len(tags) != 2 {
		t.Errorf("tags after reopen: %v", tags)
	}
	bf, _ := s.Bitfield(ctx, ph)
	if bf.Complete() || bf.VerifiedBytes() != 300*1024 {
		t.Fatalf("partial after reopen: %+v", bf)
	}
	w, _ = s.OpenWriter(ctx, ph)
	storetest.WriteVerified(t, w, part, bf.MissingRanges(bao.All()))
	w.Close()
	storetest.CheckBlob(t, s, part)
}

// checkConsistent asserts the store invariants after a crash: it opens,
// every listed complete blob reads back with the right hash, tmp/ is empty
// and data/ holds only files of indexed blobs.
func checkConsistent(t *testing.T, dir string) *fs.Store {
	t.Helper()
	ctx := context.Background()
	s := open(t, dir)
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, bi := range infos {
		known[bi.Hash.String()] = true
		if !bi.Complete {
			continue
		}
		r, err := s.OpenReader(ctx, bi.Hash)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, r.Size())
		r.Data().ReadAt(b, 0)
		r.Close()
		if blobs.ComputeHash(b) != bi.Hash {
			t.Fatalf("blob %s: data does not hash right after crash", bi.Hash.ShortString())
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ not cleaned: %d entries", len(ents))
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "data"))
	for _, e := range ents {
		if h, _, _ := strings.Cut(e.Name(), "."); !known[h] {
			t.Errorf("orphan file %s", e.Name())
		}
	}
	return s
}

// TestKillDuringImport SIGKILLs a process importing a large file at
// several moments; the store always reopens consistent, and the import
// works afterwards.
func TestKillDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	src := filepath.Join(t.TempDir(), "src.bin")
	data := storetest.Data(48 << 20)
	os.WriteFile(src, data, 0o644)
	exe, _ := os.Executable()
	for _, delay := range []time.Duration{0, 20 * time.Millisecond, 60 * time.Millisecond, 150 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			dir := t.TempDir()
			// A blob already in the store must survive the crash.
			s := open(t, dir)
			keep := storetest.Data(70000)
			tt, _ := s.AddBytes(context.Background(), keep)
			tt.Close()
			s.Close()
			// Bounded: a child that never says "ready" is killed and
			// fails the read below rather than hanging the test.
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), "IROH_FSSTORE_CHILD=import", "DIR="+dir, "SRC="+src)
			out, _ := cmd.StdoutPipe()
			cmd.Start()
			buf := make([]byte, 6)
			if n, _ := io.ReadFull(out, buf); string(buf[:n]) != "ready\n" {
				t.Fatalf("import child said %q, want \"ready\" (killed after 60 s)", buf[:n])
			}
			time.Sleep(delay)
			cmd.Process.Kill()
			cmd.Wait()
			s = checkConsistent(t, dir)
			storetest.CheckBlob(t, s, keep)
			if _, err := s.AddFile(context.Background(), src); err != nil {
				t.Fatal(err)
			}
			storetest.CheckBlob(t, s, data)
		})
	}
}

// TestOrphansRemoved: files the index does not name are removed at Open.
func TestOrphansRemoved(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Close()
	os.WriteFile(filepath.Join(dir, "data", strings.Repeat("ab", 32)+".data"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "tmp", "import-123"), []byte("x"), 0o644)
	checkConsistent(t, dir)
}

// TestErrorsLeaveStoreConsistent: an import that fails (here: the source
// disappears mid-way is simulated by a reader error) leaves nothing.
func TestErrorsLeaveStoreConsistent(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	_, err := s.AddReader(context.Background(), &failingReader{n: 3 << 20})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("AddReader error %v", err)
	}
	s.Close()
	s = checkConsistent(t, dir)
	if infos, _ := s.List(context.Background()); len(infos) != 0 {
		t.Fatalf("failed import left %v", infos)
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, fmt.Errorf("boom")
	}
	k := min(len(p), r.n)
	r.n -= k
	return k, nil
}

var _ = bytes.Equal

// TestConcurrentWriters: writers of the same hash opened, written (with
// frequent checkpoints) and closed from many goroutines, as a download
// split across providers does; the blob completes correctly.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s, err := fs.Open(t.TempDir(), &fs.Options{CheckpointBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	data := storetest.Data(4 << 20)
	h := blobs.ComputeHash(data)
	const parts = 8
	step := blobs.Chunks(uint64(len(data))) / parts
	errs := make(chan error, parts)
	for i := range parts {
		go func() {
			w, err := s.OpenWriter(ctx, h)
			if err != nil {
				errs <- err
				return
			}
			r := bao.Range(uint64(i)*step, uint64(i+1)*step)
			if i == parts-1 {
				r = bao.From(uint64(i) * step)
			}
			storetest.WriteVerified(t, w, data, r)
			s.Bitfield(ctx, h)
			s.List(ctx)
			errs <- w.Close()
		}()
	}
	for range parts {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	storetest.CheckBlob(t, s, data)
}

// TestPairsKeptWhileAWriterIsOpen: a blob written in several sessions
// (the downloader's parts) while one writer stays open keeps the pairs of
// every session and is finished without hashing its data again; without
// that writer, the pairs of the closed sessions are gone and the outboard
// is computed from the data. Both give a correct blob.
func TestPairsKeptWhileAWriterIsOpen(t *testing.T) {
	ctx := context.Background()
	data := storetest.Data(3<<20 + 100)
	h := blobs.ComputeHash(data)
	half := blobs.Chunks(uint64(len(data))) / 2
	for _, hold := range []bool{true, false} {
		t.Run(fmt.Sprintf("hold=%v", hold), func(t *testing.T) {
			s := open(t, t.TempDir())
			var held blobs.BlobWriter
			if hold {
				var err error
				if held, err = s.OpenWriter(ctx, h); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range []bao.ChunkRanges{bao.Range(0, half), bao.From(half)} {
				w, err := s.OpenWriter(ctx, h)
				if err != nil {
					t.Fatal(err)
				}
				storetest.WriteVerified(t, w, data, r)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if held != nil {
				if err := held.Close(); err != nil {
					t.Fatal(err)
				}
			}
			storetest.CheckBlob(t, s, data)
			want := int64(1)
			if hold {
				want = 0
			}
			if got := fs.OutboardRehashesForTest(s); got != want {
				t.Fatalf("outboard computed from the data %d times, want %d", got, want)
			}
		})
	}
}
