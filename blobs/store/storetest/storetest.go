package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
)

// Run runs the suite; open returns a fresh empty store, closed by Run.
func Run(t *testing.T, open func(t *testing.T) blobs.Store) {
	t.Run("Import", func(t *testing.T) { testImport(t, open(t)) })
	t.Run("PartialWrites", func(t *testing.T) { testPartial(t, open(t)) })
	t.Run("TagsAndGC", func(t *testing.T) { testGC(t, open(t)) })
	t.Run("Observe", func(t *testing.T) { testObserve(t, open(t)) })
}

// Sizes covers the size classes: empty, one chunk, a full group, one byte
// past a group (first outboard pair), several MiB.
var Sizes = []int{0, 1, 1024, 16384, 16385, 40960, 3<<20 + 123}

// Data returns n random bytes.
func Data(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// CheckBlob asserts that s holds data completely under its hash, with the
// right outboard.
func CheckBlob(t *testing.T, s blobs.Store, data []byte) {
	t.Helper()
	ctx := context.Background()
	h, ob := blobs.ComputeOutboard(data)
	r, err := s.OpenReader(ctx, h)
	if err != nil {
		t.Fatalf("open %d-byte blob: %v", len(data), err)
	}
	defer r.Close()
	if r.Size() != uint64(len(data)) {
		t.Fatalf("size %d, want %d", r.Size(), len(data))
	}
	got := make([]byte, len(data))
	if _, err := r.Data().ReadAt(got, 0); err != nil && len(data) > 0 {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("%d-byte blob: data differs", len(data))
	}
	gob := make([]byte, len(ob))
	if len(ob) > 0 {
		if _, err := r.Outboard().ReadAt(gob, 0); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(gob, ob) {
		t.Fatalf("%d-byte blob: outboard differs", len(data))
	}
	bf, err := s.Bitfield(ctx, h)
	if err != nil || !bf.Complete() || bf.Size != uint64(len(data)) {
		t.Fatalf("bitfield %+v, %v", bf, err)
	}
}

func testImport(t *testing.T, s blobs.Store) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, n := range Sizes {
		data := Data(n)
		want := blobs.ComputeHash(data)
		p := filepath.Join(dir, "f")
		os.WriteFile(p, data, 0o644)
		for name, add := range map[string]func() (*blobs.TempTag, error){
			"bytes":  func() (*blobs.TempTag, error) { return s.AddBytes(ctx, data) },
			"reader": func() (*blobs.TempTag, error) { return s.AddReader(ctx, bytes.NewReader(data)) },
			"file":   func() (*blobs.TempTag, error) { return s.AddFile(ctx, p) },
		} {
			tt, err := add()
			if err != nil {
				t.Fatalf("%s %d: %v", name, n, err)
			}
			if tt.Hash() != want || tt.HashAndFormat().Format != blobs.Raw {
				t.Fatalf("%s %d: hash %s, want %s", name, n, tt.Hash(), want)
			}
			tt.Close()
		}
		CheckBlob(t, s, data)
		out := filepath.Join(dir, "out")
		if err := s.ExportFile(ctx, want, out); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
			t.Fatalf("export %d: differs", n)
		}
	}
	if _, err := s.AddFile(ctx, filepath.Join(dir, "missing")); err == nil {
		t.Error("AddFile of a missing file succeeded")
	}
	if _, err := s.OpenReader(ctx, blobs.Hash{1}); err == nil {
		t.Error("OpenReader of an unknown hash succeeded")
	}
	if err := s.ExportFile(ctx, blobs.Hash{1}, filepath.Join(dir, "x")); err == nil {
		t.Error("export of an unknown hash succeeded")
	}
	infos, err := s.List(ctx)
	if err != nil || len(infos) != len(Sizes) {
		t.Fatalf("List: %d entries, %v", len(infos), err)
	}
}

// WriteVerified writes the chunk groups of data selected by ranges into w
// through the bao encoder and decoder, as a download does.
func WriteVerified(t *testing.T, w blobs.BlobWriter, data []byte, ranges bao.ChunkRanges) {
	t.Helper()
	h, ob := blobs.ComputeOutboard(data)
	var resp bytes.Buffer
	if err := bao.Encode(&resp, bytes.NewReader(data), uint64(len(data)), bytes.NewReader(ob), ranges); err != nil {
		t.Fatal(err)
	}
	d := bao.NewDecoder(&resp, h, ranges)
	size, err := d.Size()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetSize(size); err != nil {
		t.Fatal(err)
	}
	for {
		it, err := d.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if it.Kind == bao.ItemLeaf {
			if err := w.WriteChunks(it.Offset/blobs.ChunkSize, it.Data); err != nil {
				t.Fatal(err)
			}
		} else if it.OutboardIndex >= 0 {
			if err := w.WriteParent(uint64(it.OutboardIndex), &it.Pair); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func testPartial(t *testing.T, s blobs.Store) {
	ctx := context.Background()
	for _, n := range []int{10, 16385, 1 << 20} {
		data := Data(n)
		h := blobs.ComputeHash(data)
		w, err := s.OpenWriter(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		chunks := blobs.Chunks(uint64(n))
		WriteVerified(t, w, data, bao.Range(0, chunks/2))
		if err := w.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		bf, _ := s.Bitfield(ctx, h)
		if n > 1024 && (bf.Complete() || bf.IsEmpty() || !bf.Known || bf.Size != uint64(n)) {
			t.Fatalf("%d: after half: %+v", n, bf)
		}
		if _, err := s.OpenReader(ctx, h); n > 1024 && err == nil {
			t.Fatalf("%d: partial blob readable", n)
		}
		missing := bf.MissingRanges(bao.All())
		WriteVerified(t, w, data, missing)
		// A second writer of the same hash shares the state.
		w2, err := s.OpenWriter(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		if !w2.Bitfield().Complete() {
			t.Fatalf("%d: second writer sees %+v", n, w2.Bitfield())
		}
		w2.Close()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		CheckBlob(t, s, data)
		// A size header that contradicts the validated size is refused.
		w3, _ := s.OpenWriter(ctx, h)
		if err := w3.SetSize(uint64(n) + 1); err == nil {
			t.Errorf("%d: contradicting size accepted", n)
		}
		w3.Close()
	}
}

func testGC(t *testing.T, s blobs.Store) {
	ctx := context.Background()
	add := func(b []byte) *blobs.TempTag {
		tt, err := s.AddBytes(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		return tt
	}
	tagged, temp, loose, child := Data(20000), Data(3000), Data(50000), Data(17000)
	t1 := add(tagged)
	t1.Close()
	if err := s.SetTag(ctx, "keep", t1.HashAndFormat()); err != nil {
		t.Fatal(err)
	}
	t2 := add(temp) // stays open: protected
	add(loose).Close()
	tc := add(child)
	tc.Close()
	seq := blobs.HashSeq{tc.Hash()}
	ts := add(seq.Bytes())
	ts.Close()
	s.SetTag(ctx, "seq", blobs.HashAndFormat{Hash: ts.Hash(), Format: blobs.HashSeqFormat})
	st, err := s.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Deleted != 1 {
		t.Errorf("GC deleted %d, want 1 (%+v)", st.Deleted, st)
	}
	CheckBlob(t, s, tagged)
	CheckBlob(t, s, temp)
	CheckBlob(t, s, child)
	if _, err := s.OpenReader(ctx, blobs.ComputeHash(loose)); err == nil {
		t.Error("untagged blob survived GC")
	}
	tags, _ := s.Tags(ctx)
	if len(tags) != 2 || tags[0].Name != "keep" {
		t.Errorf("tags %v", tags)
	}
	t2.Close()
	s.DeleteTag(ctx, "keep")
	s.DeleteTag(ctx, "seq")
	if st, _ = s.GC(ctx); st.Deleted != 4 {
		t.Errorf("second GC deleted %d, want 4", st.Deleted)
	}
	if infos, _ := s.List(ctx); len(infos) != 0 {
		t.Errorf("left after GC: %v", infos)
	}
}

func testObserve(t *testing.T, s blobs.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	data := Data(40000)
	h := blobs.ComputeHash(data)
	seen := make(chan blobs.Bitfield, 10)
	done := make(chan error, 1)
	go func() {
		done <- s.Observe(ctx, h, func(bf blobs.Bitfield) error {
			seen <- bf
			if bf.Complete() {
				return io.EOF
			}
			return nil
		})
	}()
	if bf := <-seen; !bf.IsEmpty() {
		t.Fatalf("first %+v", bf)
	}
	tt, _ := s.AddBytes(ctx, data)
	defer tt.Close()
	if err := <-done; err != io.EOF {
		t.Fatalf("Observe returned %v", err)
	}
}
