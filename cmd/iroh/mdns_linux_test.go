//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/ticket"
)

// TestPipeDialByIDOverMDNS runs `iroh pipe listen --mdns` and `iroh pipe
// connect ID --mdns` in a network namespace of their own whose loopback
// carries multicast, so mDNS packets stay inside it; the connector knows
// only the listener's id.
func TestPipeDialByIDOverMDNS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if os.Geteuid() != 0 {
		testutil.SkipUnlessCI(t, "needs root to create a network namespace for multicast")
	}
	ns := fmt.Sprintf("iroh-mdns-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		testutil.SkipUnlessCI(t, "network namespaces unavailable: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "set", "lo", "multicast", "on"},
		{"-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	bin := buildIroh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	flags := []string{"--mdns", "--offline", "--bind4", "127.0.0.1:0", "--bind6", ""}
	var got bytes.Buffer
	listen := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin, "pipe", "listen"}, flags...)...)
	listen.Stdout = &got
	stderr, _ := listen.StderrPipe()
	if err := listen.Start(); err != nil {
		t.Fatal(err)
	}
	defer listen.Process.Kill()
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() {
		t.Fatal("no ticket")
	}
	go io.Copy(io.Discard, stderr)
	a, err := ticket.ParseEndpoint(sc.Text())
	if err != nil {
		t.Fatal(err)
	}
	var cerr bytes.Buffer
	connect := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin, "pipe", "connect", a.ID.String()}, flags...)...)
	connect.Stdin = strings.NewReader("found over mdns")
	connect.Stderr = &cerr
	if err := connect.Run(); err != nil {
		t.Fatalf("connect by id over mDNS: %v\n%s", err, cerr.String())
	}
	if err := listen.Wait(); err != nil {
		t.Fatalf("listen: %v", err)
	}
	if got.String() != "found over mdns" {
		t.Fatalf("listener got %q", got.String())
	}
}
