package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/docs"
	"github.com/iroh-go/iroh/gossip"
)

func init() {
	sub := func(name, summary, usage, help, example string) *command {
		return &command{name: name, summary: summary, usage: usage, help: help, example: example}
	}
	register(&command{
		name:    "docs",
		summary: "multi-writer key-value documents: create, set, get, list, del, share, join",
		usage:   "SUBCOMMAND --data-dir DIR [args]",
		help: `Eventually consistent key-value documents whose values are blobs, synced with
iroh-docs' /iroh-sync/1 range-based set reconciliation and live over gossip.
Every subcommand works on the stores in --data-dir.`,
		example: `iroh docs create --data-dir ./d
iroh docs set --data-dir ./d DOC greeting hello`,
		run: runDocs,
		subs: []*command{
			sub("create", "create a document; print its id alone on stdout", "--data-dir DIR",
				"Create a new document (a new namespace key) and print its id alone on stdout.",
				"iroh docs create --data-dir ./d"),
			sub("set", "write VALUE (or --file PATH) under KEY as the default author", "--data-dir DIR [--file PATH] DOC KEY [VALUE]",
				"Write VALUE, or the contents of --file, under KEY, signed by the default author.",
				"iroh docs set --data-dir ./d DOC greeting hello"),
			sub("get", "print the newest value of KEY", "--data-dir DIR [--out FILE] DOC KEY",
				"Print the newest value of KEY on stdout (or write it to --out).",
				"iroh docs get --data-dir ./d DOC greeting"),
			sub("list", "list the newest entry of each key", "--data-dir DIR [--prefix P] DOC",
				"List the newest entry of each key: key, size, author, hash.",
				"iroh docs list --data-dir ./d --prefix g DOC"),
			sub("del", "delete every key starting with PREFIX", "--data-dir DIR DOC PREFIX",
				"Delete every key starting with PREFIX, as the default author.",
				"iroh docs del --data-dir ./d DOC greet"),
			sub("share", "print a doc ticket and serve the document until interrupted", "--data-dir DIR [--read|--write] [--v035] [flags] DOC",
				"Print a doc ticket (read access unless --write) alone on a line of stderr and serve the document, entries and content, until interrupted. --v035 prints the ticket in iroh-docs 0.35's layout, the only one Rust iroh 0.35 nodes read (live sync with them runs over their gossip protocol, /iroh-gossip/0, which we serve and dial too).",
				"iroh docs share --data-dir ./d --write DOC"),
			sub("join", "sync entries and content from a ticket, then exit", "--data-dir DIR [--watch] [flags] TICKET",
				"Import the document of a doc ticket, sync entries and content with its peers with a progress line, and exit when in sync (--watch stays and prints changes).",
				"iroh docs join --data-dir ./d2 docabc..."),
			sub("authors", "list authors (the default one is starred)", "--data-dir DIR",
				"List the authors in the store; the default author is starred.",
				"iroh docs authors --data-dir ./d"),
		},
	})
	ticketInspectors[docs.TicketKind] = inspectDocTicket
}

// inspectDocTicket prints a doc ticket for 'iroh ticket inspect'.
func inspectDocTicket(w io.Writer, s string) error {
	t, err := docs.ParseDocTicket(s)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "kind: doc")
	fmt.Fprintf(w, "namespace: %s\ncapability: %s\n", t.Capability.ID, t.Capability.Kind)
	for _, n := range t.Nodes {
		printAddr(w, n.ID.String(), n.RelayURLs, n.Direct)
	}
	return nil
}

// docsNode is what the subcommands share: the stores in --data-dir.
type docsNode struct {
	store *docs.Store
	blobs *fs.Store
}

func openDocsNode(dir string) (*docsNode, error) {
	st, err := docs.OpenStore(filepath.Join(dir, "docs"), nil)
	if err != nil {
		return nil, err
	}
	bs, err := fs.Open(filepath.Join(dir, "blobs"), nil)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &docsNode{store: st, blobs: bs}, nil
}

func (n *docsNode) close() {
	n.blobs.Close()
	n.store.Close()
}

func runDocs(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 {
		return usageError("docs: missing subcommand (create, set, get, list, del, share, join, authors)")
	}
	sub, args := args[0], args[1:]
	if lookupCommand("docs "+sub) == nil {
		return usageError("docs: unknown subcommand %q (create, set, get, list, del, share, join, authors)", sub)
	}
	fset := newFlagSet(env, "docs "+sub)
	dataDir := fset.String("data-dir", "", "directory of the document and blob stores (required)")
	var ef endpointFlags
	file, out, prefix := new(string), new(string), new(string)
	read, write, watch, v035 := new(bool), new(bool), new(bool), new(bool)
	switch sub {
	case "set":
		fset.StringVar(file, "file", "", "set: take the value from this file")
	case "get":
		fset.StringVar(out, "out", "", "get: write the value to this file instead of stdout")
	case "list":
		fset.StringVar(prefix, "prefix", "", "list: only keys starting with this")
	case "share":
		fset.BoolVar(read, "read", false, "share read access (the default)")
		fset.BoolVar(write, "write", false, "share write access")
		fset.BoolVar(v035, "v035", false, "print the ticket in iroh-docs 0.35's layout (for Rust iroh 0.35 nodes)")
		ef.register(fset, "")
	case "join":
		fset.BoolVar(watch, "watch", false, "stay after the sync and print changes")
		ef.register(fset, "")
	}
	pos, err := parseFlags(fset, args)
	if err != nil {
		return err
	}
	if *dataDir == "" {
		return usageError("docs %s: --data-dir is required", sub)
	}
	want := map[string]int{"create": 0, "set": 3, "get": 2, "list": 1, "del": 2, "share": 1, "join": 1, "authors": 0}
	n, ok := want[sub]
	if !ok {
		return usageError("docs: unknown subcommand %q", sub)
	}
	if sub == "set" && *file != "" {
		n = 2
	}
	if len(pos) != n {
		return usageError("docs %s: want %d arguments, got %d", sub, n, len(pos))
	}
	var ns docs.NamespaceID
	if n > 0 && sub != "join" {
		if ns, err = docs.ParseNamespaceID(pos[0]); err != nil {
			return usageError("docs %s: %v", sub, err)
		}
	}
	node, err := openDocsNode(*dataDir)
	if err != nil {
		return fmt.Errorf("docs: %w", err)
	}
	defer node.close()
	switch sub {
	case "create":
		id, err := node.store.NewNamespace()
		if err != nil {
			return fmt.Errorf("docs create: %w", err)
		}
		fmt.Fprintln(env.stdout, id)
		return nil
	case "authors":
		def, err := node.store.DefaultAuthor()
		if err != nil {
			return err
		}
		for _, a := range node.store.Authors() {
			mark := " "
			if a == def {
				mark = "*"
			}
			fmt.Fprintf(env.stdout, "%s %s\n", mark, a)
		}
		return nil
	case "set":
		return docsSet(ctx, env, node, ns, pos[1], pos[2:], *file)
	case "get":
		return docsGet(ctx, env, node, ns, pos[1], *out)
	case "list":
		return docsList(env, node, ns, *prefix)
	case "del":
		r, err := node.store.Replica(ns)
		if err != nil {
			return fmt.Errorf("docs del: %w", err)
		}
		a, err := node.store.DefaultAuthor()
		if err != nil {
			return err
		}
		removed, err := r.DeletePrefix(a, []byte(pos[1]))
		if err != nil {
			return fmt.Errorf("docs del: %w", err)
		}
		fmt.Fprintf(env.stderr, "deleted %d entries\n", removed)
		return nil
	case "share":
		if *read && *write {
			return usageError("docs share: --read and --write exclude each other")
		}
		kind := docs.Read
		if *write {
			kind = docs.Write
		}
		return docsShare(ctx, env, &ef, node, ns, kind, *v035)
	case "join":
		t, err := docs.ParseDocTicket(pos[0])
		if err != nil {
			return usageError("docs join: %v", err)
		}
		return docsJoin(ctx, env, &ef, node, t, *watch)
	}
	return nil
}

func docsSet(ctx context.Context, env *cmdEnv, node *docsNode, ns docs.NamespaceID, k string, rest []string, file string) error {
	r, err := node.store.Replica(ns)
	if err != nil {
		return fmt.Errorf("docs set: %w", err)
	}
	a, err := node.store.DefaultAuthor()
	if err != nil {
		return err
	}
	var tt *blobs.TempTag
	var size uint64
	if file != "" {
		if tt, err = node.blobs.AddFile(ctx, file); err != nil {
			return fmt.Errorf("docs set: %w", err)
		}
		bf, err := node.blobs.Bitfield(ctx, tt.Hash())
		if err != nil {
			return err
		}
		size = bf.Size
	} else {
		if tt, err = node.blobs.AddBytes(ctx, []byte(rest[0])); err != nil {
			return fmt.Errorf("docs set: %w", err)
		}
		size = uint64(len(rest[0]))
	}
	defer tt.Close()
	if size == 0 {
		return usageError("docs set: empty value (use 'docs del' to delete)")
	}
	// Tag the content so 'iroh blobs gc' on this data dir keeps it.
	if err := node.blobs.SetTag(ctx, "docs-"+tt.Hash().String(), tt.HashAndFormat()); err != nil {
		return err
	}
	e, err := r.Set(a, []byte(k), tt.Hash(), size)
	if err != nil {
		return fmt.Errorf("docs set: %w", err)
	}
	fmt.Fprintf(env.stderr, "set %q: %d bytes, hash %s\n", k, e.Len(), e.Hash().ShortString())
	return nil
}

func docsGet(ctx context.Context, env *cmdEnv, node *docsNode, ns docs.NamespaceID, k, out string) error {
	r, err := node.store.Replica(ns)
	if err != nil {
		return fmt.Errorf("docs get: %w", err)
	}
	e, err := r.GetLatest([]byte(k))
	if err != nil {
		return fmt.Errorf("docs get: %w", err)
	}
	if e == nil {
		return fmt.Errorf("docs get: no entry for key %q", k)
	}
	if out != "" {
		if err := node.blobs.ExportFile(ctx, e.Hash(), out); err != nil {
			return fmt.Errorf("docs get: content of %q: %w", k, err)
		}
		return nil
	}
	v, err := docs.ReadContent(ctx, node.blobs, e)
	if err != nil {
		return fmt.Errorf("docs get: content of %q: %w", k, err)
	}
	_, err = env.stdout.Write(v)
	if err == nil && (len(v) == 0 || v[len(v)-1] != '\n') {
		fmt.Fprintln(env.stdout)
	}
	return err
}

func docsList(env *cmdEnv, node *docsNode, ns docs.NamespaceID, prefix string) error {
	r, err := node.store.Replica(ns)
	if err != nil {
		return fmt.Errorf("docs list: %w", err)
	}
	es, err := r.Query(docs.Query{Key: []byte(prefix), KeyPrefix: true, LatestPerKey: true})
	if err != nil {
		return fmt.Errorf("docs list: %w", err)
	}
	for _, e := range es {
		fmt.Fprintf(env.stdout, "%s\t%d\t%s\t%s\n", e.Key(), e.Len(), e.Author().ShortString(), e.Hash().ShortString())
	}
	return nil
}

// startDocsEngine binds an endpoint and serves docs and blobs on it.
func startDocsEngine(ctx context.Context, env *cmdEnv, ef *endpointFlags, node *docsNode, resync time.Duration) (*docs.Engine, func(), error) {
	opts, err := ef.options(env, nil)
	if err != nil {
		return nil, nil, err
	}
	ep, err := bindWith(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	g, err := gossip.New(ep, &gossip.Options{Logger: opts.Logger})
	if err != nil {
		ep.Close(context.Background())
		return nil, nil, err
	}
	eng, err := docs.NewEngine(ep, node.store, node.blobs, &docs.EngineOptions{Logger: opts.Logger, ResyncInterval: resync, Gossip: docs.FromGossip(g)})
	if err != nil {
		g.Close()
		ep.Close(context.Background())
		return nil, nil, err
	}
	router := iroh.NewRouter(ep).Handle(docs.ALPN, eng).Handle(gossip.ALPN, g).Handle(gossip.ALPN035, g).
		Handle(blobs.ALPN, blobs.NewProvider(node.blobs, &blobs.ProviderOptions{Logger: opts.Logger}))
	if err := router.Start(); err != nil {
		eng.Close()
		g.Close()
		ep.Close(context.Background())
		return nil, nil, err
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		eng.Close()
		router.Shutdown(ctx)
		g.Close()
		ep.Close(ctx)
	}
	return eng, stop, nil
}

func docsShare(ctx context.Context, env *cmdEnv, ef *endpointFlags, node *docsNode, ns docs.NamespaceID, kind docs.CapabilityKind, v035 bool) error {
	if _, err := node.store.Replica(ns); err != nil {
		return fmt.Errorf("docs share: %w", err)
	}
	eng, stop, err := startDocsEngine(ctx, env, ef, node, 0)
	if err != nil {
		return fmt.Errorf("docs share: %w", err)
	}
	defer stop()
	t, err := eng.Share(ctx, ns, kind)
	if err != nil {
		return fmt.Errorf("docs share: %w", err)
	}
	text := t.String()
	if v035 {
		text = t.String035()
	}
	fmt.Fprintf(env.stderr, "sharing %s (%s access); to join run 'iroh docs join' with:\n", ns.ShortString(), kind)
	fmt.Fprintf(env.stderr, "%s\n", text)
	sub := eng.Subscribe(ns)
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.Events():
			if !ok {
				return nil
			}
			if ev.Kind == docs.EventSyncFinished && ev.Err == nil && ef.verbose {
				fmt.Fprintf(env.stderr, "synced with %s: sent %d, received %d entries\n", ev.Peer.ShortString(), ev.Sync.ValuesSent, ev.Sync.Inserted)
			}
		}
	}
}

func docsJoin(ctx context.Context, env *cmdEnv, ef *endpointFlags, node *docsNode, t docs.DocTicket, watch bool) error {
	resync := time.Duration(0)
	if watch {
		resync = 5 * time.Second // besides gossip, catch up with the peers now and then
	}
	eng, stop, err := startDocsEngine(ctx, env, ef, node, resync)
	if err != nil {
		return fmt.Errorf("docs join: %w", err)
	}
	defer stop()
	ns := t.Capability.ID
	sub := eng.Subscribe(ns)
	defer sub.Close()
	if _, err := eng.Import(ctx, t); err != nil {
		return fmt.Errorf("docs join: %w", err)
	}
	fmt.Fprintln(env.stdout, ns)
	peers := map[string]bool{}
	for _, n := range t.Nodes {
		if n.ID != eng.Endpoint().ID() {
			peers[n.ID.String()] = true
		}
	}
	var synced, failed, received, content int
	var lastErr error
	progress := func() {
		fmt.Fprintf(env.stderr, "\rsynced with %d/%d peers, %d entries received, %d contents downloaded, %d missing   ",
			synced, len(peers), received, content, eng.MissingContent(ns))
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	inSync := false
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(env.stderr)
			if !inSync {
				return fmt.Errorf("docs join: interrupted before in sync")
			}
			return nil
		case <-tick.C:
		case ev, ok := <-sub.Events():
			if !ok {
				return errors.New("docs join: engine closed")
			}
			switch ev.Kind {
			case docs.EventSyncFinished:
				var ae *docs.AbortError
				if errors.As(ev.Err, &ae) && ae.Reason == docs.AbortAlreadySyncing {
					break // our dial crossed the peer's; its session runs instead
				}
				if peers[ev.Peer.String()] && !inSync {
					if ev.Err != nil {
						failed++
						lastErr = ev.Err
					} else {
						synced++
					}
				}
			case docs.EventInsertRemote:
				received++
				if inSync && watch {
					printChange(ctx, env, node, ev.Entry)
				}
			case docs.EventContentReady:
				content++
				// Tag it so 'iroh blobs gc' on this data dir keeps it.
				node.blobs.SetTag(ctx, "docs-"+ev.Hash.String(), blobs.HashAndFormat{Hash: ev.Hash, Format: blobs.Raw})
			}
		}
		if !inSync {
			progress()
			if synced+failed >= len(peers) && synced == 0 {
				fmt.Fprintln(env.stderr)
				return fmt.Errorf("docs join: no peer could sync: %w", lastErr)
			}
			if synced > 0 && synced+failed >= len(peers) && eng.MissingContent(ns) == 0 {
				fmt.Fprintln(env.stderr)
				fmt.Fprintln(env.stderr, "in sync")
				inSync = true
				if !watch {
					return nil
				}
			}
		}
	}
}

func printChange(ctx context.Context, env *cmdEnv, node *docsNode, e *docs.SignedEntry) {
	if e.IsEmpty() {
		fmt.Fprintf(env.stdout, "del %s (by %s)\n", e.Key(), e.Author().ShortString())
		return
	}
	v := fmt.Sprintf("<%d bytes, %s>", e.Len(), e.Hash().ShortString())
	if e.Len() <= 256 {
		// The content may still be on its way; wait briefly for it.
		for range 20 {
			if b, err := docs.ReadContent(ctx, node.blobs, e); err == nil {
				v = strings.TrimRight(string(b), "\n")
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	fmt.Fprintf(env.stdout, "set %s = %s (by %s)\n", e.Key(), v, e.Author().ShortString())
}
