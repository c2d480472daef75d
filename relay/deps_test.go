package relay

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/iroh-go/iroh/internal/testutil"
)

// TestDeps keeps relay low on the import ladder: it must not link the
// server, the endpoint or anything above it.
func TestDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not found")
	}
	cmd := exec.Command("go", "list", "-deps", "./relay")
	cmd.Dir = testutil.RepoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "github.com/iroh-go/iroh",
			strings.HasPrefix(dep, "github.com/iroh-go/iroh/relay/relayserver"),
			strings.HasPrefix(dep, "github.com/iroh-go/iroh/internal/magicsock"),
			strings.HasPrefix(dep, "github.com/quic-go/"):
			t.Errorf("relay depends on %s", dep)
		}
	}
}
