package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/ticket"
)

// benchQuicALPN is the protocol of 'iroh bench quic': the sender writes
// its share of the bytes on each bidirectional stream and finishes it; the
// receiver reads the stream to its end, discarding, and answers with the
// count it read (8 bytes, big endian) before finishing its side.
const benchQuicALPN = "iroh-go/bench-quic/0"

// benchQuicEchoALPN is the first, cold connection of each run: the
// receiver echoes one byte on one stream, which times connect plus a
// 1-byte round trip.
const benchQuicEchoALPN = "iroh-go/bench-quic-echo/0"

// benchQuicReceiverArg selects the receiver process (hidden: the command
// starts it itself).
const benchQuicReceiverArg = "receiver"

// benchQuicChunk is the size of one Write of the sender and of the read
// buffer of the receiver, as in ../shared/interop/bench-rust-quic.mjs.
const benchQuicChunk = 1 << 20

func init() {
	register(&command{
		name:    "bench",
		summary: "benchmarks: QUIC streams between two processes on loopback",
		usage:   "quic [flags]",
		example: "iroh bench quic --streams 4",
		help: `Benchmarks of the iroh stack. The blob store and transfer benchmark is
'iroh blobs bench'.`,
		subs: []*command{{
			name:    "quic",
			summary: "move bytes over iroh streams between two processes on 127.0.0.1: MB/s and CPU-s/GiB",
			usage:   "[--bytes N] [--streams K] [--runs R] [--json]",
			help: `Starts a second process of this binary as the receiver; both bind iroh
endpoints on 127.0.0.1 with no relay and no address lookup (nothing leaves
loopback). The receiver prints its endpoint address on its stdout, the sender
connects to it and writes --bytes split evenly over --streams bidirectional
streams (1 MiB writes); the receiver reads every stream to its end, counting
and discarding, and answers each with the count it read. A run fails unless
every stream's count is what was sent.

Reported per run, and as medians over --runs (one fresh receiver process
each): MB/s (10^6 bytes per second, from just before the first write to the
last stream's count arriving at the sender), CPU seconds (user + sys) of each
process over its transfer window (sender: the same window; receiver: from its
first byte read until the connection ends), their sum per GiB moved
(cpu_s_per_GiB), the receiver's whole-process CPU from its exit status
(receiver_proc_cpu_s, start-up included), peak RSS, and, on a first
connection of its own made cold before the transfer, the time to connect
(connect_ms) and to connect and echo one byte on a stream (echo_ms).
bench/quicgo (a module of its own) prints the same report for raw quic-go;
scripts/bench-quic.sh runs both and Rust iroh's QUIC and prints one table.`,
			example: `iroh bench quic --bytes 1073741824 --streams 4 --runs 3
iroh bench quic --bytes 104857600 --json`,
			run: runBenchQuic,
		}},
	})
}

// benchQuicResult is one run, or (with Runs set) the medians of several.
// The JSON keys are shared with bench/quicgo and scripts/bench-quic.sh.
type benchQuicResult struct {
	Impl           string  `json:"impl"`
	Run            int     `json:"run,omitempty"`
	Runs           int     `json:"runs,omitempty"`
	Bytes          int64   `json:"bytes"`
	Streams        int     `json:"streams"`
	Received       int64   `json:"received"`
	Secs           float64 `json:"secs"`
	MBps           float64 `json:"MBps"`
	SenderCPU      float64 `json:"sender_cpu_s"`
	ReceiverCPU    float64 `json:"receiver_cpu_s"`
	CPUPerGiB      float64 `json:"cpu_s_per_GiB"`
	ReceiverProc   float64 `json:"receiver_proc_cpu_s"`
	SenderRSSMiB   float64 `json:"sender_rss_mib"`
	ReceiverRSSMiB float64 `json:"receiver_rss_mib"`
	ConnectMs      float64 `json:"connect_ms"`
	EchoMs         float64 `json:"echo_ms"`
	// LostPct is the share of the sender's packets declared lost (ours
	// only: loss makes the congestion window shrink, smaller send batches
	// and more CPU per byte).
	LostPct float64 `json:"lost_pct,omitempty"`
}

// benchQuicReport is the receiver's last line: what it read and what it cost.
type benchQuicReport struct {
	Received int64   `json:"received"`
	Streams  int     `json:"streams"`
	CPUS     float64 `json:"cpu_s"`
	RSSMiB   float64 `json:"rss_mib"`
	Err      string  `json:"error,omitempty"`
}

func runBenchQuic(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) > 0 && args[0] == benchQuicReceiverArg {
		return benchQuicReceive(ctx, env, args[1:])
	}
	fset := newFlagSet(env, "bench quic")
	bytes := fset.Int64("bytes", 1<<30, "bytes to move per run, split evenly over the streams")
	streams := fset.Int("streams", 1, "bidirectional streams, all written at once")
	runs := fset.Int("runs", 3, "runs, each with a fresh receiver process; the summary holds medians")
	asJSON := fset.Bool("json", false, `print one JSON line per run ({"bench_quic_run":...}) and the medians ({"bench_quic":...})`)
	timeout := fset.Duration("timeout", 10*time.Minute, "limit for one run")
	profDir := fset.String("cpuprofile", "", "write CPU profiles of each run's transfer, sender-N.prof and receiver-N.prof, into this directory")
	verbose := fset.Bool("v", false, "debug logs of both endpoints on stderr")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageError("unexpected argument %q", pos[0])
	case *streams < 1 || *streams > 1000:
		return usageError("--streams %d: want 1 to 1000", *streams)
	case *bytes < int64(*streams):
		return usageError("--bytes %d: want at least one byte per stream (%d)", *bytes, *streams)
	case *runs < 1:
		return usageError("--runs %d: want at least 1", *runs)
	case *timeout <= 0:
		return usageError("--timeout must be positive")
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(env.stdout, "iroh bench quic: %d bytes over %d stream(s), %d run(s), two processes on 127.0.0.1\n", *bytes, *streams, *runs)
	}
	var rs []benchQuicResult
	for i := range *runs {
		rctx, cancel := context.WithTimeout(ctx, *timeout)
		var prof [2]string
		if *profDir != "" {
			prof[0] = filepath.Join(*profDir, fmt.Sprintf("sender-%d.prof", i+1))
			prof[1] = filepath.Join(*profDir, fmt.Sprintf("receiver-%d.prof", i+1))
		}
		r, err := benchQuicRun(rctx, env, exe, *bytes, *streams, prof, *verbose)
		cancel()
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		r.Run = i + 1
		rs = append(rs, r)
		if *asJSON {
			line, _ := json.Marshal(map[string]any{"bench_quic_run": r})
			fmt.Fprintln(env.stdout, string(line))
		} else {
			fmt.Fprintf(env.stdout, "run %d: %s\n", r.Run, r.text())
		}
	}
	m := benchQuicMedian(rs)
	if *asJSON {
		line, _ := json.Marshal(map[string]any{"bench_quic": m})
		fmt.Fprintln(env.stdout, string(line))
	} else {
		fmt.Fprintf(env.stdout, "median of %d: %s\n", m.Runs, m.text())
	}
	return nil
}

// text is the human form of a result, the same as bench/quicgo prints.
func (r benchQuicResult) text() string {
	return fmt.Sprintf("%s: received %d of %d bytes over %d stream(s) in %.3f s: %.1f MB/s, %.2f CPU-s/GiB (sender %.2f s, receiver %.2f s), connect %.1f ms, connect+echo %.1f ms",
		r.Impl, r.Received, r.Bytes, r.Streams, r.Secs, r.MBps, r.CPUPerGiB, r.SenderCPU, r.ReceiverCPU, r.ConnectMs, r.EchoMs)
}

// benchQuicMedian takes the median of every measured figure on its own.
func benchQuicMedian(rs []benchQuicResult) benchQuicResult {
	med := func(f func(benchQuicResult) float64) float64 {
		vs := make([]float64, len(rs))
		for i, r := range rs {
			vs[i] = f(r)
		}
		sort.Float64s(vs)
		n := len(vs)
		if n%2 == 1 {
			return vs[n/2]
		}
		return (vs[n/2-1] + vs[n/2]) / 2
	}
	m := rs[0]
	m.Run, m.Runs = 0, len(rs)
	for _, r := range rs {
		m.Received = min(m.Received, r.Received) // the worst run: every byte, or not
	}
	m.Secs = med(func(r benchQuicResult) float64 { return r.Secs })
	m.MBps = med(func(r benchQuicResult) float64 { return r.MBps })
	m.SenderCPU = med(func(r benchQuicResult) float64 { return r.SenderCPU })
	m.ReceiverCPU = med(func(r benchQuicResult) float64 { return r.ReceiverCPU })
	m.CPUPerGiB = med(func(r benchQuicResult) float64 { return r.CPUPerGiB })
	m.ReceiverProc = med(func(r benchQuicResult) float64 { return r.ReceiverProc })
	m.SenderRSSMiB = med(func(r benchQuicResult) float64 { return r.SenderRSSMiB })
	m.ReceiverRSSMiB = med(func(r benchQuicResult) float64 { return r.ReceiverRSSMiB })
	m.ConnectMs = med(func(r benchQuicResult) float64 { return r.ConnectMs })
	m.EchoMs = med(func(r benchQuicResult) float64 { return r.EchoMs })
	m.LostPct = med(func(r benchQuicResult) float64 { return r.LostPct })
	return m
}

// benchQuicBind binds the endpoint of either process through
// endpointFlags, as every command does: 127.0.0.1 only, offline with no
// relay or lookup given (nothing leaves loopback), and always a new key,
// never $IROH_SECRET, so the two processes have different ids.
func benchQuicBind(ctx context.Context, env *cmdEnv, verbose bool, alpns []string) (*iroh.Endpoint, error) {
	ef := endpointFlags{bind4: "127.0.0.1:0", offline: true, verbose: verbose}
	noSecret := *env
	noSecret.getenv = func(string) string { return "" }
	return ef.bind(ctx, &noSecret, alpns)
}

// benchQuicRun starts one receiver process and sends to it.
// prof, if set, names the CPU profile files of the transfer: the sender's
// and the receiver's.
func benchQuicRun(ctx context.Context, env *cmdEnv, exe string, total int64, streams int, prof [2]string, verbose bool) (benchQuicResult, error) {
	r := benchQuicResult{Impl: "iroh-go", Bytes: total, Streams: streams}
	cmd := exec.CommandContext(ctx, exe, "bench", "quic", benchQuicReceiverArg)
	if verbose {
		cmd.Args = append(cmd.Args, "-v")
	}
	var profFile *os.File
	if prof[0] != "" {
		cmd.Args = append(cmd.Args, "--cpuprofile", prof[1])
		f, err := os.Create(prof[0])
		if err != nil {
			return r, err
		}
		defer f.Close()
		profFile = f
	}
	cmd.Stderr = env.stderr
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("start receiver: %w", err)
	}
	waited := false
	defer func() {
		if !waited {
			stdin.Close()
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	dec := json.NewDecoder(stdout)
	var hello struct {
		Addr string `json:"addr"`
	}
	if err := dec.Decode(&hello); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return r, fmt.Errorf("receiver: no address line: %w", err)
	}
	addr, err := ticket.ParseEndpoint(hello.Addr)
	if err != nil {
		return r, fmt.Errorf("receiver address: %w", err)
	}

	ep, err := benchQuicBind(ctx, env, verbose, nil)
	if err != nil {
		return r, err
	}
	defer ep.Close(context.Background())
	if r.ConnectMs, r.EchoMs, err = benchQuicEcho(ctx, ep, addr); err != nil {
		return r, fmt.Errorf("echo: %w", err)
	}
	conn, err := ep.Connect(ctx, addr, benchQuicALPN)
	if err != nil {
		return r, err
	}
	// A timeout or an interrupt ends the transfer at once: writes do not
	// take a context.
	stop := context.AfterFunc(ctx, func() { conn.Close(1, "interrupted") })
	defer stop()
	ss := make([]*iroh.Stream, streams)
	for i := range ss {
		if ss[i], err = conn.OpenStream(ctx); err != nil {
			conn.Close(1, "open stream failed")
			return r, fmt.Errorf("open stream %d: %w", i, err)
		}
	}
	chunk := make([]byte, benchQuicChunk)
	for i := range chunk {
		chunk[i] = 0x5a
	}
	errs := make([]error, streams)
	var received atomic.Int64
	var wg sync.WaitGroup
	if profFile != nil {
		if err := pprof.StartCPUProfile(profFile); err != nil {
			return r, err
		}
	}
	cpu0, _ := rusage()
	start := time.Now()
	for i, s := range ss {
		share := total / int64(streams)
		if int64(i) < total%int64(streams) {
			share++
		}
		wg.Go(func() {
			n, err := benchQuicSend(s, chunk, share)
			received.Add(n)
			if err != nil {
				errs[i] = fmt.Errorf("stream %d: %w", i, err)
				conn.Close(1, "stream failed") // unblocks the other streams
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	cpu1, rss := rusage()
	if profFile != nil {
		pprof.StopCPUProfile()
	}
	if st := conn.Stats(); st.PacketsSent > 0 {
		r.LostPct = 100 * float64(st.PacketsLost) / float64(st.PacketsSent)
	}
	conn.Close(0, "done")
	// The receiver ends on the connection's close, or at the latest when
	// its stdin closes.
	stdin.Close()
	var rep benchQuicReport
	decErr := dec.Decode(&rep)
	waitErr := cmd.Wait()
	waited = true
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("transfer stopped (--timeout or interrupt): %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	if decErr != nil {
		return r, fmt.Errorf("receiver: no report line: %w (exit: %v)", decErr, waitErr)
	}
	if rep.Err != "" {
		return r, fmt.Errorf("receiver: %s", rep.Err)
	}
	if waitErr != nil {
		return r, fmt.Errorf("receiver: %w", waitErr)
	}
	r.Received = rep.Received
	if rep.Received != total || received.Load() != total || rep.Streams != streams {
		return r, fmt.Errorf("receiver read %d bytes on %d streams, acknowledged %d; sent %d on %d", rep.Received, rep.Streams, received.Load(), total, streams)
	}
	ps := cmd.ProcessState
	r.Secs = el.Seconds()
	r.MBps = float64(total) / 1e6 / r.Secs
	r.SenderCPU = (cpu1 - cpu0).Seconds()
	r.ReceiverCPU = rep.CPUS
	r.CPUPerGiB = (r.SenderCPU + r.ReceiverCPU) / (float64(total) / (1 << 30))
	r.ReceiverProc = (ps.UserTime() + ps.SystemTime()).Seconds()
	r.SenderRSSMiB = float64(rss) / (1 << 20)
	r.ReceiverRSSMiB = rep.RSSMiB
	return r, nil
}

// benchQuicEcho connects to addr with the echo ALPN (the first connection
// between the two endpoints), sends one byte on a stream and reads it back.
// It returns the milliseconds to connect and to the echo's arrival, both
// from the start of Connect.
func benchQuicEcho(ctx context.Context, ep *iroh.Endpoint, addr iroh.EndpointAddr) (connectMs, echoMs float64, err error) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	t0 := time.Now()
	conn, err := ep.Connect(ctx, addr, benchQuicEchoALPN)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(0, "")
	stop := context.AfterFunc(ctx, func() { conn.Close(1, "interrupted") }) // reads take no context
	defer stop()
	connectMs = ms(time.Since(t0))
	s, err := conn.OpenStream(ctx)
	if err != nil {
		return 0, 0, err
	}
	if _, err := s.Write([]byte{0xec}); err != nil {
		return 0, 0, err
	}
	if err := s.Close(); err != nil {
		return 0, 0, err
	}
	var b [1]byte
	if _, err := io.ReadFull(s, b[:]); err != nil {
		return 0, 0, err
	}
	echoMs = ms(time.Since(t0))
	if b[0] != 0xec {
		return 0, 0, fmt.Errorf("echoed %#x, sent 0xec", b[0])
	}
	return connectMs, echoMs, nil
}

// benchQuicSend writes n bytes on s, finishes it and returns the count the
// receiver acknowledged.
func benchQuicSend(s *iroh.Stream, chunk []byte, n int64) (int64, error) {
	for left := n; left > 0; {
		k := min(left, int64(len(chunk)))
		if _, err := s.Write(chunk[:k]); err != nil {
			return 0, fmt.Errorf("write: %w", err)
		}
		left -= k
	}
	if err := s.Close(); err != nil {
		return 0, fmt.Errorf("finish: %w", err)
	}
	var ack [8]byte
	if _, err := io.ReadFull(s, ack[:]); err != nil {
		return 0, fmt.Errorf("read the receiver's count: %w", err)
	}
	got := int64(binary.BigEndian.Uint64(ack[:]))
	if got != n {
		return got, fmt.Errorf("receiver counted %d bytes, sent %d", got, n)
	}
	return got, nil
}

// benchQuicReceive is the receiver process: it prints its address, serves
// one connection, and prints its report when the connection ends or its
// stdin closes.
func benchQuicReceive(ctx context.Context, env *cmdEnv, args []string) error {
	fset := newFlagSet(env, "bench quic")
	prof := fset.String("cpuprofile", "", "CPU profile of the transfer")
	verbose := fset.Bool("v", false, "debug logs")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("bench quic receiver takes no arguments")
	}
	var profFile *os.File
	if *prof != "" {
		if profFile, err = os.Create(*prof); err != nil {
			return err
		}
		defer profFile.Close()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// EOF or an error on stdin: the sender is done or gone.
		io.Copy(io.Discard, env.stdin)
		cancel()
	}()
	ep, err := benchQuicBind(ctx, env, *verbose, []string{benchQuicALPN, benchQuicEchoALPN})
	if err != nil {
		return err
	}
	defer ep.Close(context.Background())
	a := ep.Addr()
	a.RelayURLs = nil
	enc := json.NewEncoder(env.stdout)
	if err := enc.Encode(map[string]string{"addr": ticket.EncodeEndpoint(a)}); err != nil {
		return err
	}
	conn, err := benchQuicAccept(ctx, ep)
	if err != nil {
		return enc.Encode(benchQuicReport{Err: err.Error()})
	}
	var (
		total    atomic.Int64
		started  atomic.Bool
		cpu0     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		streams  int
		firstErr error
	)
	for {
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			break // the sender closed the connection, or stdin closed
		}
		streams++
		wg.Go(func() {
			n, err := benchQuicSink(s, func() {
				if started.CompareAndSwap(false, true) {
					if profFile != nil {
						pprof.StartCPUProfile(profFile)
					}
					c, _ := rusage()
					cpu0.Store(int64(c))
				}
			})
			total.Add(n)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	conn.Close(0, "")
	wg.Wait()
	cpu1, rss := rusage()
	if started.Load() && profFile != nil {
		pprof.StopCPUProfile()
	}
	rep := benchQuicReport{Received: total.Load(), Streams: streams, RSSMiB: float64(rss) / (1 << 20)}
	if started.Load() {
		rep.CPUS = (cpu1 - time.Duration(cpu0.Load())).Seconds()
	}
	if firstErr != nil {
		rep.Err = firstErr.Error()
	}
	return enc.Encode(rep)
}

// benchQuicAccept serves echo connections (one byte on one stream each)
// until the transfer's connection arrives, which it returns. The echo
// connections stay open until the sender closes them or the endpoint
// closes: closing here could drop the echo before it is delivered.
func benchQuicAccept(ctx context.Context, ep *iroh.Endpoint) (*iroh.Connection, error) {
	for {
		conn, err := ep.Accept(ctx)
		if err != nil {
			return nil, fmt.Errorf("accept: %w", err)
		}
		if conn.ALPN() != benchQuicEchoALPN {
			return conn, nil
		}
		stop := context.AfterFunc(ctx, func() { conn.Close(1, "interrupted") }) // reads take no context
		defer stop()
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			return nil, fmt.Errorf("echo: %w", err)
		}
		var b [1]byte
		if _, err := io.ReadFull(s, b[:]); err != nil {
			return nil, fmt.Errorf("echo: %w", err)
		}
		if _, err := s.Write(b[:]); err != nil {
			return nil, fmt.Errorf("echo: %w", err)
		}
		s.Close()
	}
}

// benchQuicSink reads s to its end, calling first before the first byte is
// counted, and answers with the count.
func benchQuicSink(s *iroh.Stream, first func()) (int64, error) {
	buf := make([]byte, benchQuicChunk)
	var n int64
	for {
		k, err := s.Read(buf)
		if k > 0 {
			if n == 0 {
				first()
			}
			n += int64(k)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("read: %w", err)
		}
	}
	var ack [8]byte
	binary.BigEndian.PutUint64(ack[:], uint64(n))
	if _, err := s.Write(ack[:]); err != nil {
		return n, fmt.Errorf("write count: %w", err)
	}
	s.Close() // the count is written; the sender may already be closing the connection
	return n, nil
}
