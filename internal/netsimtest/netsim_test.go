//go:build linux

package netsimtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/testutil"
)

const (
	relayHost = "198.18.0.10"
	relayURL  = "http://" + relayHost + ":3340/"
)

// sim is one running netsim network, torn down when the test ends.
type sim struct {
	t      *testing.T
	prefix string
	script string
	bin    string
	env    map[string]string
}

var build struct {
	sync.Once
	bin string
	err error
}

func irohBinary(t *testing.T) string {
	t.Helper()
	build.Do(func() {
		dir, err := os.MkdirTemp("", "iroh-netsim")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "iroh")
		cmd := exec.Command("go", "build", "-o", build.bin, "./cmd/iroh")
		cmd.Dir = testutil.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

func startSim(t *testing.T, topology string, env ...string) *sim {
	t.Helper()
	if testing.Short() {
		t.Skip("netsim: skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		testutil.SkipUnlessCI(t, "netsim: needs root")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			testutil.SkipUnlessCI(t, "netsim: %s is not installed (netsim.sh deps)", tool)
		}
	}
	s := &sim{t: t, prefix: fmt.Sprintf("ir%d", os.Getpid()%1000000), bin: irohBinary(t)}
	s.script = filepath.Join(testutil.SharedDir(t), "netsim", "netsim.sh")
	probe := "ns-" + s.prefix + "-probe"
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		testutil.SkipUnlessCI(t, "netsim: network namespaces do not work here: %v: %s", err, out)
	}
	exec.Command("ip", "netns", "del", probe).Run()
	if out, err := s.netsim(env, "up", topology); err != nil {
		t.Fatalf("netsim up %s: %v\n%s", topology, err, out)
	}
	t.Cleanup(func() {
		if out, err := s.netsim(nil, "down"); err != nil {
			t.Errorf("netsim down: %v\n%s", err, out)
		}
	})
	out, err := s.netsim(nil, "env")
	if err != nil {
		t.Fatalf("netsim env: %v\n%s", err, out)
	}
	s.env = map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			s.env[k] = v
		}
	}
	return s
}

func (s *sim) netsim(env []string, args ...string) (string, error) {
	// Bounded: a stuck setup or teardown fails the test rather than hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{s.script}, args...)...)
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(append(os.Environ(), "NETSIM_PREFIX="+s.prefix, "NETSIM_QUIET=1"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *sim) ns(host string) string { return s.env["NETSIM_NS_"+strings.ToUpper(host)] }

// cmd returns `iroh ARGS...` run inside HOST's namespace.
func (s *sim) cmd(host string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", s.ns(host), s.bin}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// proc is a running iroh process whose stderr is collected.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	notify chan string
	done   chan struct{}
}

func (s *sim) start(host string, stdin io.Reader, stdout io.Writer, args ...string) *proc {
	s.t.Helper()
	p := &proc{cmd: s.cmd(host, args...), notify: make(chan string, 1024), done: make(chan struct{})}
	p.cmd.Stdin = stdin
	p.cmd.Stdout = stdout
	errp, err := p.cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(errp)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.notify <- sc.Text():
			default:
			}
		}
	}()
	s.t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	if p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		// Wait also waits for the goroutine copying stdin: end it.
		if pr, ok := p.cmd.Stdin.(*io.PipeReader); ok {
			pr.Close()
		}
		p.cmd.Wait()
	}
}

// waitLine waits for a stderr line with the prefix and returns it.
func (p *proc) waitLine(t *testing.T, prefix string, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if strings.HasPrefix(l, prefix) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no stderr line %q within %s; stderr:\n%s", prefix, d, p.stderr())
		}
	}
}

// paths returns the "path: ..." lines printed so far.
func (p *proc) paths() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines {
		if strings.HasPrefix(l, "path: ") {
			out = append(out, strings.TrimPrefix(l, "path: "))
		}
	}
	return out
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	tail := p.lines
	if len(tail) > 60 {
		tail = tail[len(tail)-60:]
	}
	return strings.Join(tail, "\n")
}

// startRelay runs the relay (with STUN) on the relay host and waits until
// it answers from peer1's side.
func (s *sim) startRelay() *proc { return s.startRelayOn("3340", "3478") }

// startRelayOn runs a relay with its HTTP and STUN ports.
func (s *sim) startRelayOn(httpPort, stunPort string) *proc {
	s.t.Helper()
	p := s.start("relay", nil, io.Discard, "relay", "--dev", "--http-addr", relayHost+":"+httpPort, "--stun-addr", relayHost+":"+stunPort)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		probe := exec.Command("ip", "netns", "exec", s.ns("peer1"), "bash", "-c", "exec 3<>/dev/tcp/"+relayHost+"/"+httpPort)
		if probe.Run() == nil {
			return p
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("relay did not come up:\n%s", p.stderr())
	return nil
}

// transfer runs a listener on peer2 and a connector on peer1; the
// connector's stdin is fed by the returned writer.
type transfer struct {
	listen, connect *proc
	in              *io.PipeWriter
	out             *os.File
	hash            hashWriter
}

type hashWriter struct {
	mu sync.Mutex
	h  interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (s *sim) startTransfer(extra ...string) *transfer {
	s.t.Helper()
	tr := &transfer{}
	tr.hash.h = sha256.New()
	f, err := os.CreateTemp(s.t.TempDir(), "recv")
	if err != nil {
		s.t.Fatal(err)
	}
	tr.out = f
	common := append([]string{"--offline", "--relay", relayURL, "--bind6", "", "-v"}, extra...)
	devnull, _ := os.Open(os.DevNull)
	s.t.Cleanup(func() { devnull.Close() })
	tr.listen = s.start("peer2", devnull, f, append([]string{"pipe", "listen"}, common...)...)
	tk := tr.listen.waitLine(s.t, "endpoint", 20*time.Second)
	pr, pw := io.Pipe()
	tr.in = pw
	tr.connect = s.start("peer1", pr, io.Discard, append([]string{"pipe", "connect", tk}, common...)...)
	return tr
}

// send writes n random bytes in chunks, pausing between them.
func (tr *transfer) send(t *testing.T, n int, chunk int, pause time.Duration) {
	t.Helper()
	if err := waitSent(t, tr.sendAsync(n, chunk, pause), sendTimeout); err != nil {
		t.Fatal(err)
	}
}

// sendTimeout bounds writing one batch to the connector: a connector that
// stops reading its stdin fails the test rather than blocking the write
// forever. It is generous: the largest batch is 100 MiB over a lossy link.
const sendTimeout = 5 * time.Minute

// waitSent waits for the result of sendAsync, or fails the test after d.
func waitSent(t *testing.T, sending <-chan error, d time.Duration) error {
	t.Helper()
	select {
	case err := <-sending:
		return err
	case <-time.After(d):
		t.Fatalf("writing to the connector did not finish within %v (is it still reading its stdin?)", d)
		return nil
	}
}

// sendAsync is send on a goroutine of its own; the error (nil when all
// was written) arrives on the channel, for the test goroutine to check
// (t.Fatal must not be called from another goroutine).
func (tr *transfer) sendAsync(n int, chunk int, pause time.Duration) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- tr.write(n, chunk, pause) }()
	return ch
}

func (tr *transfer) write(n int, chunk int, pause time.Duration) error {
	buf := make([]byte, chunk)
	for sent := 0; sent < n; sent += chunk {
		rand.Read(buf)
		if _, err := tr.in.Write(buf); err != nil {
			return fmt.Errorf("write to connector: %w", err)
		}
		tr.hash.h.Write(buf)
		tr.hash.n += int64(chunk)
		if pause > 0 {
			time.Sleep(pause)
		}
	}
	return nil
}

// finish closes the connector's stdin, waits for both sides and checks
// that what arrived is byte-identical to what was sent.
func (tr *transfer) finish(t *testing.T, d time.Duration) {
	t.Helper()
	tr.in.Close()
	waitExit(t, "connect", tr.connect, d)
	waitExit(t, "listen", tr.listen, d)
	tr.out.Seek(0, 0)
	h := sha256.New()
	n, _ := io.Copy(h, tr.out)
	if n != tr.hash.n || string(h.Sum(nil)) != string(tr.hash.h.Sum(nil)) {
		t.Fatalf("received %d bytes, sent %d: not identical", n, tr.hash.n)
	}
}

func waitExit(t *testing.T, name string, p *proc, d time.Duration) {
	t.Helper()
	ch := make(chan error, 1)
	go func() { <-p.done; ch <- p.cmd.Wait() }()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s exited: %v\n%s", name, err, p.stderr())
		}
	case <-time.After(d):
		t.Fatalf("%s did not finish within %s\n%s", name, d, p.stderr())
	}
}

// waitPath waits until the connector reports a path starting with kind.
func waitPath(t *testing.T, p *proc, kind string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if ps := p.paths(); len(ps) > 0 && strings.HasPrefix(ps[len(ps)-1], kind) {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %q path within %s; paths %q\n%s", kind, d, p.paths(), p.stderr())
	return 0
}

// waitPathQuiet is waitPath for a second goroutine: it returns d (not
// t.Fatal) when the path never comes.
func waitPathQuiet(p *proc, kind string, d time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < d {
		if ps := p.paths(); len(ps) > 0 && strings.HasPrefix(ps[len(ps)-1], kind) {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return d
}

// netReport runs `iroh net-report` on peer1 against the relay and a second
// STUN server (another relay process on ports 3341/3479), and returns its
// output.
func (s *sim) netReport() string {
	s.t.Helper()
	s.startRelayOn("3341", "3479")
	cmd := s.cmd("peer1", "net-report", "--relay", relayURL, "--stun", relayHost+":3479", "--bind6", "")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("net-report: %v", err)
	}
	// Bounded: a net report that never ends is killed (its process group)
	// and fails the test.
	const limit = 60 * time.Second
	kill := time.AfterFunc(limit, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	if !kill.Stop() {
		s.t.Fatalf("net-report did not finish within %v\n%s", limit, out.String())
	}
	if err != nil {
		s.t.Fatalf("net-report: %v\n%s", err, out.String())
	}
	return out.String()
}

func TestTwoNATsRelayThenDirect(t *testing.T) {
	s := startSim(t, "two-nats")
	relay := s.startRelay()
	rep := s.netReport()
	if !strings.Contains(rep, "public ipv4: "+s.env["NETSIM_NAT1_IP"]+":") || !strings.Contains(rep, "mapping varies by destination (ipv4): no") {
		t.Fatalf("net report behind an endpoint-independent NAT:\n%s", rep)
	}
	tr := s.startTransfer()
	tr.connect.waitLine(t, "path: ", 20*time.Second)
	first := tr.connect.paths()[0]
	if !strings.HasPrefix(first, "relay") {
		t.Fatalf("connection did not start on the relay: %q", first)
	}
	// Keep data flowing across the switch to direct.
	sending := tr.sendAsync(24<<20, 256<<10, 20*time.Millisecond)
	lc := make(chan time.Duration, 1)
	go func() { lc <- waitPathQuiet(tr.listen, "direct", 10*time.Second) }()
	took := waitPath(t, tr.connect, "direct", 10*time.Second)
	tookListen := <-lc
	t.Logf("direct after %s (listener %s); paths %q", took, tookListen, tr.connect.paths())
	// Both sides switch within a few round trips of each other (issue 13
	// item 5: the dialer used to lag the listener by a full second).
	if gap := (took - tookListen).Abs(); gap > 300*time.Millisecond {
		t.Errorf("dialer direct after %s, listener after %s: %s apart", took, tookListen, gap)
	}
	if err := waitSent(t, sending, sendTimeout); err != nil {
		t.Fatal(err)
	}
	// The relay dies: the direct path carries on.
	relay.kill()
	tr.send(t, 8<<20, 256<<10, 10*time.Millisecond)
	tr.finish(t, 60*time.Second)
	ps := tr.connect.paths()
	if last := ps[len(ps)-1]; !strings.HasPrefix(last, "direct") {
		t.Fatalf("path after the relay died: %q", last)
	}
}

func TestSymmetricStaysOnRelayAndSurvivesRestart(t *testing.T) {
	s := startSim(t, "symmetric")
	relay := s.startRelay()
	if rep := s.netReport(); !strings.Contains(rep, "mapping varies by destination (ipv4): yes") {
		t.Fatalf("net report behind a symmetric NAT:\n%s", rep)
	}
	tr := s.startTransfer()
	tr.connect.waitLine(t, "path: ", 20*time.Second)
	tr.send(t, 8<<20, 256<<10, 10*time.Millisecond)
	// The relay restarts: the relayed connection recovers.
	relay.kill()
	time.Sleep(500 * time.Millisecond)
	s.startRelay()
	tr.send(t, 4<<20, 256<<10, 10*time.Millisecond)
	tr.finish(t, 90*time.Second)
	for _, p := range tr.connect.paths() {
		if strings.HasPrefix(p, "direct") {
			t.Fatalf("went direct through symmetric NATs: %q", tr.connect.paths())
		}
	}
}

// TestMixedStaysOnRelay: peer1 behind an endpoint-independent NAT, peer2
// behind a symmetric one. Hole punching cannot work (peer2's public port
// differs per destination and both NATs filter), so the connection stays
// on the relay and everything arrives; net report from peer1 sees an
// endpoint-independent mapping.
func TestMixedStaysOnRelay(t *testing.T) {
	s := startSim(t, "mixed")
	s.startRelay()
	if rep := s.netReport(); !strings.Contains(rep, "mapping varies by destination (ipv4): no") {
		t.Fatalf("net report behind nat1 (endpoint-independent) of mixed:\n%s", rep)
	}
	tr := s.startTransfer()
	tr.connect.waitLine(t, "path: ", 20*time.Second)
	tr.send(t, 8<<20, 256<<10, 10*time.Millisecond)
	tr.finish(t, 90*time.Second)
	for _, p := range tr.connect.paths() {
		if strings.HasPrefix(p, "direct") {
			t.Fatalf("went direct through a symmetric NAT: %q", tr.connect.paths())
		}
	}
}

// TestLossy100MiB moves 100 MiB through the lossy topology: 1% loss on
// every crossing of the public segment. The one-way delay is 5 ms instead
// of netsim's default 20 ms because quic-go's loss-based congestion
// control moves ~1 MB/s at 1% loss and 40 ms RTT, which would make this
// test take minutes; IROH_NETSIM_DELAY overrides it.
func TestLossy100MiB(t *testing.T) {
	delay := os.Getenv("IROH_NETSIM_DELAY")
	if delay == "" {
		delay = "5ms"
	}
	s := startSim(t, "lossy", "LOSS=1%", "DELAY="+delay)
	s.startRelay()
	tr := s.startTransfer()
	tr.connect.waitLine(t, "path: ", 20*time.Second)
	start := time.Now()
	tr.send(t, 100<<20, 1<<20, 0)
	tr.finish(t, 240*time.Second)
	t.Logf("100 MiB in %s; paths %q", time.Since(start), tr.connect.paths())
	direct := false
	for _, p := range tr.connect.paths() {
		direct = direct || strings.HasPrefix(p, "direct")
	}
	if !direct {
		t.Errorf("lossy two-nats never went direct: %q", tr.connect.paths())
	}
}

var _ = context.Background

// TestTwoNATsDirectDiesFallsBackToRelay: once the direct path works, nat1
// starts dropping all forwarded UDP; the connection falls back to the relay
// (no reset) and everything arrives.
func TestTwoNATsDirectDiesFallsBackToRelay(t *testing.T) {
	s := startSim(t, "two-nats")
	s.startRelay()
	tr := s.startTransfer()
	tr.connect.waitLine(t, "path: ", 20*time.Second)
	sending := tr.sendAsync(4<<20, 256<<10, 20*time.Millisecond)
	waitPath(t, tr.connect, "direct", 10*time.Second)
	if err := waitSent(t, sending, sendTimeout); err != nil {
		t.Fatal(err)
	}
	block := exec.Command("ip", "netns", "exec", s.ns("nat1"), "nft", "-f", "-")
	block.Stdin = strings.NewReader("table inet irohblk {\n chain blockudp {\n  type filter hook forward priority -10; policy accept;\n  meta l4proto udp drop\n }\n}\n")
	if out, err := block.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	sending = tr.sendAsync(8<<20, 256<<10, 50*time.Millisecond)
	took := waitPath(t, tr.connect, "relay", 20*time.Second)
	t.Logf("back on the relay %s after UDP was cut; paths %q", took, tr.connect.paths())
	if err := waitSent(t, sending, sendTimeout); err != nil {
		t.Fatal(err)
	}
	tr.finish(t, 60*time.Second)
}
