package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/dnsserver"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay/relaytest"
	"github.com/iroh-go/iroh/ticket"
)

// bindFlags bind test endpoints to loopback.
var bindFlags = []string{"--bind4", "127.0.0.1:0", "--bind6", ""}

// loopbackFlags keep test endpoints on loopback, with no relay and no
// address lookup (never n0's services).
var loopbackFlags = append(slices.Clone(bindFlags), "--offline")

// testFlags returns args plus the flags that keep the endpoint on
// loopback: no n0 service; only the local relay or lookup args name.
func testFlags(args []string) []string {
	return append(slices.Clone(args), loopbackFlags...)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func testEnv(stdin io.Reader, stdout, stderr io.Writer) *cmdEnv {
	return &cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr, getenv: func(string) string { return "" }}
}

// startListener runs `pipe <sub>` in-process and returns its ticket.
func startListener(t *testing.T, ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) (string, chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, testFlags(args), testEnv(stdin, stdout, pw))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var tk string
	for tk == "" {
		if !sc.Scan() {
			t.Fatalf("listener printed no ticket: %v", <-done)
		}
		// With -v, debug logs may come first; the ticket is alone on its line.
		if l := sc.Text(); strings.HasPrefix(l, "endpoint") {
			tk = l
		}
	}
	go io.Copy(io.Discard, pr)
	return tk, done
}

func TestPipeListenConnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	up := make([]byte, 8<<20)
	rand.Read(up)
	down := []byte("reply from the listener")
	var atListener, atConnector syncBuffer
	tk, done := startListener(t, ctx, []string{"pipe", "listen"}, bytes.NewReader(down), &atListener)
	var stderr syncBuffer
	start := time.Now()
	err := run(ctx, append([]string{"pipe", "connect", tk}, loopbackFlags...), testEnv(bytes.NewReader(up), &atConnector, &stderr))
	if err != nil {
		t.Fatalf("connect: %v (%s)", err, stderr.String())
	}
	// Our listener announced that it finishes only after reading all of
	// ours, so the connector closed at once, without lingering.
	if d := time.Since(start); d >= pipeCloseLinger {
		t.Errorf("connect took %v: it lingered for a listener that announced %q", d, pipeFinAfterRead)
	}
	if err := testutil.WaitFor(t, done, 30*time.Second, "pipe listen returning"); err != nil {
		t.Fatalf("listen: %v", err)
	}
	if !bytes.Equal(atListener.Bytes(), up) {
		t.Fatalf("listener got %d bytes, want %d identical", len(atListener.Bytes()), len(up))
	}
	if atConnector.String() != string(down) {
		t.Fatalf("connector got %q", atConnector.String())
	}
}

func TestPipeTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A TCP echo server to forward to.
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	var ewg sync.WaitGroup
	defer ewg.Wait()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			ewg.Add(1)
			go func() { defer ewg.Done(); io.Copy(c, c); c.Close() }()
		}
	}()
	lctx, lcancel := context.WithCancel(ctx)
	tk, ldone := startListener(t, lctx, []string{"pipe", "listen-tcp", "--host", echo.Addr().String()}, nil, io.Discard)
	pr, pw := io.Pipe()
	cdone := make(chan error, 1)
	go func() {
		cdone <- run(lctx, append([]string{"pipe", "connect-tcp", "--addr", "127.0.0.1:0", tk}, loopbackFlags...), testEnv(nil, io.Discard, pw))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var fwd string
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), "forwarding TCP connections on "); ok {
			fwd, _, _ = strings.Cut(after, " ")
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if fwd == "" {
		t.Fatalf("connect-tcp did not say where it listens: %v", <-cdone)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", fwd)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second)) // a stalled forward fails, not hangs
			msg := bytes.Repeat([]byte{byte(i)}, 100_000+i)
			go func() { c.Write(msg); c.(*net.TCPConn).CloseWrite() }()
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, msg) {
				errs <- fmt.Errorf("client %d: %d bytes, %v", i, len(got), err)
			}
		}()
	}
	clientsDone := make(chan struct{})
	go func() { wg.Wait(); close(clientsDone) }()
	testutil.WaitFor(t, clientsDone, 40*time.Second, "8 TCP clients echoed through the pipe")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	lcancel()
	if err := testutil.WaitFor(t, cdone, 30*time.Second, "connect-tcp returning after cancel"); err != nil {
		t.Errorf("connect-tcp: %v", err)
	}
	if err := testutil.WaitFor(t, ldone, 30*time.Second, "listen-tcp returning after cancel"); err != nil {
		t.Errorf("listen-tcp: %v", err)
	}
}

func TestBadInputIsOneClearLine(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"pipe", "connect", "endpointaa"}, "endpoint ticket", 2},
		{[]string{"pipe", "connect", "endpoint" + strings.Repeat("a", 80)}, "endpoint ticket", 2},
		{[]string{"pipe", "connect", "nonsense"}, "neither an endpoint ticket nor an endpoint id", 2},
		{[]string{"pipe", "connect"}, "want one TICKET", 2},
		{[]string{"pipe", "bogus"}, "unknown subcommand", 2},
		{[]string{"pipe", "listen-tcp"}, "--host", 2},
		{[]string{"nope"}, "unknown command", 2},
		{[]string{"ticket", "inspect", "endpoint!!"}, "base32", 2},
		{[]string{"id"}, "--key", 2},
	} {
		var stderr bytes.Buffer
		err := run(ctx, c.args, testEnv(nil, io.Discard, &stderr))
		code := exitCode(err, &stderr)
		out := stderr.String()
		if code != c.code || !strings.Contains(out, c.want) || strings.Contains(out, "goroutine") {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, out, c.code, c.want)
		}
		if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "iroh ") && !strings.HasPrefix(out, "iroh:") {
			t.Errorf("%v: stderr %q, want one line starting with iroh", c.args, out)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "k")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"key", "generate", "--out", f}, testEnv(nil, &out, io.Discard)); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out.String())
	out.Reset()
	if err := run(context.Background(), []string{"id", "--key", f}, testEnv(nil, &out, io.Discard)); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out.String()) != id {
		t.Fatalf("id %q, want %q", out.String(), id)
	}
	if err := run(context.Background(), []string{"key", "generate", "--out", f}, testEnv(nil, &out, io.Discard)); err == nil {
		t.Fatal("overwrote an existing key file")
	}
	os.WriteFile(f, []byte("not a key"), 0o600)
	if err := run(context.Background(), []string{"id", "--key", f}, testEnv(nil, &out, io.Discard)); err == nil || !strings.Contains(err.Error(), "key file") {
		t.Fatalf("bad key file: %v", err)
	}
}

// buildIroh builds the iroh binary once per test binary.
var buildOnce struct {
	sync.Once
	path string
	err  error
}

func buildIroh(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "iroh-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "iroh")
		cmd := exec.Command("go", "build", "-ldflags", "-X main.commit="+testCommit, "-o", buildOnce.path, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

// TestPipe100MiBBinary is the acceptance check with the real
// binary: 100 MiB from /dev/urandom through `iroh pipe connect` arrive
// byte-identical at `iroh pipe listen`.
func TestPipe100MiBBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	bin := buildIroh(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	data := make([]byte, 100<<20)
	rand.Read(data)
	os.WriteFile(in, data, 0o600)
	want := sha256.Sum256(data)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	outF, _ := os.Create(filepath.Join(dir, "out"))
	defer outF.Close()
	listen := exec.CommandContext(ctx, bin, append([]string{"pipe", "listen"}, loopbackFlags...)...)
	listen.Stdout = outF
	stderr, _ := listen.StderrPipe()
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() {
		t.Fatal("no ticket")
	}
	tk := sc.Text()
	go io.Copy(io.Discard, stderr)
	inF, _ := os.Open(in)
	defer inF.Close()
	connect := exec.CommandContext(ctx, bin, append([]string{"pipe", "connect", tk}, loopbackFlags...)...)
	connect.Stdin = inF
	var cerr bytes.Buffer
	connect.Stderr = &cerr
	start := time.Now()
	if err := connect.Run(); err != nil {
		t.Fatalf("connect: %v: %s", err, cerr.String())
	}
	if err := listen.Wait(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		t.Fatalf("listen exited: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "out"))
	if sha256.Sum256(got) != want {
		t.Fatalf("received %d bytes, not identical", len(got))
	}
	t.Logf("100 MiB in %s (%.0f MB/s)", time.Since(start), 100*1.048576/time.Since(start).Seconds())
}

// TestPipeDialByIDThroughDNSServer: the listener publishes to the pkarr
// relay of `iroh dns-server` (run in-process); the connector is given only
// the endpoint id and resolves it over DNS from the same server.
func TestPipeDialByIDThroughDNSServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sctx, stopServer := context.WithCancel(ctx)
	pkarrURL, dnsAddr, srvDone := startDNSServer(t, sctx, "--dev", "--http-addr", "127.0.0.1:0", "--dns-addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	defer func() {
		stopServer()
		testutil.WaitFor(t, srvDone, 30*time.Second, "dns-server returning after cancel")
	}()
	var got syncBuffer
	tk, done := startListener(t, ctx, []string{"pipe", "listen", "--pkarr-relay", pkarrURL, "--publish-ips"}, strings.NewReader(""), &got)
	a, err := ticket.ParseEndpoint(tk)
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	args := testFlags([]string{"pipe", "connect", a.ID.String(), "--dns-resolver", dnsAddr, "--dns-origin", dnsserver.DefaultOrigin})
	for {
		err = run(ctx, args, testEnv(strings.NewReader("dialed by id"), io.Discard, &stderr))
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "not found") {
			break
		}
		time.Sleep(100 * time.Millisecond) // not published yet
	}
	if err != nil {
		t.Fatalf("connect by id: %v", err)
	}
	if err := testutil.WaitFor(t, done, 30*time.Second, "pipe listen returning"); err != nil {
		t.Fatal(err)
	}
	if got.String() != "dialed by id" {
		t.Fatalf("listener got %q", got.String())
	}
}

// TestPipeThroughRelay: Go endpoint to Go endpoint through our relay, with
// direct paths off, and the connector reports the relay path.
func TestPipeThroughRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r := relaytest.Start(t, nil)
	up := make([]byte, 2<<20)
	rand.Read(up)
	var got syncBuffer
	flags := []string{"--relay", r.URL, "--relay-only", "-v"}
	tk, done := startListener(t, ctx, append([]string{"pipe", "listen"}, flags...), strings.NewReader(""), &got)
	a, _ := ticket.ParseEndpoint(tk)
	if string(a.RelayURL()) != r.URL {
		t.Fatalf("ticket relay %q, want %q", a.RelayURL(), r.URL)
	}
	var stderr syncBuffer
	if err := run(ctx, testFlags(append([]string{"pipe", "connect", tk}, flags...)), testEnv(bytes.NewReader(up), io.Discard, &stderr)); err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	if err := testutil.WaitFor(t, done, 30*time.Second, "pipe listen returning"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), up) {
		t.Fatalf("listener got %d bytes, want %d identical", len(got.Bytes()), len(up))
	}
	if !strings.Contains(stderr.String(), "path: relay "+r.URL) || strings.Contains(stderr.String(), "path: direct") {
		t.Fatalf("connector paths:\n%s", grepLines(stderr.String(), "path: "))
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestTicketInspectBlob(t *testing.T) {
	tk := blobs.BlobTicket{
		Addr:   endpointaddr.Addr{ID: key.SecretKey{}.Public(), RelayURLs: []endpointaddr.RelayURL{"https://relay.example.org./"}},
		Hash:   blobs.Hash(bao.Sum([]byte("hello"))),
		Format: blobs.Raw,
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"ticket", "inspect", tk.String()}, testEnv(nil, &out, io.Discard)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kind: blob", "hash: " + tk.Hash.String(), "relay: https://relay.example.org./", key.SecretKey{}.Public().String()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out.String())
		}
	}
}
