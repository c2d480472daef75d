package docs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/key"
)

// EngineOptions configures NewEngine. A nil *EngineOptions means all
// defaults.
type EngineOptions struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Metrics to record into; nil means none.
	Metrics *Metrics
	// Gossip for live sync; nil means none (syncs still run on join, on
	// incoming syncs and every ResyncInterval).
	Gossip Gossip
	// ResyncInterval, if non-zero, re-syncs every live document with its
	// known peers this often: live updates without gossip, and recovery
	// from lost broadcasts.
	ResyncInterval time.Duration
	// Downloader fetches content; nil means one made with
	// blobs.EndpointDialer on the engine's endpoint (closed by Close).
	Downloader *blobs.Downloader
	// Limits bound the work a peer can cause in one sync session.
	Limits ranger.Limits
	// DownloadConcurrency is the number of content requests in flight
	// (a batch of up to 256 hashes from one provider is one); zero means
	// 32.
	DownloadConcurrency int
	// RetryMin and RetryMax bound the backoff between attempts to fetch
	// missing content; zero means 200 ms and 10 s.
	RetryMin, RetryMax time.Duration
	// SyncTimeout bounds one sync session; zero means 2 minutes.
	SyncTimeout time.Duration
}

// Engine runs documents on an endpoint: it serves /iroh-sync/1 (register
// it on a Router for ALPN), syncs live documents with their peers, spreads
// local entries over gossip, and downloads content by policy, retrying
// missing content from every peer known to have it until it arrives.
type Engine struct {
	// Set in NewEngine, then read-only.
	ep          *iroh.Endpoint
	store       *Store
	blobs       blobs.Store
	dl          *blobs.Downloader
	ownDL       bool
	gossip      Gossip
	log         *slog.Logger
	metrics     *Metrics
	limits      ranger.Limits
	resync      time.Duration
	conc        int
	retryMin    time.Duration
	retryMax    time.Duration
	syncTimeout time.Duration
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	dlWake      chan struct{}
	unhook      func()

	// dialMu serializes our dials to one peer (syncs and downloads), so
	// that one connection's handshake (and its session ticket) is reused
	// rather than racing several.
	dialMu sync.Mutex
	dials  map[key.PublicKey]*sync.Mutex

	// mu guards the following.
	mu        sync.Mutex
	closed    bool
	docs      map[NamespaceID]*liveDoc
	syncs     map[syncKey]*syncState
	addrs     map[key.PublicKey]iroh.EndpointAddr
	missing   map[blobs.Hash]*missingContent
	nsMissing map[NamespaceID]int     // how many of missing each namespace waits for
	noMany    map[key.PublicKey]bool  // providers that answered GetMany with nothing
	ready     []blobs.Hash            // missing content to fetch now, FIFO
	delayed   map[blobs.Hash]struct{} // missing content waiting for its retry time
	tags      map[blobs.Hash]*blobs.TempTag
	subs      map[*subscription]struct{}
}

type liveDoc struct {
	ns     NamespaceID
	topic  GossipTopic
	out    chan []byte // broadcasts, drained by the doc's sender
	cancel context.CancelFunc
	peers  map[key.PublicKey]bool // peers of this document
}

type syncKey struct {
	ns   NamespaceID
	peer key.PublicKey
}

type syncState struct {
	dialing, accepting bool
	resync             bool
}

type missingContent struct {
	providers []key.PublicKey // most recently learned first
	nss       map[NamespaceID]bool
	inflight  bool
	queued    bool // in Engine.ready
	single    bool // fetch alone with Download (a batch did not bring it)
	next      time.Time
	attempts  int
}

// enqueueLocked puts h on the ready queue if it can be fetched now.
func (e *Engine) enqueueLocked(h blobs.Hash, m *missingContent) {
	if m.inflight || m.queued || len(m.providers) == 0 || m.next.After(time.Now()) {
		return
	}
	m.queued = true
	e.ready = append(e.ready, h)
}

// SyncReason says why a sync was started.
type SyncReason uint8

// Reasons of a sync (spec §7.1).
const (
	ReasonDirectJoin SyncReason = iota
	ReasonNewNeighbor
	ReasonSyncReport
	ReasonResync
	ReasonAccept
)

// NewEngine starts an engine for store on ep, downloading content into bs.
// It does not register itself: call router.Handle(docs.ALPN, engine).
func NewEngine(ep *iroh.Endpoint, store *Store, bs blobs.Store, opts *EngineOptions) (*Engine, error) {
	var o EngineOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DownloadConcurrency == 0 {
		o.DownloadConcurrency = 32
	}
	if o.RetryMin == 0 {
		o.RetryMin = 200 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 10 * time.Second
	}
	if o.SyncTimeout == 0 {
		o.SyncTimeout = 2 * time.Minute
	}
	if o.DownloadConcurrency < 0 || o.RetryMin < 0 || o.RetryMax < o.RetryMin || o.ResyncInterval < 0 {
		return nil, fmt.Errorf("docs engine: invalid options")
	}
	e := &Engine{
		ep: ep, store: store, blobs: bs, dl: o.Downloader, gossip: o.Gossip,
		log: o.Logger.With("component", "docs"), metrics: o.Metrics, limits: o.Limits,
		resync: o.ResyncInterval, conc: o.DownloadConcurrency, retryMin: o.RetryMin, retryMax: o.RetryMax,
		syncTimeout: o.SyncTimeout,
		dlWake:      make(chan struct{}, 1),
		docs:        make(map[NamespaceID]*liveDoc),
		syncs:       make(map[syncKey]*syncState),
		addrs:       make(map[key.PublicKey]iroh.EndpointAddr),
		missing:     make(map[blobs.Hash]*missingContent),
		nsMissing:   make(map[NamespaceID]int),
		noMany:      make(map[key.PublicKey]bool),
		delayed:     make(map[blobs.Hash]struct{}),
		tags:        make(map[blobs.Hash]*blobs.TempTag),
		subs:        make(map[*subscription]struct{}),
	}
	if e.dl == nil {
		dial := func(ctx context.Context, addr iroh.EndpointAddr) (blobs.Conn, error) {
			c, err := e.connect(ctx, addr, blobs.ALPN)
			if err != nil {
				return nil, err
			}
			return c, nil
		}
		dl, err := blobs.NewDownloader(bs, dial, &blobs.DownloaderOptions{Logger: o.Logger})
		if err != nil {
			return nil, err
		}
		e.dl, e.ownDL = dl, true
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	// Protect every content hash of every replica from blob GC.
	for _, ni := range store.Namespaces() {
		if r, err := store.Replica(ni.ID); err == nil {
			hs, _ := r.ContentHashes()
			for _, h := range hs {
				e.protect(h)
			}
		}
	}
	e.unhook = store.OnInsert(e.onInsert)
	e.wg.Add(1)
	go e.downloadLoop()
	if e.resync > 0 {
		e.wg.Add(1)
		go e.resyncLoop()
	}
	return e, nil
}

// Store returns the engine's document store.
func (e *Engine) Store() *Store { return e.store }

// Blobs returns the engine's blob store.
func (e *Engine) Blobs() blobs.Store { return e.blobs }

// Endpoint returns the engine's endpoint.
func (e *Engine) Endpoint() *iroh.Endpoint { return e.ep }

// Close stops every live document, sync and download and waits for them.
// It closes neither the store nor the blob store. Safe to call twice.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	docs := e.docs
	e.docs = map[NamespaceID]*liveDoc{}
	subs := e.subs
	e.subs = map[*subscription]struct{}{}
	e.mu.Unlock()
	e.unhook()
	e.cancel()
	for _, d := range docs {
		d.cancel()
		if d.topic != nil {
			d.topic.Close()
		}
	}
	e.wg.Wait()
	for s := range subs {
		s.close()
	}
	if e.ownDL {
		e.dl.Close()
	}
	e.mu.Lock()
	for _, t := range e.tags {
		t.Close()
	}
	e.tags = map[blobs.Hash]*blobs.TempTag{}
	e.mu.Unlock()
	return nil
}

func (e *Engine) protect(h blobs.Hash) {
	if h == blobs.EmptyHash {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.tags[h] != nil {
		return
	}
	e.tags[h] = e.blobs.TempTag(blobs.HashAndFormat{Hash: h, Format: blobs.Raw})
}

// contentStatus is the ContentStatusFunc over the blob store.
func (e *Engine) contentStatus(h blobs.Hash) ranger.ContentStatus {
	bf, err := e.blobs.Bitfield(e.ctx, h)
	switch {
	case err != nil || bf.IsEmpty():
		return ranger.Missing
	case bf.Complete():
		return ranger.Complete
	}
	return ranger.Incomplete
}

func (e *Engine) hasContent(h blobs.Hash) bool {
	return h == blobs.EmptyHash || e.contentStatus(h) == ranger.Complete
}

// AddAddr remembers how to reach a peer (tickets, configuration).
func (e *Engine) AddAddr(a iroh.EndpointAddr) {
	if a.ID == e.ep.ID() || a.ID.IsZero() {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old, ok := e.addrs[a.ID]
	if ok && a.IsIDOnly() && !old.IsIDOnly() {
		return
	}
	e.addrs[a.ID] = a
}

// addr returns what we know of how to reach p: addresses from tickets and
// incoming syncs, else the paths the endpoint knows (from a gossip
// connection, say), else the id alone (for address lookup).
func (e *Engine) addr(p key.PublicKey) iroh.EndpointAddr {
	e.mu.Lock()
	a, ok := e.addrs[p]
	e.mu.Unlock()
	if ok {
		return a
	}
	path, cands := e.ep.PathsTo(p)
	return addrFromPaths(p, path, cands)
}

// addrFromPaths is the address of id as a path and its candidates show
// it: the relay URL and the direct addresses, the current one first.
func addrFromPaths(id key.PublicKey, path iroh.PathInfo, cands []iroh.CandidateInfo) iroh.EndpointAddr {
	a := iroh.EndpointAddr{ID: id}
	if path.RelayURL != "" {
		a.RelayURLs = append(a.RelayURLs, path.RelayURL)
	}
	if path.Addr.IsValid() {
		a.Direct = append(a.Direct, path.Addr)
	}
	for _, c := range cands {
		if c.Addr.IsValid() && c.Addr != path.Addr {
			a.Direct = append(a.Direct, c.Addr)
		}
	}
	return a
}

// StartSync makes ns live: incoming syncs for it are served, its gossip
// topic is joined (bootstrapped with peers and the remembered useful
// peers), and a sync runs with each peer. Calling it again adds peers.
func (e *Engine) StartSync(ctx context.Context, ns NamespaceID, peers []iroh.EndpointAddr) error {
	r, err := e.store.Replica(ns)
	if err != nil {
		return err
	}
	for _, p := range peers {
		e.AddAddr(p)
	}
	ids := make([]key.PublicKey, 0, len(peers))
	for _, p := range peers {
		if p.ID != e.ep.ID() {
			ids = append(ids, p.ID)
		}
	}
	for _, p := range r.UsefulPeers() {
		if !containsKey(ids, p) && p != e.ep.ID() {
			ids = append(ids, p)
		}
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errEngineClosed
	}
	d := e.docs[ns]
	fresh := d == nil
	if fresh {
		dctx, cancel := context.WithCancel(e.ctx)
		d = &liveDoc{ns: ns, cancel: cancel, out: make(chan []byte, 16384), peers: map[key.PublicKey]bool{}}
		e.docs[ns] = d
		if e.gossip != nil {
			e.wg.Add(1)
			go e.joinGossip(dctx, d, ids)
		}
	}
	for _, p := range ids {
		d.peers[p] = true
	}
	e.mu.Unlock()
	for _, p := range ids {
		e.startSync(ns, p, ReasonDirectJoin)
	}
	return nil
}

var errEngineClosed = fmt.Errorf("docs engine: %w", ErrClosed)

func containsKey(ks []key.PublicKey, k key.PublicKey) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// LeaveSync stops live sync of ns: incoming syncs are refused and the
// gossip topic is left.
func (e *Engine) LeaveSync(ns NamespaceID) {
	e.mu.Lock()
	d := e.docs[ns]
	delete(e.docs, ns)
	e.mu.Unlock()
	if d != nil {
		d.cancel()
		if d.topic != nil {
			d.topic.Close()
		}
	}
}

// IsSyncing reports whether ns is live.
func (e *Engine) IsSyncing(ns NamespaceID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.docs[ns] != nil
}

func (e *Engine) joinGossip(ctx context.Context, d *liveDoc, bootstrap []key.PublicKey) {
	defer e.wg.Done()
	addrs := make([]iroh.EndpointAddr, len(bootstrap))
	for i, p := range bootstrap {
		addrs[i] = e.addr(p)
	}
	topic, err := e.gossip.Join(ctx, d.ns, addrs)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("join gossip topic", "namespace", d.ns.ShortString(), "err", err)
		}
		return
	}
	e.mu.Lock()
	if ctx.Err() != nil {
		e.mu.Unlock()
		topic.Close()
		return
	}
	d.topic = topic
	e.mu.Unlock()
	e.wg.Add(1)
	go e.sendLoop(ctx, d, topic)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-topic.Events():
			if !ok {
				return
			}
			// Take what else is waiting, so a burst of Puts is
			// verified and committed as one batch.
			batch := []GossipEvent{ev}
		drain:
			for len(batch) < 1024 {
				select {
				case ev, ok := <-topic.Events():
					if !ok {
						break drain
					}
					batch = append(batch, ev)
				default:
					break drain
				}
			}
			e.onGossipBatch(d, batch)
		}
	}
}

// onGossipBatch handles received events in order, inserting runs of Puts
// delivered by one neighbour in one batch.
func (e *Engine) onGossipBatch(d *liveDoc, evs []GossipEvent) {
	var run []ranger.Value[*SignedEntry]
	var runFrom key.PublicKey
	flush := func() {
		if len(run) == 0 {
			return
		}
		if r, err := e.store.Replica(d.ns); err == nil {
			r.insertRemote(run, runFrom, true)
		}
		run = run[:0]
	}
	for _, ev := range evs {
		if ev.Kind == GossipReceived && len(ev.Content) > 0 && OpKind(ev.Content[0]) == OpPut {
			op, err := ParseOp(ev.Content)
			if err != nil {
				e.log.Debug("bad gossip op", "remote", ev.DeliveredFrom.ShortString(), "err", err)
				continue
			}
			if ev.DeliveredFrom != runFrom {
				flush()
				runFrom = ev.DeliveredFrom
			}
			st := ranger.Missing
			if ev.Direct {
				st = ranger.Complete
			}
			run = append(run, ranger.Value[*SignedEntry]{Entry: op.Entry, Status: st})
			continue
		}
		flush()
		e.onGossip(d, ev)
	}
	flush()
}

func (e *Engine) sendLoop(ctx context.Context, d *liveDoc, topic GossipTopic) {
	defer e.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-d.out:
			if err := topic.Broadcast(ctx, msg); err != nil && ctx.Err() == nil {
				e.log.Debug("gossip broadcast", "namespace", d.ns.ShortString(), "err", err)
			}
		}
	}
}

func (e *Engine) onGossip(d *liveDoc, ev GossipEvent) {
	switch ev.Kind {
	case GossipNeighborUp:
		e.mu.Lock()
		d.peers[ev.Peer] = true
		e.mu.Unlock()
		e.emit(Event{Kind: EventNeighborUp, Namespace: d.ns, Peer: ev.Peer})
		e.startSync(d.ns, ev.Peer, ReasonNewNeighbor)
		return
	case GossipNeighborDown:
		e.emit(Event{Kind: EventNeighborDown, Namespace: d.ns, Peer: ev.Peer})
		return
	case GossipLagged:
		// Broadcasts were lost: a sync with every peer brings them.
		e.mu.Lock()
		var peers []key.PublicKey
		for p := range d.peers {
			peers = append(peers, p)
		}
		e.mu.Unlock()
		for _, p := range peers {
			e.startSync(d.ns, p, ReasonResync)
		}
		return
	}
	op, err := ParseOp(ev.Content)
	if err != nil {
		e.log.Debug("bad gossip op", "remote", ev.DeliveredFrom.ShortString(), "err", err)
		return
	}
	switch op.Kind {
	case OpPut:
		r, err := e.store.Replica(d.ns)
		if err != nil {
			return
		}
		st := ranger.Missing
		if ev.Direct {
			st = ranger.Complete
		}
		r.InsertRemote(op.Entry, ev.DeliveredFrom, st, true)
	case OpContentReady:
		e.addProvider(op.Hash, ev.DeliveredFrom)
	case OpSyncReport:
		if op.Namespace != d.ns {
			return
		}
		heads, err := ParseHeads(op.Heads)
		if err != nil {
			return
		}
		if r, err := e.store.Replica(d.ns); err == nil && r.HasNews(heads) {
			e.startSync(d.ns, ev.DeliveredFrom, ReasonSyncReport)
		}
	}
}

func (e *Engine) broadcast(ns NamespaceID, msg []byte, neighborsOnly bool) {
	e.mu.Lock()
	d := e.docs[ns]
	e.mu.Unlock()
	if d == nil || e.gossip == nil {
		return
	}
	if neighborsOnly {
		e.mu.Lock()
		t := d.topic
		e.mu.Unlock()
		if t != nil {
			ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
			t.BroadcastNeighbors(ctx, msg)
			cancel()
		}
		return
	}
	select {
	case d.out <- msg:
	default:
		// Dropped: sync with the peers catches up.
		e.log.Debug("gossip queue full, broadcast dropped", "namespace", ns.ShortString())
	}
}

// onInsert is the store's insert hook.
func (e *Engine) onInsert(evs []InsertEvent) {
	var policies map[NamespaceID]DownloadPolicy // looked up once per call
	for _, ev := range evs {
		if ev.Origin == Local {
			e.protect(ev.Entry.Hash())
			e.emit(Event{Kind: EventInsertLocal, Namespace: ev.Namespace, Entry: ev.Entry})
			op := Op{Kind: OpPut, Entry: ev.Entry}
			e.broadcast(ev.Namespace, op.AppendBinary(nil), false)
			continue
		}
		e.emit(Event{Kind: EventInsertRemote, Namespace: ev.Namespace, Entry: ev.Entry, Peer: ev.From, Status: ev.Status, ViaGossip: ev.Gossip})
		if ev.Entry.IsEmpty() {
			continue
		}
		e.protect(ev.Entry.Hash())
		policy, ok := policies[ev.Namespace]
		if !ok {
			policy, _ = e.store.DownloadPolicy(ev.Namespace)
			if policies == nil {
				policies = map[NamespaceID]DownloadPolicy{}
			}
			policies[ev.Namespace] = policy
		}
		if !policy.Selects(ev.Entry.Key()) || e.hasContent(ev.Entry.Hash()) {
			continue
		}
		var from key.PublicKey
		if ev.Status != ranger.Missing {
			from = ev.From
		}
		e.addMissing(ev.Entry.Hash(), ev.Namespace, from)
	}
}

func (e *Engine) addMissing(h blobs.Hash, ns NamespaceID, from key.PublicKey) {
	e.mu.Lock()
	m := e.missing[h]
	if m == nil {
		m = &missingContent{nss: map[NamespaceID]bool{}}
		e.missing[h] = m
	}
	if !m.nss[ns] {
		m.nss[ns] = true
		e.nsMissing[ns]++
	}
	if !from.IsZero() {
		m.addProvider(from)
		m.next = time.Time{}
		e.enqueueLocked(h, m)
	}
	e.mu.Unlock()
	e.wake()
}

func (m *missingContent) addProvider(p key.PublicKey) {
	for i, q := range m.providers {
		if q == p {
			copy(m.providers[1:i+1], m.providers[:i])
			m.providers[0] = p
			return
		}
	}
	m.providers = append([]key.PublicKey{p}, m.providers...)
	if len(m.providers) > 16 {
		m.providers = m.providers[:16]
	}
}

// addProvider records that p has h (ContentReady) and retries it now.
func (e *Engine) addProvider(h blobs.Hash, p key.PublicKey) {
	e.mu.Lock()
	m := e.missing[h]
	if m != nil {
		m.addProvider(p)
		m.next = time.Time{}
		e.enqueueLocked(h, m)
	}
	e.mu.Unlock()
	if m != nil {
		e.wake()
	}
}

func (e *Engine) wake() {
	select {
	case e.dlWake <- struct{}{}:
	default:
	}
}

// MissingContent returns how many content hashes of ns the engine is still
// waiting for.
func (e *Engine) MissingContent(ns NamespaceID) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.nsMissing[ns]
}

// maxBatch bounds the content hashes of one batched download (one GetMany
// request): small values arrive many to a stream instead of a stream
// each, while a few batches still run in parallel.
const maxBatch = 256

// downloadLoop starts downloads of missing content whose time has come,
// up to the concurrency limit, and retries failures with backoff from every
// known provider: content is never given up on (iroh-docs #82). Content
// ready at the same time with the same preferred provider goes in batches
// (blobs.Downloader.DownloadMany); what a batch does not bring is then
// fetched alone, from every provider in turn.
func (e *Engine) downloadLoop() {
	defer e.wg.Done()
	sem := make(chan struct{}, e.conc)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	type job struct {
		hs        []blobs.Hash
		providers []key.PublicKey // the batch's provider, or every one for a single
		batch     bool
	}
	for {
		now := time.Now()
		next := now.Add(time.Hour)
		var jobs []*job
		batches := map[key.PublicKey]*job{} // open batch per first provider
		e.mu.Lock()
		for h := range e.delayed {
			m := e.missing[h]
			switch {
			case m == nil || m.inflight:
				delete(e.delayed, h)
			case !m.next.After(now):
				delete(e.delayed, h)
				e.enqueueLocked(h, m)
			case m.next.Before(next):
				next = m.next
			}
		}
		for len(e.ready) > 0 && len(jobs)+len(sem) < e.conc {
			h := e.ready[0]
			e.ready = e.ready[1:]
			m := e.missing[h]
			if m == nil {
				continue
			}
			m.queued = false
			if m.inflight || len(m.providers) == 0 {
				continue
			}
			m.inflight = true
			p := m.providers[0]
			if m.single || e.noMany[p] {
				jobs = append(jobs, &job{hs: []blobs.Hash{h}, providers: slices.Clone(m.providers)})
				continue
			}
			if b := batches[p]; b != nil && len(b.hs) < maxBatch {
				b.hs = append(b.hs, h)
				continue
			}
			b := &job{hs: []blobs.Hash{h}, providers: []key.PublicKey{p}, batch: true}
			batches[p] = b
			jobs = append(jobs, b)
		}
		if len(e.ready) == 0 {
			e.ready = nil // let the backing array go
		}
		e.mu.Unlock()
		for _, j := range jobs {
			select {
			case sem <- struct{}{}:
			case <-e.ctx.Done():
				return
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer func() { <-sem; e.wake() }()
				if j.batch {
					e.downloadBatch(j.hs, j.providers[0])
				} else {
					e.download(j.hs[0], j.providers)
				}
			}()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(next), time.Millisecond))
		select {
		case <-e.ctx.Done():
			return
		case <-e.dlWake:
		case <-timer.C:
		}
	}
}

func (e *Engine) download(h blobs.Hash, providers []key.PublicKey) {
	addrs := make([]iroh.EndpointAddr, len(providers))
	for i, p := range providers {
		addrs[i] = e.addr(p)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	tt, err := e.dl.Download(ctx, blobs.DownloadRequest{Content: blobs.HashAndFormat{Hash: h, Format: blobs.Raw}, Providers: addrs})
	cancel()
	if tt != nil {
		tt.Close() // the engine's own temp tag protects it
	}
	if err != nil {
		e.downloadFailed(h, err)
		return
	}
	e.downloaded(h)
}

// downloadBatch fetches hs from provider in GetMany requests; what does
// not arrive is fetched alone next (from every provider, with backoff).
func (e *Engine) downloadBatch(hs []blobs.Hash, provider key.PublicKey) {
	ctx, cancel := context.WithTimeout(e.ctx, 2*time.Minute)
	_, err := e.dl.DownloadMany(ctx, e.addr(provider), hs)
	cancel()
	if err != nil && e.ctx.Err() == nil {
		e.log.Debug("batched content download incomplete", "remote", provider.ShortString(), "hashes", len(hs), "err", err)
	}
	var done, rest []blobs.Hash
	for _, h := range hs {
		if e.hasContent(h) {
			done = append(done, h)
		} else {
			rest = append(rest, h)
		}
	}
	e.mu.Lock()
	if errors.Is(err, blobs.ErrEmptyResponse) && len(done) == 0 {
		if len(e.noMany) >= 4096 {
			clear(e.noMany)
		}
		e.noMany[provider] = true // iroh-blobs 0.35: one request a blob
	}
	for _, h := range rest {
		if m := e.missing[h]; m != nil {
			m.inflight = false
			m.single = true
			e.enqueueLocked(h, m)
		}
	}
	e.mu.Unlock()
	for _, h := range done {
		e.downloaded(h)
	}
	if len(rest) > 0 {
		e.wake()
	}
}

// downloadFailed schedules h's next attempt.
func (e *Engine) downloadFailed(h blobs.Hash, err error) {
	e.mu.Lock()
	m := e.missing[h]
	if m == nil {
		e.mu.Unlock()
		return
	}
	m.inflight = false
	m.attempts++
	backoff := e.retryMin << min(m.attempts-1, 16)
	m.next = time.Now().Add(min(backoff, e.retryMax))
	e.delayed[h] = struct{}{}
	attempts := m.attempts
	e.mu.Unlock()
	if e.metrics != nil {
		e.metrics.ContentDownloads.WithLabelValues("failed").Inc()
	}
	if e.ctx.Err() == nil {
		e.log.Debug("content download failed, will retry", "hash", h.ShortString(), "attempts", attempts, "err", err)
	}
}

// downloaded records that h arrived: it is no longer missing, and each
// of its namespaces gets an event and tells its neighbours.
func (e *Engine) downloaded(h blobs.Hash) {
	e.mu.Lock()
	m := e.missing[h]
	if m == nil {
		e.mu.Unlock()
		return
	}
	delete(e.missing, h)
	var nss []NamespaceID
	for ns := range m.nss {
		nss = append(nss, ns)
		if e.nsMissing[ns]--; e.nsMissing[ns] <= 0 {
			delete(e.nsMissing, ns)
		}
	}
	e.mu.Unlock()
	if e.metrics != nil {
		e.metrics.ContentDownloads.WithLabelValues("ok").Inc()
	}
	op := Op{Kind: OpContentReady, Hash: h}
	for _, ns := range nss {
		e.emit(Event{Kind: EventContentReady, Namespace: ns, Hash: h})
		e.broadcast(ns, op.AppendBinary(nil), true)
	}
}

// startSync starts a sync of ns with peer unless one is running (§7.3).
func (e *Engine) startSync(ns NamespaceID, peer key.PublicKey, reason SyncReason) {
	if peer == e.ep.ID() || peer.IsZero() {
		return
	}
	k := syncKey{ns, peer}
	e.mu.Lock()
	if e.closed || e.docs[ns] == nil {
		e.mu.Unlock()
		return
	}
	if st := e.syncs[k]; st != nil {
		// The running session may have passed what the reason is
		// about (news, a new neighbour, broadcasts lost to lag): sync
		// again when it ends, whichever side began it.
		if reason != ReasonDirectJoin && reason != ReasonAccept {
			st.resync = true
		}
		e.mu.Unlock()
		return
	}
	e.syncs[k] = &syncState{dialing: true}
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		for {
			stats, err := e.connectAndSync(ns, peer)
			e.afterSync(ns, peer, stats, err, "initiator")
			e.mu.Lock()
			st := e.syncs[k]
			again := st != nil && st.resync && !e.closed
			if again {
				st.resync = false
				e.mu.Unlock()
				continue
			}
			if st != nil {
				st.dialing = false
				if !st.accepting {
					delete(e.syncs, k)
				}
			}
			e.mu.Unlock()
			return
		}
	}()
}

// SyncWith runs one sync of ns with peer now and returns its stats.
func (e *Engine) SyncWith(ctx context.Context, ns NamespaceID, peer iroh.EndpointAddr) (SyncStats, error) {
	e.AddAddr(peer)
	st, err := e.connectAndSyncCtx(ctx, ns, peer.ID)
	e.afterSync(ns, peer.ID, st, err, "initiator")
	return st, err
}

func (e *Engine) connectAndSync(ns NamespaceID, peer key.PublicKey) (SyncStats, error) {
	return e.connectAndSyncCtx(e.ctx, ns, peer)
}

func (e *Engine) connectAndSyncCtx(ctx context.Context, ns NamespaceID, peer key.PublicKey) (SyncStats, error) {
	r, err := e.store.Replica(ns)
	if err != nil {
		return SyncStats{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.syncTimeout)
	defer cancel()
	conn, err := e.connect(ctx, e.addr(peer), ALPN)
	if err != nil {
		return SyncStats{Peer: peer, Namespace: ns}, fmt.Errorf("docs sync: connect %s: %w", peer.ShortString(), err)
	}
	defer conn.Close(0, "")
	stop := context.AfterFunc(ctx, func() { conn.Close(1, "cancelled") })
	defer stop()
	st, err := conn.OpenStream(ctx)
	if err != nil {
		return SyncStats{Peer: peer, Namespace: ns}, err
	}
	stats, err := r.SyncInitiate(ctx, st, peer, e.contentStatus, e.limits)
	st.Close()
	if err == nil {
		drain(st)
	}
	return stats, err
}

// connect dials addr, one dial at a time per peer.
func (e *Engine) connect(ctx context.Context, addr iroh.EndpointAddr, alpn string) (*iroh.Connection, error) {
	e.dialMu.Lock()
	if e.dials == nil {
		e.dials = make(map[key.PublicKey]*sync.Mutex)
	}
	mu := e.dials[addr.ID]
	if mu == nil {
		if len(e.dials) > 4096 {
			clear(e.dials) // bounded; a dial in flight keeps its own mutex
		}
		mu = new(sync.Mutex)
		e.dials[addr.ID] = mu
	}
	e.dialMu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	return e.ep.Connect(ctx, addr, alpn)
}

// drain reads the rest of the peer's half to its end, so the peer's
// final frames are acknowledged before the connection closes.
func drain(r io.Reader) {
	io.CopyN(io.Discard, r, MaxFrameSize)
}

// Accept implements iroh.ProtocolHandler for ALPN: it serves one sync
// session per connection.
func (e *Engine) Accept(ctx context.Context, conn *iroh.Connection) error {
	defer conn.Close(0, "")
	ctx, cancel := context.WithTimeout(ctx, e.syncTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close(1, "cancelled") })
	defer stop()
	st, err := conn.AcceptStream(ctx)
	if err != nil {
		return nil
	}
	peer := conn.RemoteID()
	e.learnAddr(conn)
	stats, err := e.store.SyncAccept(ctx, st, peer, e.acceptSync, e.contentStatus, e.limits)
	st.Close()
	// Wait for the initiator to finish (it closes after reading our last
	// frame or the Abort), so closing the connection loses nothing.
	drain(st)
	var ae *AbortError
	if errors.As(err, &ae) {
		if e.metrics != nil {
			e.metrics.Syncs.WithLabelValues("acceptor", "aborted").Inc()
		}
		return nil
	}
	e.afterSync(stats.Namespace, peer, stats, err, "acceptor")
	return nil
}

// learnAddr remembers the addresses an incoming connection came from, so
// the peer can be dialed back (content downloads, later syncs).
func (e *Engine) learnAddr(conn *iroh.Connection) {
	e.mu.Lock()
	_, known := e.addrs[conn.RemoteID()]
	e.mu.Unlock()
	if known {
		return
	}
	path, cands := conn.Paths()
	a := addrFromPaths(conn.RemoteID(), path, cands)
	if !a.IsIDOnly() {
		e.AddAddr(a)
	}
}

// acceptSync applies the accept rules of spec §7.3 and §8.
func (e *Engine) acceptSync(ns NamespaceID, peer key.PublicKey) (func(), error) {
	k := syncKey{ns, peer}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.docs[ns] == nil {
		return nil, &AbortError{Reason: AbortNotFound}
	}
	st := e.syncs[k]
	switch {
	case st == nil:
		st = &syncState{}
		e.syncs[k] = st
	case st.accepting:
		return nil, &AbortError{Reason: AbortAlreadySyncing}
	case st.dialing:
		// Crossing connections: the one dialed by the greater id loses.
		me := e.ep.ID()
		if bytes.Compare(me[:], peer[:]) <= 0 {
			return nil, &AbortError{Reason: AbortAlreadySyncing}
		}
	}
	st.accepting = true
	e.docs[ns].peers[peer] = true
	return func() {
		e.mu.Lock()
		again := false
		if s := e.syncs[k]; s != nil {
			s.accepting = false
			if !s.dialing {
				delete(e.syncs, k)
				again = s.resync // asked for while only this session ran
			}
		}
		e.mu.Unlock()
		if again {
			e.startSync(ns, peer, ReasonResync)
		}
	}, nil
}

// afterSync records a finished session: useful peer, providers for missing
// content (the peer may hold what the first provider lacked), a SyncReport
// to neighbours when entries arrived, and an event.
func (e *Engine) afterSync(ns NamespaceID, peer key.PublicKey, stats SyncStats, err error, role string) {
	result := "ok"
	var ae *AbortError
	switch {
	case errors.As(err, &ae):
		result = "aborted"
	case err != nil:
		result = "error"
	}
	if e.metrics != nil {
		e.metrics.Syncs.WithLabelValues(role, result).Inc()
	}
	e.emit(Event{Kind: EventSyncFinished, Namespace: ns, Peer: peer, Sync: &stats, Err: err})
	if err != nil {
		if e.ctx.Err() == nil {
			e.log.Debug("sync failed", "namespace", ns.ShortString(), "remote", peer.ShortString(), "err", err)
		}
		return
	}
	e.log.Debug("sync finished", "namespace", ns.ShortString(), "remote", peer.ShortString(),
		"sent", stats.ValuesSent, "received", stats.ValuesRecv, "inserted", stats.Inserted, "dur", stats.Duration)
	if r, err := e.store.Replica(ns); err == nil {
		r.AddUsefulPeer(peer)
	}
	e.mu.Lock()
	woke := false
	for h, m := range e.missing {
		if m.nss[ns] && !containsKey(m.providers, peer) {
			m.providers = append(m.providers, peer)
			if m.attempts > 0 {
				m.next = time.Time{}
			}
			e.enqueueLocked(h, m)
			woke = true
		}
	}
	e.mu.Unlock()
	if woke {
		e.wake()
	}
	if stats.Inserted > 0 && e.gossip != nil {
		heads := stats.Heads
		sortHeads(heads)
		op := Op{Kind: OpSyncReport, Namespace: ns, Heads: AppendHeads(nil, heads, 4096)}
		e.broadcast(ns, op.AppendBinary(nil), true)
	}
}

func sortHeads(h []Head) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].Timestamp > h[j-1].Timestamp; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

func (e *Engine) resyncLoop() {
	defer e.wg.Done()
	t := time.NewTicker(e.resync)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
		}
		type target struct {
			ns   NamespaceID
			peer key.PublicKey
		}
		var ts []target
		e.mu.Lock()
		for ns, d := range e.docs {
			for p := range d.peers {
				ts = append(ts, target{ns, p})
			}
		}
		e.mu.Unlock()
		for _, t := range ts {
			e.startSync(t.ns, t.peer, ReasonResync)
		}
	}
}

// SetDownloadPolicy sets which entries' content ns downloads (default:
// everything) and stores it with the replica. It applies to entries
// inserted from now on.
func (e *Engine) SetDownloadPolicy(ns NamespaceID, p DownloadPolicy) error {
	return e.store.SetDownloadPolicy(ns, p)
}
