package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
	"github.com/iroh-go/iroh/relay/relayserver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

func init() {
	register(&command{
		name:    "relay",
		summary: "run an iroh relay server (or 'relay bench' to load-test one)",
		usage:   "[--dev] [--http-addr ADDR] [--stun-addr ADDR] [--config FILE] [--metrics-addr ADDR]\nbench [--clients N] [--url URL] [flags]",
		help: `Serve the iroh relay protocol (what carries traffic between endpoints when no
direct path works) and STUN (so endpoints learn their public address and punch
holes through NATs), compatible with Rust iroh endpoints. --dev serves plain HTTP
on [::]:3340 and STUN on [::]:3478, the same NAT traversal as production without
TLS; --config FILE (TOML, iroh-relay's keys) adds TLS, access control and limits.
It prints what it serves when it starts.`,
		example: `iroh relay --dev --http-addr 127.0.0.1:3340 --stun-addr 127.0.0.1:3478
iroh pipe listen --relay http://127.0.0.1:3340`,
		run: runRelay,
		subs: []*command{{
			name:    "bench",
			summary: "load-test a relay with pairs of clients echoing datagrams",
			usage:   "[--clients N] [--url URL] [--duration D] [--size BYTES] [--window W | --rate R] [--cpuprofile FILE]",
			help: `Drive pairs of relay clients through a relay (one started in this process unless
--url) and print throughput, forwarding latency (p50, p99, p99.9) and memory.
Closed loop by default: each pair keeps --window datagrams in flight, which
saturates the relay, so its latencies are queueing. --rate R is open loop:
every client sends R datagrams a second whatever comes back, so latency and
drops can be read at a chosen fraction of the saturation rate.`,
			example: `iroh relay bench --clients 1000 --duration 10s
iroh relay bench --clients 1000 --rate 50   # open loop, 50,000 datagrams/s in all`,
			run: runRelayBench,
		}},
	})
}

// relayConfig is the TOML configuration file of 'iroh relay', with the
// key names of Rust iroh-relay's config where they exist.
type relayConfig struct {
	// HTTPBindAddr serves HTTP: everything without TLS, only
	// /generate_204 with TLS. Default [::]:80 ([::]:3340 with --dev).
	HTTPBindAddr string `toml:"http_bind_addr"`
	TLS          *struct {
		// CertMode: "manual" (default; the two paths) or "self_signed".
		CertMode       string   `toml:"cert_mode"`
		ManualCertPath string   `toml:"manual_cert_path"`
		ManualKeyPath  string   `toml:"manual_key_path"`
		SelfSigned     bool     `toml:"self_signed"`
		Hostnames      []string `toml:"hostnames"`
		// HTTPSBindAddr, default [::]:443.
		HTTPSBindAddr string `toml:"https_bind_addr"`
	} `toml:"tls"`
	// Access: "everyone", or a table with one of allowlist, denylist,
	// shared_token, http = { url, bearer_token }.
	Access any `toml:"access"`
	Limits struct {
		Client struct {
			RX struct {
				BytesPerSecond int `toml:"bytes_per_second"`
				MaxBurstBytes  int `toml:"max_burst_bytes"`
			} `toml:"rx"`
		} `toml:"client"`
		// MaxConnections and MaxConnectionsPerIP cap the TCP connections
		// the relay keeps open (iroh-go keys; 0: the defaults, 100,000
		// and 1,000; negative: no cap).
		MaxConnections      int `toml:"max_connections"`
		MaxConnectionsPerIP int `toml:"max_connections_per_ip"`
	} `toml:"limits"`
	MetricsBindAddr string `toml:"metrics_bind_addr"`
	EnableMetrics   *bool  `toml:"enable_metrics"`
	// StunBindAddr enables STUN (default [::]:3478 unless --dev);
	// EnableStun=false turns it off.
	StunBindAddr string `toml:"stun_bind_addr"`
	EnableStun   *bool  `toml:"enable_stun"`
}

func runRelay(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet(env, "relay")
	dev := fs.Bool("dev", false, "development mode: plain HTTP on [::]:3340 and STUN on [::]:3478 (change with --http-addr, --stun-addr)")
	httpAddr := fs.String("http-addr", "", "HTTP listen address (default [::]:80, or [::]:3340 with --dev)")
	configPath := fs.String("config", "", "TOML configuration file")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics")
	stunAddr := fs.String("stun-addr", "", "UDP address for STUN binding requests (default [::]:3478; \"none\" for no STUN)")
	verbose := fs.Bool("v", false, "debug logging")
	maxConnsPerIP := fs.Int("max-conns-per-ip", 0, "open TCP connections allowed from one IP address (default 1000; -1: no cap); overrides limits.max_connections_per_ip")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))

	var cfg relayConfig
	if *configPath != "" {
		md, err := toml.DecodeFile(*configPath, &cfg)
		if err != nil {
			return fmt.Errorf("relay: config %s: %w", *configPath, err)
		}
		for _, k := range md.Undecoded() {
			// The access table is decoded by hand (relayAccessFromConfig).
			if len(k) > 0 && k[0] != "access" {
				return fmt.Errorf("relay: config %s: unknown key %q", *configPath, k.String())
			}
		}
	}
	opts := relayserver.Options{Logger: log}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts.Metrics = relayserver.NewMetrics(reg)
	opts.RateLimit = relayserver.RateLimit{
		BytesPerSecond: cfg.Limits.Client.RX.BytesPerSecond,
		MaxBurstBytes:  cfg.Limits.Client.RX.MaxBurstBytes,
	}
	opts.MaxConns = cfg.Limits.MaxConnections
	opts.MaxConnsPerIP = cfg.Limits.MaxConnectionsPerIP
	if *maxConnsPerIP != 0 {
		opts.MaxConnsPerIP = *maxConnsPerIP
	}
	opts.Access, err = relayAccessFromConfig(cfg.Access, env.getenv)
	if err != nil {
		return fmt.Errorf("relay: config %s: %w", *configPath, err)
	}

	// Addresses: flags override the file.
	hAddr := relayFirstNonEmpty(*httpAddr, cfg.HTTPBindAddr)
	if hAddr == "" {
		hAddr = "[::]:80"
		if *dev {
			hAddr = "[::]:3340"
		}
	}
	mAddr := relayFirstNonEmpty(*metricsAddr, cfg.MetricsBindAddr)
	if cfg.EnableMetrics != nil && !*cfg.EnableMetrics && *metricsAddr == "" {
		mAddr = ""
	}
	sAddr := relayFirstNonEmpty(*stunAddr, cfg.StunBindAddr)
	if sAddr == "" {
		// Dev mode too: without STUN, peers behind NATs never learn their
		// public address and never go direct.
		sAddr = net.JoinHostPort("::", strconv.Itoa(relayserver.DefaultSTUNPort))
	}
	if (cfg.EnableStun != nil && !*cfg.EnableStun && *stunAddr == "") || sAddr == "none" {
		sAddr = ""
	}
	var httpsAddr string
	if cfg.TLS != nil && !*dev {
		t := cfg.TLS
		switch {
		case t.SelfSigned || t.CertMode == "self_signed":
			opts.TLSConfig, _, err = relayserver.SelfSignedTLSConfig(t.Hostnames...)
		case t.CertMode == "" || t.CertMode == "manual":
			if t.ManualCertPath == "" || t.ManualKeyPath == "" {
				return errors.New("relay: config: tls needs manual_cert_path and manual_key_path (or self_signed = true)")
			}
			opts.TLSConfig, err = relayserver.LoadTLSConfig(t.ManualCertPath, t.ManualKeyPath)
		default:
			return fmt.Errorf("relay: config: tls.cert_mode %q is not supported (manual or self_signed)", t.CertMode)
		}
		if err != nil {
			return err
		}
		httpsAddr = relayFirstNonEmpty(t.HTTPSBindAddr, "[::]:443")
	}

	srv, err := relayserver.New(&opts)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	serve := func(what string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, relayserver.ErrServerClosed) {
				errc <- fmt.Errorf("relay: %s: %w", what, err)
			}
		}()
	}
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	hl, err := net.Listen("tcp", hAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", hAddr, err)
	}
	if opts.TLSConfig != nil {
		tl, err := net.Listen("tcp", httpsAddr)
		if err != nil {
			hl.Close()
			return fmt.Errorf("listen %s: %w", httpsAddr, err)
		}
		log.Info("relay listening", "addr", tl.Addr().String(), "scheme", "https")
		log.Info("captive portal listening", "addr", hl.Addr().String())
		serve("https", func() error { return srv.Serve(tl) })
		serve("http", func() error { return srv.ServeCaptivePortal(hl) })
	} else {
		log.Info("relay listening", "addr", hl.Addr().String(), "scheme", "http", "dev", *dev)
		serve("http", func() error { return srv.Serve(hl) })
	}
	if sAddr != "" {
		pc, err := net.ListenPacket("udp", sAddr)
		if err != nil {
			srv.Close()
			wg.Wait()
			return fmt.Errorf("stun listen %s: %w", sAddr, err)
		}
		log.Info("stun listening", "addr", pc.LocalAddr().String())
		serve("stun", func() error { return srv.ServeSTUN(pc) })
	} else {
		log.Info("stun disabled: endpoints behind NATs will not learn their public address")
	}
	if mAddr != "" {
		ml, err := net.Listen("tcp", mAddr)
		if err != nil {
			srv.Close()
			wg.Wait()
			return fmt.Errorf("metrics listen %s: %w", mAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		log.Info("metrics listening", "addr", ml.Addr().String())
		serve("metrics", func() error {
			if err := ms.Serve(ml); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		closers = append(closers, func() { ms.Close() })
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("relay shutting down")
	case runErr = <-errc:
		log.Error("relay failed", "err", runErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	for _, c := range closers {
		c()
	}
	closers = nil
	wg.Wait()
	log.Info("relay stopped")
	return runErr
}

func relayFirstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// relayAccessFromConfig maps the TOML access value to an AccessFunc. The
// environment variables of iroh-relay override the tokens.
func relayAccessFromConfig(v any, getenv func(string) string) (relayserver.AccessFunc, error) {
	switch a := v.(type) {
	case nil:
		return relayserver.AllowAll(), nil
	case string:
		if a == "everyone" {
			return relayserver.AllowAll(), nil
		}
		return nil, fmt.Errorf("access = %q: want \"everyone\" or a table", a)
	case map[string]any:
		if len(a) != 1 {
			return nil, errors.New("access: want exactly one of allowlist, denylist, shared_token, http")
		}
		for k, val := range a {
			switch k {
			case "allowlist", "denylist":
				ids, err := relayParseIDs(val)
				if err != nil {
					return nil, fmt.Errorf("access.%s: %w", k, err)
				}
				if k == "allowlist" {
					return relayserver.AllowList(ids...), nil
				}
				return relayserver.DenyList(ids...), nil
			case "shared_token":
				toks, err := relayStrings(val)
				if err != nil {
					return nil, fmt.Errorf("access.shared_token: %w", err)
				}
				if t := getenv("IROH_RELAY_ACCESS_TOKEN"); t != "" {
					toks = []string{t}
				}
				return relayserver.SharedTokens(toks...), nil
			case "http":
				m, ok := val.(map[string]any)
				if !ok {
					return nil, errors.New("access.http: want a table with url and bearer_token")
				}
				u, _ := m["url"].(string)
				tok, _ := m["bearer_token"].(string)
				if u == "" {
					return nil, errors.New("access.http: url missing")
				}
				if t := getenv("IROH_RELAY_HTTP_BEARER_TOKEN"); t != "" {
					tok = t
				}
				return relayserver.HTTPCheck(u, tok, &http.Client{Timeout: 10 * time.Second}), nil
			default:
				return nil, fmt.Errorf("access.%s: unknown policy", k)
			}
		}
	}
	return nil, fmt.Errorf("access: unsupported value %v", v)
}

func relayStrings(v any) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, errors.New("want a list of strings")
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a string", x)
		}
		out = append(out, s)
	}
	return out, nil
}

func relayParseIDs(v any) ([]key.PublicKey, error) {
	ss, err := relayStrings(v)
	if err != nil {
		return nil, err
	}
	ids := make([]key.PublicKey, 0, len(ss))
	for _, s := range ss {
		id, err := key.ParsePublicKey(s)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// runRelayBench drives pairs of relay clients that echo datagrams to each
// other through a relay (its own in-process relay unless --url is given)
// and prints throughput, one-way forwarding latency and memory.
func runRelayBench(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet(env, "relay bench")
	n := fs.Int("clients", 100, "number of clients (even; they talk in pairs)")
	relayURL := fs.String("url", "", "relay to test (default: start one in this process)")
	dur := fs.Duration("duration", 5*time.Second, "measurement time (after a 1 s warm-up)")
	size := fs.Int("size", 1200, "datagram size in bytes (at least 16)")
	window := fs.Int("window", 8, "datagrams in flight per direction per pair (closed loop)")
	rate := fs.Float64("rate", 0, "open loop: datagrams per second each client sends (0: closed loop)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurement to this file")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("unexpected argument %q", pos[0])
	}
	if *n < 2 || *n%2 != 0 {
		return usageError("--clients must be even and at least 2")
	}
	if *size < 16 || *size > 65000 {
		return usageError("--size must be in [16, 65000]")
	}
	if *rate < 0 {
		return usageError("--rate must not be negative")
	}
	if *window < 1 {
		return usageError("--window must be at least 1")
	}
	// One descriptor per client, and one more per client for an in-process relay.
	need := uint64(*n) + 256
	if *relayURL == "" {
		need += uint64(*n)
	}
	if got, err := relayserver.RaiseFileLimit(need); got < need {
		return fmt.Errorf("relay bench: open-file limit %d < %d needed for %d clients (raising it: %v); "+
			"run the relay in its own process and pass --url, or raise the hard limit", got, need, *n, err)
	}
	quiet := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var srv *relayserver.Server
	var srvDone chan struct{}
	if *relayURL == "" {
		srv, err = relayserver.New(&relayserver.Options{Logger: quiet, MaxConnsPerIP: -1}) // all bench clients share 127.0.0.1
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srvDone = make(chan struct{})
		go func() {
			defer close(srvDone)
			srv.Serve(ln)
		}()
		*relayURL = "http://" + ln.Addr().String() + "/"
		defer func() {
			srv.Close()
			<-srvDone
		}()
	}

	type benchClient struct {
		c    *relay.Client
		peer key.PublicKey
		sent atomic.Int64
		recv atomic.Int64
		lat  []time.Duration // owned by the client's read goroutine
	}
	var (
		measuring atomic.Bool
		stopped   atomic.Bool
		recvN     atomic.Int64
		recvBytes atomic.Int64
	)
	start := time.Now()
	perClientSamples := max(1000, 2_000_000 / *n)
	metrics := relay.NewMetrics(nil)
	clients := make([]*benchClient, *n)
	keys := make([]key.SecretKey, *n)
	for i := range keys {
		keys[i] = key.NewSecretKey()
	}
	for i := range clients {
		bc := &benchClient{peer: keys[i^1].Public(), lat: make([]time.Duration, 0, min(perClientSamples, 4096))}
		clients[i] = bc
		bc.c, err = relay.NewClient(relay.ClientOptions{
			URL:       *relayURL,
			SecretKey: keys[i],
			Logger:    quiet,
			Metrics:   metrics,
			OnDatagrams: func(src key.PublicKey, _ uint8, _ uint16, contents []byte) {
				now := time.Now()
				bc.recv.Add(1)
				if len(contents) < 16 {
					return
				}
				if measuring.Load() {
					sent := time.Unix(0, int64(binary.LittleEndian.Uint64(contents)))
					recvN.Add(1)
					recvBytes.Add(int64(len(contents)))
					if len(bc.lat) < perClientSamples {
						bc.lat = append(bc.lat, now.Sub(sent))
					}
				}
				if stopped.Load() || *rate > 0 {
					return // open loop: no echo
				}
				binary.LittleEndian.PutUint64(contents, uint64(time.Now().UnixNano()))
				bc.sent.Add(1)
				bc.c.Send(src, 0, 0, contents)
			},
		})
		if err != nil {
			return err
		}
	}
	defer func() {
		for _, bc := range clients {
			bc.c.Close()
		}
	}()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second+time.Duration(*n)*5*time.Millisecond)
	defer cancel()
	for i, bc := range clients {
		if err := bc.c.WaitConnected(cctx); err != nil {
			return fmt.Errorf("relay bench: client %d of %d not connected: %w (last error: %v)", i, *n, err, bc.c.State().LastError)
		}
	}
	connectTime := time.Since(start)
	payload := make([]byte, *size)
	kick := func(bc *benchClient, k int) {
		for range k {
			binary.LittleEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
			bc.sent.Add(1)
			bc.c.Send(bc.peer, 0, 0, payload)
		}
	}
	if *rate == 0 {
		for _, bc := range clients {
			kick(bc, *window)
		}
	}
	// Open loop: senders, each owning a share of the clients, send what
	// the rate owes every tick, whatever comes back.
	openStop := make(chan struct{})
	var openWG sync.WaitGroup
	if *rate > 0 {
		const senders = 4
		const tick = 5 * time.Millisecond
		for g := range senders {
			openWG.Add(1)
			go func() {
				defer openWG.Done()
				buf := make([]byte, *size)
				// Random starting credit spreads the clients' sends over
				// the interval; equal credit would make them all fire in
				// the same tick, a burst that measures queueing again.
				credit := make([]float64, len(clients))
				for i := range credit {
					credit[i] = mrand.Float64()
				}
				t := time.NewTicker(tick)
				defer t.Stop()
				last := time.Now()
				for {
					select {
					case <-openStop:
						return
					case now := <-t.C:
						owed := now.Sub(last).Seconds() * *rate
						last = now
						for i := g; i < len(clients); i += senders {
							credit[i] += owed
							bc := clients[i]
							for ; credit[i] >= 1; credit[i]-- {
								binary.LittleEndian.PutUint64(buf, uint64(time.Now().UnixNano()))
								bc.sent.Add(1)
								bc.c.Send(bc.peer, 0, 0, buf)
							}
						}
					}
				}
			}()
		}
	}
	// Every datagram received is answered with one, so a pair keeps
	// 2×window datagrams in flight; only drops lower that. A deficit seen
	// on two checks in a row (not a datagram between receive and echo) is
	// refilled, so the load stays constant.
	refillDone := make(chan struct{})
	refillStop := make(chan struct{})
	go func() {
		defer close(refillDone)
		if *rate > 0 {
			<-refillStop
			return
		}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		prev := make([]int64, len(clients)/2)
		for {
			select {
			case <-refillStop:
				return
			case <-t.C:
				for p := range prev {
					a, b := clients[2*p], clients[2*p+1]
					deficit := int64(2**window) - (a.sent.Load() + b.sent.Load() - a.recv.Load() - b.recv.Load())
					if d := min(deficit, prev[p]); d > 0 {
						kick(a, int(d))
						deficit -= d
					}
					prev[p] = deficit
				}
			}
		}
	}()
	sleepCtx := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-ctx.Done():
			return false
		}
	}
	sleepCtx(time.Second)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("relay bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("relay bench: %w", err)
		}
	}
	measuring.Store(true)
	t0 := time.Now()
	sleepCtx(*dur)
	measuring.Store(false)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	elapsed := time.Since(t0)
	sentDuring := int64(0)
	if *rate > 0 {
		// Stop sending, let what is in flight arrive, then count drops.
		close(openStop)
		openWG.Wait()
		sleepCtx(time.Second)
	}
	for _, bc := range clients {
		sentDuring += bc.sent.Load()
	}
	rss := relayProcessRSS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	stopped.Store(true)
	close(refillStop)
	<-refillDone
	for _, bc := range clients {
		bc.c.Close()
	}
	var lat []time.Duration
	for _, bc := range clients {
		lat = append(lat, bc.lat...)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	dps := float64(recvN.Load()) / elapsed.Seconds()
	mbps := float64(recvBytes.Load()) / elapsed.Seconds() / 1e6
	where := "external relay; RSS is this bench process only"
	if srv != nil {
		where = "in-process relay; RSS includes the clients"
	}
	var srvDrops float64
	if srv != nil {
		m := srv.Metrics()
		for _, r := range []string{relayserver.DropNoDestination, relayserver.DropQueueFull, relayserver.DropDisconnected} {
			srvDrops += relayCounterValue(m.DatagramDrops.WithLabelValues(r))
		}
	}
	var cliDrops float64
	for _, r := range []string{"queue_full", "expired"} {
		cliDrops += relayCounterValue(metrics.SendDrops.WithLabelValues(r))
	}
	mode := fmt.Sprintf("closed loop, window %d", *window)
	if *rate > 0 {
		mode = fmt.Sprintf("open loop, %.0f datagrams/s per client (%.0f offered)", *rate, *rate*float64(*n))
	}
	fmt.Fprintf(env.stdout, "relay bench: %d clients (%d pairs), %d-byte datagrams, %s, %s (%s)\n",
		*n, *n/2, *size, mode, elapsed.Round(time.Millisecond), where)
	fmt.Fprintf(env.stdout, "connect:     %v for all clients\n", connectTime.Round(time.Millisecond))
	fmt.Fprintf(env.stdout, "throughput:  %.0f datagrams/s, %.1f MB/s (payload received)\n", dps, mbps)
	fmt.Fprintf(env.stdout, "latency:     p50 %v, p99 %v, p99.9 %v (one way, send to receive callback, %d samples)\n",
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(0.999).Round(time.Microsecond), len(lat))
	if *rate > 0 {
		var recvAll int64
		for _, bc := range clients {
			recvAll += bc.recv.Load()
		}
		lost := sentDuring - recvAll
		fmt.Fprintf(env.stdout, "open loop:   sent %d, received %d, lost %d (%.3f%%)\n",
			sentDuring, recvAll, lost, 100*float64(lost)/float64(max(sentDuring, 1)))
	}
	fmt.Fprintf(env.stdout, "memory:      RSS %.1f MiB, Go heap in use %.1f MiB, goroutines %d\n",
		float64(rss)/(1<<20), float64(ms.HeapInuse)/(1<<20), runtime.NumGoroutine())
	fmt.Fprintf(env.stdout, "drops:       relay %.0f, client send queues %.0f\n", srvDrops, cliDrops)
	return nil
}

func relayCounterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}

// relayProcessRSS returns the resident set size from /proc/self/status (Linux),
// or the Go runtime's total obtained memory elsewhere.
func relayProcessRSS() uint64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				f := strings.Fields(rest)
				if len(f) >= 1 {
					if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil {
						return kb * 1024
					}
				}
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Sys
}
