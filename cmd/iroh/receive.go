package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/endpointaddr"
)

func init() {
	register(&command{
		name:    "receive",
		summary: "download what a blob ticket names into a directory (verified, resumable)",
		usage:   "[--out DIR] [--force] [flags] TICKET",
		help: `Download the file or directory a ticket from 'iroh send' names, verifying every
16 KiB as it arrives, into DIR (default: the current directory). Partial data
waits in DIR/.iroh-receive-HASH, so an interrupted receive resumes when run
again; once complete, the downloaded files are moved (renamed, not copied) to
their names. An existing file of the same name is left alone when identical and
reported; a different one is never overwritten unless --force.`,
		example: "iroh receive --out ~/Downloads blobabc...",
		run:     runReceive,
	})
}

func runReceive(ctx context.Context, env *cmdEnv, args []string) error {
	start := time.Now()
	fset := newFlagSet(env, "receive")
	var ef endpointFlags
	ef.register(fset, "")
	out := fset.String("out", "", "output directory (default: current directory)")
	force := fset.Bool("force", false, "overwrite existing files that differ from the download")
	quiet := fset.Bool("q", false, "no progress line")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one TICKET, got %d arguments", len(pos))
	}
	t, err := blobs.ParseBlobTicket(pos[0])
	if err != nil {
		return usageError("%v", err)
	}
	outDir := *out
	if outDir == "" {
		if outDir, err = os.Getwd(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	opts, err := ef.options(env, nil)
	if err != nil {
		return err
	}
	// Partial state lives beside the output (same file system: the
	// finished files are renamed out of it) so a rerun resumes.
	stateDir := filepath.Join(outDir, ".iroh-receive-"+t.Hash.String())
	_, statErr := os.Stat(stateDir)
	resumed := statErr == nil
	st, err := fs.Open(stateDir, &fs.Options{Logger: opts.Logger})
	if err != nil {
		if errors.Is(err, fs.ErrLocked) {
			return fmt.Errorf("another iroh receive is downloading this ticket into %s (its state is %s)", outDir, stateDir)
		}
		return storeError(stateDir, err)
	}
	closed := false
	closeStore := func() {
		if !closed {
			closed = true
			st.Close()
		}
	}
	defer closeStore()
	ep, err := bindWith(ctx, opts)
	if err != nil {
		return err
	}
	defer ep.Close(context.Background())
	d, err := blobs.NewDownloader(st, blobs.EndpointDialer(ep), &blobs.DownloaderOptions{Logger: opts.Logger})
	if err != nil {
		return err
	}
	defer d.Close()
	providers := []endpointaddr.Addr{t.Addr}

	// fail keeps the state directory only when it holds verified data.
	fail := func(err error) error {
		verified := storedBytes(ctx, st)
		closeStore()
		interrupted := ctx.Err() != nil
		if verified == 0 && !resumed {
			os.RemoveAll(stateDir)
			if interrupted {
				return errors.New("interrupted before any data arrived; nothing kept")
			}
			return fmt.Errorf("%w (nothing was kept)", err)
		}
		what := fmt.Sprintf("%s verified kept in %s; run the same command again to resume", fmtBytes(verified), stateDir)
		if interrupted {
			return errors.New("interrupted; " + what)
		}
		return fmt.Errorf("%w (%s)", err, what)
	}

	// A collection: fetch its names first, to see what is already there
	// and refuse (before the download) to overwrite what differs.
	var c blobs.Collection
	if t.Format == blobs.HashSeqFormat {
		if c, err = fetchCollection(ctx, d, st, t.Hash, providers); err != nil {
			return fail(err)
		}
	} else {
		c = blobs.Collection{{Name: t.Hash.String(), Hash: t.Hash}}
	}
	plan, err := planOutputs(c, outDir, *force)
	if err != nil {
		closeStore()
		if !resumed {
			os.RemoveAll(stateDir) // at most the collection's names
		}
		return err
	}
	if plan.allIdentical() {
		closeStore()
		os.RemoveAll(stateDir)
		for _, p := range plan.identical {
			fmt.Fprintf(env.stderr, "%s is already here, identical: left alone\n", p)
		}
		fmt.Fprintf(env.stderr, "nothing to receive\n")
		return nil
	}

	prog := newProgressLine(env.stderr, *quiet)
	tt, err := d.Download(ctx, blobs.DownloadRequest{
		Content:    t.HashAndFormat(),
		Providers:  providers,
		OnProgress: prog.update,
	})
	prog.end()
	if err != nil {
		return fail(err)
	}
	transfer := prog.last
	tt.Close()
	moved := make(map[blobs.Hash]string)
	for _, o := range plan.outputs {
		if o.identical {
			fmt.Fprintf(env.stderr, "%s is already here, identical: left alone\n", o.path)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
			return err
		}
		if first, ok := moved[o.hash]; ok {
			// The same content under a second name: copy the first.
			if err := copyFile(first, o.path); err != nil {
				return err
			}
			continue
		}
		if err := st.ExportMove(ctx, o.hash, o.path); err != nil {
			return err
		}
		moved[o.hash] = o.path
	}
	closeStore()
	if err := os.RemoveAll(stateDir); err != nil {
		return fmt.Errorf("remove %s: %w", stateDir, err)
	}
	el := time.Since(start)
	fmt.Fprintf(env.stderr, "received %d file(s), %s in %s: %s fetched in %s (%s/s), whole command %s/s\n",
		len(plan.outputs), fmtBytes(transfer.Total), el.Round(time.Millisecond),
		fmtBytes(transfer.Fetched), transfer.Elapsed.Round(time.Millisecond), fmtBytes(rate(transfer.Fetched, transfer.Elapsed)),
		fmtBytes(rate(transfer.Fetched, el)))
	return nil
}

// fetchCollection downloads the root hash sequence and the metadata blob
// of a collection (a few round trips, small) and returns its entries.
func fetchCollection(ctx context.Context, d *blobs.Downloader, st blobs.Store, root blobs.Hash, providers []endpointaddr.Addr) (blobs.Collection, error) {
	tt, err := d.Download(ctx, blobs.DownloadRequest{Content: blobs.HashAndFormat{Hash: root}, Providers: providers})
	if err != nil {
		return nil, err
	}
	defer tt.Close()
	seq, err := store.ReadCollectionSeq(ctx, st, root)
	if err != nil {
		return nil, err
	}
	mt, err := d.Download(ctx, blobs.DownloadRequest{Content: blobs.HashAndFormat{Hash: seq[0]}, Providers: providers})
	if err != nil {
		return nil, err
	}
	defer mt.Close()
	return store.LoadCollection(ctx, st, root)
}

// output is where one entry of the download goes.
type output struct {
	path      string
	hash      blobs.Hash
	identical bool // already there with this content
}

type outputPlan struct {
	outputs   []output
	identical []string
}

func (p *outputPlan) allIdentical() bool { return len(p.identical) == len(p.outputs) }

// planOutputs decides where each entry goes and checks what is in the
// way: an identical file is left alone, a different one (or a directory,
// or a symbolic link) is an error unless force (files only).
func planOutputs(c blobs.Collection, dir string, force bool) (*outputPlan, error) {
	p := &outputPlan{}
	for _, e := range c {
		rel, err := store.SafeName(e.Name)
		if err != nil {
			return nil, err
		}
		o := output{path: filepath.Join(dir, rel), hash: e.Hash}
		fi, err := os.Lstat(o.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		case !fi.Mode().IsRegular():
			return nil, fmt.Errorf("%s exists and is not a regular file; move it away first", o.path)
		default:
			h, herr := hashFile(o.path)
			if herr == nil && h == e.Hash {
				o.identical = true
				p.identical = append(p.identical, o.path)
			} else if !force {
				return nil, fmt.Errorf("%s exists and differs from the download (pass --force to overwrite it)", o.path)
			}
		}
		p.outputs = append(p.outputs, o)
	}
	return p, nil
}

// hashFile returns the BLAKE3 (iroh blob) hash of the file at path.
func hashFile(path string) (blobs.Hash, error) {
	f, err := os.Open(path)
	if err != nil {
		return blobs.Hash{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return blobs.Hash{}, err
	}
	return blobs.WriteOutboard(f, uint64(fi.Size()), discardWriterAt{})
}

type discardWriterAt struct{}

func (discardWriterAt) WriteAt(p []byte, off int64) (int, error) { return len(p), nil }

// copyFile copies src to a new file dst (via a temporary file renamed
// into place).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".iroh-copy-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		os.Chmod(tmp.Name(), 0o644)
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// storedBytes is how many verified bytes the store holds.
func storedBytes(ctx context.Context, st blobs.Store) uint64 {
	infos, err := st.List(ctx)
	if err != nil {
		return 0
	}
	var n uint64
	for _, bi := range infos {
		n += bi.Verified
	}
	return n
}

// storeError says what a failure to open a store means.
func storeError(dir string, err error) error {
	if errors.Is(err, fs.ErrLocked) {
		return fmt.Errorf("blob store %s is in use by another iroh process", dir)
	}
	return err
}

func rate(n uint64, d time.Duration) uint64 {
	return uint64(float64(n) / max(d.Seconds(), 1e-3))
}

// fmtBytes formats n with a binary unit.
func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
