package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"
)

// alpn is the protocol both processes speak: the sender writes its share
// on each bidirectional stream and finishes it; the receiver reads it to
// the end and answers with the count (8 bytes, big endian).
const alpn = "iroh-go/bench-quic/0"

// echoALPN is the first, cold connection of each run: the receiver echoes
// one byte on one stream, which times connect plus a 1-byte round trip.
const echoALPN = "iroh-go/bench-quic-echo/0"

// receiverArg selects the receiver process (started by the sender).
const receiverArg = "receiver"

// chunk is the size of one Write and of the receiver's read buffer.
const chunk = 1 << 20

// result is one run, or (with Runs set) the medians of several: the keys
// of 'iroh bench quic'.
type result struct {
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
}

// report is the receiver's last line.
type report struct {
	Received int64   `json:"received"`
	Streams  int     `json:"streams"`
	CPUS     float64 `json:"cpu_s"`
	RSSMiB   float64 `json:"rss_mib"`
	Err      string  `json:"error,omitempty"`
}

// hello is the receiver's first line.
type hello struct {
	Addr       string `json:"addr"`
	CertSHA256 string `json:"cert_sha256"`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "quicgo: %v\n", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == receiverArg {
		fs := flag.NewFlagSet("quicgo receiver", flag.ContinueOnError)
		prof := fs.String("cpuprofile", "", "CPU profile of the transfer")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
			return fmt.Errorf("%w: receiver takes no arguments but --cpuprofile FILE", errUsage)
		}
		return receive(ctx, *prof)
	}
	fs := flag.NewFlagSet("quicgo", flag.ContinueOnError)
	bytes := fs.Int64("bytes", 1<<30, "bytes to move per run, split evenly over the streams")
	streams := fs.Int("streams", 1, "bidirectional streams, all written at once")
	runs := fs.Int("runs", 3, "runs, each with a fresh receiver process; the summary holds medians")
	asJSON := fs.Bool("json", false, `print one JSON line per run ({"bench_quic_run":...}) and the medians ({"bench_quic":...})`)
	timeout := fs.Duration("timeout", 10*time.Minute, "limit for one run")
	profDir := fs.String("cpuprofile", "", "write CPU profiles of each run's transfer, sender-N.prof and receiver-N.prof, into this directory")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case *streams < 1 || *streams > 1000:
		return fmt.Errorf("%w: --streams %d: want 1 to 1000", errUsage, *streams)
	case *bytes < int64(*streams):
		return fmt.Errorf("%w: --bytes %d: want at least one byte per stream (%d)", errUsage, *bytes, *streams)
	case *runs < 1:
		return fmt.Errorf("%w: --runs %d: want at least 1", errUsage, *runs)
	case *timeout <= 0:
		return fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Printf("quicgo: %d bytes over %d stream(s), %d run(s), two processes on 127.0.0.1\n", *bytes, *streams, *runs)
	}
	var rs []result
	for i := range *runs {
		rctx, cancel := context.WithTimeout(ctx, *timeout)
		var prof [2]string
		if *profDir != "" {
			prof[0] = filepath.Join(*profDir, fmt.Sprintf("sender-%d.prof", i+1))
			prof[1] = filepath.Join(*profDir, fmt.Sprintf("receiver-%d.prof", i+1))
		}
		r, err := runOnce(rctx, exe, *bytes, *streams, prof)
		cancel()
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		r.Run = i + 1
		rs = append(rs, r)
		if *asJSON {
			line, _ := json.Marshal(map[string]any{"bench_quic_run": r})
			fmt.Println(string(line))
		} else {
			fmt.Printf("run %d: %s\n", r.Run, r.text())
		}
	}
	m := median(rs)
	if *asJSON {
		line, _ := json.Marshal(map[string]any{"bench_quic": m})
		fmt.Println(string(line))
	} else {
		fmt.Printf("median of %d: %s\n", m.Runs, m.text())
	}
	return nil
}

func (r result) text() string {
	return fmt.Sprintf("%s: received %d of %d bytes over %d stream(s) in %.3f s: %.1f MB/s, %.2f CPU-s/GiB (sender %.2f s, receiver %.2f s), connect %.1f ms, connect+echo %.1f ms",
		r.Impl, r.Received, r.Bytes, r.Streams, r.Secs, r.MBps, r.CPUPerGiB, r.SenderCPU, r.ReceiverCPU, r.ConnectMs, r.EchoMs)
}

func median(rs []result) result {
	med := func(f func(result) float64) float64 {
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
		m.Received = min(m.Received, r.Received)
	}
	m.Secs = med(func(r result) float64 { return r.Secs })
	m.MBps = med(func(r result) float64 { return r.MBps })
	m.SenderCPU = med(func(r result) float64 { return r.SenderCPU })
	m.ReceiverCPU = med(func(r result) float64 { return r.ReceiverCPU })
	m.CPUPerGiB = med(func(r result) float64 { return r.CPUPerGiB })
	m.ReceiverProc = med(func(r result) float64 { return r.ReceiverProc })
	m.SenderRSSMiB = med(func(r result) float64 { return r.SenderRSSMiB })
	m.ReceiverRSSMiB = med(func(r result) float64 { return r.ReceiverRSSMiB })
	m.ConnectMs = med(func(r result) float64 { return r.ConnectMs })
	m.EchoMs = med(func(r result) float64 { return r.EchoMs })
	return m
}

// quicConfig is the QUIC configuration iroh.Bind gave quic-go (default
// flow-control windows), so the baseline differs from iroh in the stack
// below QUIC and in nothing else.
func quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:  10 * time.Second,
		MaxIdleTimeout:        30 * time.Second,
		KeepAlivePeriod:       5 * time.Second,
		EnableDatagrams:       true,
		Allow0RTT:             true,
		MaxIncomingStreams:    1000,
		MaxIncomingUniStreams: 1000,
	}
}

// certificate makes a self-signed Ed25519 certificate, like an iroh
// endpoint's, for TLS 1.3 on either side.
func certificate() (tls.Certificate, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}

// runOnce starts one receiver process and sends to it; prof, if set,
// names the CPU profile files of the transfer (sender's, receiver's).
func runOnce(ctx context.Context, exe string, total int64, streams int, prof [2]string) (result, error) {
	r := result{Impl: "quic-go", Bytes: total, Streams: streams}
	cmd := exec.CommandContext(ctx, exe, receiverArg)
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
	cmd.Stderr = os.Stderr
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
	var h hello
	if err := dec.Decode(&h); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return r, fmt.Errorf("receiver: no address line: %w", err)
	}
	pin, err := hex.DecodeString(h.CertSHA256)
	if err != nil || len(pin) != sha256.Size {
		return r, fmt.Errorf("receiver: bad cert_sha256 %q", h.CertSHA256)
	}
	cert, err := certificate()
	if err != nil {
		return r, err
	}
	tlsConf := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{cert},
		NextProtos:         []string{echoALPN},
		ServerName:         "localhost",
		InsecureSkipVerify: true, // the certificate is pinned below instead
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("receiver sent no certificate")
			}
			if sum := sha256.Sum256(raw[0]); string(sum[:]) != string(pin) {
				return errors.New("receiver certificate does not match its pin")
			}
			return nil
		},
	}
	// One UDP socket for both connections, as an iroh endpoint has.
	raddr, err := net.ResolveUDPAddr("udp", h.Addr)
	if err != nil {
		return r, err
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return r, err
	}
	defer udp.Close()
	tr := &quic.Transport{Conn: udp}
	defer tr.Close()
	if r.ConnectMs, r.EchoMs, err = echo(ctx, tr, raddr, tlsConf); err != nil {
		return r, fmt.Errorf("echo: %w", err)
	}
	tlsConf = tlsConf.Clone()
	tlsConf.NextProtos = []string{alpn}
	conn, err := tr.Dial(ctx, raddr, tlsConf, quicConfig())
	if err != nil {
		return r, fmt.Errorf("dial %s: %w", h.Addr, err)
	}
	// A timeout or an interrupt ends the transfer at once: writes do not
	// take a context.
	stop := context.AfterFunc(ctx, func() { conn.CloseWithError(1, "interrupted") })
	defer stop()
	ss := make([]*quic.Stream, streams)
	for i := range ss {
		if ss[i], err = conn.OpenStreamSync(ctx); err != nil {
			conn.CloseWithError(1, "open stream failed")
			return r, fmt.Errorf("open stream %d: %w", i, err)
		}
	}
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = 0x5a
	}
	errs := make([]error, streams)
	var acked atomic.Int64
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
			n, err := send(s, buf, share)
			acked.Add(n)
			if err != nil {
				errs[i] = fmt.Errorf("stream %d: %w", i, err)
				conn.CloseWithError(1, "stream failed")
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	cpu1, rss := rusage()
	if profFile != nil {
		pprof.StopCPUProfile()
	}
	conn.CloseWithError(0, "done")
	stdin.Close()
	var rep report
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
	if rep.Received != total || acked.Load() != total || rep.Streams != streams {
		return r, fmt.Errorf("receiver read %d bytes on %d streams, acknowledged %d; sent %d on %d", rep.Received, rep.Streams, acked.Load(), total, streams)
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

// echo dials raddr with the echo ALPN (the first connection between the
// two), sends one byte on a stream and reads it back. It returns the
// milliseconds to connect and to the echo's arrival, both from the start
// of the dial.
func echo(ctx context.Context, tr *quic.Transport, raddr net.Addr, tlsConf *tls.Config) (connectMs, echoMs float64, err error) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	t0 := time.Now()
	conn, err := tr.Dial(ctx, raddr, tlsConf, quicConfig())
	if err != nil {
		return 0, 0, err
	}
	defer conn.CloseWithError(0, "")
	stop := context.AfterFunc(ctx, func() { conn.CloseWithError(1, "interrupted") }) // reads take no context
	defer stop()
	connectMs = ms(time.Since(t0))
	s, err := conn.OpenStreamSync(ctx)
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

// send writes n bytes on s, finishes it and returns the count the receiver
// acknowledged.
func send(s *quic.Stream, buf []byte, n int64) (int64, error) {
	for left := n; left > 0; {
		k := min(left, int64(len(buf)))
		if _, err := s.Write(buf[:k]); err != nil {
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

// receive is the receiver process: it prints its address and certificate
// pin, serves one connection, and prints its report when the connection
// ends or its stdin closes.
func receive(ctx context.Context, prof string) error {
	var profFile *os.File
	if prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			return err
		}
		defer f.Close()
		profFile = f
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	cert, err := certificate()
	if err != nil {
		return err
	}
	tlsConf := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{alpn, echoALPN},
		ClientAuth:   tls.RequireAnyClientCert, // like iroh: both sides present a key
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", tlsConf, quicConfig())
	if err != nil {
		return err
	}
	defer ln.Close()
	enc := json.NewEncoder(os.Stdout)
	sum := sha256.Sum256(cert.Certificate[0])
	if err := enc.Encode(hello{Addr: ln.Addr().String(), CertSHA256: hex.EncodeToString(sum[:])}); err != nil {
		return err
	}
	conn, err := accept(ctx, ln)
	if err != nil {
		return enc.Encode(report{Err: err.Error()})
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
			n, err := sink(s, func() {
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
	conn.CloseWithError(0, "")
	wg.Wait()
	cpu1, rss := rusage()
	if started.Load() && profFile != nil {
		pprof.StopCPUProfile()
	}
	rep := report{Received: total.Load(), Streams: streams, RSSMiB: float64(rss) / (1 << 20)}
	if started.Load() {
		rep.CPUS = (cpu1 - time.Duration(cpu0.Load())).Seconds()
	}
	if firstErr != nil {
		rep.Err = firstErr.Error()
	}
	return enc.Encode(rep)
}

// accept serves echo connections (one byte on one stream each) until the
// transfer's connection arrives, which it returns. The echo connections
// stay open until the sender closes them or the listener closes: closing
// here could drop the echo before it is delivered.
func accept(ctx context.Context, ln *quic.Listener) (*quic.Conn, error) {
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			return nil, fmt.Errorf("accept: %w", err)
		}
		if conn.ConnectionState().TLS.NegotiatedProtocol != echoALPN {
			return conn, nil
		}
		stop := context.AfterFunc(ctx, func() { conn.CloseWithError(1, "interrupted") }) // reads take no context
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

// sink reads s to its end, calling first before the first byte is
// counted, and answers with the count.
func sink(s *quic.Stream, first func()) (int64, error) {
	buf := make([]byte, chunk)
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
