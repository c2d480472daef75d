//go:build unix

package iroh_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/transport"
	"github.com/iroh-go/iroh/key"
)

// The end-to-end benchmarks compare two iroh endpoints on loopback with
// our raw QUIC transport on plain UDP sockets (internal/quic/transport,
// no magicsock, no relay, no path selection), measured in the same run
// with the same QUIC stack, so the ratio isolates what the iroh socket
// layer costs or gains. Comparisons with quic-go and Rust iroh live in
// `iroh bench quic` and scripts/bench-quic.sh (two processes).
//
//	go test -run '^$' -bench . -benchtime 1x                      # 64 MiB per transfer
//	IROH_BENCH_BYTES=1073741824 go test -run '^$' -bench Throughput -benchtime 3x
//
// IROH_BENCH_ONLY=iroh (or raw) runs one side only, for profiling.
//
// CPU is the process's user+system time (getrusage) over the transfer,
// both endpoints included, per byte moved.

const benchALPN = "iroh-bench/0"

// benchBytes is the size of one transfer: IROH_BENCH_BYTES, default 64 MiB.
func benchBytes(b *testing.B) int64 {
	if s := os.Getenv("IROH_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("IROH_BENCH_BYTES=%q: want a positive byte count", s)
		}
		return n
	}
	return 64 << 20
}

// benchSide is one way to get connected QUIC streams: iroh or raw.
type benchSide struct {
	// dial opens a connection to the server.
	dial func(ctx context.Context) (benchConn, error)
	// conn is a connection opened once for throughput runs.
	conn benchConn
}

type benchConn interface {
	OpenStream(ctx context.Context) (io.ReadWriteCloser, error)
	Close(code uint64, reason string) error
	// sent returns the connection's bytes and packets sent and packets
	// declared lost so far.
	sent() (bytes, packets, lost uint64)
}

// irohConn adapts *iroh.Connection to benchConn.
type irohConn struct{ c *iroh.Connection }

func (c irohConn) OpenStream(ctx context.Context) (io.ReadWriteCloser, error) {
	return c.c.OpenStream(ctx)
}

func (c irohConn) Close(code uint64, reason string) error { return c.c.Close(code, reason) }

func (c irohConn) sent() (bytes, packets, lost uint64) {
	s := c.c.Stats()
	return s.BytesSent, s.PacketsSent, s.PacketsLost
}

// rawConn adapts *transport.Conn to benchConn.
type rawConn struct{ c *transport.Conn }

func (c rawConn) OpenStream(ctx context.Context) (io.ReadWriteCloser, error) {
	return c.c.OpenStream(ctx)
}

func (c rawConn) Close(code uint64, reason string) error { return c.c.Close(code, reason) }

func (c rawConn) sent() (bytes, packets, lost uint64) {
	s := c.c.Stats()
	return s.BytesSent, s.PacketsSent, s.PacketsLost
}

// serveStream reads a stream to its end and answers with one byte; a
// one-byte stream is echoed (the connect benchmark), and a stream that
// starts with 'E' is echoed as it arrives (the round-trip benchmark).
func serveStream(s io.ReadWriteCloser) {
	defer s.Close()
	buf := make([]byte, 64<<10)
	var total int
	var first byte
	for {
		n, err := s.Read(buf)
		if total == 0 && n > 0 && buf[0] == 'E' {
			if _, err := s.Write(buf[:n]); err == nil {
				_, _ = io.CopyBuffer(s, s, buf)
			}
			return
		}
		if total == 0 && n > 0 {
			first = buf[0]
		}
		total += n
		if err != nil {
			break
		}
	}
	if total == 1 {
		_, _ = s.Write([]byte{first})
		return
	}
	_, _ = s.Write([]byte{1})
}

// serveConn serves every stream of a connection until it closes.
func serveConn[S io.ReadWriteCloser](ctx context.Context, accept func(context.Context) (S, error), wg *sync.WaitGroup) {
	for {
		s, err := accept(ctx)
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveStream(s)
		}()
	}
}

// benchBind binds an endpoint on 127.0.0.1 that logs nothing (log lines
// would break up the benchmark's result lines).
func benchBind(b *testing.B, alpns ...string) *iroh.Endpoint {
	b.Helper()
	ep, err := iroh.Bind(context.Background(), &iroh.Options{
		ALPNs: alpns, BindAddrV4: loopback4, DisableIPv6: true,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ep.Close(context.Background()) })
	return ep
}

// newIrohSide binds a server and a client endpoint on 127.0.0.1.
func newIrohSide(b *testing.B) *benchSide {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := benchBind(b, benchALPN)
	cli := benchBind(b)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := srv.Accept(ctx)
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				serveConn(c.Context(), c.AcceptStream, &wg)
			}()
		}
	}()
	b.Cleanup(func() {
		cancel()
		srv.Close(context.Background())
		cli.Close(context.Background())
		wg.Wait()
	})
	addr := srv.Addr()
	return &benchSide{dial: func(ctx context.Context) (benchConn, error) {
		c, err := cli.Connect(ctx, addr, benchALPN)
		if err != nil {
			return nil, err
		}
		return irohConn{c}, nil
	}}
}

// newRawSide starts our QUIC transport on two plain UDP sockets on
// 127.0.0.1 with the endpoint's flow-control defaults.
func newRawSide(b *testing.B) *benchSide {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ssk, csk := key.NewSecretKey(), key.NewSecretKey()
	conf := func(sk key.SecretKey) *transport.Options {
		return &transport.Options{Config: quic.Config{
			TLS:                   tls13.Config{SecretKey: sk, ALPNs: []string{benchALPN}},
			KeepAlivePeriod:       5 * time.Second,
			MaxIncomingStreams:    1000,
			MaxIncomingUniStreams: 1000,
		}}
	}
	st, err := transport.Listen("127.0.0.1:0", conf(ssk))
	if err != nil {
		b.Fatal(err)
	}
	ct, err := transport.Listen("127.0.0.1:0", conf(csk))
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := st.Accept(ctx)
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, ccancel := context.WithCancel(ctx)
				go func() { <-c.Done(); ccancel() }()
				serveConn(cctx, c.AcceptStream, &wg)
			}()
		}
	}()
	b.Cleanup(func() {
		cancel()
		st.Close()
		ct.Close()
		wg.Wait()
	})
	return &benchSide{dial: func(ctx context.Context) (benchConn, error) {
		c, err := ct.Dial(ctx, st.LocalAddr(), ssk.Public(), benchALPN)
		if err != nil {
			return nil, err
		}
		return rawConn{c}, nil
	}}
}

// transfer sends n bytes split over streams streams and waits for the
// server's acknowledgement on each.
func transfer(ctx context.Context, c benchConn, n int64, streams int, chunk []byte) error {
	errs := make(chan error, streams)
	for i := range streams {
		size := n / int64(streams)
		if i == 0 {
			size += n % int64(streams)
		}
		go func() {
			errs <- func() error {
				s, err := c.OpenStream(ctx)
				if err != nil {
					return err
				}
				for left := size; left > 0; {
					w := min(left, int64(len(chunk)))
					if _, err := s.Write(chunk[:w]); err != nil {
						return err
					}
					left -= w
				}
				if err := s.Close(); err != nil {
					return err
				}
				var ack [1]byte
				if _, err := io.ReadFull(s, ack[:]); err != nil {
					return fmt.Errorf("ack: %w", err)
				}
				return nil
			}()
		}()
	}
	var first error
	for range streams {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measured accumulates wall and CPU time of one side's transfers.
type measured struct {
	wall, cpu time.Duration
	bytes     int64
	// wire, packets and lost are the client's QUIC bytes and packets sent
	// and packets declared lost.
	wire, packets, lost uint64
}

func (m *measured) run(b *testing.B, c benchConn, f func() error, n int64) {
	b.Helper()
	w0, p0, l0 := c.sent()
	c0, t0 := cpuTime(), time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	m.wall += time.Since(t0)
	m.cpu += cpuTime() - c0
	m.bytes += n
	w1, p1, l1 := c.sent()
	m.wire += w1 - w0
	m.packets += p1 - p0
	m.lost += l1 - l0
}

// lossPct is the percentage of the client's packets declared lost.
func (m *measured) lossPct() float64 { return 100 * float64(m.lost) / max(1, float64(m.packets)) }

// wireRatio is the client's QUIC bytes sent per payload byte: above 1
// by the packet overhead, and by retransmissions.
func (m *measured) wireRatio() float64 { return float64(m.wire) / float64(m.bytes) }

func (m *measured) mbps() float64 { return float64(m.bytes) / 1e6 / m.wall.Seconds() }

// cpuPerMB is CPU nanoseconds per MB moved.
func (m *measured) cpuPerMB() float64 { return float64(m.cpu.Nanoseconds()) / (float64(m.bytes) / 1e6) }

// BenchmarkThroughput moves IROH_BENCH_BYTES (default 64 MiB) per
// iteration over one and over four streams, between two iroh endpoints
// and between two raw QUIC transports on plain UDP sockets, and reports
// the MB/s of both, their ratio, CPU time per MB, and the share of the
// client's packets declared lost (loss shrinks the congestion window, so
// batches get smaller and each byte costs more). With IROH_BENCH_ONLY it
// also reports the client's wire bytes per payload byte. There is no
// SetBytes: ns/op covers both sides' transfers, so the MB/s figures are
// reported per side instead.
func BenchmarkThroughput(b *testing.B) {
	for _, streams := range []int{1, 4} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			n := benchBytes(b)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			chunk := make([]byte, 1<<20)
			only := os.Getenv("IROH_BENCH_ONLY")
			if only != "" && only != "iroh" && only != "raw" {
				b.Fatalf("IROH_BENCH_ONLY=%q: want iroh or raw", only)
			}
			sides := []*benchSide{newIrohSide(b), newRawSide(b)}
			for _, s := range sides {
				c, err := s.dial(ctx)
				if err != nil {
					b.Fatal(err)
				}
				s.conn = c
				b.Cleanup(func() { c.Close(0, "") })
				// Warm up: the path is confirmed and the windows have grown.
				if err := transfer(ctx, c, 4<<20, streams, chunk); err != nil {
					b.Fatal(err)
				}
			}
			var ir, qg measured
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// Alternate the order so neither side always runs warm.
				order := []*measured{&ir, &qg}
				if i%2 == 1 {
					order = []*measured{&qg, &ir}
				}
				i++
				for _, m := range order {
					s := sides[0]
					if m == &qg {
						s = sides[1]
					}
					if only == "iroh" && m == &qg || only == "raw" && m == &ir {
						continue
					}
					m.run(b, s.conn, func() error { return transfer(ctx, s.conn, n, streams, chunk) }, n)
				}
			}
			switch only {
			case "iroh":
				b.ReportMetric(ir.mbps(), "iroh-MB/s")
				b.ReportMetric(ir.cpuPerMB()/1e6, "iroh-cpu-ms/MB")
				b.ReportMetric(ir.lossPct(), "iroh-lost-%")
				b.ReportMetric(ir.wireRatio(), "iroh-wire/byte")
				return
			case "raw":
				b.ReportMetric(qg.mbps(), "raw-MB/s")
				b.ReportMetric(qg.cpuPerMB()/1e6, "raw-cpu-ms/MB")
				b.ReportMetric(qg.lossPct(), "raw-lost-%")
				b.ReportMetric(qg.wireRatio(), "raw-wire/byte")
				return
			}
			b.ReportMetric(ir.mbps(), "iroh-MB/s")
			b.ReportMetric(qg.mbps(), "raw-MB/s")
			b.ReportMetric(ir.mbps()/qg.mbps(), "ratio-vs-raw")
			b.ReportMetric(ir.cpuPerMB()/1e6, "iroh-cpu-ms/MB")
			b.ReportMetric(qg.cpuPerMB()/1e6, "raw-cpu-ms/MB")
			b.ReportMetric(ir.lossPct(), "iroh-lost-%")
			b.ReportMetric(qg.lossPct(), "raw-lost-%")
		})
	}
}

// BenchmarkConnect measures connection setup: handshake and a one-byte
// echo on a new stream, then close; for iroh and for the raw transport.
func BenchmarkConnect(b *testing.B) {
	for _, name := range []string{"iroh", "raw"} {
		b.Run(name, func(b *testing.B) {
			var s *benchSide
			if name == "iroh" {
				s = newIrohSide(b)
			} else {
				s = newRawSide(b)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			echo := func() error {
				c, err := s.dial(ctx)
				if err != nil {
					return err
				}
				defer c.Close(0, "")
				st, err := c.OpenStream(ctx)
				if err != nil {
					return err
				}
				if _, err := st.Write([]byte{7}); err != nil {
					return err
				}
				st.Close()
				var got [1]byte
				if _, err := io.ReadFull(st, got[:]); err != nil {
					return err
				}
				if got[0] != 7 {
					return errors.New("wrong echo")
				}
				return nil
			}
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				c0 := cpuTime()
				if err := echo(); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/connect")
			b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/connect")
		})
	}
}

// BenchmarkRoundTrip measures the round trip of one small message on an
// open stream (write 32 bytes, read them echoed): the latency the socket
// layer adds per packet, for iroh and for the raw transport.
func BenchmarkRoundTrip(b *testing.B) {
	for _, name := range []string{"iroh", "raw"} {
		b.Run(name, func(b *testing.B) {
			var s *benchSide
			if name == "iroh" {
				s = newIrohSide(b)
			} else {
				s = newRawSide(b)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			c, err := s.dial(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(0, "")
			st, err := c.OpenStream(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			msg := make([]byte, 32)
			msg[0] = 'E'
			got := make([]byte, len(msg))
			rt := func() {
				if _, err := st.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(st, got); err != nil {
					b.Fatal(err)
				}
			}
			for range 100 { // warm up: path confirmed, RTT estimated
				rt()
			}
			b.ReportAllocs()
			for b.Loop() {
				rt()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "us/roundtrip")
		})
	}
}

// BenchmarkIdleConnMemory reports what one idle connection costs, both
// endpoints' sides together: the heap in use and the goroutine stacks (the
// endpoint keeps one goroutine per connection to end its context), after
// a GC, with 500 connections open between two endpoints. Run it with
// -benchtime 1x.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 500
	srv := benchBind(b, benchALPN)
	cli := benchBind(b)
	ctx := context.Background()
	accepted := make(chan *iroh.Connection, n)
	go func() {
		for {
			c, err := srv.Accept(ctx)
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	// One connection first, so the path and the lazily made state of the
	// endpoints are not counted.
	warm, err := cli.Connect(ctx, srv.Addr(), benchALPN)
	if err != nil {
		b.Fatal(err)
	}
	defer warm.Close(0, "")
	<-accepted
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]*iroh.Connection, 0, 2*n)
		for range n {
			c, err := cli.Connect(ctx, srv.Addr(), benchALPN)
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c, <-accepted)
		}
		time.Sleep(200 * time.Millisecond) // handshakes' leftovers are garbage now
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / n
		stack := float64(int64(after.StackInuse)-int64(before.StackInuse)) / n
		b.ReportMetric(heap, "heap-B/conn")
		b.ReportMetric(stack, "stack-B/conn")
		b.ReportMetric(heap+stack, "B/conn")
		for _, c := range conns {
			c.Close(0, "")
		}
	}
}
