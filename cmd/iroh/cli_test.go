package main

// Tests of the command as people meet it (issue 13), through the built
// binary: help, errors, files never overwritten or created by surprise,
// relays and lookups, progress and storage.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

type binResult struct {
	stdout, stderr string
	code           int
	dur            time.Duration
}

// endpointCommands bind an endpoint; a test may run them only with
// --offline (and then only its own loopback relay or lookup).
var endpointCommands = []string{"pipe", "send", "receive", "net-report"}

// checkLoopbackArgs fails the test if args would run an endpoint with
// n0's default relays or lookup.
func checkLoopbackArgs(t *testing.T, args []string) {
	t.Helper()
	if len(args) < 2 || slices.ContainsFunc(args, isHelpArg) || args[0] == "help" {
		return
	}
	ep := slices.Contains(endpointCommands, args[0]) || (args[0] == "blobs" && slices.Contains(args, "get"))
	if ep && !slices.Contains(args, "--offline") && !(args[0] == "net-report" && slices.Contains(args, "--stun")) {
		t.Fatalf("test runs %v without --offline: it would use n0's relays and lookup", args)
	}
}

// runBin runs the built binary to completion (bounded by 60 s).
func runBin(t *testing.T, env []string, args ...string) binResult {
	t.Helper()
	checkLoopbackArgs(t, args)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildIroh(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	start := time.Now()
	err := cmd.Run()
	r := binResult{stdout: so.String(), stderr: se.String(), dur: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", args, err)
	}
	return r
}

// startBin starts the binary and waits for a stderr line starting with
// prefix, which it returns, with a function that interrupts the process
// and waits for it (also called at cleanup) and its whole stderr.
func startBin(t *testing.T, env []string, prefix string, args ...string) (string, func(), *syncBuffer) {
	t.Helper()
	checkLoopbackArgs(t, args)
	cmd := exec.Command(buildIroh(t), args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	var all syncBuffer
	cmd.Stderr = io.MultiWriter(&all, pw) // all first: the line is in it once found
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 64<<10)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) {
				found <- sc.Text()
				break
			}
		}
		io.Copy(io.Discard, pr)
		close(found)
	}()
	select {
	case l, ok := <-found:
		if !ok {
			t.Fatalf("%v exited without a %q line:\n%s", args, prefix, all.String())
		}
		return l, stop, &all
	case <-time.After(30 * time.Second):
		t.Fatalf("%v printed no %q line in 30 s:\n%s", args, prefix, all.String())
	}
	return "", nil, nil
}

// commandPaths lists every command and subcommand of the table.
func commandPaths() []string {
	var paths []string
	var walk func(prefix string, c *command)
	walk = func(prefix string, c *command) {
		p := strings.TrimSpace(prefix + " " + c.name)
		paths = append(paths, p)
		for _, s := range c.subs {
			walk(p, s)
		}
	}
	for _, c := range commands {
		walk("", c)
	}
	slices.Sort(paths)
	return paths
}

// TestHelpEveryCommand: every command and subcommand prints its own usage
// and an example for -h, --help and 'iroh help PATH', the same text each
// time, on stdout, exit 0.
func TestHelpEveryCommand(t *testing.T) {
	paths := commandPaths()
	if len(paths) < 20 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	for _, p := range paths {
		words := strings.Fields(p)
		h := runBin(t, nil, append(slices.Clone(words), "-h")...)
		if h.code != 0 || h.stderr != "" {
			t.Errorf("iroh %s -h: exit %d, stderr %q", p, h.code, h.stderr)
			continue
		}
		if !strings.HasPrefix(h.stdout, "usage: iroh "+p+" ") || !strings.Contains(h.stdout, "\nexample:\n  iroh ") {
			t.Errorf("iroh %s -h: not its own usage with an example:\n%s", p, h.stdout)
		}
		c := lookupCommand(p)
		if !strings.Contains(h.stdout, c.summary) && !strings.Contains(h.stdout, strings.TrimSpace(c.help)) && c.help != "" {
			t.Errorf("iroh %s -h lacks its help text", p)
		}
		for _, args := range [][]string{append(slices.Clone(words), "--help"), append([]string{"help"}, words...)} {
			r := runBin(t, nil, args...)
			if r.code != 0 || r.stdout != h.stdout {
				t.Errorf("iroh %s: exit %d, output differs from -h:\n%s\nstderr %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
			}
		}
	}
	// The general help lists every command.
	r := runBin(t, nil, "help")
	for _, c := range commands {
		if !strings.Contains(r.stdout, "  "+c.name+" ") {
			t.Errorf("iroh help does not list %s", c.name)
		}
	}
}

func TestVersion(t *testing.T) {
	for _, a := range []string{"--version", "version"} {
		r := runBin(t, nil, a)
		if r.code != 0 || !strings.Contains(r.stdout, "github.com/iroh-go/iroh") || !strings.Contains(r.stdout, "commit "+testCommit) {
			t.Errorf("iroh %s: exit %d, %q", a, r.code, r.stdout)
		}
	}
}

// TestErrorsOneLine: errors are one line naming the command once, with a
// cause a user can act on; exit 2 for usage, 1 otherwise.
func TestErrorsOneLine(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	if r := runBin(t, nil, "blobs", "add", "--data-dir", store, buildIroh(t)); r.code != 0 {
		t.Fatalf("blobs add: %d %s", r.code, r.stderr)
	}
	id := key.NewSecretKey().Public().String() // an id no one publishes
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pipe", "listen", "--offline", "--bogus"}, 2, "iroh pipe listen: flag provided but not defined: -bogus"},
		{[]string{"pipe"}, 2, "iroh pipe: missing subcommand"},
		{[]string{"pipe", "listen", "--offline", "--relay-only"}, 2, "--relay-only needs a relay"},
		{[]string{"pipe", "connect", "--offline", "nonsense"}, 2, "neither an endpoint ticket nor an endpoint id"},
		{[]string{"key"}, 2, "iroh key: missing subcommand (generate)"},
		{[]string{"key", "generate", "extra"}, 2, "iroh key generate: takes no arguments"},
		{[]string{"ticket", "inspect"}, 2, "iroh ticket inspect: want one TICKET"},
		{[]string{"nope"}, 2, "iroh: unknown command"},
		{[]string{"blobs", "--data-dir", store, "export"}, 2, "iroh blobs export: want HASH OUT"},
		{[]string{"blobs", "--data-dir", store, "export", "abcd", "x"}, 2, "want 64 hex characters"},
		{[]string{"receive", "--offline", "blobnot"}, 2, "iroh receive:"},
		{[]string{"pipe", "connect", "--offline", id}, 1, "pass the listener's ticket"},
	} {
		r := runBin(t, nil, c.args...)
		lines := strings.Count(r.stderr, "\n")
		if r.code != c.code || lines != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("iroh %v: exit %d, stderr (%d lines) %q; want exit %d, one line with %q", c.args, r.code, lines, r.stderr, c.code, c.want)
		}
		name := "iroh " + c.args[0]
		if strings.Count(r.stderr, name) > 1 || strings.Count(r.stderr, "iroh:") > 1 || strings.Contains(r.stderr, "goroutine") {
			t.Errorf("iroh %v: stacked prefixes: %q", c.args, r.stderr)
		}
	}
}

// TestReadingCommandsCreateNothing: a mistyped --key or --data-dir is an
// error and creates no key and no store.
func TestReadingCommandsCreateNothing(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo")
	r := runBin(t, nil, "id", "--key", missing)
	if r.code != 1 || !strings.Contains(r.stderr, "does not exist") || !strings.Contains(r.stderr, "key generate") {
		t.Errorf("id --key missing: exit %d %q", r.code, r.stderr)
	}
	for _, sub := range [][]string{{"list"}, {"gc"}, {"tags"}, {"export", strings.Repeat("0", 64), filepath.Join(dir, "out")}} {
		r := runBin(t, nil, append([]string{"blobs", sub[0], "--data-dir", missing}, sub[1:]...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "no blob store in "+missing) {
			t.Errorf("blobs %s on a missing store: exit %d %q", sub[0], r.code, r.stderr)
		}
	}
	// Endpoint commands with a missing key file do not make one either.
	r = runBin(t, nil, "pipe", "listen", "--offline", "--key", missing)
	if r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("pipe listen --key missing: exit %d %q", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("reading commands created %v", ents)
	}
}

// sendBin starts `iroh send PATH --offline` and returns its ticket.
func sendBin(t *testing.T, env []string, path string) (string, func(), *syncBuffer) {
	t.Helper()
	return startBin(t, env, "blob", "send", path, "--offline", "--bind4", "127.0.0.1:0", "--bind6", "")
}

func receiveArgs(ticket, out string, more ...string) []string {
	return append([]string{"receive", ticket, "--out", out, "--offline", "--bind4", "127.0.0.1:0", "--bind6", ""}, more...)
}

// TestReceiveNeverOverwrites (item 1): a different file of the same name
// is refused (before anything is downloaded) unless --force; an identical
// one is left alone and reported; a rerun downloads nothing.
func TestReceiveNeverOverwrites(t *testing.T) {
	src := t.TempDir()
	data := randData(3 << 20)
	f := filepath.Join(src, "report.bin")
	os.WriteFile(f, data, 0o644)
	tk, _, _ := sendBin(t, nil, f)

	out := t.TempDir()
	dst := filepath.Join(out, "report.bin")
	mine := []byte("the user's own file")
	os.WriteFile(dst, mine, 0o644)
	r := runBin(t, nil, receiveArgs(tk, out)...)
	if got, _ := os.ReadFile(dst); r.code != 1 || !bytes.Equal(got, mine) || !strings.Contains(r.stderr, "differs") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("receive over a different file: exit %d %q; file now %d bytes", r.code, r.stderr, len(got))
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Fatalf("refused receive left %v", ents)
	}
	r = runBin(t, nil, receiveArgs(tk, out, "--force")...)
	if got, _ := os.ReadFile(dst); r.code != 0 || !bytes.Equal(got, data) {
		t.Fatalf("receive --force: exit %d %q", r.code, r.stderr)
	}
	// Identical now: left alone, nothing fetched.
	st, _ := os.Stat(dst)
	r = runBin(t, nil, receiveArgs(tk, out)...)
	st2, _ := os.Stat(dst)
	if r.code != 0 || !strings.Contains(r.stderr, "identical: left alone") || !strings.Contains(r.stderr, "nothing to receive") || !st.ModTime().Equal(st2.ModTime()) {
		t.Fatalf("rerun: exit %d %q", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Fatalf("receive left %v", ents)
	}
}

// TestSendInPlace (item 8): send copies nothing (TMPDIR stays empty),
// reports the symbolic links and empty directories it does not carry, and
// receive moves the finished files out of its state directory.
func TestSendInPlace(t *testing.T) {
	tmp := t.TempDir()
	src := t.TempDir()
	tree := filepath.Join(src, "tree")
	files := map[string][]byte{"tree/a.bin": randData(5 << 20), "tree/sub/b.txt": []byte("b"), "tree/c.bin": randData(100 << 10)}
	writeTree(t, src, files)
	os.Symlink("a.bin", filepath.Join(tree, "link"))
	os.Mkdir(filepath.Join(tree, "empty"), 0o755)
	tk, _, stderr := sendBin(t, []string{"TMPDIR=" + tmp}, tree)
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Fatalf("send wrote %d entries to TMPDIR", len(ents))
	}
	for _, want := range []string{"not sent: " + filepath.Join(tree, "link") + " (symbolic link)", "not sent: " + filepath.Join(tree, "empty") + "/ (empty directory)", "in place"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("send output lacks %q:\n%s", want, stderr.String())
		}
	}
	out := t.TempDir()
	r := runBin(t, nil, receiveArgs(tk, out, "-q")...)
	if r.code != 0 {
		t.Fatalf("receive: %d %s", r.code, r.stderr)
	}
	for name, want := range files {
		if got, _ := os.ReadFile(filepath.Join(out, filepath.FromSlash(name))); !bytes.Equal(got, want) {
			t.Errorf("%s differs", name)
		}
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Errorf("receive left %v beside the tree", ents)
	}
	// A file changed after send is not served.
	os.WriteFile(filepath.Join(tree, "c.bin"), randData(100<<10), 0o644)
	out2 := t.TempDir()
	r = runBin(t, nil, receiveArgs(tk, out2, "-q")...)
	if r.code != 1 {
		t.Errorf("receive of a changed file: exit %d %q", r.code, r.stderr)
	}
}

// TestReceiveProgressTellsTheTruth (item 7): the progress line's rate is
// the summary's; a failed receive that got nothing says so and leaves no
// state directory.
func TestReceiveProgressTellsTheTruth(t *testing.T) {
	src := t.TempDir()
	f := filepath.Join(src, "f.bin")
	os.WriteFile(f, randData(24<<20), 0o644)
	tk, send, _ := sendBin(t, nil, f)
	out := t.TempDir()
	r := runBin(t, nil, receiveArgs(tk, out)...)
	if r.code != 0 {
		t.Fatalf("receive: %d %s", r.code, r.stderr)
	}
	bars := regexp.MustCompile(`receiving +([0-9.]+)% [^,]*, ([0-9.]+ [KMG]?i?B)/s`).FindAllStringSubmatch(r.stderr, -1)
	sum := regexp.MustCompile(`fetched in [^ ]+ \(([0-9.]+ [KMG]?i?B)/s\)`).FindStringSubmatch(r.stderr)
	if len(bars) == 0 || sum == nil {
		t.Fatalf("no progress or summary in %q", r.stderr)
	}
	if strings.Contains(r.stderr, "fetched in 0s") {
		t.Errorf("transfer time of zero: %q", r.stderr)
	}
	last := bars[len(bars)-1]
	if last[1] != "100.0" || last[2] != sum[1] {
		t.Errorf("last progress %q%% at %s/s, summary %s/s:\n%s", last[1], last[2], sum[1], r.stderr)
	}
	// The sender gone: nothing kept, no state left behind.
	send()
	out2 := t.TempDir()
	r = runBin(t, nil, receiveArgs(tk, out2)...)
	if r.code != 1 || !strings.Contains(r.stderr, "nothing was kept") || strings.Contains(r.stderr, "100.0%") {
		t.Errorf("receive from a dead sender: exit %d %q", r.code, r.stderr)
	}
	if ents, _ := os.ReadDir(out2); len(ents) != 0 {
		t.Errorf("failed receive left %v", ents)
	}
}

// TestConcurrentReceiveSaysSo (item 6): a second receive of the same
// ticket into the same directory says another one holds it.
func TestConcurrentReceiveSaysSo(t *testing.T) {
	src := t.TempDir()
	f := filepath.Join(src, "f.bin")
	os.WriteFile(f, randData(1<<20), 0o644)
	tk, _, _ := sendBin(t, nil, f)
	out := t.TempDir()
	bt, err := blobs.ParseBlobTicket(tk)
	if err != nil {
		t.Fatal(err)
	}
	hash := bt.Hash.String()
	st, err := fs.Open(filepath.Join(out, ".iroh-receive-"+hash), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := runBin(t, nil, receiveArgs(tk, out, "-q")...)
	if r.code != 1 || !strings.Contains(r.stderr, "another iroh receive") {
		t.Fatalf("concurrent receive: exit %d %q", r.code, r.stderr)
	}
}

// TestUnreachableRelay (item 6): a dead relay costs seconds, not ten, and
// is reported as refused; net-report against it exits 1.
func TestUnreachableRelay(t *testing.T) {
	dead := "http://127.0.0.1:1/"
	buildIroh(t)
	start := time.Now()
	tk, _, stderr := startBin(t, nil, "endpoint", "pipe", "listen", "--offline", "--relay", dead, "--bind4", "127.0.0.1:0", "--bind6", "")
	// "Seconds, not ten": 5 s leaves room for a loaded machine (the binary
	// starts and probes the relay within the bound).
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("ticket after %v", el)
	}
	_ = tk
	if !strings.Contains(stderr.String(), "refused") {
		t.Errorf("listener stderr does not say refused:\n%q", stderr.String())
	}
	r := runBin(t, nil, "net-report", "--relay", dead, "--stun", "127.0.0.1:1", "--bind6", "")
	if r.code != 1 || !strings.Contains(r.stderr, "refused") {
		t.Errorf("net-report against a dead relay: exit %d %q", r.code, r.stderr)
	}
}

// TestConnectByUnknownIDSaysWhatHelps (item 6): dialing an id that no
// lookup knows is one line that names what would help, without the
// stacked prefixes of the layers below.
func TestConnectByUnknownIDSaysWhatHelps(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	pkarrURL, _, done := startDNSServer(t, ctx, "--dev", "--http-addr", "127.0.0.1:0", "--dns-addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	defer func() { cancel(); testutil.WaitFor(t, done, 30*time.Second, "dns-server returning after cancel") }()
	id := key.NewSecretKey().Public().String()
	r := runBin(t, nil, "pipe", "connect", id, "--offline", "--pkarr-relay", pkarrURL, "--bind4", "127.0.0.1:0", "--bind6", "")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "pass its ticket") || strings.Count(r.stderr, "addrlookup") > 0 {
		t.Fatalf("connect to an unknown id: exit %d %q", r.code, r.stderr)
	}
}

// TestProgressNeverClaimsWhatIsMissing (item 7): an interrupted download's
// last progress line shows what was verified, never 100%, and its rate is
// bytes fetched over the transfer time.
func TestProgressNeverClaimsWhatIsMissing(t *testing.T) {
	var b bytes.Buffer
	p := newProgressLine(&b, false)
	p.update(blobs.DownloadProgress{Local: 1 << 20, Total: 300 << 20, Fetched: 1 << 20, Elapsed: time.Second})
	p.update(blobs.DownloadProgress{Local: 299<<20 + 1023<<10, Total: 300 << 20, Fetched: 299<<20 + 1023<<10, Elapsed: 2 * time.Second, Done: true})
	p.end()
	out := b.String()
	if strings.Contains(out, "100.0%") || !strings.Contains(out, "99.9%") || !strings.Contains(out, "150.0 MiB/s") {
		t.Fatalf("progress of an unfinished download: %q", out)
	}
}

// TestInterruptedReceiveKeepsNothingFalse (item 7): Ctrl-C while waiting
// for a sender that is gone says nothing was kept and leaves no state.
func TestInterruptedReceiveKeepsNothingFalse(t *testing.T) {
	src := t.TempDir()
	f := filepath.Join(src, "f.bin")
	os.WriteFile(f, randData(1<<20), 0o644)
	tk, stop, _ := sendBin(t, nil, f)
	stop()
	out := t.TempDir()
	args := receiveArgs(tk, out)
	checkLoopbackArgs(t, args)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // killed if it ignores the interrupt
	defer cancel()
	cmd := exec.CommandContext(ctx, buildIroh(t), args...)
	var se bytes.Buffer
	cmd.Stderr = &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(se.String(), "nothing kept") || strings.Contains(se.String(), "100.0%") {
		t.Fatalf("interrupted receive: %v %q", err, se.String())
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatalf("interrupted receive left %v", ents)
	}
}
