package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/endpointaddr"
)

func init() {
	register(&command{
		name:    "blobs",
		summary: "manage a blob store: add, get, list, export, tags, gc",
		run:     runBlobs,
	})
}

const blobsUsage = `SUBCOMMAND --data-dir DIR [args]

subcommands:
  add PATH...            import files or directories (a directory becomes a collection) and tag them
  get TICKET             download what the ticket names and tag it
  list                   list stored blobs (hash, size, state)
  export HASH OUT        write a blob (or, for sHASH, a collection under directory OUT)
  tags [--delete NAME]   list tags, or delete one
  gc                     delete everything no tag protects
  bench                  benchmark import and transfer (see 'iroh blobs bench -h')`

func runBlobs(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 {
		return usageError("blobs: missing subcommand (add, get, list, export, tags, gc, bench)")
	}
	sub, args := args[0], args[1:]
	if sub == "bench" {
		return runBlobsBench(ctx, env, args)
	}
	fset := newFlagSet(env, "blobs "+sub, blobsUsage)
	dataDir := fset.String("data-dir", "", "blob store directory (required)")
	tag := fset.String("tag", "", "tag name for add/get (default: auto-<time>)")
	del := fset.String("delete", "", "tags: delete this tag")
	var ef endpointFlags
	if sub == "get" {
		ef.register(fset, "")
	}
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if *dataDir == "" {
		return usageError("blobs %s: --data-dir is required", sub)
	}
	st, err := fs.Open(*dataDir, nil)
	if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	defer st.Close()
	tagName := func() string {
		if *tag != "" {
			return *tag
		}
		return "auto-" + time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	}
	switch sub {
	case "add":
		if len(pos) == 0 {
			return usageError("blobs add: want PATH...")
		}
		for i, p := range pos {
			fi, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("blobs add: %w", err)
			}
			var tt *blobs.TempTag
			if fi.IsDir() {
				_, tt, err = store.AddDir(ctx, st, p)
			} else {
				tt, err = st.AddFile(ctx, p)
			}
			if err != nil {
				return fmt.Errorf("blobs add: %w", err)
			}
			name := tagName()
			if len(pos) > 1 && *tag != "" {
				name = fmt.Sprintf("%s-%d", *tag, i)
			}
			err = st.SetTag(ctx, name, tt.HashAndFormat())
			tt.Close()
			if err != nil {
				return fmt.Errorf("blobs add: %w", err)
			}
			fmt.Fprintf(env.stdout, "%s %s %s\n", tt.HashAndFormat(), name, p)
			time.Sleep(time.Millisecond) // distinct auto tag names
		}
		return st.Sync(ctx)
	case "get":
		if len(pos) != 1 {
			return usageError("blobs get: want TICKET")
		}
		t, err := blobs.ParseBlobTicket(pos[0])
		if err != nil {
			return usageError("blobs get: %v", err)
		}
		ep, err := ef.bind(ctx, env, nil)
		if err != nil {
			return err
		}
		defer ep.Close(context.Background())
		d, err := blobs.NewDownloader(st, blobs.EndpointDialer(ep), nil)
		if err != nil {
			return err
		}
		defer d.Close()
		tt, err := d.Download(ctx, blobs.DownloadRequest{Content: t.HashAndFormat(), Providers: []endpointaddr.Addr{t.Addr}})
		if err != nil {
			return fmt.Errorf("blobs get: %w", err)
		}
		defer tt.Close()
		name := tagName()
		if err := st.SetTag(ctx, name, tt.HashAndFormat()); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s %s\n", tt.HashAndFormat(), name)
		return nil
	case "list":
		infos, err := st.List(ctx)
		if err != nil {
			return err
		}
		for _, bi := range infos {
			state := "complete"
			if !bi.Complete {
				state = fmt.Sprintf("partial %d/%d", bi.Verified, bi.Size)
			}
			fmt.Fprintf(env.stdout, "%s %d %s\n", bi.Hash, bi.Size, state)
		}
		return nil
	case "export":
		if len(pos) != 2 {
			return usageError("blobs export: want HASH OUT")
		}
		hf, err := blobs.ParseHashAndFormat(pos[0])
		if err != nil {
			return usageError("blobs export: %v", err)
		}
		if hf.Format == blobs.HashSeqFormat {
			c, err := store.LoadCollection(ctx, st, hf.Hash)
			if err != nil {
				return fmt.Errorf("blobs export: %w", err)
			}
			return store.ExportCollection(ctx, st, c, pos[1])
		}
		abs, err := filepath.Abs(pos[1])
		if err != nil {
			return err
		}
		return st.ExportFile(ctx, hf.Hash, abs)
	case "tags":
		if *del != "" {
			return st.DeleteTag(ctx, *del)
		}
		tags, err := st.Tags(ctx)
		if err != nil {
			return err
		}
		for _, t := range tags {
			fmt.Fprintf(env.stdout, "%s %s\n", t.Name, t.Value)
		}
		return nil
	case "gc":
		s, err := st.GC(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "gc: kept %d, deleted %d blobs (%d bytes)\n", s.Live, s.Deleted, s.Bytes)
		return nil
	}
	return usageError("blobs: unknown subcommand %q (want %s)", sub, strings.Join([]string{"add", "get", "list", "export", "tags", "gc", "bench"}, ", "))
}
