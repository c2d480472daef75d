package docs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/prometheus/client_golang/prometheus"
)

const probeALPN = "iroh-go-interop/echo/0"

// rustAddrs are the direct addresses of n as the 0.35 node's NodeAddr
// wants them.
func rustAddrs(n *node) []string {
	var out []string
	for _, a := range n.ep.Addr().Direct {
		out = append(out, a.String())
	}
	return out
}

// startRust035 starts the 0.35 node; IROH_TEST_RUSTLOG=debug (or another
// level) turns on its Rust tracing, logged when the test ends.
func startRust035(t *testing.T) *testutil.Rust035 {
	t.Helper()
	l := os.Getenv("IROH_TEST_RUSTLOG")
	if l == "" {
		return testutil.StartRust035(t)
	}
	r := testutil.StartRust035(t, "--log", l)
	t.Cleanup(func() { t.Logf("rust 0.35 log:\n%s", r.Stderr()) })
	return r
}

// TestRust035Handshake: a real Rust iroh 0.35 node dials our endpoint by
// id and direct address, opens a stream on an ALPN we serve and gets its
// bytes echoed.
func TestRust035Handshake(t *testing.T) {
	testutil.RequireRust035(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	var logger *slog.Logger
	if os.Getenv("IROH_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	reg := prometheus.NewRegistry()
	ep, err := iroh.Bind(t.Context(), &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true, Logger: logger, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	router := iroh.NewRouter(ep).Handle(probeALPN, iroh.ProtocolHandlerFunc(func(ctx context.Context, c *iroh.Connection) error {
		s, err := c.AcceptStream(ctx)
		if err != nil {
			return err
		}
		io.Copy(s, s)
		s.Close()
		<-c.Context().Done()
		return nil
	}))
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		router.Shutdown(ctx)
		ep.Close(ctx)
	})
	r := startRust035(t)
	var addrs []string
	for _, a := range ep.Addr().Direct {
		addrs = append(addrs, a.String())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	msg := []byte("hello from rust 0.35")
	res, err := r.Do(ctx, "connect", map[string]any{"nodeId": ep.ID().String(), "addrs": addrs, "alpn": probeALPN, "data": base64.StdEncoding.EncodeToString(msg)})
	if err != nil {
		t.Fatalf("%v\nrust stderr:\n%s", err, r.Stderr())
	}
	reply, _ := base64.StdEncoding.DecodeString(res["reply"].(string))
	if string(reply) != string(msg) {
		t.Fatalf("echo %q, want %q", reply, msg)
	}
	t.Logf("rust 0.35 dialed us and echoed in %.0f ms", res["ms"])
	// What the socket did with the dial's first packets (an Initial from
	// an unknown source, a disco ping naming it).
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if !strings.Contains(mf.GetName(), "magicsock") {
			continue
		}
		for _, m := range mf.GetMetric() {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if v == 0 {
				continue
			}
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			t.Logf("  %s{%s} %g", mf.GetName(), strings.Join(labels, ","), v)
		}
	}
}

// rust035Entry is one entry as the 0.35 node reports it.
type rust035Entry struct {
	author, hash string
	len          uint64
	content      []byte // nil: the node lacks the content
}

// rust035Entries returns doc's entries on r, keyed by key.
func rust035Entries(ctx context.Context, t *testing.T, r *testutil.Rust035, doc string) map[string]rust035Entry {
	t.Helper()
	res, err := r.Do(ctx, "entries", map[string]any{"doc": doc})
	if err != nil {
		t.Fatalf("%v\nrust stderr:\n%s", err, r.Stderr())
	}
	out := map[string]rust035Entry{}
	list, _ := res["entries"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		k, _ := base64.StdEncoding.DecodeString(m["key"].(string))
		e := rust035Entry{author: m["author"].(string), hash: m["hash"].(string)}
		e.len, _ = strconv.ParseUint(m["len"].(string), 10, 64)
		if c, ok := m["content"].(string); ok {
			e.content, _ = base64.StdEncoding.DecodeString(c)
			if e.content == nil {
				e.content = []byte{}
			}
		}
		out[string(k)] = e
	}
	return out
}

// waitRust035 polls r until doc holds every key of want with its content,
// and checks author, length, hash and content byte for byte.
func waitRust035(ctx context.Context, t *testing.T, r *testutil.Rust035, doc string, want map[string][]byte, authors map[string]string) {
	t.Helper()
	var got map[string]rust035Entry
	for {
		got = rust035Entries(ctx, t, r, doc)
		complete := true
		for k := range want {
			if e, ok := got[k]; !ok || e.content == nil {
				complete = false
				break
			}
		}
		if complete {
			break
		}
		select {
		case <-ctx.Done():
			have, withContent := 0, 0
			for k := range want {
				if e, ok := got[k]; ok {
					have++
					if e.content != nil {
						withContent++
					}
				}
			}
			ectx, ecancel := context.WithTimeout(context.Background(), 5*time.Second)
			ev, _ := r.Do(ectx, "events", map[string]any{"doc": doc})
			ecancel()
			t.Fatalf("rust 0.35 has %d of %d entries, %d with content (events %v)\nrust stderr:\n%s", have, len(want), withContent, ev["events"], r.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
	}
	for k, v := range want {
		e := got[k]
		h, err := blobs.ParseHash(e.hash)
		if err != nil {
			t.Fatalf("rust hash %q of %q: %v", e.hash, k, err)
		}
		if h != blobs.ComputeHash(v) || e.len != uint64(len(v)) || !bytes.Equal(e.content, v) {
			t.Fatalf("rust entry %q: hash %s len %d content %d bytes, want %s %d", k, h, e.len, len(e.content), blobs.ComputeHash(v), len(v))
		}
		if e.author != authors[k] {
			t.Fatalf("rust entry %q: author %s, want %s", k, e.author, authors[k])
		}
	}
}

// checkGo checks that replica ns on n holds every key of want, by the
// given author, with its content byte for byte.
func checkGo(t *testing.T, n *node, ns NamespaceID, want map[string][]byte, authors map[string]string) {
	t.Helper()
	r, err := n.store.Replica(ns)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		es, err := r.Query(Query{Key: []byte(k)})
		if err != nil || len(es) != 1 {
			t.Fatalf("go entries of %q: %d, %v", k, len(es), err)
		}
		e := es[0]
		if e.Author().String() != authors[k] || e.Hash() != blobs.ComputeHash(v) || e.Len() != uint64(len(v)) {
			t.Fatalf("go entry %q: author %s hash %s len %d", k, e.Author(), e.Hash(), e.Len())
		}
		c, err := n.engine.Content(t.Context(), e)
		if err != nil || !bytes.Equal(c, v) {
			t.Fatalf("go content of %q: %d bytes, %v", k, len(c), err)
		}
	}
}

// values returns count small values and one of 300 KiB (several BLAKE3
// chunk groups) under prefix.
func values(prefix string, count int) map[string][]byte {
	out := map[string][]byte{}
	for i := range count {
		out[fmt.Sprintf("%s/%03d", prefix, i)] = fmt.Appendf(nil, "%s value %d", prefix, i)
	}
	big := make([]byte, 300<<10)
	rand.Read(big)
	out[prefix+"/big"] = big
	return out
}

// TestRust035DocsSync: a Go node and a real Rust iroh-docs 0.35 node
// sync documents both ways, entries and content, checked byte for byte
// on both sides. (1) Rust creates a document and shares a write ticket;
// we import it and sync entries and content from Rust; we write into it
// and Rust syncs from us. (2) We create a document and share a ticket;
// Rust joins it and gets entries and content; Rust writes into it and we
// sync from Rust. Live sync over gossip is not part of it (no Gossip
// here): TestRust035LiveSync has it.
func TestRust035DocsSync(t *testing.T) {
	testutil.RequireRust035(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	r := startRust035(t)
	g := startNode(t, false, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	rid, err := key.ParsePublicKey(r.NodeID)
	if err != nil {
		t.Fatalf("rust node id %q: %v", r.NodeID, err)
	}
	rustAddr := endpointaddr.Addr{ID: rid}
	for _, s := range r.Addrs {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			rustAddr.Direct = append(rustAddr.Direct, ap)
		}
	}
	goAuthor := g.author(t).String()
	authors := map[string]string{}
	set := func(vals map[string][]byte, author string) {
		for k := range vals {
			authors[k] = author
		}
	}
	b64 := base64.StdEncoding.EncodeToString

	// (1) A document made by Rust.
	res, err := r.Do(ctx, "create", nil)
	if err != nil {
		t.Fatal(err)
	}
	doc1 := res["doc"].(string)
	rustVals := values("rust", 20)
	set(rustVals, r.Author)
	for k, v := range rustVals {
		if _, err := r.Do(ctx, "set", map[string]any{"doc": doc1, "key": b64([]byte(k)), "value": b64(v)}); err != nil {
			t.Fatal(err)
		}
	}
	res, err = r.Do(ctx, "share", map[string]any{"doc": doc1, "mode": "Write"})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ParseDocTicket(res["ticket"].(string))
	if err != nil {
		t.Fatalf("rust 0.35 ticket %q: %v", res["ticket"], err)
	}
	if tk.Capability.Kind != Write || tk.Capability.ID.String() != doc1 {
		t.Fatalf("rust ticket: %v %s, want write %s", tk.Capability.Kind, tk.Capability.ID, doc1)
	}
	start := time.Now()
	if _, err := g.engine.Import(ctx, tk); err != nil {
		t.Fatalf("import rust ticket: %v\nrust stderr:\n%s", err, r.Stderr())
	}
	waitInSync(t, g, tk.Capability.ID, len(rustVals))
	checkGo(t, g, tk.Capability.ID, rustVals, authors)
	t.Logf("rust doc -> go: %d entries with content in %v", len(rustVals), time.Since(start).Round(time.Millisecond))

	goVals := values("go", 20)
	set(goVals, goAuthor)
	for k, v := range goVals {
		if _, err := g.engine.SetBytes(ctx, tk.Capability.ID, g.author(t), []byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	if _, err := r.Do(ctx, "sync", map[string]any{"doc": doc1, "nodeId": g.ep.ID().String(), "addrs": rustAddrs(g)}); err != nil {
		t.Fatal(err)
	}
	all := map[string][]byte{}
	maps.Copy(all, rustVals)
	maps.Copy(all, goVals)
	waitRust035(ctx, t, r, doc1, all, authors)
	t.Logf("go entries -> rust doc: %d entries with content in %v", len(goVals), time.Since(start).Round(time.Millisecond))

	// (2) A document made by us, joined by Rust from our ticket.
	ns2, err := g.engine.CreateDoc(ctx)
	if err != nil {
		t.Fatal(err)
	}
	goVals2 := values("go2", 20)
	set(goVals2, goAuthor)
	for k, v := range goVals2 {
		if _, err := g.engine.SetBytes(ctx, ns2, g.author(t), []byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	tk2, err := g.engine.Share(ctx, ns2, Write)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	res, err = r.Do(ctx, "join", map[string]any{"ticket": tk2.String035()})
	if err != nil {
		t.Fatalf("%v\nrust stderr:\n%s", err, r.Stderr())
	}
	if res["doc"] != ns2.String() {
		t.Fatalf("rust joined %v, want %s", res["doc"], ns2)
	}
	waitRust035(ctx, t, r, ns2.String(), goVals2, authors)
	t.Logf("go doc -> rust (join): %d entries with content in %v", len(goVals2), time.Since(start).Round(time.Millisecond))

	rustVals2 := values("rust2", 20)
	set(rustVals2, r.Author)
	for k, v := range rustVals2 {
		if _, err := r.Do(ctx, "set", map[string]any{"doc": ns2.String(), "key": b64([]byte(k)), "value": b64(v)}); err != nil {
			t.Fatal(err)
		}
	}
	start = time.Now()
	if _, err := g.engine.SyncWith(ctx, ns2, rustAddr); err != nil {
		t.Fatalf("sync with rust: %v\nrust stderr:\n%s", err, r.Stderr())
	}
	waitInSync(t, g, ns2, len(goVals2)+len(rustVals2))
	checkGo(t, g, ns2, rustVals2, authors)
	t.Logf("rust entries -> go doc: %d entries with content in %v", len(rustVals2), time.Since(start).Round(time.Millisecond))
}

// liveWatch records a Go document's engine events for TestRust035LiveSync.
type liveWatch struct {
	sub *Subscription
}

// waitEvent reads events until ok accepts one; it fails on a sync with
// the Rust node when noSync is set (the entry must come over gossip).
func (w liveWatch) waitEvent(ctx context.Context, t *testing.T, what string, noSync bool, ok func(Event) bool) Event {
	t.Helper()
	for {
		select {
		case ev := <-w.sub.Events():
			if noSync && ev.Kind == EventSyncFinished {
				t.Fatalf("%s: a sync with %s ran; want the entry live over gossip", what, ev.Peer.ShortString())
			}
			if ok(ev) {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("%s: not seen", what)
		}
	}
}

// noSyncSince reads what is queued and fails on any sync.
func (w liveWatch) noSyncSince(t *testing.T, what string) {
	t.Helper()
	for {
		select {
		case ev := <-w.sub.Events():
			if ev.Kind == EventSyncFinished {
				t.Fatalf("%s: a sync with %s ran; want the entry live over gossip", what, ev.Peer.ShortString())
			}
		default:
			return
		}
	}
}

// liveBothWays checks, once both sides are gossip neighbours on doc ns
// and their first syncs are over, that an entry written on either side
// reaches the other live: no sync runs between Go and Rust meanwhile
// (Go neither starts nor accepts one, and Go has no resync timer), so
// the entries travel in gossip broadcasts on /iroh-gossip/0.
func liveBothWays(ctx context.Context, t *testing.T, g *node, w liveWatch, r *testutil.Rust035, rustID key.PublicKey, ns NamespaceID, tag string, authors map[string]string) {
	t.Helper()
	b64 := base64.StdEncoding.EncodeToString
	// Settle: the syncs that neighbour-up starts end before the writes;
	// their events are drained here.
	time.Sleep(time.Second)
	for len(w.sub.Events()) > 0 {
		<-w.sub.Events()
	}
	for i := range 3 {
		k := fmt.Sprintf("live/%s/rust/%d", tag, i)
		v := fmt.Appendf(nil, "written on rust, %s %d", tag, i)
		start := time.Now()
		if _, err := r.Do(ctx, "set", map[string]any{"doc": ns.String(), "key": b64([]byte(k)), "value": b64(v)}); err != nil {
			t.Fatal(err)
		}
		ev := w.waitEvent(ctx, t, "rust entry "+k, true, func(ev Event) bool {
			return ev.Kind == EventInsertRemote && string(ev.Entry.Key()) == k
		})
		if !ev.ViaGossip || ev.Peer != rustID {
			t.Fatalf("rust entry %s: via gossip %v from %s, want via gossip from the rust node", k, ev.ViaGossip, ev.Peer.ShortString())
		}
		authors[k] = r.Author
		w.waitEvent(ctx, t, "content of "+k, true, func(ev Event) bool { return ev.Kind == EventContentReady && ev.Hash == blobs.ComputeHash(v) })
		checkGo(t, g, ns, map[string][]byte{k: v}, authors)
		t.Logf("rust -> go live: %s in %v", k, time.Since(start).Round(time.Millisecond))

		k = fmt.Sprintf("live/%s/go/%d", tag, i)
		v = fmt.Appendf(nil, "written on go, %s %d", tag, i)
		start = time.Now()
		if _, err := g.engine.SetBytes(ctx, ns, g.author(t), []byte(k), v); err != nil {
			t.Fatal(err)
		}
		authors[k] = g.author(t).String()
		waitRust035(ctx, t, r, ns.String(), map[string][]byte{k: v}, authors)
		w.noSyncSince(t, "go entry "+k)
		t.Logf("go -> rust live: %s in %v", k, time.Since(start).Round(time.Millisecond))
	}
}

// TestRust035LiveSync: live sync with a real Rust iroh-docs 0.35 node.
// Our docs engine gossips through the gossip package, which dials
// /iroh-gossip/1 and /iroh-gossip/0 in one handshake (0.35 picks /0) and
// serves both; entries written on either side then reach the other as
// they are written, content included, without a sync. (1) We import a
// document Rust made (we dial Rust); (2) Rust joins a document we made
// (Rust dials us on /iroh-gossip/0).
func TestRust035LiveSync(t *testing.T) {
	testutil.RequireRust035(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	r := startRust035(t)
	g := startNode(t, true, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	rustID, err := key.ParsePublicKey(r.NodeID)
	if err != nil {
		t.Fatalf("rust node id %q: %v", r.NodeID, err)
	}
	authors := map[string]string{}
	b64 := base64.StdEncoding.EncodeToString

	// (1) Rust's document, imported by us.
	res, err := r.Do(ctx, "create", nil)
	if err != nil {
		t.Fatal(err)
	}
	doc1 := res["doc"].(string)
	if _, err := r.Do(ctx, "set", map[string]any{"doc": doc1, "key": b64([]byte("first")), "value": b64([]byte("before the import"))}); err != nil {
		t.Fatal(err)
	}
	authors["first"] = r.Author
	res, err = r.Do(ctx, "share", map[string]any{"doc": doc1, "mode": "Write"})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ParseDocTicket(res["ticket"].(string))
	if err != nil {
		t.Fatal(err)
	}
	ns1 := tk.Capability.ID
	w1 := liveWatch{g.engine.Subscribe(ns1)}
	defer w1.sub.Close()
	if _, err := g.engine.Import(ctx, tk); err != nil {
		t.Fatalf("import rust ticket: %v\nrust stderr:\n%s", err, r.Stderr())
	}
	w1.waitEvent(ctx, t, "gossip neighbour up (doc 1)", false, func(ev Event) bool { return ev.Kind == EventNeighborUp && ev.Peer == rustID })
	waitInSync(t, g, ns1, 1)
	liveBothWays(ctx, t, g, w1, r, rustID, ns1, "doc1", authors)

	// (2) Our document, joined by Rust from our ticket.
	ns2, err := g.engine.CreateDoc(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w2 := liveWatch{g.engine.Subscribe(ns2)}
	defer w2.sub.Close()
	if _, err := g.engine.SetBytes(ctx, ns2, g.author(t), []byte("first"), []byte("before the join")); err != nil {
		t.Fatal(err)
	}
	tk2, err := g.engine.Share(ctx, ns2, Write)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Do(ctx, "join", map[string]any{"ticket": tk2.String035()}); err != nil {
		t.Fatalf("%v\nrust stderr:\n%s", err, r.Stderr())
	}
	w2.waitEvent(ctx, t, "gossip neighbour up (doc 2)", false, func(ev Event) bool { return ev.Kind == EventNeighborUp && ev.Peer == rustID })
	liveBothWays(ctx, t, g, w2, r, rustID, ns2, "doc2", map[string]string{})
}
