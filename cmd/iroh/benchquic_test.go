package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
)

// benchQuicTestBytes is small enough for -race and a busy machine, big
// enough for several flow-control windows per stream.
const benchQuicTestBytes = 8 << 20

// TestBenchQuicBinary runs 'iroh bench quic' through the built binary
// (sender and receiver are two processes of it) with 1 and 4 streams and
// checks the report: the receiver read every byte, on every stream, and
// the figures are there. With 4 streams $IROH_SECRET is set, which the
// command must not give both processes (they would share one id).
func TestBenchQuicBinary(t *testing.T) {
	for _, streams := range []int{1, 4} {
		t.Run(fmt.Sprintf("streams=%d", streams), func(t *testing.T) {
			var env []string
			if streams == 4 {
				env = []string{"IROH_SECRET=" + key.NewSecretKey().HexString()}
			}
			r := runBin(t, env, "bench", "quic", "--bytes", strconv.Itoa(benchQuicTestBytes), "--streams", strconv.Itoa(streams), "--runs", "2")
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
			if len(lines) != 4 {
				t.Fatalf("want a header, 2 runs and the median, got:\n%s", r.stdout)
			}
			want := fmt.Sprintf("iroh-go: received %d of %d bytes over %d stream(s) in ", benchQuicTestBytes, benchQuicTestBytes, streams)
			re := regexp.MustCompile(` ([0-9.]+) MB/s, ([0-9.]+) CPU-s/GiB \(sender ([0-9.]+) s, receiver ([0-9.]+) s\), connect ([0-9.]+) ms, connect\+echo ([0-9.]+) ms$`)
			for i, l := range lines[1:] {
				prefix := fmt.Sprintf("run %d: ", i+1)
				if i == 2 {
					prefix = "median of 2: "
				}
				if !strings.HasPrefix(l, prefix+want) {
					t.Errorf("line %q\nwant it to start with %q", l, prefix+want)
				}
				m := re.FindStringSubmatch(l)
				if m == nil {
					t.Errorf("line %q has no MB/s, CPU, connect and echo figures", l)
					continue
				}
				if mbps, _ := strconv.ParseFloat(m[1], 64); mbps <= 0 {
					t.Errorf("line %q: MB/s %s", l, m[1])
				}
				if cpu, _ := strconv.ParseFloat(m[2], 64); cpu <= 0 {
					t.Errorf("line %q: CPU-s/GiB %s", l, m[2])
				}
			}
		})
	}
}

// TestBenchQuicJSON checks --json: one {"bench_quic_run":...} line per run
// and the medians in {"bench_quic":...}, with every byte received and
// consistent figures; and that --cpuprofile leaves a profile of each side
// of each run.
func TestBenchQuicJSON(t *testing.T) {
	const streams = 4
	prof := t.TempDir()
	r := runBin(t, nil, "bench", "quic", "--bytes", strconv.Itoa(benchQuicTestBytes+3), "--streams", strconv.Itoa(streams), "--runs", "3", "--json", "--cpuprofile", prof)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var runs []benchQuicResult
	var sum *benchQuicResult
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var v struct {
			Run *benchQuicResult `json:"bench_quic_run"`
			Sum *benchQuicResult `json:"bench_quic"`
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		switch {
		case v.Run != nil && v.Sum == nil:
			runs = append(runs, *v.Run)
		case v.Sum != nil && v.Run == nil && sum == nil:
			sum = v.Sum
		default:
			t.Fatalf("unexpected line %q", l)
		}
	}
	if len(runs) != 3 || sum == nil {
		t.Fatalf("want 3 run lines and a summary:\n%s", r.stdout)
	}
	for i, x := range append(runs, *sum) {
		if x.Impl != "iroh-go" || x.Bytes != benchQuicTestBytes+3 || x.Received != x.Bytes || x.Streams != streams {
			t.Errorf("line %d: %+v: want impl iroh-go, %d bytes sent and received over %d streams", i, x, benchQuicTestBytes+3, streams)
		}
		if x.Secs <= 0 || x.MBps <= 0 || x.SenderCPU <= 0 || x.ReceiverCPU <= 0 || x.ReceiverProc < x.ReceiverCPU || x.ConnectMs <= 0 || x.EchoMs < x.ConnectMs || x.ReceiverRSSMiB <= 0 {
			t.Errorf("line %d: missing or inconsistent figures: %+v", i, x)
		}
		gib := float64(x.Bytes) / (1 << 30)
		if i < 3 {
			if x.Run != i+1 {
				t.Errorf("line %d: run %d", i, x.Run)
			}
			if d := x.CPUPerGiB - (x.SenderCPU+x.ReceiverCPU)/gib; d > 1e-9 || d < -1e-9 {
				t.Errorf("line %d: cpu_s_per_GiB %v, want (sender+receiver)/GiB = %v", i, x.CPUPerGiB, (x.SenderCPU+x.ReceiverCPU)/gib)
			}
			if mb := float64(x.Bytes) / 1e6 / x.Secs; mb/x.MBps > 1.000001 || mb/x.MBps < 0.999999 {
				t.Errorf("line %d: MBps %v, want bytes/1e6/secs = %v", i, x.MBps, mb)
			}
		}
	}
	for _, side := range []string{"sender", "receiver"} {
		for run := 1; run <= 3; run++ {
			fi, err := os.Stat(filepath.Join(prof, fmt.Sprintf("%s-%d.prof", side, run)))
			if err != nil || fi.Size() == 0 {
				t.Errorf("%s profile of run %d: %v", side, run, err)
			}
		}
	}
	if sum.Runs != 3 {
		t.Errorf("summary runs %d, want 3", sum.Runs)
	}
	// The medians are the middle values.
	var mbps []float64
	for _, x := range runs {
		mbps = append(mbps, x.MBps)
	}
	if n := countBelow(mbps, sum.MBps); n != 1 {
		t.Errorf("median MB/s %v has %d of %v below it, want 1", sum.MBps, n, mbps)
	}
}

func countBelow(xs []float64, v float64) int {
	n := 0
	for _, x := range xs {
		if x < v {
			n++
		}
	}
	return n
}

// TestBenchQuicUsage checks that bad flags are usage errors that say what
// was wrong, before any process starts.
func TestBenchQuicUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"zero streams", []string{"--streams", "0"}, "--streams 0"},
		{"too many streams", []string{"--streams", "1001"}, "--streams 1001"},
		{"fewer bytes than streams", []string{"--bytes", "3", "--streams", "4"}, "--bytes 3"},
		{"zero runs", []string{"--runs", "0"}, "--runs 0"},
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
		{"receiver with arguments", []string{"receiver", "x"}, "takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBin(t, nil, append([]string{"bench", "quic"}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q: want exit 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

// TestBenchQuicTimeout checks that a run that outlasts --timeout stops at
// once with an error naming the run, and leaves no receiver behind to hold
// the binary's stdout open (runBin would then wait for it).
func TestBenchQuicTimeout(t *testing.T) {
	r := runBin(t, nil, "bench", "quic", "--bytes", strconv.Itoa(1<<40), "--runs", "1", "--timeout", "2s")
	if r.code != 1 || !strings.Contains(r.stderr, "iroh bench quic: run 1: ") {
		t.Fatalf("exit %d, stderr %q: want exit 1 and the run's error", r.code, r.stderr)
	}
	if r.dur > 20*time.Second {
		t.Fatalf("took %s to stop after a 2s timeout", r.dur)
	}
	t.Logf("%s after %s", strings.TrimSpace(r.stderr), r.dur.Round(time.Millisecond))
}
