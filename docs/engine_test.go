package docs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/gossip"
)

var loopback4 = netip.MustParseAddrPort("127.0.0.1:0")

// onDisk names tests whose next startNode uses persistent stores.
var onDisk = map[string]bool{}

// node is a real endpoint on loopback serving docs and blobs.
type node struct {
	ep     *iroh.Endpoint
	gossip *gossip.Gossip
	store  *Store
	blobs  blobs.Store
	engine *Engine
	router *iroh.Router
	// blobRequests counts the requests its blob provider served, by type.
	blobRequests sync.Map // blobs.RequestType -> *atomic.Int64
}

func (n *node) servedRequests(t blobs.RequestType) int64 {
	if c, ok := n.blobRequests.Load(t); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// startNode starts a node; withGossip adds live sync over the gossip
// package on the same endpoint.
func startNode(t testing.TB, withGossip bool, opts *EngineOptions) *node {
	t.Helper()
	ep, err := iroh.Bind(context.Background(), &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{ep: ep, store: NewMemStore(nil), blobs: mem.New()}
	var o EngineOptions
	if opts != nil {
		o = *opts
	}
	if onDisk[t.Name()] {
		// Persistent stores in a temporary directory.
		dir := t.TempDir()
		if n.store, err = OpenStore(filepath.Join(dir, "docs"), nil); err != nil {
			t.Fatal(err)
		}
		if n.blobs, err = fs.Open(filepath.Join(dir, "blobs"), nil); err != nil {
			t.Fatal(err)
		}
		delete(onDisk, t.Name()) // the next node of this test is in memory
	}
	if withGossip {
		if n.gossip, err = gossip.New(ep, nil); err != nil {
			t.Fatal(err)
		}
		o.Gossip = FromGossip(n.gossip)
	}
	n.engine, err = NewEngine(ep, n.store, n.blobs, &o)
	if err != nil {
		t.Fatal(err)
	}
	count := func(ev blobs.ProviderEvent) {
		if ev.Kind == blobs.EventRequest {
			c, _ := n.blobRequests.LoadOrStore(ev.Type, new(atomic.Int64))
			c.(*atomic.Int64).Add(1)
		}
	}
	n.router = iroh.NewRouter(ep).Handle(ALPN, n.engine).Handle(blobs.ALPN, blobs.NewProvider(n.blobs, &blobs.ProviderOptions{OnEvent: count}))
	if n.gossip != nil {
		for _, alpn := range n.gossip.ALPNs() { // /iroh-gossip/1 and 0.35's /0
			n.router.Handle(alpn, n.gossip)
		}
	}
	if err := n.router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.close)
	return n
}

func (n *node) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.engine.Close()
	n.router.Shutdown(ctx)
	if n.gossip != nil {
		n.gossip.Close()
	}
	n.ep.Close(ctx)
	n.store.Close()
	n.blobs.Close()
}

func (n *node) author(t testing.TB) AuthorID {
	t.Helper()
	a, err := n.store.DefaultAuthor()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// waitInSync waits until replica ns on n holds want non-empty entries,
// each with its content. It polls cheap counters and checks every entry
// once at the end, so it costs little CPU while it waits (benchmarks
// measure the process's CPU time).
func waitInSync(t testing.TB, n *node, ns NamespaceID, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := n.store.Replica(ns)
		if err == nil {
			if l, _ := r.Len(); l >= want && n.engine.MissingContent(ns) == 0 {
				es, _ := r.Query(Query{})
				ok := len(es) == want
				for _, e := range es {
					if !ok || !n.engine.hasContent(e.Hash()) {
						ok = false
						break
					}
				}
				if ok {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			l := -1
			if r != nil {
				l, _ = r.Len()
			}
			t.Fatalf("not in sync after 30 s: %d of %d entries, %d contents missing (%v)", l, want, n.engine.MissingContent(ns), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeEntries(t testing.TB, n *node, ns NamespaceID, prefix string, count int) {
	t.Helper()
	a := n.author(t)
	for i := range count {
		if _, err := n.engine.SetBytes(t.Context(), ns, a, fmt.Appendf(nil, "%s%05d", prefix, i), fmt.Appendf(nil, "value %s %d", prefix, i)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCatchUpBatchesContent: content of entries that arrive together is
// fetched in few GetMany requests, not one request per entry.
func TestCatchUpBatchesContent(t *testing.T) {
	a, b := startNode(t, false, nil), startNode(t, false, nil)
	ns, err := a.engine.CreateDoc(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const n = 600
	writeEntries(t, a, ns, "k", n)
	tk, err := a.engine.Share(t.Context(), ns, Read)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.engine.Import(t.Context(), tk); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, b, ns, n)
	many, get := a.servedRequests(blobs.RequestGetMany), a.servedRequests(blobs.RequestGet)
	t.Logf("%d entries: %d GetMany and %d Get requests", n, many, get)
	if many == 0 || many+get > n/10 {
		t.Fatalf("%d entries' content took %d GetMany and %d Get requests", n, many, get)
	}
}

// TestBatchMissesFallBack: a provider that lacks part of a batch's
// content fails the batch there; what it lacks is fetched alone from a
// provider learned later.
func TestBatchMissesFallBack(t *testing.T) {
	a, c, b := startNode(t, false, nil), startNode(t, false, nil), startNode(t, false, nil)
	ns, _ := a.engine.CreateDoc(t.Context())
	writeEntries(t, a, ns, "k", 40)
	ra, _ := a.store.Replica(ns)
	for i := range 5 { // entries whose content only c has
		v := fmt.Appendf(nil, "only on c %d", i)
		if _, err := c.blobs.AddBytes(t.Context(), v); err != nil {
			t.Fatal(err)
		}
		if _, err := ra.Set(a.author(t), fmt.Appendf(nil, "c%d", i), blobs.ComputeHash(v), uint64(len(v))); err != nil {
			t.Fatal(err)
		}
	}
	tk, _ := a.engine.Share(t.Context(), ns, Read)
	c.store.ImportNamespace(tk.Capability)
	c.engine.StartSync(t.Context(), ns, nil)
	if _, err := c.engine.SyncWith(boundedCtx(t, 30*time.Second), ns, a.ep.Addr()); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, c, ns, 45)
	b.store.ImportNamespace(tk.Capability)
	b.engine.StartSync(t.Context(), ns, nil)
	if _, err := b.engine.SyncWith(boundedCtx(t, 30*time.Second), ns, a.ep.Addr()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.engine.MissingContent(ns) != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d contents missing after syncing with a, want the 5 a lacks", b.engine.MissingContent(ns))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := b.engine.SyncWith(boundedCtx(t, 30*time.Second), ns, c.ep.Addr()); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, b, ns, 45)
	if a.servedRequests(blobs.RequestGetMany) == 0 {
		t.Fatal("no GetMany request reached a")
	}
}

// TestSyncAskedDuringAcceptRuns: a sync asked for while the only session
// with the peer is one the peer began runs when that session ends (it was
// dropped before, so entries a lagging gossip subscription lost stayed
// lost until the next trigger).
func TestSyncAskedDuringAcceptRuns(t *testing.T) {
	a, b := startNode(t, false, nil), startNode(t, false, nil)
	ns, _ := a.engine.CreateDoc(t.Context())
	writeEntries(t, a, ns, "k", 5)
	tk, _ := a.engine.Share(t.Context(), ns, Read)
	b.store.ImportNamespace(tk.Capability)
	b.engine.AddAddr(a.ep.Addr())
	if err := b.engine.StartSync(t.Context(), ns, nil); err != nil {
		t.Fatal(err)
	}
	sub := b.engine.Subscribe(ns)
	defer sub.Close()
	release, err := b.engine.acceptSync(ns, a.ep.ID()) // as if a were syncing with b
	if err != nil {
		t.Fatal(err)
	}
	b.engine.startSync(ns, a.ep.ID(), ReasonResync) // e.g. gossip lagged: must not be lost
	release()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-sub.Events():
			if ev.Kind == EventSyncFinished && ev.Peer == a.ep.ID() {
				if ev.Err != nil {
					t.Fatalf("sync after the accepted session: %v", ev.Err)
				}
				waitInSync(t, b, ns, 5)
				return
			}
		case <-timeout:
			t.Fatal("no sync ran after the accepted session ended")
		}
	}
}

func TestSyncReadTicket(t *testing.T) {
	a, b := startNode(t, false, nil), startNode(t, false, nil)
	ns, err := a.engine.CreateDoc(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	writeEntries(t, a, ns, "k", 100)
	tk, err := a.engine.Share(t.Context(), ns, Read)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseDocTicket(tk.String())
	if err != nil {
		t.Fatal(err)
	}
	sub := b.engine.Subscribe(ns)
	defer sub.Close()
	rb, err := b.engine.Import(t.Context(), parsed)
	if err != nil {
		t.Fatal(err)
	}
	waitInSync(t, b, ns, 100)
	e, _ := rb.GetLatest([]byte("k00042"))
	if v, err := b.engine.Content(t.Context(), e); err != nil || string(v) != "value k 42" {
		t.Fatalf("content %q %v", v, err)
	}
	if _, err := rb.Set(b.author(t), []byte("x"), blobs.ComputeHash([]byte("x")), 1); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write with a read ticket: %v", err)
	}
	var kinds = map[EventKind]int{}
	timeout := time.After(5 * time.Second)
	for kinds[EventInsertRemote] < 100 || kinds[EventSyncFinished] < 1 || kinds[EventContentReady] < 100 {
		select {
		case ev := <-sub.Events():
			kinds[ev.Kind]++
		case <-timeout:
			t.Fatalf("events: %v", kinds)
		}
	}
}

func TestSyncBothWaysWriteTicket(t *testing.T) {
	a, b := startNode(t, false, nil), startNode(t, false, nil)
	ns, _ := a.engine.CreateDoc(t.Context())
	writeEntries(t, a, ns, "a", 50)
	tk, _ := a.engine.Share(t.Context(), ns, Write)
	if _, err := b.engine.Import(t.Context(), tk); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, b, ns, 50)
	writeEntries(t, b, ns, "b", 30)
	st, err := b.engine.SyncWith(boundedCtx(t, 30*time.Second), ns, a.ep.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if st.ValuesSent < 30 {
		t.Fatalf("sent %d values", st.ValuesSent)
	}
	waitInSync(t, a, ns, 80)
	ra, _ := a.store.Replica(ns)
	rb, _ := b.store.Replica(ns)
	ea, _ := ra.Query(Query{IncludeEmpty: true})
	eb, _ := rb.Query(Query{IncludeEmpty: true})
	if keys(ea) != keys(eb) {
		t.Fatal("replicas differ")
	}
}

// TestContentFromLaterPeer is iroh-docs #82: entries arrive from a peer
// without the content; a later sync with a peer that has it sends no
// entries (already in sync), yet the content must still be fetched there.
func TestContentFromLaterPeer(t *testing.T) {
	a, c, b := startNode(t, false, nil), startNode(t, false, nil), startNode(t, false, nil)
	ns, _ := a.engine.CreateDoc(t.Context())
	writeEntries(t, a, ns, "k", 20)
	tk, _ := a.engine.Share(t.Context(), ns, Read)
	// c takes the entries but no content.
	if _, err := c.store.ImportNamespace(tk.Capability); err != nil {
		t.Fatal(err)
	}
	c.engine.StartSync(t.Context(), ns, nil)
	c.engine.SetDownloadPolicy(ns, DownloadPolicy{NothingExcept: true})
	if _, err := c.engine.SyncWith(boundedCtx(t, 30*time.Second), ns, a.ep.Addr()); err != nil {
		t.Fatal(err)
	}
	if c.engine.MissingContent(ns) != 0 {
		t.Fatal("c wants content against its policy")
	}
	// b syncs with c first: all entries, no content anywhere known.
	b.store.ImportNamespace(tk.Capability)
	b.engine.StartSync(t.Context(), ns, nil)
	st, err := b.engine.SyncWith(boundedCtx(t, 30*time.Second), ns, c.ep.Addr())
	if err != nil || st.Inserted != 20 {
		t.Fatalf("sync with c: %d inserted, %v", st.Inserted, err)
	}
	time.Sleep(100 * time.Millisecond)
	if m := b.engine.MissingContent(ns); m != 20 {
		t.Fatalf("%d contents missing, want 20", m)
	}
	// Now a sync with a: nothing to exchange, but a has the content.
	st, err = b.engine.SyncWith(boundedCtx(t, 30*time.Second), ns, a.ep.Addr())
	if err != nil || st.Inserted != 0 {
		t.Fatalf("sync with a: %d inserted, %v", st.Inserted, err)
	}
	waitInSync(t, b, ns, 20)
}

// TestLiveSyncOverGossip: with the gossip package on both endpoints, new
// entries spread as they are written (gossip Put) and content follows.
func TestLiveSyncOverGossip(t *testing.T) {
	a, b := startNode(t, true, nil), startNode(t, true, nil)
	ns, _ := a.engine.CreateDoc(t.Context())
	tk, _ := a.engine.Share(t.Context(), ns, Write)
	sub := b.engine.Subscribe(ns)
	defer sub.Close()
	if _, err := b.engine.Import(t.Context(), tk); err != nil {
		t.Fatal(err)
	}
	waitInSync(t, b, ns, 0)
	// Live sync needs the gossip neighbour: write once it is up (a first
	// connection can take a retransmission, about 1 s, to complete).
	up := time.After(10 * time.Second)
	for neighbor := false; !neighbor; {
		select {
		case ev := <-sub.Events():
			neighbor = ev.Kind == EventNeighborUp
		case <-up:
			t.Fatal("no gossip neighbour within 10 s")
		}
	}
	writeEntries(t, a, ns, "live", 200)
	waitInSync(t, b, ns, 200)
	gossiped := 0
	for len(sub.Events()) > 0 {
		ev := <-sub.Events()
		if ev.Kind == EventInsertRemote && ev.ViaGossip {
			gossiped++
		}
	}
	t.Logf("%d of 200 entries arrived by gossip", gossiped)
	if gossiped == 0 {
		t.Fatal("no entry arrived by gossip")
	}
	// And back: b writes, a gets it live.
	writeEntries(t, b, ns, "back", 10)
	waitInSync(t, a, ns, 210)
}

func TestResyncWithoutGossip(t *testing.T) {
	a := startNode(t, false, nil)
	b := startNode(t, false, &EngineOptions{ResyncInterval: 50 * time.Millisecond})
	ns, _ := a.engine.CreateDoc(t.Context())
	tk, _ := a.engine.Share(t.Context(), ns, Read)
	b.engine.Import(t.Context(), tk)
	waitInSync(t, b, ns, 0)
	writeEntries(t, a, ns, "k", 10)
	waitInSync(t, b, ns, 10)
}

func TestSyncUnknownNamespace(t *testing.T) {
	a, b := startNode(t, false, nil), startNode(t, false, nil)
	ns, _ := a.engine.CreateDoc(t.Context())
	// b holds the namespace but a does not serve b's other document.
	other, _ := b.store.NewNamespace()
	b.engine.StartSync(t.Context(), other, nil)
	_, err := b.engine.SyncWith(boundedCtx(t, 30*time.Second), other, a.ep.Addr())
	var ae *AbortError
	if !errors.As(err, &ae) || ae.Reason != AbortNotFound {
		t.Fatalf("sync of a namespace a lacks: %v", err)
	}
	// A namespace a has but does not sync is refused too.
	a.engine.LeaveSync(ns)
	tk := DocTicket{Capability: ReadCapability(ns), Nodes: []iroh.EndpointAddr{a.ep.Addr()}}
	b.store.ImportNamespace(tk.Capability)
	b.engine.StartSync(t.Context(), ns, nil)
	_, err = b.engine.SyncWith(boundedCtx(t, 30*time.Second), ns, a.ep.Addr())
	if !errors.As(err, &ae) || ae.Reason != AbortNotFound {
		t.Fatalf("sync of a namespace a left: %v", err)
	}
}

// TestHostilePeer speaks /iroh-sync/1 by hand: an oversized frame, and
// endless split requests, each ending the session without harm.
func TestHostilePeer(t *testing.T) {
	a := startNode(t, false, &EngineOptions{Limits: ranger.Limits{MaxRounds: 20}})
	ns, _ := a.engine.CreateDoc(t.Context())
	writeEntries(t, a, ns, "k", 50)
	ep, err := iroh.Bind(t.Context(), &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close(context.Background())

	t.Run("oversized frame", func(t *testing.T) {
		conn, err := ep.Connect(t.Context(), a.ep.Addr(), ALPN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(0, "")
		st, err := conn.OpenStream(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		st.SetDeadline(time.Now().Add(10 * time.Second)) // a server that neither answers nor resets fails the read, not hangs it
		st.Write([]byte{0xff, 0xff, 0xff, 0xff, 0})
		st.Close()
		buf := make([]byte, 16)
		n, _ := st.Read(buf)
		if n != 0 {
			t.Fatalf("answer to an oversized frame: %x", buf[:n])
		}
	})
	t.Run("endless splits", func(t *testing.T) {
		conn, err := ep.Connect(t.Context(), a.ep.Addr(), ALPN)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(0, "")
		st, err := conn.OpenStream(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		st.SetDeadline(time.Now().Add(30 * time.Second)) // a stalled exchange fails the reads, not hangs them
		bogus := ProtocolMessage{Parts: []ranger.Part[*SignedEntry]{{Kind: ranger.RangeFingerprint, Range: ranger.Range{X: defaultID, Y: defaultID}, Fingerprint: ranger.Fingerprint{1}}}}
		if _, err := WriteFrame(st, &Message{Kind: MsgInit, Namespace: ns, Msg: bogus}); err != nil {
			t.Fatal(err)
		}
		rounds := 0
		for ; rounds < 100; rounds++ {
			m, _, err := ReadFrame(st)
			if err != nil {
				break
			}
			if m.Kind != MsgSync {
				t.Fatalf("reply kind %d", m.Kind)
			}
			if _, err := WriteFrame(st, &Message{Kind: MsgSync, Msg: bogus}); err != nil {
				break
			}
		}
		if rounds > 20 {
			t.Fatalf("the acceptor answered %d rounds of bogus splits, limit 20", rounds)
		}
	})
	// The node still serves honest peers.
	b := startNode(t, false, nil)
	tk, _ := a.engine.Share(t.Context(), ns, Read)
	b.engine.Import(t.Context(), tk)
	waitInSync(t, b, ns, 50)
}

func TestDownloadPolicy(t *testing.T) {
	p := DownloadPolicy{Filters: []KeyFilter{{Prefix: true, Key: []byte("big/")}}}
	if p.Selects([]byte("big/x")) || !p.Selects([]byte("small")) {
		t.Fatal("EverythingExcept wrong")
	}
	p.NothingExcept = true
	if !p.Selects([]byte("big/x")) || p.Selects([]byte("small")) {
		t.Fatal("NothingExcept wrong")
	}
	if !bytes.Equal([]byte{}, []byte{}) || !DownloadEverything().Selects(nil) {
		t.Fatal("default policy")
	}
}

// TestLiveThreeNodes: two joiners of one sharer all see each other's
// writes live, content included, whichever path gossip takes.
func TestLiveThreeNodes(t *testing.T) {
	a, b, c := startNode(t, true, nil), startNode(t, true, nil), startNode(t, true, nil)
	ns, _ := a.engine.CreateDoc(t.Context())
	tk, _ := a.engine.Share(t.Context(), ns, Write)
	for _, n := range []*node{b, c} {
		if _, err := n.engine.Import(t.Context(), tk); err != nil {
			t.Fatal(err)
		}
	}
	waitInSync(t, b, ns, 0)
	waitInSync(t, c, ns, 0)
	writeEntries(t, a, ns, "a", 50)
	writeEntries(t, b, ns, "b", 20)
	for _, n := range []*node{a, b, c} {
		waitInSync(t, n, ns, 70)
	}
}
