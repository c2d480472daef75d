package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/ticket"
)

// pipeALPN is dumbpipe's protocol, which `iroh pipe` speaks by default.
const pipeALPN = "DUMBPIPEV0"

// pipeHello is written by the connecting side first: a QUIC stream is only
// announced to the peer once data is sent on it.
var pipeHello = []byte("hello")

func init() {
	register(&command{
		name:    "pipe",
		summary: "pipe stdin/stdout or TCP connections between endpoints (listen, connect, listen-tcp, connect-tcp)",
		usage:   "SUBCOMMAND [flags] [args]",
		help: `Join two programs, or a TCP client and server, across the network, modelled on
dumbpipe (ALPN DUMBPIPEV0). The listening side prints an endpoint ticket; the
connecting side dials it. Both use n0's public relays and address lookup unless
--relay, --pkarr-relay, --dns-* or --offline say otherwise.`,
		example: `iroh pipe listen > received.txt
iroh pipe connect endpointabc... < file.txt`,
		run: runPipe,
		subs: []*command{
			{
				name:    "listen",
				summary: "print a ticket, then join stdin/stdout to the first incoming stream",
				usage:   "[flags]",
				help: `Print an endpoint ticket alone on a line of stderr, wait for one connection,
and copy stdin to it and it to stdout until both sides are done.`,
				example: "iroh pipe listen --offline > out.bin",
			},
			{
				name:    "connect",
				summary: "connect to a listener and join stdin/stdout to a stream",
				usage:   "[flags] TICKET|ENDPOINT_ID",
				help: `Dial the listener named by an endpoint ticket, or by a bare endpoint id that
address lookup (n0's DNS by default, --pkarr-relay, --dns-resolver, --mdns)
resolves, and copy stdin to it and it to stdout. Speaks dumbpipe's protocol, so
either side may be Rust's dumbpipe. When both directions are done it closes at
once if the listener is 'iroh pipe listen'; another listener gets a few seconds
to read the last bytes and close first, since closing would discard them.`,
				example: "iroh pipe connect endpointabc... < file.txt",
			},
			{
				name:    "listen-tcp",
				summary: "forward every incoming stream to a TCP server",
				usage:   "--host HOST:PORT [flags]",
				help:    "Print an endpoint ticket, then forward each incoming stream to a new TCP connection to --host.",
				example: "iroh pipe listen-tcp --host 127.0.0.1:22",
			},
			{
				name:    "connect-tcp",
				summary: "accept TCP connections locally and forward each over its own stream",
				usage:   "--addr HOST:PORT [flags] TICKET|ENDPOINT_ID",
				help:    "Listen for TCP connections on --addr and forward each over its own stream to the listener.",
				example: "iroh pipe connect-tcp --addr 127.0.0.1:2222 endpointabc...   # then: ssh -p 2222 127.0.0.1",
			},
		},
	})
}

func runPipe(ctx context.Context, env *cmdEnv, args []string) error {
	sub, args := args[0], args[1:]
	var ef endpointFlags
	fs := newFlagSet(env, "pipe "+sub)
	ef.register(fs, pipeALPN)
	var host, addr string
	switch sub {
	case "listen-tcp":
		fs.StringVar(&host, "host", "", "TCP server to forward incoming streams to (HOST:PORT)")
	case "connect-tcp":
		fs.StringVar(&addr, "addr", "", "local TCP address to accept connections on (HOST:PORT)")
	case "listen", "connect":
	default:
		return usageError("pipe: unknown subcommand %q", sub)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "listen", "listen-tcp":
		if len(pos) != 0 {
			return usageError("takes no arguments, got %q", pos)
		}
		if sub == "listen-tcp" && host == "" {
			return usageError("--host HOST:PORT is required")
		}
	default:
		if len(pos) != 1 {
			return usageError("want one TICKET (or ENDPOINT_ID), got %d arguments", len(pos))
		}
		if sub == "connect-tcp" && addr == "" {
			return usageError("--addr HOST:PORT is required")
		}
	}
	var target endpointaddr.Addr
	if len(pos) == 1 {
		if target, err = parseTarget(pos[0]); err != nil {
			return err
		}
	}
	var alpns []string
	if sub == "listen" || sub == "listen-tcp" {
		alpns = []string{ef.alpn}
	}
	opts, err := ef.options(env, alpns)
	if err != nil {
		return err
	}
	ep, err := bindWith(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		ep.Close(cctx)
	}()
	switch sub {
	case "listen":
		return pipeListen(ctx, env, ep, ef.verbose, len(opts.Relays))
	case "connect":
		return connectHint(pipeConnect(ctx, env, ep, target, ef.alpn, ef.verbose), &ef)
	case "listen-tcp":
		return pipeListenTCP(ctx, env, ep, host, ef.verbose, len(opts.Relays))
	default:
		return connectHint(pipeConnectTCP(ctx, env, ep, target, ef.alpn, addr, ef.verbose), &ef)
	}
}

// connectHint turns "no address known" into advice on the flag that
// would have found one.
func connectHint(err error, ef *endpointFlags) error {
	if errors.Is(err, addrlookup.ErrNotFound) {
		return errors.New("endpoint id not found by address lookup: is the listener running and publishing where we look (n0's DNS by default, or --pkarr-relay/--dns-*)? Or pass its ticket instead")
	}
	if !errors.Is(err, iroh.ErrNoAddress) {
		return err
	}
	if ef.offline {
		return errors.New("no address for this endpoint id: --offline does no address lookup; pass the listener's ticket, or drop --offline (n0's DNS lookup), or use --mdns on a LAN")
	}
	return errors.New("no address found for this endpoint id: pass the listener's ticket instead, or the lookup the listener publishes to (--pkarr-relay URL, --dns-resolver/--dns-origin, or --mdns on a LAN)")
}

// parseTarget accepts an endpoint ticket or a bare EndpointID.
func parseTarget(s string) (endpointaddr.Addr, error) {
	if ticket.Kind(s) == ticket.EndpointKind {
		a, err := ticket.ParseEndpoint(s)
		if err != nil {
			return a, fmt.Errorf("%w: %v", errUsage, err)
		}
		return a, nil
	}
	id, err := key.ParsePublicKey(s)
	if err != nil {
		return endpointaddr.Addr{}, usageError("%q is neither an endpoint ticket nor an endpoint id", short(s))
	}
	return endpointaddr.FromID(id), nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// printTicket writes the endpoint's ticket alone on a line of stderr. With
// relays, it first waits (briefly) for the first net report and the home
// relay, so the ticket holds every way to reach us; an offline machine
// gets its ticket of direct addresses at once, since the net report ends
// as soon as every probe failed.
func printTicket(ctx context.Context, env *cmdEnv, ep *iroh.Endpoint, relays int) {
	if relays > 0 {
		waitOnline(ctx, env, ep, relays)
	}
	fmt.Fprintln(env.stderr, ticket.EncodeEndpoint(ep.Addr()))
}

// waitOnline waits (at most 5 s) for the first net report, which picks
// the home relay, and then for the connection to it, warning on stderr when
// there is none. It stops early once a failure is known: an offline
// machine (every probe fails at once) or a refused single relay costs
// milliseconds, not the timeout.
func waitOnline(ctx context.Context, env *cmdEnv, ep *iroh.Endpoint, relays int) {
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var relayErr error
	for wctx.Err() == nil {
		octx, ocancel := context.WithTimeout(wctx, 50*time.Millisecond)
		err := ep.Online(octx)
		ocancel()
		reported := ep.LastNetReport() != nil
		switch {
		case err == nil && reported:
			return
		case err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, iroh.ErrNoRelay):
			relayErr = err
		}
		if relayErr != nil && (reported || relays == 1) {
			break
		}
		if reported && ep.HomeRelay() == "" {
			break
		}
	}
	if ctx.Err() != nil {
		return
	}
	switch {
	case relayErr != nil:
		fmt.Fprintf(env.stderr, "warning: not connected to the home relay: %s\n", errorLine("", relayErr))
	case ep.HomeRelay() == "":
		why := ""
		if rep := ep.LastNetReport(); rep != nil && len(rep.Errors) > 0 {
			why = " (" + rep.Errors[0] + ")"
		}
		fmt.Fprintf(env.stderr, "warning: no relay reachable%s; the ticket holds direct addresses only\n", why)
	default:
		fmt.Fprintf(env.stderr, "warning: home relay %s not connected within 5 s\n", ep.HomeRelay())
	}
}

func pipeListen(ctx context.Context, env *cmdEnv, ep *iroh.Endpoint, verbose bool, relays int) error {
	printTicket(ctx, env, ep, relays)
	conn, err := ep.Accept(ctx)
	if err != nil {
		return ctxOr(ctx, err)
	}
	if verbose {
		fmt.Fprintf(env.stderr, "connection from %s\n", conn.RemoteID())
		go watchPaths(conn.Context(), ep, conn.RemoteID(), env.stderr)
	}
	s, err := conn.AcceptStream(ctx)
	if err != nil {
		return ctxOr(ctx, fmt.Errorf("accept stream: %w", err))
	}
	if err := readHello(ctx, s); err != nil {
		conn.Close(1, "bad handshake")
		return err
	}
	announceFinAfterRead(ctx, conn)
	// Our FIN waits until we read the connector's: when the connector sees
	// it, it knows everything arrived both ways and closes the connection.
	// We wait for that close, so that a connector still reading what we
	// sent loses nothing.
	err = joinStream(ctx, s, env.stdin, env.stdout, true)
	if err == nil {
		select {
		case <-conn.Context().Done():
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	conn.Close(0, "done")
	return err
}

// pipeFinAfterRead is what `pipe listen` sends on a unidirectional stream
// after the handshake: it finishes its side of the pipe only after it
// read all of the connector's, so a connector that got this may close the
// connection as soon as it read the listener's FIN. A dumbpipe connector
// never accepts the stream and is unaffected. Without it (a dumbpipe
// listener may finish first), the connector waits for the listener to
// close, since closing first would discard what the listener has not
// read yet (Rust's QUIC drops unread stream data on CONNECTION_CLOSE).
var pipeFinAfterRead = []byte("iroh-pipe/fin-after-read/0")

// announceFinAfterRead sends pipeFinAfterRead; a peer that takes no
// unidirectional streams makes it give up within a second.
func announceFinAfterRead(ctx context.Context, conn *iroh.Connection) {
	octx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	u, err := conn.OpenUniStream(octx)
	if err != nil {
		return
	}
	u.Write(pipeFinAfterRead)
	u.Close()
}

// watchFinAfterRead returns a channel closed when the listener announced
// pipeFinAfterRead; its goroutine ends when stop is called.
func watchFinAfterRead(conn *iroh.Connection) (<-chan struct{}, func()) {
	got := make(chan struct{})
	ctx, cancel := context.WithCancel(conn.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		u, err := conn.AcceptUniStream(ctx)
		if err != nil {
			return
		}
		stop := context.AfterFunc(ctx, func() { u.CancelRead(0) })
		defer stop()
		b, err := io.ReadAll(io.LimitReader(u, int64(len(pipeFinAfterRead))+1))
		if err == nil && bytes.Equal(b, pipeFinAfterRead) {
			close(got)
		}
	}()
	return got, func() { cancel(); <-done }
}

func pipeConnect(ctx context.Context, env *cmdEnv, ep *iroh.Endpoint, target endpointaddr.Addr, alpn string, verbose bool) error {
	if verbose {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go watchPaths(wctx, ep, target.ID, env.stderr)
	}
	conn, err := ep.Connect(ctx, target, alpn)
	if err != nil {
		return ctxOr(ctx, err)
	}
	s, err := conn.OpenStream(ctx)
	if err != nil {
		return ctxOr(ctx, err)
	}
	if _, err := s.Write(pipeHello); err != nil {
		return err
	}
	ours, stopWatch := watchFinAfterRead(conn)
	defer stopWatch()
	if err := joinStream(ctx, s, env.stdin, env.stdout, false); err != nil {
		return err
	}
	// Our own listener finishes its side only after it read all of ours
	// (it said so: pipeFinAfterRead), so everything arrived both ways:
	// close. Another (dumbpipe's) may have finished first: let it read
	// what it has not yet and close first.
	lingerClose(ctx, conn, s, ours)
	conn.Close(0, "done")
	return nil
}

// pipeCloseLinger bounds each of the connector's two waits before it
// closes when the listener did not announce pipeFinAfterRead: for the
// acknowledgement of all it sent, then for the listener to close the
// connection.
const pipeCloseLinger = 3 * time.Second

// lingerClose returns at once when ours is closed; else it waits until
// the stream is done both ways (all we sent is acknowledged) and then
// until the peer closes the connection, bounded by pipeCloseLinger each,
// or until ours is closed or ctx ends.
func lingerClose(ctx context.Context, conn *iroh.Connection, s *iroh.Stream, ours <-chan struct{}) {
	select {
	case <-ours:
		return
	default:
	}
	t := time.NewTimer(pipeCloseLinger)
	defer t.Stop()
	select {
	case <-s.Context().Done():
	case <-ours:
		return
	case <-conn.Context().Done():
		return
	case <-ctx.Done():
		return
	case <-t.C:
	}
	t.Reset(pipeCloseLinger)
	select {
	case <-conn.Context().Done():
	case <-ours:
	case <-ctx.Done():
	case <-t.C:
	}
}

// readHello reads the connecting side's handshake; an interrupt (ctx)
// ends the wait.
func readHello(ctx context.Context, s *iroh.Stream) error {
	stop := context.AfterFunc(ctx, func() { s.CancelRead(0) })
	defer stop()
	buf := make([]byte, len(pipeHello))
	if _, err := io.ReadFull(s, buf); err != nil {
		return fmt.Errorf("read handshake: %w", err)
	}
	if string(buf) != string(pipeHello) {
		return fmt.Errorf("bad handshake %q from peer", buf)
	}
	return nil
}

// joinStream copies in to the stream (finishing it at EOF) and the stream
// to out, until both directions are done. With finAfterEOF, the stream is
// finished only once the peer's side has ended too.
func joinStream(ctx context.Context, s *iroh.Stream, in io.Reader, out io.Writer, finAfterEOF bool) error {
	var g errgroup.Group
	done := make(chan struct{})
	g.Go(func() error {
		_, err := io.CopyBuffer(s, in, make([]byte, 256<<10))
		if finAfterEOF {
			<-done
		}
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		defer close(done)
		_, err := io.CopyBuffer(out, s, make([]byte, 256<<10))
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		return nil
	})
	go func() {
		select {
		case <-ctx.Done():
			s.CancelRead(0)
			s.CancelWrite(0)
		case <-done:
		}
	}()
	err := g.Wait()
	return ctxOr(ctx, err)
}

// ctxOr returns nil when ctx was canceled (an interrupt is a normal end),
// else err.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func pipeListenTCP(ctx context.Context, env *cmdEnv, ep *iroh.Endpoint, host string, verbose bool, relays int) error {
	printTicket(ctx, env, ep, relays)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ep.Accept(ctx)
		if err != nil {
			return ctxOr(ctx, err)
		}
		if verbose {
			fmt.Fprintf(env.stderr, "connection from %s\n", conn.RemoteID())
			go watchPaths(conn.Context(), ep, conn.RemoteID(), env.stderr)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s, err := conn.AcceptStream(ctx)
				if err != nil {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := readHello(ctx, s); err != nil {
						s.CancelRead(1)
						s.CancelWrite(1)
						return
					}
					var d net.Dialer
					tc, err := d.DialContext(ctx, "tcp", host)
					if err != nil {
						fmt.Fprintf(env.stderr, "iroh: forward to %s: %v\n", host, err)
						s.CancelRead(2)
						s.CancelWrite(2)
						return
					}
					spliceTCP(ctx, s, tc.(*net.TCPConn))
				}()
			}
		}()
	}
}

func pipeConnectTCP(ctx context.Context, env *cmdEnv, ep *iroh.Endpoint, target endpointaddr.Addr, alpn, addr string, verbose bool) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	defer ln.Close()
	go func() { <-ctx.Done(); ln.Close() }()
	var mu sync.Mutex
	var conn *iroh.Connection
	getConn := func() (*iroh.Connection, error) {
		mu.Lock()
		defer mu.Unlock()
		if conn != nil && conn.Context().Err() == nil {
			return conn, nil
		}
		c, err := ep.Connect(ctx, target, alpn)
		if err != nil {
			return nil, err
		}
		if verbose {
			go watchPaths(c.Context(), ep, c.RemoteID(), env.stderr)
		}
		conn = c
		return c, nil
	}
	fmt.Fprintf(env.stderr, "forwarding TCP connections on %s to %s\n", ln.Addr(), target.ID.ShortString())
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		tc, err := ln.Accept()
		if err != nil {
			return ctxOr(ctx, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := getConn()
			if err != nil {
				fmt.Fprintf(env.stderr, "iroh: %v\n", err)
				tc.Close()
				return
			}
			s, err := c.OpenStream(ctx)
			if err != nil {
				tc.Close()
				return
			}
			if _, err := s.Write(pipeHello); err != nil {
				tc.Close()
				return
			}
			spliceTCP(ctx, s, tc.(*net.TCPConn))
		}()
	}
}

// spliceTCP copies between a stream and a TCP connection in both
// directions, passing half-closes through, and closes both at the end.
func spliceTCP(ctx context.Context, s *iroh.Stream, tc *net.TCPConn) {
	defer tc.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		io.Copy(s, tc)
		s.Close()
	}()
	go func() {
		defer wg.Done()
		_, err := io.Copy(tc, s)
		if err != nil {
			var se *iroh.StreamError
			if errors.As(err, &se) {
				tc.SetLinger(0)
			}
		}
		tc.CloseWrite()
	}()
	stop := context.AfterFunc(ctx, func() { s.CancelRead(0); s.CancelWrite(0); tc.Close() })
	defer stop()
	wg.Wait()
	s.CancelRead(0)
}
