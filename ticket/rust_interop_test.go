package ticket

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

// parseWithRust hands ticket strings to real Rust iroh 1.0 (its npm
// bindings, installed by shared/interop/install.sh) and returns what it
// decoded and how it re-encodes the same address.
const rustTicketScript = `
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/');
const iroh = require('@number0/iroh');
const out = [];
for (const s of JSON.parse(process.argv[2])) {
  try {
    const a = iroh.EndpointTicket.fromString(s).endpointAddr();
    const re = iroh.EndpointTicket.fromAddr(new iroh.EndpointAddr(a.id(), a.relayUrl(), a.directAddresses())).toString();
    out.push({ id: a.id().toString(), relay: a.relayUrl() ?? '', addrs: a.directAddresses(), reencoded: re });
  } catch (e) {
    out.push({ error: String(e) });
  }
}
console.log(JSON.stringify(out));
`

type rustParsed struct {
	ID        string   `json:"id"`
	Relay     string   `json:"relay"`
	Addrs     []string `json:"addrs"`
	Reencoded string   `json:"reencoded"`
	Error     string   `json:"error"`
}

func interopDir(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		testutil.SkipUnlessCI(t, "the Rust iroh npm bindings are prebuilt for linux/amd64 only")
	}
	if _, err := exec.LookPath("node"); err != nil {
		testutil.SkipUnlessCI(t, "node not installed (scripts/test.sh installs it)")
	}
	dir := os.Getenv("IROH_INTEROP_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "iroh-interop")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@number0", "iroh", "package.json")); err != nil {
		testutil.SkipUnlessCI(t, "Rust iroh bindings not installed in %s (run shared/interop/install.sh)", dir)
	}
	return dir
}

// TestTicketsParseInRustIroh: tickets made by Go parse in Rust iroh 1.0
// to the same id, relay and addresses, and Rust encodes those back to the
// very same string.
func TestTicketsParseInRustIroh(t *testing.T) {
	dir := interopDir(t)
	r := rand.New(rand.NewPCG(1, 2))
	var tickets []string
	var addrs []endpointaddr.Addr
	for i := 0; i < 12; i++ {
		var sk key.SecretKey
		for j := range sk {
			sk[j] = byte(r.IntN(256))
		}
		a := endpointaddr.Addr{ID: sk.Public()}
		if i%3 != 0 {
			a.RelayURLs = []endpointaddr.RelayURL{endpointaddr.RelayURL("https://relay" + string(rune('a'+i)) + ".example.org./")}
		}
		for j := 0; j < i%4; j++ {
			var ap netip.AddrPort
			if r.IntN(2) == 0 {
				ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), 1, byte(j)}), uint16(r.IntN(65536)))
			} else {
				var b [16]byte
				b[0], b[1], b[15] = 0x20, 0x01, byte(j)
				ap = netip.AddrPortFrom(netip.AddrFrom16(b), uint16(r.IntN(65536)))
			}
			a.Direct = append(a.Direct, ap)
		}
		addrs = append(addrs, a.Canonical())
		tickets = append(tickets, EncodeEndpoint(a))
	}
	script := filepath.Join(t.TempDir(), "parse.mjs")
	os.WriteFile(script, []byte(rustTicketScript), 0o600)
	in, _ := json.Marshal(tickets)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a stuck node fails the test
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script, string(in))
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got []rustParsed
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(tickets) {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, g := range got {
		want := addrs[i]
		if g.Error != "" {
			t.Errorf("ticket %d: Rust refused %s: %s", i, tickets[i], g.Error)
			continue
		}
		if g.ID != want.ID.String() || g.Relay != string(want.RelayURL()) || len(g.Addrs) != len(want.Direct) {
			t.Errorf("ticket %d: Rust read %+v, want %v", i, g, want)
		}
		for j, s := range g.Addrs {
			if j < len(want.Direct) && !strings.EqualFold(s, want.Direct[j].String()) {
				t.Errorf("ticket %d addr %d: Rust %s, Go %s", i, j, s, want.Direct[j])
			}
		}
		if g.Reencoded != tickets[i] {
			t.Errorf("ticket %d: Rust re-encodes\n %s\nGo wrote\n %s", i, g.Reencoded, tickets[i])
		}
	}
}
