package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/endpointaddr"
)

// benchRawALPN is the baseline protocol of the benchmark: the provider
// writes the requested number of bytes on a stream, nothing else.
const benchRawALPN = "iroh-go/bench-raw/0"

const benchUsage = `[--size BYTES] [--runs N] [--file PATH] [--files N --file-size BYTES] [--rust FILE]`

const benchHelp = `Measures, like ../shared/interop/bench-rust-blobs.sh does for Rust iroh 0.35:
import into a fresh fs store (provider process), then transfer over loopback
to a fresh fs store in this process (the fetcher), with CPU seconds (user +
sys over each window) and peak RSS per side, and a raw endpoint stream of the
same size as baseline (raw_*_cpu_s: each side's CPU seconds for it; with
--cpuprofile the profiles cover the blob transfer only). Since both sides
are usually CPU-bound, transfer_over_raw follows the ratio of the two
transfers' CPU seconds. Prints one JSON line per run and {"go_blobs":{...}}
with medians; with --rust FILE (the output of bench-rust-blobs.sh) also the
ratios. Run it in a loopback-only namespace for numbers comparable to Rust:
  unshare -rn sh -c 'ip link set lo up; iroh blobs bench'`

func runBlobsBench(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) > 0 && args[0] == "provide" {
		return benchProvide(ctx, env, args[1:])
	}
	fset := newFlagSet(env, "blobs bench")
	size := fset.Int64("size", 1<<30, "random payload size in bytes (ignored with --file or --files)")
	runs := fset.Int("runs", 3, "repetitions; the summary holds medians")
	file := fset.String("file", "", "payload file instead of random data")
	files := fset.Int("files", 0, "make the payload a directory of this many random files (a collection)")
	fileSize := fset.Int64("file-size", 10<<10, "size of each file with --files")
	rustFile := fset.String("rust", "", "output of bench-rust-blobs.sh to compute ratios against")
	profDir := fset.String("cpuprofile", "", "write provider.prof and fetcher.prof CPU profiles of the transfer into this directory")
	if _, err := parseFlags(fset, args); err != nil {
		return err
	}
	if *runs < 1 || *size < 1 {
		return usageError("blobs bench: --runs and --size must be positive")
	}
	work, err := os.MkdirTemp("", "iroh-blobs-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	payload := *file
	var total int64
	switch {
	case *files > 0:
		payload = filepath.Join(work, "payload")
		if err := writeBenchDir(payload, *files, *fileSize); err != nil {
			return err
		}
		total = int64(*files) * *fileSize
	case payload == "":
		payload = filepath.Join(work, "payload.bin")
		if err := writeRandomFile(payload, *size); err != nil {
			return err
		}
		total = *size
	default:
		fi, err := os.Stat(payload)
		if err != nil {
			return err
		}
		total = fi.Size()
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var results []map[string]float64
	for i := range *runs {
		r, err := benchRun(ctx, env, exe, work, payload, i, total, *profDir)
		if err != nil {
			return fmt.Errorf("blobs bench: run %d: %w", i, err)
		}
		line, _ := json.Marshal(map[string]any{"go_blobs_run": r})
		fmt.Fprintln(env.stdout, string(line))
		results = append(results, r)
	}
	sum := map[string]any{"mode": "fs", "bytes": total, "runs": *runs, "verified": true}
	if *files > 0 {
		sum["files"] = *files
	}
	med := map[string]float64{}
	for k := range results[0] {
		var vs []float64
		for _, r := range results {
			vs = append(vs, r[k])
		}
		sort.Float64s(vs)
		med[k] = vs[len(vs)/2]
		sum[k] = med[k]
	}
	line, _ := json.Marshal(map[string]any{"go_blobs": sum})
	fmt.Fprintln(env.stdout, string(line))
	if *rustFile != "" {
		rust, err := readRustSummary(*rustFile)
		if err != nil {
			return err
		}
		ratios := map[string]float64{
			"transfer_MBps_go_over_rust":    med["transfer_MBps"] / rust["transfer_MBps"],
			"fetcher_cpu_s_go_over_rust":    med["fetcher_cpu_s"] / rust["fetcher_cpu_s"],
			"provider_cpu_s_go_over_rust":   med["provider_cpu_s"] / rust["provider_cpu_s"],
			"import_MBps_go_over_rust":      med["import_MBps"] / rust["import_MBps"],
			"fetcher_rss_mib_go_over_rust":  med["fetcher_rss_mib"] / rust["fetcher_rss_mib"],
			"provider_rss_mib_go_over_rust": med["provider_rss_mib"] / rust["provider_rss_mib"],
		}
		line, _ := json.Marshal(map[string]any{"ratios": ratios, "rust_bytes": rust["bytes"]})
		fmt.Fprintln(env.stdout, string(line))
	}
	return nil
}

// readRustSummary finds the {"rust_blobs":{...}} line in a file.
func readRustSummary(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v struct {
			Rust map[string]any `json:"rust_blobs"`
		}
		if json.Unmarshal(sc.Bytes(), &v) == nil && v.Rust != nil {
			out := map[string]float64{}
			for k, x := range v.Rust {
				if f, ok := x.(float64); ok {
					out[k] = f
				}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s: no {\"rust_blobs\":...} line", path)
}

func writeRandomFile(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for w := int64(0); w < n; {
		rand.Read(buf)
		k := min(int64(len(buf)), n-w)
		if _, err := f.Write(buf[:k]); err != nil {
			f.Close()
			return err
		}
		w += k
	}
	return f.Close()
}

func writeBenchDir(dir string, n int, size int64) error {
	buf := make([]byte, size)
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%03d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return err
			}
		}
		rand.Read(buf)
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%06d", i)), buf, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// benchRun runs one provider process and one transfer into this process.
func benchRun(ctx context.Context, env *cmdEnv, exe, work, payload string, i int, total int64, profDir string) (map[string]float64, error) {
	provDir := filepath.Join(work, fmt.Sprintf("provider-%d", i))
	fetchDir := filepath.Join(work, fmt.Sprintf("fetcher-%d", i))
	defer os.RemoveAll(provDir)
	defer os.RemoveAll(fetchDir)
	cmd := exec.CommandContext(ctx, exe, "blobs", "bench", "provide", "--data-dir", provDir, "--path", payload)
	if profDir != "" {
		cmd.Args = append(cmd.Args, "--cpuprofile", filepath.Join(profDir, "provider.prof"))
	}
	cmd.Stderr = env.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}()
	dec := json.NewDecoder(stdout)
	var hello struct {
		Ticket     string  `json:"ticket"`
		ImportS    float64 `json:"import_s"`
		ImportCPUS float64 `json:"import_cpu_s"`
	}
	if err := dec.Decode(&hello); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	t, err := blobs.ParseBlobTicket(hello.Ticket)
	if err != nil {
		return nil, err
	}
	ep, err := iroh.Bind(ctx, &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true, Logger: quietLogger()})
	if err != nil {
		return nil, err
	}
	defer ep.Close(context.Background())
	st, err := fs.Open(fetchDir, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	d, err := blobs.NewDownloader(st, blobs.EndpointDialer(ep), nil)
	if err != nil {
		return nil, err
	}
	defer d.Close()

	if profDir != "" {
		f, err := os.Create(filepath.Join(profDir, "fetcher.prof"))
		if err != nil {
			return nil, err
		}
		pprof.StartCPUProfile(f)
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	cpu0, _ := rusage()
	t0 := time.Now()
	tt, err := d.Download(ctx, blobs.DownloadRequest{Content: t.HashAndFormat(), Providers: []endpointaddr.Addr{t.Addr}})
	if err != nil {
		return nil, err
	}
	el := time.Since(t0)
	cpu1, rss := rusage()
	pprof.StopCPUProfile() // the profile covers the blob transfer only
	tt.Close()
	// Ask the provider for its CPU time of the blob transfer.
	if _, err := io.WriteString(stdin, "mark\n"); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	var mark struct {
		CPUS float64 `json:"cpu_s"`
	}
	if err := dec.Decode(&mark); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	// Verified by the decoder; check the store agrees it is complete.
	if t.Format == blobs.HashSeqFormat {
		if _, err := store.LoadCollection(ctx, st, t.Hash); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	} else if bf, err := st.Bitfield(ctx, t.Hash); err != nil || !bf.Complete() || int64(bf.Size) != total {
		return nil, fmt.Errorf("verify: blob not complete (%v)", err)
	}

	// Baseline: a raw stream of the same size on the same kind of connection.
	cpu2, _ := rusage()
	rawMBps, err := benchRaw(ctx, ep, t.Addr, total)
	if err != nil {
		return nil, fmt.Errorf("raw stream: %w", err)
	}
	cpu3, _ := rusage()
	stdin.Close()
	var bye struct {
		CPUS   float64 `json:"cpu_s"`
		RSSMiB float64 `json:"rss_mib"`
	}
	if err := dec.Decode(&bye); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	mb := float64(total) / 1e6
	return map[string]float64{
		"import_s":           hello.ImportS,
		"import_MBps":        mb / hello.ImportS,
		"import_cpu_s":       hello.ImportCPUS,
		"transfer_s":         el.Seconds(),
		"transfer_MBps":      mb / el.Seconds(),
		"fetcher_cpu_s":      (cpu1 - cpu0).Seconds(),
		"fetcher_rss_mib":    float64(rss) / (1 << 20),
		"provider_cpu_s":     mark.CPUS,
		"provider_rss_mib":   bye.RSSMiB,
		"raw_stream_MBps":    rawMBps,
		"raw_fetcher_cpu_s":  (cpu3 - cpu2).Seconds(),
		"raw_provider_cpu_s": bye.CPUS,
		"transfer_over_raw":  (mb / el.Seconds()) / rawMBps,
	}, nil
}

func benchRaw(ctx context.Context, ep *iroh.Endpoint, addr endpointaddr.Addr, n int64) (float64, error) {
	conn, err := ep.Connect(ctx, addr, benchRawALPN)
	if err != nil {
		return 0, err
	}
	defer conn.Close(0, "")
	t0 := time.Now()
	s, err := conn.OpenStream(ctx)
	if err != nil {
		return 0, err
	}
	var req [8]byte
	binary.LittleEndian.PutUint64(req[:], uint64(n))
	s.Write(req[:])
	s.Close()
	got, err := io.CopyBuffer(io.Discard, s, make([]byte, 1<<20))
	if err != nil {
		return 0, err
	}
	if got != n {
		return 0, fmt.Errorf("got %d of %d bytes", got, n)
	}
	return float64(n) / 1e6 / time.Since(t0).Seconds(), nil
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// benchRawHandler serves the raw baseline.
type benchRawHandler struct{}

func (benchRawHandler) Accept(ctx context.Context, conn *iroh.Connection) error {
	defer conn.Close(0, "")
	buf := make([]byte, 1<<20)
	for {
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			return nil
		}
		var req [8]byte
		if _, err := io.ReadFull(s, req[:]); err != nil {
			s.CancelWrite(0)
			continue
		}
		for n := int64(binary.LittleEndian.Uint64(req[:])); n > 0; {
			k := min(n, int64(len(buf)))
			if _, err := s.Write(buf[:k]); err != nil {
				break
			}
			n -= k
		}
		s.Close()
	}
}

// benchProvide is the provider process: import, print the ticket, serve
// until stdin closes, print CPU and peak RSS.
func benchProvide(ctx context.Context, env *cmdEnv, args []string) error {
	fset := newFlagSet(env, "blobs bench provide")
	dataDir := fset.String("data-dir", "", "store directory")
	path := fset.String("path", "", "file or directory to import")
	prof := fset.String("cpuprofile", "", "CPU profile of the serving phase")
	if _, err := parseFlags(fset, args); err != nil {
		return err
	}
	st, err := fs.Open(*dataDir, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	cpu0, _ := rusage()
	t0 := time.Now()
	root, err := importBench(ctx, st, *path)
	if err != nil {
		return err
	}
	importS := time.Since(t0).Seconds()
	cpu1, _ := rusage()
	defer root.Close()
	ep, err := iroh.Bind(ctx, &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true, Logger: quietLogger()})
	if err != nil {
		return err
	}
	defer ep.Close(context.Background())
	r := iroh.NewRouter(ep).Handle(blobs.ALPN, blobs.NewProvider(st, nil)).Handle(benchRawALPN, benchRawHandler{})
	if err := r.Start(); err != nil {
		return err
	}
	defer r.Shutdown(context.Background())
	a := ep.Addr()
	a.RelayURLs = nil
	t := blobs.BlobTicket{Addr: a, Hash: root.Hash(), Format: root.HashAndFormat().Format}
	enc := json.NewEncoder(env.stdout)
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	cpuT, _ := rusage()
	enc.Encode(map[string]any{"ticket": t.String(), "import_s": importS, "import_cpu_s": (cpu1 - cpu0).Seconds()})
	// Each line on stdin ends a phase (the blob transfer): report its CPU
	// time and start the next; EOF ends the last one (the raw stream).
	sc := bufio.NewScanner(env.stdin)
	for sc.Scan() {
		cpuM, _ := rusage()
		pprof.StopCPUProfile() // the profile covers the blob transfer only
		enc.Encode(map[string]any{"cpu_s": (cpuM - cpuT).Seconds()})
		cpuT = cpuM
	}
	cpuE, rss := rusage()
	pprof.StopCPUProfile()
	return enc.Encode(map[string]any{"cpu_s": (cpuE - cpuT).Seconds(), "rss_mib": float64(rss) / (1 << 20)})
}

// importBench imports a file as a raw blob (like the Rust baseline) or a
// directory as a collection.
func importBench(ctx context.Context, st blobs.Store, path string) (*blobs.TempTag, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		_, root, err := store.AddDir(ctx, st, path)
		return root, err
	}
	return st.AddFile(ctx, path)
}
