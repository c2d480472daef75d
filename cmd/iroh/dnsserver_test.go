package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/addrlookup/dnslookup"
	"github.com/iroh-go/iroh/addrlookup/pkarrlookup"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

// startDNSServer runs `iroh dns-server` in-process and returns the pkarr
// URL and DNS address it printed.
func startDNSServer(t *testing.T, ctx context.Context, args ...string) (pkarrURL, dnsAddr string, done chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done = make(chan error, 1)
	env := &cmdEnv{stdin: strings.NewReader(""), stdout: pw, stderr: io.Discard, getenv: func(string) string { return "" }}
	go func() {
		done <- run(ctx, append([]string{"dns-server"}, args...), env)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "pkarr relay: "); ok {
			pkarrURL = v
		}
		if v, ok := strings.CutPrefix(line, "dns: "); ok {
			dnsAddr, _, _ = strings.Cut(v, " ")
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if pkarrURL == "" || dnsAddr == "" {
		t.Fatalf("dns-server printed no addresses: %v", <-done)
	}
	return pkarrURL, dnsAddr, done
}

func TestDNSServerCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	pkarrURL, dnsAddr, done := startDNSServer(t, ctx, "--dev", "--http-addr", "127.0.0.1:0", "--dns-addr", "127.0.0.1:0", "--data-dir", dir, "--origin", "test.example")
	sk := key.NewSecretKey()
	u, _ := endpointaddr.ParseRelayURL("http://127.0.0.1:3340")
	info := addrlookup.EndpointInfo{ID: sk.Public(), RelayURLs: []endpointaddr.RelayURL{u}}
	pub, err := pkarrlookup.NewPublisher(sk, &pkarrlookup.PublisherOptions{RelayURL: pkarrURL})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(t.Context(), info); err != nil {
		t.Fatal(err)
	}
	r, err := dnslookup.New(&dnslookup.Options{Server: dnsAddr, Origin: "test.example."})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Resolve(t.Context(), sk.Public()); err != nil || !got.Equal(info) {
		t.Fatalf("resolve: %v %+v", err, got)
	}
	cancel()
	if err := testutil.WaitFor(t, done, 30*time.Second, "dns-server returning after cancel"); err != nil {
		t.Fatalf("dns-server: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "signed-packets-1.db")); err != nil {
		t.Fatal(err)
	}
}

func TestDNSServerCommandConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dns.toml")
	os.WriteFile(cfg, []byte(`
data_dir = "`+filepath.ToSlash(filepath.Join(dir, "data"))+`"
pkarr_put_rate_limit = "disabled"
[http]
bind_addr = "127.0.0.1"
port = 0
[dns]
bind_addr = "127.0.0.1"
port = 0
origins = ["cfg.example."]
[metrics]
disabled = true
`), 0o600)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	_, _, done := startDNSServer(t, ctx, "--config", cfg)
	cancel()
	if err := testutil.WaitFor(t, done, 30*time.Second, "dns-server returning after cancel"); err != nil {
		t.Fatal(err)
	}
	env := &cmdEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	for _, args := range [][]string{{"dns-server"}, {"dns-server", "--dev", "--rate-limit", "fast"}, {"dns-server", "--dev", "extra"}} {
		if err := run(t.Context(), args, env); err == nil {
			t.Fatalf("%v accepted", args)
		}
	}
	os.WriteFile(cfg, []byte("bogus = 1\n"), 0o600)
	if err := run(t.Context(), []string{"dns-server", "--config", cfg}, env); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("bad config: %v", err)
	}
}
