package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/blobs/store/fs"
)

func init() {
	register(&command{
		name:    "send",
		summary: "share a file or directory; prints a blob ticket and serves until interrupted",
		run:     runSend,
	})
}

func runSend(ctx context.Context, env *cmdEnv, args []string) error {
	fset := newFlagSet(env, "send", "PATH")
	var ef endpointFlags
	ef.register(fset, "")
	dataDir := fset.String("data-dir", "", "blob store directory (kept); default: a temporary one, removed on exit")
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("send: want exactly one PATH")
	}
	path := pos[0]
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	opts, err := ef.options(env, nil)
	if err != nil {
		return err
	}
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "iroh-send-"); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	st, err := fs.Open(dir, &fs.Options{Logger: opts.Logger})
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer st.Close()
	root, err := importPath(ctx, st, path)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer root.Close()

	ep, err := bindWith(ctx, opts)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer ep.Close(context.Background())
	prov := blobs.NewProvider(st, &blobs.ProviderOptions{Logger: opts.Logger, OnEvent: func(ev blobs.ProviderEvent) {
		if ef.verbose && ev.Kind == blobs.EventDone {
			fmt.Fprintf(env.stderr, "served %s %s to %s: %d bytes in %s (err %v)\n", ev.Type, ev.Hash.ShortString(), ev.Remote.ShortString(), ev.Bytes, ev.Dur, ev.Err)
		}
	}})
	r := iroh.NewRouter(ep).Handle(blobs.ALPN, prov)
	if err := r.Start(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer r.Shutdown(context.Background())
	t := blobs.BlobTicket{Addr: ep.Addr(), Hash: root.Hash(), Format: root.HashAndFormat().Format}
	fmt.Fprintf(env.stderr, "imported %s, serving; to get it run:\n", filepath.Base(path))
	fmt.Fprintf(env.stderr, "%s\n", t)
	<-ctx.Done()
	return nil
}

// importPath imports a file or directory as a Collection named after the
// path's base name, as sendme does, and returns a temp tag for its root.
func importPath(ctx context.Context, st blobs.Store, path string) (*blobs.TempTag, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		_, root, err := store.AddDir(ctx, st, path)
		return root, err
	}
	tt, err := st.AddFile(ctx, path)
	if err != nil {
		return nil, err
	}
	defer tt.Close()
	c := blobs.Collection{{Name: filepath.Base(path), Hash: tt.Hash()}}
	return store.AddCollection(ctx, st, c)
}
