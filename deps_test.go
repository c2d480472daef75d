package iroh_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/iroh-go/iroh"

type goPkg struct {
	ImportPath string
	Doc        string
	Deps       []string
	Name       string
}

func listPackages(t *testing.T) []goPkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Doc,Deps,Name", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p goPkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImportLadder keeps imports pointing down the ladder of STYLE.md:
// leaves import nothing of ours but leaves; servers and lower layers never
// import the root package; the relay client never links the server;
// nothing imports the commands or examples.
func TestImportLadder(t *testing.T) {
	leaves := map[string]bool{"key": true, "endpointaddr": true, "ticket": true, "internal/postcard": true, "metrics": true}
	belowRoot := []string{"key", "endpointaddr", "ticket", "internal/", "pkarr", "relay", "addrlookup", "dnsserver", "netreport", "metrics", "blobs/bao"}
	pkgs := listPackages(t)
	if len(pkgs) < 8 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, module) {
				continue
			}
			drel := strings.TrimPrefix(strings.TrimPrefix(d, module), "/")
			if strings.HasPrefix(drel, "cmd/") || strings.HasPrefix(drel, "examples/") {
				t.Errorf("%s imports %s", rel, drel)
			}
			if leaves[rel] && !leaves[drel] {
				t.Errorf("leaf %s imports %s", rel, drel)
			}
			if drel == "" {
				for _, b := range belowRoot {
					if rel == b || strings.HasPrefix(rel, strings.TrimSuffix(b, "/")+"/") || (strings.HasSuffix(b, "/") && strings.HasPrefix(rel, b)) {
						t.Errorf("%s is below the root package but imports it", rel)
					}
				}
			}
			if rel == "relay" && strings.HasPrefix(drel, "relay/relayserver") {
				t.Errorf("the relay client links the relay server")
			}
			if strings.HasPrefix(rel, "relay/relayserver") && strings.HasPrefix(drel, "internal/magicsock") {
				t.Errorf("relay server imports magicsock")
			}
		}
	}
}

// TestPackageDocs fails on a package without a package doc.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no package doc", p.ImportPath)
		}
	}
}
