package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
)

// relayLog is a concurrency-safe log buffer.
type relayLog = syncBuffer

// testHTTP bounds the tests' requests to in-process servers, so that one
// that never answers fails the test rather than hanging it.
var testHTTP = &http.Client{Timeout: 30 * time.Second}

// startRelayCmd runs `iroh relay args...` in-process until the test ends
// and returns its log and the address it logged for msg.
func startRelayCmd(t *testing.T, args []string, env map[string]string) (*relayLog, func(msg string) string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &relayLog{}
	e := &cmdEnv{stdin: strings.NewReader(""), stdout: logs, stderr: logs, getenv: func(k string) string { return env[k] }}
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = run(ctx, append([]string{"relay"}, args...), e)
	}()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case <-done:
				err = runErr
			case <-time.After(15 * time.Second):
				err = errors.New("relay command did not stop within 15 s")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	addrOf := func(msg string) string {
		t.Helper()
		re := regexp.MustCompile(`msg="` + regexp.QuoteMeta(msg) + `"[^\n]* addr=(\S+)`)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if m := re.FindStringSubmatch(logs.String()); m != nil {
				return m[1]
			}
			select {
			case <-done:
				t.Fatalf("relay exited: %v\n%s", runErr, logs.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
		t.Fatalf("no %q in log:\n%s", msg, logs.String())
		return ""
	}
	return logs, addrOf, stop
}

func relayClient(t *testing.T, url string, mod func(*relay.ClientOptions)) (*relay.Client, key.PublicKey, chan []byte) {
	t.Helper()
	sk := key.NewSecretKey()
	ch := make(chan []byte, 16)
	o := relay.ClientOptions{URL: url, SecretKey: sk, Logger: slog.New(slog.DiscardHandler),
		OnDatagrams: func(_ key.PublicKey, _ uint8, _ uint16, b []byte) { ch <- bytes.Clone(b) }}
	if mod != nil {
		mod(&o)
	}
	c, err := relay.NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, sk.Public(), ch
}

func TestRelayCommandDev(t *testing.T) {
	logs, addrOf, stop := startRelayCmd(t, []string{"--dev", "--http-addr", "127.0.0.1:0", "--stun-addr", "127.0.0.1:0"}, nil)
	url := "http://" + addrOf("relay listening") + "/"
	resp, err := testHTTP.Get(url + "ping")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /ping: %v %v", resp, err)
	}
	resp.Body.Close()
	a, _, _ := relayClient(t, url, nil)
	b, bid, bch := relayClient(t, url, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := a.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	a.Send(bid, 0, 0, []byte("via the command"))
	select {
	case got := <-bch:
		if string(got) != "via the command" {
			t.Fatalf("got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no datagram")
	}
	// Dev mode serves STUN too (and says so).
	if !strings.Contains(logs.String(), "stun listening") {
		t.Fatalf("no STUN in dev mode:\n%s", logs.String())
	}
	if err := stop(); err != nil {
		t.Fatalf("relay returned %v", err)
	}
	for _, want := range []string{"relay shutting down", "relay stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, logs.String())
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.State().Connected && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if a.State().Connected {
		t.Fatal("client still connected after shutdown")
	}
}

func TestRelayCommandConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "relay.toml")
	os.WriteFile(cfg, []byte(`
http_bind_addr = "127.0.0.1:0"
metrics_bind_addr = "127.0.0.1:0"
stun_bind_addr = "127.0.0.1:0"

[tls]
self_signed = true
hostnames = ["127.0.0.1"]
https_bind_addr = "127.0.0.1:0"

[access]
shared_token = ["from-file"]

[limits.client.rx]
bytes_per_second = 10000000
`), 0o600)
	// The environment replaces the token list, as in iroh-relay.
	logs, addrOf, stop := startRelayCmd(t, []string{"--config", cfg}, map[string]string{"IROH_RELAY_ACCESS_TOKEN": "from-env"})
	httpsURL := "https://" + addrOf("relay listening") + "/"
	portal := addrOf("captive portal listening")
	metrics := addrOf("metrics listening")
	addrOf("stun listening")
	insecure := &tls.Config{InsecureSkipVerify: true}

	ok, _, _ := relayClient(t, httpsURL, func(o *relay.ClientOptions) { o.TLSConfig = insecure; o.Token = "from-env" })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := ok.WaitConnected(ctx); err != nil {
		t.Fatalf("client with token: %v (%v)\n%s", err, ok.State().LastError, logs.String())
	}
	denied, _, _ := relayClient(t, httpsURL, func(o *relay.ClientOptions) { o.TLSConfig = insecure; o.Token = "from-file" })
	deadline := time.Now().Add(10 * time.Second)
	for {
		var de *relay.DeniedError
		if errors.As(denied.State().LastError, &de) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client with the replaced token not denied: %v", denied.State().LastError)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The plain HTTP port only serves /generate_204.
	for path, want := range map[string]int{"generate_204": 204, "ping": 404} {
		resp, err := testHTTP.Get("http://" + portal + "/" + path)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("captive portal /%s: %v %v, want %d", path, resp, err, want)
		}
		resp.Body.Close()
	}
	resp, err := testHTTP.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"iroh_relayserver_clients 1", `iroh_relayserver_handshakes_total{outcome="denied"}`, "iroh_relayserver_datagrams_forwarded_total"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	ok.Close()
	denied.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRelayCommandBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key":   "bogus = 1\n",
		"bad access":    "access = \"nobody\"\n",
		"bad policy":    "[access]\nfriends = [\"x\"]\n",
		"bad id":        "[access]\nallowlist = [\"not-an-id\"]\n",
		"tls no paths":  "[tls]\ncert_mode = \"manual\"\n",
		"tls bad mode":  "[tls]\ncert_mode = \"letsencrypt\"\n",
		"not toml":      "[[[",
		"http no url":   "[access.http]\nbearer_token = \"x\"\n",
		"negative rate": "[limits.client.rx]\nbytes_per_second = -1\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".toml")
			os.WriteFile(p, []byte(body), 0o600)
			var out bytes.Buffer
			e := &cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
			err := run(t.Context(), []string{"relay", "--config", p, "--http-addr", "127.0.0.1:0"}, e)
			if err == nil {
				t.Fatalf("config %q accepted", body)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
	var out bytes.Buffer
	e := &cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	if err := run(t.Context(), []string{"relay", "extra"}, e); !errors.Is(err, errUsage) {
		t.Fatalf("positional argument: %v", err)
	}
	if err := run(t.Context(), []string{"relay", "bench", "--clients", "3"}, e); !errors.Is(err, errUsage) {
		t.Fatalf("odd client count: %v", err)
	}
}

func TestRelayBenchCommand(t *testing.T) {
	var out relayLog
	e := &cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	if err := run(t.Context(), []string{"relay", "bench", "--clients", "4", "--duration", "300ms"}, e); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	for _, want := range []string{"datagrams/s", "p50", "p99", "RSS"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("bench output lacks %q:\n%s", want, out.String())
		}
	}
}
