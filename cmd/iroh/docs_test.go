package main

import (
	"bufio"
	"bytes"
	"context"
	"github.com/iroh-go/iroh/internal/testutil"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func docsRun(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(ctx, append([]string{"docs"}, args...), testEnv(nil, &out, &errb))
	if err != nil {
		t.Logf("docs %v: %v; stderr %s", args, err, errb.String())
	}
	return out.String(), err
}

// startShare runs `iroh docs share` in-process and returns the ticket it
// prints alone on a stderr line.
func startShare(t *testing.T, ctx context.Context, args ...string) (string, chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append(append([]string{"docs", "share"}, args...), loopbackFlags...), testEnv(nil, io.Discard, pw))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "doc") {
			go io.Copy(io.Discard, pr)
			return line, done
		}
	}
	t.Fatalf("share printed no ticket: %v", <-done)
	return "", nil
}

func TestDocsCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := t.TempDir(), t.TempDir()
	out, err := docsRun(t, ctx, "create", "--data-dir", a)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.TrimSpace(out)
	if len(doc) != 64 || strings.Contains(out[:len(out)-1], "\n") {
		t.Fatalf("create printed %q, want the id alone", out)
	}
	file := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(file, []byte("from a file\n"), 0o600)
	for _, args := range [][]string{
		{"set", doc, "hello", "world"},
		{"set", doc, "dir/one", "1"},
		{"set", doc, "dir/two", "2"},
		{"set", doc, "file", "--file", file},
		{"set", doc, "hello", "world, again"},
	} {
		if _, err := docsRun(t, ctx, append(args, "--data-dir", a)...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if out, _ := docsRun(t, ctx, "get", doc, "hello", "--data-dir", a); out != "world, again\n" {
		t.Fatalf("get hello: %q", out)
	}
	out, _ = docsRun(t, ctx, "list", doc, "--prefix", "dir/", "--data-dir", a)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "dir/one\t1\t") {
		t.Fatalf("list --prefix dir/: %q", out)
	}
	if _, err := docsRun(t, ctx, "get", doc, "missing", "--data-dir", a); err == nil {
		t.Fatal("get of a missing key succeeded")
	}
	if _, err := docsRun(t, ctx, "set", doc, "k", "--data-dir", a); err == nil {
		t.Fatal("set without a value accepted")
	}

	// Share and join: b gets entries and content, then exits.
	sctx, scancel := context.WithCancel(ctx)
	tk, done := startShare(t, sctx, doc, "--write", "--data-dir", a)
	var jout, jerr bytes.Buffer
	if err := run(ctx, append([]string{"docs", "join", tk, "--data-dir", b}, loopbackFlags...), testEnv(nil, &jout, &jerr)); err != nil {
		t.Fatalf("join: %v\n%s", err, jerr.String())
	}
	if !strings.Contains(jerr.String(), "in sync") {
		t.Fatalf("join stderr: %q", jerr.String())
	}
	scancel()
	if err := testutil.WaitFor(t, done, 30*time.Second, "docs share returning after cancel"); err != nil {
		t.Fatalf("share: %v", err)
	}
	var insp bytes.Buffer
	if err := run(ctx, []string{"ticket", "inspect", tk}, testEnv(nil, &insp, io.Discard)); err != nil || !strings.Contains(insp.String(), "capability: write") || !strings.Contains(insp.String(), "namespace: "+doc) {
		t.Fatalf("ticket inspect: %v\n%s", err, insp.String())
	}
	if out, _ := docsRun(t, ctx, "get", doc, "file", "--data-dir", b); out != "from a file\n" {
		t.Fatalf("joined get file: %q", out)
	}
	out, _ = docsRun(t, ctx, "list", doc, "--data-dir", b)
	if n := strings.Count(out, "\n"); n != 4 {
		t.Fatalf("joined list: %q", out)
	}
	// b holds write access: it can write, and delete.
	if _, err := docsRun(t, ctx, "set", doc, "from-b", "x", "--data-dir", b); err != nil {
		t.Fatal(err)
	}
	if _, err := docsRun(t, ctx, "del", doc, "dir/", "--data-dir", b); err != nil {
		t.Fatal(err)
	}
}

// TestDocsBinary drives the built binary: share in one process, join in
// another.
func TestDocsBinary(t *testing.T) {
	bin := buildIroh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := t.TempDir(), t.TempDir()
	out, err := exec.CommandContext(ctx, bin, "docs", "create", "--data-dir", a).Output()
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.TrimSpace(string(out))
	for i, v := range []string{"one", "two", "three"} {
		if err := exec.CommandContext(ctx, bin, "docs", "set", doc, "k"+string(rune('0'+i)), v, "--data-dir", a).Run(); err != nil {
			t.Fatal(err)
		}
	}
	share := exec.CommandContext(ctx, bin, append([]string{"docs", "share", doc, "--data-dir", a}, loopbackFlags...)...)
	stderr, _ := share.StderrPipe()
	if err := share.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { share.Process.Signal(os.Interrupt); share.Wait() }()
	sc := bufio.NewScanner(stderr)
	var tk string
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "doc") {
			tk = sc.Text()
			break
		}
	}
	if tk == "" {
		t.Fatal("share printed no ticket")
	}
	go io.Copy(io.Discard, stderr)
	join := exec.CommandContext(ctx, bin, append([]string{"docs", "join", tk, "--data-dir", b}, loopbackFlags...)...)
	if out, err := join.CombinedOutput(); err != nil {
		t.Fatalf("join: %v\n%s", err, out)
	}
	got, err := exec.CommandContext(ctx, bin, "docs", "get", doc, "k2", "--data-dir", b).Output()
	if err != nil || string(got) != "three\n" {
		t.Fatalf("get after join: %q %v", got, err)
	}
	// A read ticket gives no write access.
	if err := exec.CommandContext(ctx, bin, "docs", "set", doc, "x", "y", "--data-dir", b).Run(); err == nil {
		t.Fatal("set with a read ticket succeeded")
	}
}

// TestDocsJoinWatch: a watching joiner prints an entry that reaches the
// sharer from a third node after the watcher is in sync.
func TestDocsJoinWatch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	out, err := docsRun(t, ctx, "create", "--data-dir", a)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.TrimSpace(out)
	docsRun(t, ctx, "set", doc, "k1", "first", "--data-dir", a)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	tk, sdone := startShare(t, sctx, doc, "--write", "--data-dir", a)

	var watchOut syncBuffer
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wdone := make(chan error, 1)
	go func() {
		wdone <- run(wctx, append([]string{"docs", "join", tk, "--watch", "--data-dir", b}, loopbackFlags...), testEnv(nil, &watchOut, io.Discard))
	}()
	// c joins, writes, and joins again (watching, so it stays to serve
	// the content) to hand its entry to a.
	var e bytes.Buffer
	if err := run(ctx, append([]string{"docs", "join", tk, "--data-dir", c}, loopbackFlags...), testEnv(nil, io.Discard, &e)); err != nil {
		t.Fatalf("join c: %v\n%s", err, e.String())
	}
	if _, err := docsRun(t, ctx, "set", doc, "k2", "from c", "--data-dir", c); err != nil {
		t.Fatal(err)
	}
	cdone := make(chan error, 1)
	go func() {
		cdone <- run(wctx, append([]string{"docs", "join", tk, "--watch", "--data-dir", c}, loopbackFlags...), testEnv(nil, io.Discard, io.Discard))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(watchOut.String(), "set k2 = from c") {
		if time.Now().After(deadline) {
			t.Fatalf("watcher printed %q", watchOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	wcancel()
	if err := testutil.WaitFor(t, wdone, 30*time.Second, "docs join --watch (b) returning after cancel"); err != nil {
		t.Fatalf("watch: %v", err)
	}
	testutil.WaitFor(t, cdone, 30*time.Second, "docs join --watch (c) returning after cancel")
	scancel()
	testutil.WaitFor(t, sdone, 30*time.Second, "docs share returning after cancel")
}
