package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/iroh-go/iroh/dnsserver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func init() {
	register(&command{
		name:    "dns-server",
		summary: "run an iroh DNS server: pkarr relay, authoritative DNS and DNS-over-HTTPS",
		usage:   "[--dev] [--config FILE] [--http-addr ADDR] [--dns-addr ADDR] [--origin NAME,...] [--data-dir DIR] [flags]",
		help: `Serve signed endpoint address records: endpoints publish them over HTTP (pkarr
relay, PUT /pkarr/ID) and others resolve them over DNS (_iroh.ID.ORIGIN TXT) or
DNS-over-HTTPS, as iroh-dns-server does. --dev serves on loopback-friendly ports.`,
		example: "iroh dns-server --dev   # then: iroh pipe listen --pkarr-relay http://127.0.0.1:8080/pkarr",
		run:     runDNSServer,
	})
}

// Addresses of 'iroh dns-server --dev'.
const (
	devDNSHTTPAddr = "127.0.0.1:8080"
	devDNSAddr     = "127.0.0.1:5300"
)

func runDNSServer(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet(env, "dns-server")
	dev := fs.Bool("dev", false, "development mode: HTTP on "+devDNSHTTPAddr+", DNS on "+devDNSAddr+" (UDP+TCP), origin "+dnsserver.DefaultOrigin+", store in a temporary directory unless --data-dir")
	configPath := fs.String("config", "", "TOML configuration file (see the dnsserver package doc for the keys)")
	httpAddr := fs.String("http-addr", "", "HTTP listen address for /pkarr, /dns-query and /healthz (\"off\" disables)")
	dnsAddr := fs.String("dns-addr", "", "DNS listen address, UDP and TCP (\"off\" disables)")
	origins := fs.String("origin", "", "comma-separated origins the server is authoritative for (default "+dnsserver.DefaultOrigin+")")
	dataDir := fs.String("data-dir", "", "directory of the packet store")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (\"off\" disables)")
	rateLimit := fs.String("rate-limit", "", "PUT rate limit per client: simple (per IP, default), smart (X-Forwarded-For), disabled")
	verbose := fs.Bool("v", false, "debug logging")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError("dns-server: unexpected argument %q", pos[0])
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))

	// Base: the config file, else --dev, else production-like defaults.
	var opts dnsserver.Options
	mAddr := ""
	switch {
	case *configPath != "":
		cfg, err := dnsserver.LoadConfig(*configPath)
		if err != nil {
			return err
		}
		if opts, mAddr, err = cfg.Options(); err != nil {
			return err
		}
	case *dev:
		opts.HTTPAddr, opts.DNSAddr = devDNSHTTPAddr, devDNSAddr
	default:
		opts.HTTPAddr, opts.DNSAddr = "0.0.0.0:8080", "0.0.0.0:5300"
		mAddr = dnsserver.DefaultMetricsAddr
	}
	// Flags override.
	override := func(dst *string, flag string) {
		switch flag {
		case "":
		case "off":
			*dst = ""
		default:
			*dst = flag
		}
	}
	override(&opts.HTTPAddr, *httpAddr)
	override(&opts.DNSAddr, *dnsAddr)
	override(&mAddr, *metricsAddr)
	if *dataDir != "" {
		opts.DataDir = *dataDir
	}
	if opts.DataDir == "" && !*dev {
		return usageError("dns-server: --data-dir (or data_dir in --config) is required; --dev uses a temporary directory")
	}
	if *origins != "" {
		opts.Origins = nil
		for _, o := range strings.Split(*origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				if !strings.HasSuffix(o, ".") {
					o += "."
				}
				opts.Origins = append(opts.Origins, o)
			}
		}
	}
	if *rateLimit != "" {
		if opts.RateLimit.Mode, err = dnsserver.ParseRateLimitMode(*rateLimit); err != nil {
			return usageError("%v", err)
		}
	}
	if opts.HTTPAddr == "" && opts.DNSAddr == "" {
		return usageError("dns-server: both HTTP and DNS are disabled")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts.Metrics = dnsserver.NewMetrics(reg)
	opts.Logger = log

	srv, err := dnsserver.New(&opts)
	if err != nil {
		return err
	}
	defer srv.Close()

	var ms *http.Server
	msDone := make(chan error, 1)
	if mAddr != "" {
		ml, err := net.Listen("tcp", mAddr)
		if err != nil {
			return fmt.Errorf("dns-server: metrics listen %s: %w", mAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		ms = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		log.Info("metrics listening", "addr", ml.Addr().String())
		go func() { msDone <- ms.Serve(ml) }()
	}
	if a := srv.HTTPAddr(); a != nil {
		fmt.Fprintf(env.stdout, "pkarr relay: %s\n", srv.PkarrURL())
		fmt.Fprintf(env.stdout, "dns-over-https: http://%s/dns-query\n", a)
	}
	if a := srv.DNSAddr(); a != nil {
		o := opts.Origins
		if len(o) == 0 {
			o = []string{dnsserver.DefaultOrigin}
		}
		fmt.Fprintf(env.stdout, "dns: %s (udp+tcp) origins %s\n", a, strings.Join(o, ","))
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("dns server shutting down")
	case err := <-msDone:
		runErr = fmt.Errorf("dns-server: metrics: %w", err)
		ms = nil
	}
	if ms != nil {
		ms.Close()
		if err := <-msDone; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
			runErr = fmt.Errorf("dns-server: metrics: %w", err)
		}
	}
	if err := srv.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}
