package main

import (
	"context"
	"fmt"
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
		name:    "blobs",
		summary: "manage a blob store: add, get, list, export, tags, gc, bench",
		usage:   "SUBCOMMAND --data-dir DIR [flags] [args]",
		help: `Work with a persistent blob store (a directory: files plus a bbolt index). Every
subcommand but add and get needs an existing store; add and get create one.`,
		example: `iroh blobs add --data-dir store photos/
iroh blobs list --data-dir store`,
		run: runBlobs,
		subs: []*command{
			{name: "add", summary: "import files or directories (a directory becomes a collection) and tag them",
				usage: "--data-dir DIR [--tag NAME] PATH...", example: "iroh blobs add --data-dir store report.pdf"},
			{name: "get", summary: "download what a blob ticket names into the store and tag it",
				usage: "--data-dir DIR [--tag NAME] [flags] TICKET", example: "iroh blobs get --data-dir store blobabc..."},
			{name: "list", summary: "list stored blobs: hash, size, state",
				usage: "--data-dir DIR", example: "iroh blobs list --data-dir store"},
			{name: "export", summary: "write a blob to a file (or, for a collection sHASH, its files under a directory)",
				usage: "--data-dir DIR [--force] HASH OUT", help: "HASH is the 64-digit hex hash that list and add print (prefix s for a collection).",
				example: "iroh blobs export --data-dir store 2f0e...c1 report.pdf"},
			{name: "tags", summary: "list tags, or delete one",
				usage: "--data-dir DIR [--delete NAME]", example: "iroh blobs tags --data-dir store --delete auto-2026-01-01T00:00:00.000Z"},
			{name: "gc", summary: "delete every blob no tag protects",
				usage: "--data-dir DIR", example: "iroh blobs gc --data-dir store"},
			{name: "bench", summary: "benchmark import and transfer over loopback",
				usage: benchUsage, help: benchHelp, example: "iroh blobs bench --size 300000000 --runs 1",
				run: runBlobsBench,
				subs: []*command{{name: "provide", summary: "the provider process of blobs bench (internal)",
					usage: "--data-dir DIR --path PATH", example: "iroh blobs bench provide --data-dir d --path f", run: benchProvide}}},
		},
	})
}

func runBlobs(ctx context.Context, env *cmdEnv, args []string) error {
	sub, args := args[0], args[1:]
	if sub == "bench" {
		return runBlobsBench(ctx, env, args)
	}
	fset := newFlagSet(env, "blobs "+sub)
	dataDir := fset.String("data-dir", "", "blob store directory (required)")
	tag, del := new(string), new(string)
	force := new(bool)
	if sub == "add" || sub == "get" {
		tag = fset.String("tag", "", "tag name (default: auto-<time>)")
	}
	if sub == "tags" {
		del = fset.String("delete", "", "delete this tag")
	}
	if sub == "export" {
		force = fset.Bool("force", false, "overwrite existing files")
	}
	var ef endpointFlags
	if sub == "get" {
		ef.register(fset, "")
	}
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if *dataDir == "" {
		return usageError("--data-dir DIR is required")
	}
	if sub != "add" && sub != "get" {
		// Reading commands never create a store a typo named.
		if _, err := os.Stat(filepath.Join(*dataDir, "index.db")); err != nil {
			return fmt.Errorf("no blob store in %s (make one with 'iroh blobs add --data-dir %s PATH')", *dataDir, *dataDir)
		}
	}
	st, err := fs.Open(*dataDir, &fs.Options{Logger: quietLogger()})
	if err != nil {
		return storeError(*dataDir, err)
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
			return usageError("want PATH...")
		}
		for i, p := range pos {
			fi, err := os.Stat(p)
			if err != nil {
				return err
			}
			var tt *blobs.TempTag
			if fi.IsDir() {
				_, tt, err = store.AddDir(ctx, st, p)
			} else {
				tt, err = st.AddFile(ctx, p)
			}
			if err != nil {
				return err
			}
			name := tagName()
			if len(pos) > 1 && *tag != "" {
				name = fmt.Sprintf("%s-%d", *tag, i)
			}
			err = st.SetTag(ctx, name, tt.HashAndFormat())
			tt.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "%s %s %s\n", tt.HashAndFormat(), name, p)
			time.Sleep(time.Millisecond) // distinct auto tag names
		}
		return st.Sync(ctx)
	case "get":
		if len(pos) != 1 {
			return usageError("want one TICKET")
		}
		t, err := blobs.ParseBlobTicket(pos[0])
		if err != nil {
			return usageError("%v", err)
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
			return err
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
			return usageError("want HASH OUT")
		}
		hf, err := blobs.ParseHashAndFormat(pos[0])
		if err != nil {
			return usageError("%v", err)
		}
		if hf.Format == blobs.HashSeqFormat {
			c, err := store.LoadCollection(ctx, st, hf.Hash)
			if err != nil {
				return err
			}
			plan, err := planOutputs(c, pos[1], *force)
			if err != nil {
				return err
			}
			for _, o := range plan.outputs {
				if o.identical {
					fmt.Fprintf(env.stderr, "%s is already here, identical: left alone\n", o.path)
					continue
				}
				if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
					return err
				}
				if err := st.ExportFile(ctx, o.hash, o.path); err != nil {
					return err
				}
			}
			return nil
		}
		abs, err := filepath.Abs(pos[1])
		if err != nil {
			return err
		}
		if _, err := os.Lstat(abs); err == nil && !*force {
			return fmt.Errorf("%s exists (pass --force to overwrite it)", abs)
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
	return usageError("unknown subcommand %q", sub)
}
