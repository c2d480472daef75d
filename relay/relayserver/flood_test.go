package relayserver_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/relay/relayserver"
	"github.com/iroh-go/iroh/relay/relaytest"
)

// TestRelayChildProcess is not a test: run by TestHalfOpenFlood with
// IROH_TEST_RELAY_CHILD set, it serves a relay (header timeout 3 s, no
// per-IP cap) in its own process, prints its address and runs until its
// stdin closes. The flood's two ends then live in two processes, each
// within the usual descriptor limit.
func TestRelayChildProcess(t *testing.T) {
	if os.Getenv("IROH_TEST_RELAY_CHILD") == "" {
		t.Skip("helper process for TestHalfOpenFlood")
	}
	r := relaytest.Start(t, &relayserver.Options{HeaderTimeout: 3 * time.Second, MaxConnsPerIP: -1})
	fmt.Printf("RELAY %s %s\n", r.Addr, r.URL)
	io.Copy(io.Discard, os.Stdin)
}

// TestHalfOpenFlood holds 10,000 connections that sent half an HTTP
// request line to a relay in another process while two real clients
// connect and exchange datagrams through it; the relay closes every
// half-open connection after its header timeout.
func TestHalfOpenFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("flood: skipped in -short mode")
	}
	const want = 10_000
	const headerTimeout = 3 * time.Second
	// Our end holds one descriptor per connection (the relay's end is in
	// the child process).
	if got, err := relayserver.RaiseFileLimit(want + 1024); got != 0 && got < want+256 {
		t.Fatalf("descriptor limit %d is below the %d connections of the test (%v)", got, want, err)
	}
	child := exec.Command(os.Args[0], "-test.run", "^TestRelayChildProcess$", "-test.v")
	child.Env = append(os.Environ(), "IROH_TEST_RELAY_CHILD=1")
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { child.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			child.Process.Kill()
			<-done
		}
	})
	var addr, url string
	sc := bufio.NewScanner(stdout)
	for scanWithin(sc, child, 30*time.Second) {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "RELAY" {
			addr, url = f[1], f[2]
			break
		}
	}
	if addr == "" {
		t.Fatal("relay child printed no address within 30s")
	}
	go io.Copy(io.Discard, stdout)

	flood := make([]net.Conn, 0, want)
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	start := time.Now()
	for range want {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("flood dial %d: %v", len(flood), err)
		}
		if _, err := c.Write([]byte("GET /rel")); err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	t.Logf("%d half-open connections in %v", len(flood), time.Since(start).Round(time.Millisecond))

	// Real clients still get through and forward.
	a := newTestClient(t, url, nil)
	b := newTestClient(t, url, nil)
	waitConnected(t, a, b)
	a.Send(b.id(), 0, 0, []byte("through the flood"))
	if got := b.expect(t, 10*time.Second); string(got.contents) != "through the flood" {
		t.Fatalf("got %q", got.contents)
	}

	// Every half-open connection is closed by the relay soon after the
	// header timeout.
	deadline := start.Add(headerTimeout + 30*time.Second)
	buf := make([]byte, 512)
	for i, c := range flood {
		c.SetReadDeadline(deadline)
		for {
			_, err := c.Read(buf)
			if err == nil {
				continue // the 408 response, if any
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("half-open connection %d still open %v after the flood began", i, time.Since(start))
			}
			break
		}
	}
	t.Logf("all closed %v after the flood began", time.Since(start).Round(time.Millisecond))
}

// TestConnCapPerIP: connections past MaxConnsPerIP are closed at accept
// and counted; the ones within keep working.
func TestConnCapPerIP(t *testing.T) {
	r := relaytest.Start(t, &relayserver.Options{MaxConnsPerIP: 20})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 25 {
		c, err := net.Dial("tcp", r.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	eventually(t, "5 refusals counted", func() bool {
		return testutil.MetricValue(r.Server.Metrics().ConnsRefused.WithLabelValues("per_ip")) == 5
	})
	// A connection within the cap is served.
	fmt.Fprintf(conns[0], "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
	conns[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 12)
	if _, err := conns[0].Read(buf); err != nil || string(buf) != "HTTP/1.1 200" {
		t.Fatalf("ping within the cap: %q %v", buf, err)
	}
}
