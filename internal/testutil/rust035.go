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
	"sync"
	"testing"
	"time"
)

// Rust035 is a real Rust iroh 0.35 node (npm iroh035, the official
// Node.js bindings, with docs, blobs and gossip) run by rust035.mjs in this
// package and driven by requests over its stdin. It binds 127.0.0.1 only;
// start it from inside InLoopbackNamespace. It lives until the test ends
// (or Close).
type Rust035 struct {
	// NodeID is the node's id (hex), Author its default author (hex).
	NodeID, Author string
	// Addrs are its 127.0.0.1 socket addresses.
	Addrs []string

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan map[string]any
	stderr  []byte
}

// RequireRust035 is RequireRustInterop for tests that run the 0.35 node:
// it also checks that the interop cache holds iroh035 (installing it with
// shared/interop/install.sh when it does not), and skips, or fails in CI
// as root, when it cannot.
func RequireRust035(t testing.TB) {
	t.Helper()
	RequireRustInterop(t)
	if os.Getenv(netnsEnv) != "" {
		return
	}
	pkg := filepath.Join(interopDir(), "node_modules", "iroh035", "package.json")
	if _, err := os.Stat(pkg); err == nil {
		return
	}
	install := exec.Command("bash", filepath.Join(SharedDir(t), "interop", "install.sh"))
	out, err := install.CombinedOutput()
	if err == nil {
		if _, err = os.Stat(pkg); err == nil {
			return
		}
	}
	SkipUnlessCI(t, "rust 0.35 interop: iroh035 not in %s and install.sh did not provide it: %v\n%s", interopDir(), err, out)
}

// StartRust035 starts the 0.35 node and waits until it is ready. args are
// passed to rust035.mjs (e.g. "--log", "debug": Rust tracing on its
// stderr, see Stderr).
func StartRust035(t testing.TB, args ...string) *Rust035 {
	t.Helper()
	script := filepath.Join(RepoRoot(t), "internal", "testutil", "rust035.mjs")
	cmd := exec.Command("node", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "IROH_INTEROP_DIR="+interopDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &Rust035{cmd: cmd, stdin: stdin, done: make(chan struct{}), waiting: map[int]chan map[string]any{}}
	cmd.Stderr = rust035Stderr{r}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start rust 0.35 node: %v", err)
	}
	ready := make(chan map[string]any, 1)
	go r.readLoop(stdout, ready)
	t.Cleanup(r.Close)
	select {
	case ev := <-ready:
		r.NodeID, _ = ev["nodeId"].(string)
		r.Author, _ = ev["author"].(string)
		for _, a := range asSlice(ev["addrs"]) {
			if s, ok := a.(string); ok {
				r.Addrs = append(r.Addrs, s)
			}
		}
	case <-r.done:
		t.Fatalf("rust 0.35 node exited before it was ready:\n%s", r.Stderr())
	case <-time.After(30 * time.Second):
		t.Fatalf("rust 0.35 node not ready within 30 s:\n%s", r.Stderr())
	}
	return r
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func (r *Rust035) readLoop(stdout io.Reader, ready chan<- map[string]any) {
	defer close(r.done)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			r.appendStderr(append(append([]byte("stdout: "), sc.Bytes()...), '\n'))
			continue
		}
		if m["event"] == "ready" {
			select {
			case ready <- m:
			default:
			}
			continue
		}
		id, ok := m["id"].(float64)
		if !ok {
			continue
		}
		r.mu.Lock()
		ch := r.waiting[int(id)]
		delete(r.waiting, int(id))
		r.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
	_ = r.cmd.Wait()
}

// Do sends request op with fields and waits for its answer. An answer
// with "ok": false is returned as an error carrying the node's message.
func (r *Rust035) Do(ctx context.Context, op string, fields map[string]any) (map[string]any, error) {
	req := map[string]any{}
	for k, v := range fields {
		req[k] = v
	}
	ch := make(chan map[string]any, 1)
	r.mu.Lock()
	r.nextID++
	id := r.nextID
	r.waiting[id] = ch
	r.mu.Unlock()
	req["id"], req["op"] = id, op
	line, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := r.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("rust 0.35 %s: %w", op, err)
	}
	select {
	case m := <-ch:
		if m["ok"] != true {
			return m, fmt.Errorf("rust 0.35 %s: %v", op, m["error"])
		}
		return m, nil
	case <-r.done:
		return nil, fmt.Errorf("rust 0.35 %s: node exited", op)
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.waiting, id)
		r.mu.Unlock()
		return nil, fmt.Errorf("rust 0.35 %s: %w", op, ctx.Err())
	}
}

// Stderr returns what the node wrote on stderr (and any stdout line that
// was not JSON: the bindings print Rust logs on stdout), up to 4 MiB.
func (r *Rust035) Stderr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(r.stderr)
}

func (r *Rust035) appendStderr(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.stderr) < 4<<20 {
		r.stderr = append(r.stderr, p...)
	}
}

type rust035Stderr struct{ r *Rust035 }

func (w rust035Stderr) Write(p []byte) (int, error) {
	w.r.appendStderr(p)
	return len(p), nil
}

// Close ends the node (closing its stdin, which shuts it down; killing it
// after 5 s) and waits.
func (r *Rust035) Close() {
	_ = r.stdin.Close()
	select {
	case <-r.done:
		return
	case <-time.After(5 * time.Second):
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}
