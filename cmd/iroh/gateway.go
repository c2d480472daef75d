package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/gateway"
	"github.com/iroh-go/iroh/key"
)

func init() {
	register(&command{
		name:    "gateway",
		summary: "HTTP gateway: /blob, /collection, /ticket, /ipfs and /ipns over a blob store (import-car, import-ipns)",
		usage:   "[--addr HOST:PORT] [--data-dir DIR] [flags]\nimport-car FILE... --data-dir DIR\nimport-ipns FILE... --data-dir DIR",
		help: `Serve blobs and collections over HTTP (/blob/HASH, /collection/HASH/PATH,
/ticket/TICKET/PATH, fetched on demand from providers allowed by
--allow-provider, verified before a byte is sent) and an IPFS gateway at
/ipfs/CID/PATH (path and trustless gateway) over the same blob store.`,
		example: `iroh gateway --addr 127.0.0.1:8080 --data-dir ./store
iroh gateway import-car fixtures.car --data-dir ./store`,
		run: runGateway,
		subs: []*command{
			{
				name:    "import-car",
				summary: "import CAR files into the store, each block verified against its CID",
				usage:   "FILE... --data-dir DIR",
				help:    "Import the blocks of CAR files into the blob store, verifying each against its CID, and index them for /ipfs.",
				example: "iroh gateway import-car fixtures.car --data-dir ./store",
				run:     runImportCAR,
			},
			{
				name:    "import-ipns",
				summary: "import signed IPNS records for /ipns",
				usage:   "FILE... --data-dir DIR [--name NAME]",
				help:    "Import signed IPNS records, each checked against its name, so /ipns/NAME resolves.",
				example: "iroh gateway import-ipns record.bin --data-dir ./store",
				run:     runImportIPNS,
			},
		},
	})
}

func runGateway(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) > 0 && args[0] == "import-car" {
		return runImportCAR(ctx, env, args[1:])
	}
	if len(args) > 0 && args[0] == "import-ipns" {
		return runImportIPNS(ctx, env, args[1:])
	}
	fset := newFlagSet(env, "gateway")
	var ef endpointFlags
	ef.register(fset, "")
	addr := fset.String("addr", "127.0.0.1:8080", "HTTP listen address")
	dataDir := fset.String("data-dir", "", "blob store directory (default: a temporary directory removed at exit)")
	var allow stringList
	fset.Var(&allow, "allow-provider", "endpoint id the gateway may fetch tickets' content from (repeatable)")
	allowAll := fset.Bool("allow-all-providers", false, "fetch tickets' content from any provider")
	trustless := fset.Bool("trustless-only", false, "/ipfs serves only raw blocks and CARs (no UnixFS deserialization)")
	metricsAddr := fset.String("metrics-addr", "", "serve Prometheus metrics on this address at /metrics")
	accessLog := fset.Bool("access-log", false, "log every request at info level")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("gateway: unexpected argument %q", pos[0])
	}
	opts, err := ef.options(env, nil)
	if err != nil {
		return err
	}
	log := opts.Logger
	var ids []key.PublicKey
	for _, a := range allow {
		id, err := key.ParsePublicKey(a)
		if err != nil {
			return usageError("--allow-provider %q: %v", a, err)
		}
		ids = append(ids, id)
	}
	st, cleanup, err := openStore(*dataDir)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	defer cleanup()
	defer st.Close()

	reg := prometheus.NewRegistry()
	gopts := &gateway.Options{
		Logger:        log,
		AccessLog:     *accessLog,
		Metrics:       gateway.NewMetrics(reg),
		AllowProvider: gateway.AllowProviders(ids...),
		IPFS:          &gateway.IPFSOptions{TrustlessOnly: *trustless},
	}
	if *allowAll {
		gopts.AllowProvider = gateway.AllowAllProviders
	}
	if *allowAll || len(ids) > 0 {
		ep, err := bindWith(ctx, opts)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		defer ep.Close(context.Background())
		gopts.Dial = blobs.EndpointDialer(ep)
	}
	g, err := gateway.New(st, gopts)
	if err != nil {
		return err
	}
	defer g.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	srv := gateway.NewServer(*addr, g)
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("gateway: metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go msrv.Serve(mln)
		defer msrv.Close()
	}
	fmt.Fprintf(env.stderr, "gateway listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openStore opens the fs store at dir, or when dir is "" one in a new
// temporary directory removed by cleanup (on disk, not in memory: fetched
// blobs may be large).
func openStore(dir string) (st blobs.Store, cleanup func(), err error) {
	if dir != "" {
		st, err := fs.Open(dir, nil)
		return st, func() {}, err
	}
	tmp, err := os.MkdirTemp("", "iroh-gateway-*")
	if err != nil {
		return nil, nil, err
	}
	fst, err := fs.Open(tmp, nil)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	return fst, func() { os.RemoveAll(tmp) }, nil
}

func runImportCAR(ctx context.Context, env *cmdEnv, args []string) error {
	fset := newFlagSet(env, "gateway import-car")
	dataDir := fset.String("data-dir", "", "blob store directory (required)")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("gateway import-car: want one or more FILEs")
	}
	if *dataDir == "" {
		return usageError("gateway import-car: --data-dir is required")
	}
	st, err := fs.Open(*dataDir, nil)
	if err != nil {
		return fmt.Errorf("import-car: %w", err)
	}
	defer st.Close()
	for _, p := range pos {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("import-car: %w", err)
		}
		roots, n, err := gateway.ImportCAR(ctx, st, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("import-car %s: %w", p, err)
		}
		for _, r := range roots {
			fmt.Fprintf(env.stdout, "root %s\n", r)
		}
		fmt.Fprintf(env.stderr, "%s: %d blocks imported\n", p, n)
	}
	return st.Sync(ctx)
}

func runImportIPNS(ctx context.Context, env *cmdEnv, args []string) error {
	fset := newFlagSet(env, "gateway import-ipns")
	dataDir := fset.String("data-dir", "", "blob store directory (required)")
	name := fset.String("name", "", "IPNS name the record is for (default: the file name up to its first '_' or '.')")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError("gateway import-ipns: want one or more FILEs")
	}
	if *dataDir == "" {
		return usageError("gateway import-ipns: --data-dir is required")
	}
	st, err := fs.Open(*dataDir, nil)
	if err != nil {
		return fmt.Errorf("import-ipns: %w", err)
	}
	defer st.Close()
	for _, p := range pos {
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("import-ipns: %w", err)
		}
		n := *name
		if n == "" {
			n = filepath.Base(p)
			if i := strings.IndexAny(n, "_."); i > 0 {
				n = n[:i]
			}
		}
		if err := gateway.ImportIPNSRecord(ctx, st, n, data); err != nil {
			return fmt.Errorf("import-ipns %s: %w", p, err)
		}
		fmt.Fprintf(env.stderr, "%s: record for %s imported\n", p, n)
	}
	return st.Sync(ctx)
}
