package mem_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/blobs/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blobs.Store {
		s := mem.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestAddFileRefServesInPlace: the data is read from the file (not
// copied), and a file changed after it was added is refused.
func TestAddFileRefServesInPlace(t *testing.T) {
	s := mem.New()
	defer s.Close()
	p := filepath.Join(t.TempDir(), "f")
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10)
	os.WriteFile(p, data, 0o644)
	tt, err := s.AddFileRef(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer tt.Close()
	if want, _ := blobs.ComputeOutboard(data); tt.Hash() != want {
		t.Fatal("hash differs from the in-memory computation")
	}
	r, err := s.OpenReader(t.Context(), tt.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Data().(*os.File); !ok {
		t.Error("data not read from the file")
	}
	r.Close()
	os.WriteFile(p, append(data, 'x'), 0o644)
	if _, err := s.OpenReader(t.Context(), tt.Hash()); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("changed file: %v", err)
	}
}
