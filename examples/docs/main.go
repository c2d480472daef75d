// Command docs shows iroh-go documents: two nodes in one process, each an
// endpoint serving documents (/iroh-sync/1) and their content
// (/iroh-bytes/4). Alice creates a document and writes to it; Bob joins
// with a write ticket, receives the entries and their content, writes back,
// and Alice gets Bob's entry on the next sync.
//
//	go run ./examples/docs
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/docs"
)

// node is an endpoint with a document engine and a blob provider.
type node struct {
	ep     *iroh.Endpoint
	engine *docs.Engine
	router *iroh.Router
	author docs.AuthorID
}

func start(ctx context.Context, opts *iroh.Options) (*node, error) {
	ep, err := iroh.Bind(ctx, opts)
	if err != nil {
		return nil, err
	}
	bs := mem.New()
	engine, err := docs.NewEngine(ep, docs.NewMemStore(nil), bs, nil)
	if err != nil {
		return nil, err
	}
	router := iroh.NewRouter(ep).
		Handle(docs.ALPN, engine).
		Handle(blobs.ALPN, blobs.NewProvider(bs, nil))
	if err := router.Start(); err != nil {
		return nil, err
	}
	author, err := engine.Store().DefaultAuthor()
	if err != nil {
		return nil, err
	}
	return &node{ep: ep, engine: engine, router: router, author: author}, nil
}

func (n *node) close(ctx context.Context) {
	n.engine.Close()
	n.router.Shutdown(ctx)
	n.ep.Close(ctx)
}

// waitFor waits until ns on n has content for key.
func waitFor(ctx context.Context, n *node, ns docs.NamespaceID, key string) ([]byte, error) {
	r, err := n.engine.Store().Replica(ns)
	if err != nil {
		return nil, err
	}
	for {
		if e, _ := r.GetLatest([]byte(key)); e != nil {
			if v, err := n.engine.Content(ctx, e); err == nil {
				return v, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %q: %w", key, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func run(ctx context.Context, out io.Writer, opts *iroh.Options) error {
	alice, err := start(ctx, opts)
	if err != nil {
		return err
	}
	defer alice.close(ctx)
	bob, err := start(ctx, opts)
	if err != nil {
		return err
	}
	defer bob.close(ctx)

	// Alice creates a document and writes two entries.
	ns, err := alice.engine.CreateDoc(ctx)
	if err != nil {
		return err
	}
	for k, v := range map[string]string{"greeting": "hello from alice", "todo/1": "buy milk"} {
		if _, err := alice.engine.SetBytes(ctx, ns, alice.author, []byte(k), []byte(v)); err != nil {
			return err
		}
	}
	ticket, err := alice.engine.Share(ctx, ns, docs.Write)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "alice shares %s\n", ns.ShortString())

	// Bob joins with the ticket (its text form travels out of band).
	t, err := docs.ParseDocTicket(ticket.String())
	if err != nil {
		return err
	}
	if _, err := bob.engine.Import(ctx, t); err != nil {
		return err
	}
	v, err := waitFor(ctx, bob, ns, "greeting")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "bob reads greeting = %q\n", v)

	// Bob writes back; a sync with Alice brings it to her.
	if _, err := bob.engine.SetBytes(ctx, ns, bob.author, []byte("todo/2"), []byte("call bob")); err != nil {
		return err
	}
	if _, err := bob.engine.SyncWith(ctx, ns, alice.ep.Addr()); err != nil {
		return err
	}
	v, err = waitFor(ctx, alice, ns, "todo/2")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "alice reads todo/2 = %q\n", v)

	r, _ := alice.engine.Store().Replica(ns)
	todos, err := r.Query(docs.Query{Key: []byte("todo/"), KeyPrefix: true, LatestPerKey: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "alice has %d todos\n", len(todos))
	return nil
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, nil); err != nil {
		log.SetFlags(0)
		log.Fatalf("docs: %v", err)
	}
}
