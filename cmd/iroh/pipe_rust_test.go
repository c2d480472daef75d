package main

// `iroh pipe` (the built binary) against real Rust iroh 1.0 speaking
// dumbpipe's protocol (shared/interop/rust-peer.mjs, ALPN DUMBPIPEV0): we
// dial Rust's ticket, Rust dials ours, and we dial relay-only through our
// relay. Each test re-runs itself in a loopback-only network namespace;
// in CI as root they fail instead of skipping.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay/relaytest"
	"github.com/iroh-go/iroh/ticket"
)

// rustBinEnv hands the iroh binary built before entering the namespace to
// the test re-run inside it (which has no network for module downloads).
const rustBinEnv = "IROH_TEST_PIPE_BIN"

// pipeBinary builds the iroh binary (outside the namespace) and returns
// its path, inside the namespace the one built outside.
func pipeBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(rustBinEnv); p != "" {
		return p
	}
	p := buildIroh(t)
	os.Setenv(rustBinEnv, p) // inherited by the re-run in the namespace
	return p
}

// randomFile writes n random bytes to a new file in dir.
func randomFile(t *testing.T, dir, name string, n int) (string, []byte) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// runIroh runs the binary with stdin from the file in and stdout to the
// file out, and returns its stderr.
func runIroh(ctx context.Context, t *testing.T, bin, in, out string, args ...string) (string, error) {
	t.Helper()
	inF, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer inF.Close()
	outF, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin, cmd.Stdout = inF, outF
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	return stderr.String(), err
}

// sameFile fails unless the file at path holds want.
func sameFile(t *testing.T, what, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, want %d identical", what, len(got), len(want))
	}
}

// rustPipeConnect has `iroh pipe connect` (with extra flags) dial the
// dumbpipe listener of a real Rust endpoint started with rustArgs, send 4
// MiB and receive 2 MiB; it checks both arrived intact and returns Rust's
// conn event for our connection, and the peer.
func rustPipeConnect(t *testing.T, rustArgs []string, extra ...string) (map[string]any, *testutil.RustPeer) {
	t.Helper()
	bin := pipeBinary(t)
	dir := t.TempDir()
	rustIn, toUs := randomFile(t, dir, "rust-in", 2<<20)
	goIn, toRust := randomFile(t, dir, "go-in", 4<<20)
	rustOut, goOut := filepath.Join(dir, "rust-out"), filepath.Join(dir, "go-out")
	peer := testutil.StartRustListener(t, append([]string{"--in", rustIn, "--out", rustOut}, rustArgs...)...)
	addr, err := ticket.ParseEndpoint(peer.Ticket)
	if err != nil || addr.ID.String() != peer.ID {
		t.Fatalf("rust ticket %q: %v (id %v)", peer.Ticket, err, addr.ID)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	start := time.Now()
	args := append([]string{"pipe", "connect", peer.Ticket}, loopbackFlags...)
	stderr, err := runIroh(ctx, t, bin, goIn, goOut, append(args, extra...)...)
	if err != nil {
		t.Fatalf("iroh pipe connect: %v\n%s\nrust stderr:\n%s", err, stderr, peer.Stderr())
	}
	t.Logf("iroh pipe connect took %v", time.Since(start).Round(time.Millisecond))
	sameFile(t, "what we received from rust", goOut, toUs)
	// Rust writes its --out file before it reports the stream.
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	ev, err := peer.WaitEvent(wctx, func(ev map[string]any) bool {
		return ev["event"] == "stream" && ev["alpn"] == pipeALPN || ev["event"] == "conn_error"
	})
	if err != nil {
		t.Fatalf("%v; rust's events: %v", err, peer.Events())
	}
	sum := sha256.Sum256(toRust)
	if ev["error"] != nil || ev["sha256"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("rust received %v", ev)
	}
	sameFile(t, "what rust received from us", rustOut, toRust)
	conn, err := peer.WaitEvent(ctx, func(ev map[string]any) bool { return ev["event"] == "conn" && ev["alpn"] == pipeALPN })
	if err != nil {
		t.Fatal(err)
	}
	return conn, peer
}

// TestPipeConnectRust: `iroh pipe connect <ticket of a Rust endpoint>`
// pipes stdin to Rust's dumbpipe listener and what it sends to stdout.
func TestPipeConnectRust(t *testing.T) {
	testutil.RequireRustInterop(t)
	pipeBinary(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	conn, peer := rustPipeConnect(t, nil)
	t.Logf("rust: conn via %v from %v", conn["via"], conn["from"])
	if conn["via"] != "ip" {
		t.Errorf("rust saw our direct dial arrive via %v", conn["via"])
	}

	// A ticket with another endpoint id and the Rust endpoint's address:
	// refused at once, with one error line that says so.
	addr, err := ticket.ParseEndpoint(peer.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	wrong := addr
	wrong.ID = key.NewSecretKey().Public()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	in, _ := randomFile(t, dir, "in", 10)
	start := time.Now()
	stderr, err := runIroh(ctx, t, pipeBinary(t), in, filepath.Join(dir, "out"),
		append([]string{"pipe", "connect", ticket.EncodeEndpoint(wrong)}, loopbackFlags...)...)
	took := time.Since(start)
	if err == nil {
		t.Fatal("iroh pipe connect to a wrong endpoint id succeeded")
	}
	line := strings.TrimSpace(stderr)
	if !strings.HasPrefix(line, "iroh pipe connect: ") || strings.Count(line, "\n") > 0 || !strings.Contains(line, "is not "+wrong.ID.ShortString()) {
		t.Fatalf("wrong id: want one error line saying the endpoint is not %s, got:\n%s", wrong.ID.ShortString(), stderr)
	}
	if took > 5*time.Second {
		t.Errorf("wrong id refused after %v", took)
	}
	t.Logf("wrong id refused after %v: %s", took.Round(time.Millisecond), line)
}

// TestPipeConnectRustRelayOnly: the same through our relay (in-process,
// both sides' home relay) with --relay URL --relay-only: Rust says our
// connection came via the relay.
func TestPipeConnectRustRelayOnly(t *testing.T) {
	testutil.RequireRustInterop(t)
	pipeBinary(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	url := relaytest.URL(t)
	conn, _ := rustPipeConnect(t, []string{"--relay", url}, "--relay", url, "--relay-only")
	t.Logf("rust: conn via %v from %v, paths %v", conn["via"], conn["from"], conn["paths"])
	if conn["via"] != "relay" {
		t.Fatalf("rust saw our relay-only dial arrive via %v: %v", conn["via"], conn)
	}
}

// startPipeListen starts `iroh pipe listen` (loopback, --offline, plus
// extra) with stdin from the file in and stdout to the file out, and
// returns its ticket and a function that waits for it to exit and
// returns the rest of its stderr and its error.
func startPipeListen(ctx context.Context, t *testing.T, bin, in, out string, extra ...string) (string, func() (string, error)) {
	t.Helper()
	inF, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inF.Close() })
	outF, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outF.Close() })
	listen := exec.CommandContext(ctx, bin, append(append([]string{"pipe", "listen"}, loopbackFlags...), extra...)...)
	listen.Stdin, listen.Stdout = inF, outF
	stderr, err := listen.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	rest := make(chan string, 1)
	t.Cleanup(func() {
		listen.Process.Kill()
		listen.Wait()
	})
	sc := bufio.NewScanner(stderr)
	var tk string
	var lines []string
	for tk == "" && sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "endpoint") {
			tk = l
		} else {
			lines = append(lines, l)
		}
	}
	if tk == "" {
		t.Fatalf("iroh pipe listen printed no ticket:\n%s", strings.Join(lines, "\n"))
	}
	go func() {
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		rest <- strings.Join(lines, "\n")
	}()
	return tk, func() (string, error) {
		text := <-rest // stderr ends when the process exits
		return text, listen.Wait()
	}
}

// TestPipeListenRust: Rust's dumbpipe client dials `iroh pipe listen`'s
// ticket; each side gets the other's bytes.
func TestPipeListenRust(t *testing.T) {
	testutil.RequireRustInterop(t)
	bin := pipeBinary(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	dir := t.TempDir()
	rustIn, toUs := randomFile(t, dir, "rust-in", 4<<20)
	goIn, toRust := randomFile(t, dir, "go-in", 2<<20)
	rustOut, goOut := filepath.Join(dir, "rust-out"), filepath.Join(dir, "go-out")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	tk, wait := startPipeListen(ctx, t, bin, goIn, goOut)
	res, err := testutil.RustConnect(ctx, t, tk, "--mode", "dumbpipe", "--in", rustIn, "--out", rustOut)
	if err != nil {
		t.Fatal(err)
	}
	if res["ok"] != true {
		t.Fatalf("rust dumbpipe client: %v", res)
	}
	sum := sha256.Sum256(toRust)
	if res["received_sha256"] != hex.EncodeToString(sum[:]) || res["received_bytes"] != float64(len(toRust)) {
		t.Fatalf("rust received %v bytes with sha256 %v, want %d with %x", res["received_bytes"], res["received_sha256"], len(toRust), sum)
	}
	sameFile(t, "what rust received from us", rustOut, toRust)
	if stderr, err := wait(); err != nil {
		t.Fatalf("iroh pipe listen: %v\n%s", err, stderr)
	}
	sameFile(t, "what we received from rust", goOut, toUs)
	t.Logf("rust: connect %v ms, exchange %v ms; paths %v", res["connect_ms"], res["exchange_ms"], res["paths"])
}

// TestPipeListenRustRelayOnly: Rust's dumbpipe client dials `iroh pipe
// listen --relay URL --relay-only` relay-only (--relay-only): every path
// Rust used is the relay.
func TestPipeListenRustRelayOnly(t *testing.T) {
	testutil.RequireRustInterop(t)
	bin := pipeBinary(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	url := relaytest.URL(t)
	dir := t.TempDir()
	rustIn, toUs := randomFile(t, dir, "rust-in", 1<<20)
	goIn, toRust := randomFile(t, dir, "go-in", 1<<20)
	rustOut, goOut := filepath.Join(dir, "rust-out"), filepath.Join(dir, "go-out")
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	tk, wait := startPipeListen(ctx, t, bin, goIn, goOut, "--relay", url, "--relay-only")
	addr, err := ticket.ParseEndpoint(tk)
	if err != nil || string(addr.RelayURL()) != url {
		t.Fatalf("listener ticket %v (%v), want relay %s", addr, err, url)
	}
	res, err := testutil.RustConnect(ctx, t, tk, "--mode", "dumbpipe", "--in", rustIn, "--out", rustOut, "--relay", url, "--relay-only")
	if err != nil {
		t.Fatal(err)
	}
	if res["ok"] != true {
		t.Fatalf("rust dumbpipe client: %v", res)
	}
	sameFile(t, "what rust received from us", rustOut, toRust)
	if stderr, err := wait(); err != nil {
		t.Fatalf("iroh pipe listen: %v\n%s", err, stderr)
	}
	sameFile(t, "what we received from rust", goOut, toUs)
	paths, _ := res["paths"].([]any)
	if len(paths) == 0 {
		t.Fatalf("rust reports no paths: %v", res)
	}
	for _, p := range paths {
		if pm, _ := p.(map[string]any); pm["relay"] != true {
			t.Fatalf("rust used a path that is not the relay: %v", p)
		}
	}
	t.Logf("rust paths: %v", paths)
}

// TestPipeConnectRustUnknownALPN: `iroh pipe connect --alpn` with a
// protocol the Rust endpoint does not serve. Rust iroh 1.0 refuses it
// without a word, so the command ends at the handshake timeout (10 s) with
// one error line saying that the peer did not answer and which ALPN was
// offered.
func TestPipeConnectRustUnknownALPN(t *testing.T) {
	testutil.RequireRustInterop(t)
	bin := pipeBinary(t)
	t.Parallel() // each runs in its own namespace, mostly waiting
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	peer := testutil.StartRustListener(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	in, _ := randomFile(t, dir, "in", 10)
	start := time.Now()
	stderr, err := runIroh(ctx, t, bin, in, filepath.Join(dir, "out"),
		append([]string{"pipe", "connect", "--alpn", "no-such-protocol/1", peer.Ticket}, loopbackFlags...)...)
	took := time.Since(start)
	if err == nil {
		t.Fatal("connected with an ALPN rust does not serve")
	}
	line := strings.TrimSpace(stderr)
	t.Logf("after %v: %s", took.Round(time.Millisecond), line)
	if !strings.HasPrefix(line, "iroh pipe connect: ") || strings.Contains(line, "\n") ||
		!strings.Contains(line, "did not answer") || !strings.Contains(line, `"no-such-protocol/1"`) {
		t.Fatalf("want one error line saying the peer did not answer ALPN \"no-such-protocol/1\", got:\n%s", stderr)
	}
	if took > 20*time.Second {
		t.Errorf("gave up after %v", took)
	}
}
