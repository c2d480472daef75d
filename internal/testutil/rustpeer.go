package testutil

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// netnsEnv names the test that a re-executed test binary runs inside its
// own loopback-only network namespace.
const netnsEnv = "IROH_TEST_NETNS"

// namespaceTimeout bounds a test re-run by InLoopbackNamespace (or the
// test's own deadline, if sooner): a hang there fails the test with the
// child's goroutine dump rather than holding the whole run until go test's
// -timeout. The longest of these tests take about a minute.
const namespaceTimeout = 4 * time.Minute

// inCI reports whether the tests run in CI, where a prerequisite that is
// missing is a failure rather than a reason to skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// RequireRustInterop checks what the real Rust iroh peer needs (Linux
// x86-64, node, the interop npm packages, network namespaces) and skips
// the test when something is missing, except in CI as root, where a
// missing prerequisite fails the test: a check that silently vanishes
// proves nothing. -short skips it too.
func RequireRustInterop(t testing.TB) {
	t.Helper()
	if os.Getenv(netnsEnv) != "" {
		return // the parent checked before re-executing us
	}
	must := inCI() && os.Geteuid() == 0 && runtime.GOOS == "linux" && runtime.GOARCH == "amd64"
	skip := func(format string, args ...any) {
		t.Helper()
		if must {
			t.Fatalf("rust interop must run in CI as root, but: "+format, args...)
		}
		t.Skipf("rust interop: "+format, args...)
	}
	if testing.Short() {
		if must {
			return // CI never passes -short; run anyway
		}
		t.Skip("rust interop: skipped in -short mode")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		skip("needs linux/amd64 (prebuilt iroh bindings and network namespaces)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		skip("node not installed")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		skip("unshare not installed")
	}
	if os.Geteuid() != 0 {
		if err := exec.Command("unshare", "-r", "-n", "true").Run(); err != nil {
			skip("not root and no unprivileged user namespaces (%v)", err)
		}
	}
	if _, err := os.Stat(filepath.Join(interopDir(), "node_modules", "@number0", "iroh", "package.json")); err != nil {
		install := exec.Command("bash", filepath.Join(SharedDir(t), "interop", "install.sh"))
		if out, err := install.CombinedOutput(); err != nil {
			skip("interop npm packages not installed and install.sh failed: %v\n%s", err, out)
		}
	}
}

func interopDir() string {
	if d := os.Getenv("IROH_INTEROP_DIR"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "iroh-interop")
}

// InLoopbackNamespace runs the calling test inside a new network namespace
// that has only a loopback interface, which is where the Rust peer must run
// (its port mapper would otherwise probe the LAN). The first call re-executes
// the test binary for this one test under `unshare -n` and returns false
// after reporting the child's result as this test's; the test should then
// return. In the child it returns true and the test proceeds, with
// everything it starts (Go endpoints, Rust peers) sharing the namespace.
//
//	if !testutil.InLoopbackNamespace(t) {
//		return
//	}
func InLoopbackNamespace(t *testing.T) bool {
	t.Helper()
	if os.Getenv(netnsEnv) == t.Name() {
		return true
	}
	var pattern []string
	for _, part := range strings.Split(t.Name(), "/") {
		pattern = append(pattern, "^"+regexp.QuoteMeta(part)+"$")
	}
	args := []string{"-n"}
	if os.Geteuid() != 0 {
		args = []string{"-r", "-n"}
	}
	args = append(args, "--", "sh", "-c", `ip link set lo up && exec "$@"`, "sh",
		os.Args[0], "-test.run", strings.Join(pattern, "/"), "-test.v", "-test.count", "1")
	limit := namespaceTimeout
	if d, ok := t.Deadline(); ok && time.Until(d) < limit {
		limit = max(time.Until(d), time.Second) // -test.timeout 0 would mean none
	}
	args = append(args, "-test.timeout", limit.Round(time.Second).String())
	// The child panics with its goroutines at -test.timeout; the context is
	// the backstop, and WaitDelay stops waiting for output held open by a
	// Rust peer that outlives a killed child.
	ctx, cancel := context.WithTimeout(context.Background(), limit+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(), netnsEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	text := string(out)
	switch {
	case err != nil:
		t.Fatalf("test in loopback namespace failed (%v):\n%s", err, text)
	case strings.Contains(text, "--- SKIP: "+t.Name()):
		t.Skipf("skipped in the namespace:\n%s", text)
	case !strings.Contains(text, "--- PASS: "+t.Name()):
		t.Fatalf("test in loopback namespace did not report a pass:\n%s", text)
	}
	t.Logf("ran in a loopback-only network namespace:\n%s", text)
	return false
}

// RustPeer is a Rust iroh 1.0 endpoint run by shared/interop/rust-peer.mjs
// in listen mode. It lives until the test ends (or Close).
type RustPeer struct {
	// ID is the peer's EndpointID (hex) and Ticket its endpoint ticket.
	ID, Ticket string
	// Addrs are the socket addresses the peer bound.
	Addrs []string

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu     sync.Mutex
	events []map[string]any
	stderr strings.Builder
	notify chan struct{}
}

// StartRustListener starts `node rust-peer.mjs listen ARGS...` and waits
// for its ready line. Call it from inside InLoopbackNamespace.
func StartRustListener(t testing.TB, args ...string) *RustPeer {
	t.Helper()
	script := filepath.Join(SharedDir(t), "interop", "rust-peer.mjs")
	cmd := exec.Command("node", append([]string{script, "listen"}, args...)...)
	cmd.Env = append(os.Environ(), "IROH_INTEROP_DIR="+interopDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &RustPeer{cmd: cmd, stdin: stdin, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	cmd.Stderr = &lockedWriter{mu: &p.mu, b: &p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start rust peer: %v", err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		first := true
		for sc.Scan() {
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			if first && ev["event"] == "ready" {
				first = false
				ready <- ev
				continue
			}
			p.mu.Lock()
			p.events = append(p.events, ev)
			p.mu.Unlock()
			select {
			case p.notify <- struct{}{}:
			default:
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(p.Close)
	select {
	case ev := <-ready:
		p.ID, _ = ev["id"].(string)
		p.Ticket, _ = ev["ticket"].(string)
		if addrs, ok := ev["addrs"].([]any); ok {
			for _, a := range addrs {
				if s, ok := a.(string); ok {
					p.Addrs = append(p.Addrs, s)
				}
			}
		}
	case <-p.done:
		t.Fatalf("rust peer exited before it was ready:\n%s", p.Stderr())
	case <-time.After(30 * time.Second):
		t.Fatalf("rust peer not ready within 30 s:\n%s", p.Stderr())
	}
	return p
}

// WaitEvent waits until the peer has printed an event line for which match
// returns true, and returns it.
func (p *RustPeer) WaitEvent(ctx context.Context, match func(map[string]any) bool) (map[string]any, error) {
	seen := 0
	for {
		p.mu.Lock()
		evs := p.events[seen:]
		seen = len(p.events)
		p.mu.Unlock()
		for _, ev := range evs {
			if match(ev) {
				return ev, nil
			}
		}
		select {
		case <-p.notify:
		case <-p.done:
			p.mu.Lock()
			more := len(p.events) > seen
			p.mu.Unlock()
			if !more {
				return nil, fmt.Errorf("rust peer exited; stderr:\n%s", p.Stderr())
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("rust peer: waiting for an event: %w", ctx.Err())
		}
	}
}

// Events returns the event lines printed after the ready line so far.
func (p *RustPeer) Events() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.events...)
}

// Stderr returns what the peer wrote on stderr (Rust logs with --log).
func (p *RustPeer) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Close stops the peer (closing its stdin, then killing it) and waits.
func (p *RustPeer) Close() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
		return
	case <-time.After(3 * time.Second):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// RustConnect runs `node rust-peer.mjs connect TICKET ARGS...` to its end
// and returns its result line. The error is non-nil when the process could
// not run or printed no result; a failed exchange is a result with "ok":
// false.
func RustConnect(ctx context.Context, t testing.TB, ticket string, args ...string) (map[string]any, error) {
	t.Helper()
	script := filepath.Join(SharedDir(t), "interop", "rust-peer.mjs")
	cmd := exec.CommandContext(ctx, "node", append([]string{script, "connect", ticket}, args...)...)
	cmd.Env = append(os.Environ(), "IROH_INTEROP_DIR="+interopDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, `{"ok":`) {
			var res map[string]any
			if jerr := json.Unmarshal([]byte(line), &res); jerr != nil {
				return nil, fmt.Errorf("rust connect: bad result %q: %v", line, jerr)
			}
			return res, nil
		}
	}
	return nil, fmt.Errorf("rust connect: no result (%v)\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 1<<20 {
		w.b.Write(p)
	}
	return len(p), nil
}

// SkipUnlessCI skips the test with the reason, except in CI as root on
// Linux x86-64, where everything such tests need is installed by the test
// script: there a missing prerequisite fails the test, so that a check
// never silently vanishes from CI.
func SkipUnlessCI(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() && os.Geteuid() == 0 && runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		t.Fatalf("must run in CI as root, but: "+format, args...)
	}
	t.Skipf(format, args...)
}
