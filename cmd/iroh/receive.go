package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/endpointaddr"
)

func init() {
	register(&command{
		name:    "receive",
		summary: "download what a blob ticket names into a directory (resumable)",
		run:     runReceive,
	})
}

func runReceive(ctx context.Context, env *cmdEnv, args []string) error {
	fset := newFlagSet(env, "receive", "TICKET")
	var ef endpointFlags
	ef.register(fset, "")
	out := fset.String("out", "", "output directory (default: current directory)")
	quiet := fset.Bool("q", false, "no progress bar")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("receive: want exactly one TICKET")
	}
	t, err := blobs.ParseBlobTicket(pos[0])
	if err != nil {
		return usageError("receive: %v", err)
	}
	outDir := *out
	if outDir == "" {
		if outDir, err = os.Getwd(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	opts, err := ef.options(env, nil)
	if err != nil {
		return err
	}
	// Partial state lives beside the output so a rerun resumes.
	stateDir := filepath.Join(outDir, ".iroh-receive-"+t.Hash.String())
	st, err := fs.Open(stateDir, &fs.Options{Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			st.Close()
		}
	}()
	ep, err := bindWith(ctx, opts)
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	defer ep.Close(context.Background())
	d, err := blobs.NewDownloader(st, blobs.EndpointDialer(ep), &blobs.DownloaderOptions{Logger: opts.Logger})
	if err != nil {
		return err
	}
	defer d.Close()

	// The bar is made once the first size is known (an unknown-length bar
	// runs a goroutine of its own).
	var bar *progressbar.ProgressBar
	newBar := func(total int64) *progressbar.ProgressBar {
		return progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(env.stderr),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetDescription("receiving"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
		)
	}
	start := time.Now()
	var last blobs.DownloadProgress
	tt, err := d.Download(ctx, blobs.DownloadRequest{
		Content:   t.HashAndFormat(),
		Providers: []endpointaddr.Addr{t.Addr},
		OnProgress: func(p blobs.DownloadProgress) {
			last = p
			if *quiet || p.Total == 0 {
				return
			}
			if bar == nil {
				bar = newBar(int64(p.Total))
			} else if int64(p.Total) != bar.GetMax64() {
				bar.ChangeMax64(int64(p.Total))
			}
			bar.Set64(int64(p.Local))
		},
	})
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(env.stderr)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) || ctx.Err() != nil {
			return fmt.Errorf("receive interrupted; verified data kept in %s, rerun to resume", stateDir)
		}
		return fmt.Errorf("receive: %w (verified data kept in %s, rerun to resume)", err, stateDir)
	}
	defer tt.Close()
	var names []string
	if t.Format == blobs.HashSeqFormat {
		c, err := store.LoadCollection(ctx, st, t.Hash)
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if err := store.ExportCollection(ctx, st, c, outDir); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		for _, e := range c {
			names = append(names, e.Name)
		}
	} else {
		name := t.Hash.String()
		if err := st.ExportFile(ctx, t.Hash, filepath.Join(outDir, name)); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		names = append(names, name)
	}
	tt.Close()
	closed = true
	st.Close()
	if err := os.RemoveAll(stateDir); err != nil {
		return fmt.Errorf("receive: remove %s: %w", stateDir, err)
	}
	el := time.Since(start)
	fmt.Fprintf(env.stderr, "received %d file(s), %s in %s (%s/s, %s fetched)\n", len(names), fmtBytes(last.Total), el.Round(time.Millisecond),
		fmtBytes(uint64(float64(last.Fetched)/max(el.Seconds(), 1e-3))), fmtBytes(last.Fetched))
	return nil
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
