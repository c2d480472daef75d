package main

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/gossip"
	"github.com/iroh-go/iroh/internal/testutil"
)

// lineWaiter collects lines written to it and lets a test wait for one.
type lineWaiter struct {
	pw    *io.PipeWriter
	lines chan string
}

func newLineWaiter() *lineWaiter {
	pr, pw := io.Pipe()
	lw := &lineWaiter{pw: pw, lines: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lw.lines <- sc.Text()
		}
		close(lw.lines)
	}()
	return lw
}

func (lw *lineWaiter) Write(p []byte) (int, error) { return lw.pw.Write(p) }

func (lw *lineWaiter) wait(t *testing.T, pred func(string) bool) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lw.lines:
			if !ok {
				t.Fatal("output ended")
			}
			if pred(l) {
				return l
			}
		case <-timeout:
			t.Fatal("timed out waiting for a line")
		}
	}
}

// chatNode runs `gossip chat` in-process.
type chatNode struct {
	stdin  *io.PipeWriter
	stdout *lineWaiter
	stderr *lineWaiter
	done   chan error
}

func startChat(t *testing.T, ctx context.Context, args ...string) *chatNode {
	t.Helper()
	pr, pw := io.Pipe()
	n := &chatNode{stdin: pw, stdout: newLineWaiter(), stderr: newLineWaiter(), done: make(chan error, 1)}
	go func() {
		n.done <- run(ctx, append(append([]string{"gossip", "chat"}, args...), loopbackFlags...), testEnv(pr, n.stdout, n.stderr))
		n.stdout.pw.Close()
		n.stderr.pw.Close()
	}()
	t.Cleanup(func() { pw.Close() })
	return n
}

func isGossipTicket(l string) bool { return strings.HasPrefix(l, gossip.TicketKind) }

func TestGossipChat(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := startChat(t, ctx, "--topic", "test room")
	tk := a.stderr.wait(t, isGossipTicket)
	tkt, err := gossip.ParseTicket(tk)
	if err != nil || tkt.Topic != gossip.TopicFromName("test room") || len(tkt.Peers) != 1 {
		t.Fatalf("ticket %q: %+v %v", tk, tkt, err)
	}
	b := startChat(t, ctx, tk)
	b.stderr.wait(t, isGossipTicket)
	b.stderr.wait(t, func(l string) bool { return strings.HasPrefix(l, "neighbor up") })
	c := startChat(t, ctx, "--topic", "test room", tk)
	c.stderr.wait(t, func(l string) bool { return strings.HasPrefix(l, "neighbor up") })

	io.WriteString(b.stdin, "hello from b\n")
	var bID string
	for _, n := range []*chatNode{a, c} {
		l := n.stdout.wait(t, func(l string) bool { return strings.HasSuffix(l, ": hello from b") })
		bID = strings.TrimSuffix(l, ": hello from b")
	}
	if len(bID) != 10 {
		t.Fatalf("sender id %q", bID)
	}
	io.WriteString(a.stdin, "hi from a\n")
	for _, n := range []*chatNode{b, c} {
		n.stdout.wait(t, func(l string) bool { return strings.HasSuffix(l, ": hi from a") })
	}

	// ticket inspect understands the gossip ticket.
	var out syncBuffer
	if err := run(ctx, []string{"ticket", "inspect", tk}, testEnv(nil, &out, io.Discard)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kind: gossip") || !strings.Contains(out.String(), "topic: "+gossip.TopicFromName("test room").String()) {
		t.Fatalf("inspect: %s", out.String())
	}
	cancel()
	for _, n := range []*chatNode{a, b, c} {
		if err := testutil.WaitFor(t, n.done, 30*time.Second, "chat returning after cancel"); err != nil {
			t.Fatalf("chat: %v", err)
		}
	}
}

func TestGossipChatUsage(t *testing.T) {
	for _, args := range [][]string{{"gossip"}, {"gossip", "chat"}, {"gossip", "chat", "nonsense"}} {
		err := run(context.Background(), args, testEnv(strings.NewReader(""), io.Discard, io.Discard))
		if exitCode(err, io.Discard) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// TestGossipChatBinary: two processes of the built binary chat.
func TestGossipChatBinary(t *testing.T) {
	bin := buildIroh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := func(args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner, *bufio.Scanner) {
		cmd := exec.CommandContext(ctx, bin, append(append([]string{"gossip", "chat"}, args...), loopbackFlags...)...)
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		errp, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
		return cmd, in, bufio.NewScanner(out), bufio.NewScanner(errp)
	}
	scanFor := func(sc *bufio.Scanner, pred func(string) bool) string {
		for sc.Scan() {
			if pred(sc.Text()) {
				return sc.Text()
			}
		}
		t.Fatalf("output ended: %v", sc.Err())
		return ""
	}
	_, _, aOut, aErr := start("--topic", "binary room")
	tk := scanFor(aErr, isGossipTicket)
	go io.Copy(io.Discard, readerOf(aErr))
	_, bIn, _, bErr := start(tk)
	scanFor(bErr, func(l string) bool { return strings.HasPrefix(l, "neighbor up") })
	go io.Copy(io.Discard, readerOf(bErr))
	io.WriteString(bIn, "over the wire\n")
	scanFor(aOut, func(l string) bool { return strings.HasSuffix(l, ": over the wire") })
}

// readerOf drains the rest of a scanner's input.
func readerOf(sc *bufio.Scanner) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		for sc.Scan() {
		}
		pw.Close()
	}()
	return pr
}
