package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/blobs/store/mem"
)

func init() {
	register(&command{
		name:    "send",
		summary: "share a file or directory: prints a blob ticket and serves until interrupted",
		usage:   "[flags] PATH",
		help: `Hash a file or directory and serve it, modelled on sendme: the files are served in
place (nothing is copied; only the BLAKE3 outboard, 1/256 of the size, is kept in
memory), so they must not change while being sent. A directory becomes a
collection of its regular files; symbolic links and empty directories are not
sent, and are listed on stderr. The ticket it prints is what 'iroh receive'
takes. Uses n0's relays and address lookup unless --relay/--offline say otherwise.`,
		example: `iroh send ./photos        # then on the other machine: iroh receive blob...`,
		run:     runSend,
	})
}

func runSend(ctx context.Context, env *cmdEnv, args []string) error {
	fset := newFlagSet(env, "send")
	var ef endpointFlags
	ef.register(fset, "")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want exactly one PATH, got %d arguments", len(pos))
	}
	p := pos[0]
	if _, err := os.Stat(p); err != nil {
		return err
	}
	opts, err := ef.options(env, nil)
	if err != nil {
		return err
	}
	st := mem.New()
	defer st.Close()
	root, skipped, err := importInPlace(ctx, st, p)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, s := range skipped {
		fmt.Fprintf(env.stderr, "not sent: %s\n", s)
	}

	ep, err := bindWith(ctx, opts)
	if err != nil {
		return err
	}
	defer ep.Close(context.Background())
	prov := blobs.NewProvider(st, &blobs.ProviderOptions{Logger: opts.Logger, OnEvent: func(ev blobs.ProviderEvent) {
		if ef.verbose && ev.Kind == blobs.EventDone {
			fmt.Fprintf(env.stderr, "served %s %s to %s: %d bytes in %s (err %v)\n", ev.Type, ev.Hash.ShortString(), ev.Remote.ShortString(), ev.Bytes, ev.Dur, ev.Err)
		}
	}})
	r := iroh.NewRouter(ep).Handle(blobs.ALPN, prov)
	if err := r.Start(); err != nil {
		return err
	}
	defer r.Shutdown(context.Background())
	if len(opts.Relays) > 0 {
		waitOnline(ctx, env, ep, len(opts.Relays))
	}
	t := blobs.BlobTicket{Addr: ep.Addr(), Hash: root.Hash(), Format: root.HashAndFormat().Format}
	fmt.Fprintf(env.stderr, "serving %s in place (keep it unchanged); to get it run 'iroh receive' with this ticket:\n", filepath.Base(filepath.Clean(p)))
	fmt.Fprintf(env.stderr, "%s\n", t)
	<-ctx.Done()
	return nil
}

// importInPlace adds a file or directory to st without copying (AddFileRef)
// as a collection named after the path's base name, as sendme does, and
// returns a temp tag for its root and what it left out (symbolic links,
// empty directories, special files), as lines for the user.
func importInPlace(ctx context.Context, st *mem.Store, p string) (*blobs.TempTag, []string, error) {
	p = filepath.Clean(p)
	fi, err := os.Stat(p)
	if err != nil {
		return nil, nil, err
	}
	base := filepath.Base(p)
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return nil, nil, fmt.Errorf("%s is not a regular file or directory", p)
		}
		tt, err := st.AddFileRef(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		defer tt.Close()
		return addCollection(ctx, st, blobs.Collection{{Name: base, Hash: tt.Hash()}})
	}
	var files, skipped []string
	err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type().IsRegular():
			files = append(files, q)
		case d.Type()&fs.ModeSymlink != 0:
			skipped = append(skipped, q+" (symbolic link)")
		case d.IsDir():
			ents, err := os.ReadDir(q)
			if err == nil && len(ents) == 0 {
				skipped = append(skipped, q+"/ (empty directory)")
			}
		default:
			skipped = append(skipped, q+" (not a regular file)")
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(files)
	var c blobs.Collection
	for _, q := range files {
		rel, err := filepath.Rel(p, q)
		if err != nil {
			return nil, nil, err
		}
		tt, err := st.AddFileRef(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		defer tt.Close()
		c = append(c, blobs.CollectionEntry{Name: path.Join(base, filepath.ToSlash(rel)), Hash: tt.Hash()})
	}
	if len(c) == 0 {
		return nil, nil, fmt.Errorf("%s holds no regular files to send", p)
	}
	tt, _, err := addCollection(ctx, st, c)
	return tt, skipped, err
}

func addCollection(ctx context.Context, st *mem.Store, c blobs.Collection) (*blobs.TempTag, []string, error) {
	tt, err := store.AddCollection(ctx, st, c)
	return tt, nil, err
}
