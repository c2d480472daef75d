package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTwoProcesses builds the program and runs it as people do (a sender
// that starts its receiver), with 4 streams and --json, and checks that
// every byte arrived, the figures are there, and --cpuprofile wrote a
// profile of each side of each run.
func TestTwoProcesses(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "quicgo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const n = 8<<20 + 3
	prof := t.TempDir()
	// Bounded: a stuck sender or receiver fails the test rather than hanging
	// it; WaitDelay stops waiting for the output of a receiver that outlives
	// a killed sender.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--bytes", "8388611", "--streams", "4", "--runs", "2", "--json", "--cpuprofile", prof)
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		t.Fatalf("want 2 run lines and a summary:\n%s", out)
	}
	for i, l := range lines {
		var v map[string]result
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		key := "bench_quic_run"
		if i == 2 {
			key = "bench_quic"
		}
		r, ok := v[key]
		if !ok {
			t.Fatalf("line %q: no %s", l, key)
		}
		if r.Impl != "quic-go" || r.Bytes != n || r.Received != n || r.Streams != 4 || r.MBps <= 0 || r.SenderCPU <= 0 || r.ReceiverCPU <= 0 || r.CPUPerGiB <= 0 || r.ConnectMs <= 0 || r.EchoMs < r.ConnectMs {
			t.Errorf("line %q: want quic-go, %d bytes received over 4 streams, and figures (echo after connect)", l, n)
		}
	}
	for _, f := range []string{"sender-1.prof", "receiver-1.prof", "sender-2.prof", "receiver-2.prof"} {
		if fi, err := os.Stat(filepath.Join(prof, f)); err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: %v", f, err)
		}
	}
}

// TestUsage checks that bad flags are refused with exit code 2.
func TestUsage(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "quicgo")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"--streams", "0"}, {"--bytes", "2", "--streams", "3"}, {"--runs", "0"}, {"extra"}, {"receiver", "x"}} {
		err := exec.Command(bin, args...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit status 2", args, err)
		}
	}
}
