package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iroh-go/iroh"

	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// Conn is what the downloader needs of a connection to a provider; an
// *iroh.Connection is one.
type Conn interface {
	OpenStream(ctx context.Context) (*iroh.Stream, error)
	Close(code uint64, reason string) error
}

// DialFunc connects to a provider with ALPN /iroh-bytes/4.
type DialFunc func(ctx context.Context, addr endpointaddr.Addr) (Conn, error)

// DownloaderOptions configures NewDownloader. A nil *DownloaderOptions
// means all defaults.
type DownloaderOptions struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Metrics to record into; nil means none.
	Metrics *Metrics
	// Concurrency is the number of request streams a download keeps in
	// flight (across all its providers). Zero means 4.
	Concurrency int
}

// Downloader fetches blobs and hash sequences (collections) from one or
// more providers into a Store. It verifies everything it writes (the bao
// decoder checks each chunk group before it is stored), resumes from what
// the store already holds, splits work across providers, and moves work to
// the next provider when one fails or sends bad data. Connections are
// pooled per provider until Close. Safe for concurrent use.
type Downloader struct {
	store   Store
	dial    DialFunc
	log     *slog.Logger
	metrics *Metrics
	conc    int

	mu     sync.Mutex
	conns  map[key.PublicKey]*poolConn
	closed bool
}

type poolConn struct {
	ready chan struct{}
	conn  Conn
	err   error
}

// NewDownloader returns a downloader writing into s and dialing with dial.
func NewDownloader(s Store, dial DialFunc, opts *DownloaderOptions) (*Downloader, error) {
	var o DownloaderOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Concurrency < 0 {
		return nil, fmt.Errorf("downloader: negative Concurrency %d", o.Concurrency)
	}
	if o.Concurrency == 0 {
		o.Concurrency = 4
	}
	return &Downloader{store: s, dial: dial, log: o.Logger.With("component", "blobs-downloader"), metrics: o.Metrics, conc: o.Concurrency, conns: make(map[key.PublicKey]*poolConn)}, nil
}

// Close closes the pooled connections.
func (d *Downloader) Close() error {
	d.mu.Lock()
	d.closed = true
	conns := d.conns
	d.conns = make(map[key.PublicKey]*poolConn)
	d.mu.Unlock()
	for _, pc := range conns {
		<-pc.ready
		if pc.conn != nil {
			pc.conn.Close(0, "downloader closed")
		}
	}
	return nil
}

func (d *Downloader) conn(ctx context.Context, addr endpointaddr.Addr) (Conn, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("downloader closed")
	}
	pc := d.conns[addr.ID]
	if pc == nil {
		pc = &poolConn{ready: make(chan struct{})}
		d.conns[addr.ID] = pc
		d.mu.Unlock()
		pc.conn, pc.err = d.dial(ctx, addr)
		close(pc.ready)
		if pc.err != nil {
			d.drop(addr.ID, pc)
		}
		return pc.conn, pc.err
	}
	d.mu.Unlock()
	select {
	case <-pc.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return pc.conn, pc.err
}

// drop forgets a pooled connection (after it failed) and closes it.
func (d *Downloader) drop(id key.PublicKey, pc *poolConn) {
	d.mu.Lock()
	if d.conns[id] == pc {
		delete(d.conns, id)
	}
	d.mu.Unlock()
	if pc.conn != nil {
		pc.conn.Close(0, "")
	}
}

// DownloadRequest says what to fetch and from whom.
type DownloadRequest struct {
	Content   HashAndFormat
	Providers []endpointaddr.Addr
	// OnProgress, if set, is called about every 100 ms and once at the end,
	// from one goroutine of the download; it must not block for long.
	OnProgress func(DownloadProgress)
}

// DownloadProgress reports a download's state.
type DownloadProgress struct {
	// Local is the number of verified bytes of the content in the store
	// (including what was there before the download).
	Local uint64
	// Total is the sum of the sizes seen so far (it grows while the
	// children of a hash sequence arrive); zero until a size is known.
	Total uint64
	// Fetched is the verified bytes received in this download.
	Fetched uint64
	// Rate is the recent fetch rate in bytes per second.
	Rate float64
	// Elapsed is the time since the download started.
	Elapsed time.Duration
	// Done is set on the last report.
	Done bool
}

// ProviderError reports why a provider was abandoned for part of a
// download.
type ProviderError struct {
	Provider key.PublicKey
	Reason   string // connect, not_found, verify, io
	Err      error
}

// Error implements error.
func (e *ProviderError) Error() string {
	return fmt.Sprintf("provider %s: %s: %v", e.Provider.ShortString(), e.Reason, e.Err)
}

// Unwrap returns the underlying failure.
func (e *ProviderError) Unwrap() error { return e.Err }

// ErrNoProviders is returned when a download has no provider left to try.
var ErrNoProviders = errors.New("no provider could supply the content")

// download is the state of one Download call.
type download struct {
	d    *Downloader
	req  DownloadRequest
	root Hash
	// start is when Download began; every report's Elapsed counts from it.
	start time.Time

	fetched atomic.Uint64
	local   atomic.Uint64
	total   atomic.Uint64

	mu  sync.Mutex
	bad map[int]error // provider index → why it is no longer used
}

// task is a unit of work run against one provider at a time: a blob's
// ranges, or a contiguous range of children of a hash sequence.
type task struct {
	hash   Hash
	ranges bao.ChunkRanges // blob task
	// children task (seq non-nil): children [first, last) of hash.
	seq         HashSeq
	first, last int
	pref        int // provider index to try first
}

// Download fetches req.Content into the store and returns a TempTag
// protecting it, which the caller closes. It returns nil only when the
// content (for a hash sequence: the sequence and every child) is complete
// and verified; on error, verified data stays in the store for a later
// resume.
func (d *Downloader) Download(ctx context.Context, req DownloadRequest) (*TempTag, error) {
	if len(req.Providers) == 0 {
		return nil, fmt.Errorf("download %s: %w", req.Content.Hash.ShortString(), ErrNoProviders)
	}
	tt := d.store.TempTag(req.Content)
	dl := &download{d: d, req: req, root: req.Content.Hash, bad: make(map[int]error), start: time.Now()}
	err := dl.run(ctx)
	if err == nil {
		err = d.store.Sync(ctx)
	}
	if d.metrics != nil {
		r := "ok"
		if err != nil {
			r = "failed"
		}
		d.metrics.Downloads.WithLabelValues(r).Inc()
	}
	if err != nil {
		tt.Close()
		return nil, fmt.Errorf("download %s: %w", req.Content.Hash.ShortString(), err)
	}
	return tt, nil
}

func (dl *download) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	if dl.req.OnProgress != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dl.reportLoop(ctx)
		}()
	}
	err := dl.fetchAll(ctx)
	if dl.req.OnProgress != nil {
		cancel()
		wg.Wait()
		wg = sync.WaitGroup{}
		p := dl.progress(dl.start, 0)
		p.Done = true
		dl.req.OnProgress(p)
	}
	return err
}

func (dl *download) progress(start time.Time, rate float64) DownloadProgress {
	p := DownloadProgress{Local: dl.local.Load(), Total: dl.total.Load(), Fetched: dl.fetched.Load(), Rate: rate}
	if !start.IsZero() {
		p.Elapsed = time.Since(start)
	}
	return p
}

func (dl *download) reportLoop(ctx context.Context) {
	start := dl.start
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var rate float64
	last, lastT := dl.fetched.Load(), start
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			f := dl.fetched.Load()
			inst := float64(f-last) / now.Sub(lastT).Seconds()
			if rate == 0 {
				rate = inst
			} else {
				rate = 0.7*rate + 0.3*inst
			}
			last, lastT = f, now
			dl.req.OnProgress(dl.progress(start, rate))
		}
	}
}

// fetchAll runs the download: the root first, then (hash seq) the
// children, split in tasks across providers.
func (dl *download) fetchAll(ctx context.Context) (err error) {
	bf, err := dl.d.store.Bitfield(ctx, dl.root)
	if err != nil {
		return err
	}
	dl.account(bf, true)
	np := len(dl.req.Providers)
	if dl.req.Content.Format != HashSeqFormat {
		// One writer stays open for the whole blob, so its parts (run one
		// after the other and in parallel) share the store's writer state:
		// the outboard pairs every part receives are kept, and the blob is
		// finished once, when this writer closes, without rehashing it.
		hold, err := dl.d.store.OpenWriter(ctx, dl.root)
		if err != nil {
			return fmt.Errorf("%w: %w", errLocal, err)
		}
		defer func() {
			if cerr := hold.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("%w: %w", errLocal, cerr)
			}
		}()
		if !bf.Known {
			// The first part learns the size: a small blob arrives whole
			// (the range collapses onto its last chunk, spec §6.2), a large
			// one is then split across providers and streams.
			if err := dl.runTask(ctx, &task{hash: dl.root, ranges: bao.Range(0, firstPartChunks)}); err != nil {
				return err
			}
			if bf, err = dl.d.store.Bitfield(ctx, dl.root); err != nil {
				return err
			}
		}
		return dl.runTasks(ctx, dl.splitBlob(bf))
	}
	if err := dl.runTask(ctx, &task{hash: dl.root, ranges: bao.All()}); err != nil {
		return err
	}
	b, err := readBlob(ctx, dl.d.store, dl.root, MaxHashSeqSize)
	if err != nil {
		return err
	}
	seq, err := ParseHashSeq(b)
	if err != nil {
		return err
	}
	for _, h := range seq {
		bf, err := dl.d.store.Bitfield(ctx, h)
		if err != nil {
			return err
		}
		dl.account(bf, true)
	}
	// Children in contiguous batches, several per stream slot, so a few
	// streams carry many small blobs and a slow provider holds little.
	n := len(seq)
	batches := 4 * dl.d.conc
	size := max(1, (n+batches-1)/batches)
	var tasks []*task
	for i := 0; i < n; i += size {
		tasks = append(tasks, &task{hash: dl.root, seq: seq, first: i, last: min(n, i+size), pref: len(tasks) % np})
	}
	return dl.runTasks(ctx, tasks)
}

// firstPartChunks is the first request of a blob of unknown size (16 MiB);
// splitMinChunks the least missing data worth a stream of its own (16 MiB).
// Variables only so tests can use small blobs.
var (
	firstPartChunks uint64 = 16 << 10
	splitMinChunks  uint64 = 16 << 10
)

// splitBlob cuts the missing chunks of a blob into parts of equal size,
// two per provider (so each connection keeps two streams busy, which
// overlaps verifying and writing with receiving), aligned to chunk groups.
// Little missing data stays one task.
func (dl *download) splitBlob(bf Bitfield) []*task {
	np := len(dl.req.Providers)
	if !bf.Known {
		return []*task{{hash: dl.root, ranges: bao.All()}}
	}
	missing := bf.Missing()
	var total uint64
	for _, r := range missing {
		total += r[1] - r[0]
	}
	parts := min(uint64(2*np), max(1, total/splitMinChunks))
	if parts <= 1 {
		return []*task{{hash: dl.root, ranges: bao.All()}}
	}
	per := (total + parts - 1) / parts
	per = (per + GroupChunks - 1) / GroupChunks * GroupChunks
	var tasks []*task
	var cur bao.ChunkRanges
	var have uint64
	for _, r := range missing {
		for s := r[0]; s < r[1]; {
			e := min(r[1], s+(per-have))
			cur = cur.Union(bao.Range(s, e))
			have += e - s
			s = e
			if have >= per {
				tasks = append(tasks, &task{hash: dl.root, ranges: cur, pref: len(tasks) % np})
				cur, have = bao.ChunkRanges{}, 0
			}
		}
	}
	if !cur.IsEmpty() {
		tasks = append(tasks, &task{hash: dl.root, ranges: cur, pref: len(tasks) % np})
	}
	// The last part also covers everything past the end (the size proof).
	last := tasks[len(tasks)-1]
	last.ranges = last.ranges.Union(bao.From(Chunks(bf.Size)))
	return tasks
}

// account adds a blob's state to the progress totals.
func (dl *download) account(bf Bitfield, initial bool) {
	if bf.Known {
		dl.total.Add(bf.Size)
	}
	if initial {
		dl.local.Add(bf.VerifiedBytes())
	}
}

// runTasks runs tasks with bounded concurrency; the first error cancels
// the rest.
func (dl *download) runTasks(ctx context.Context, tasks []*task) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan *task)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(dl.d.conc, len(tasks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range ch {
				if err := dl.runTask(ctx, t); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
loop:
	for _, t := range tasks {
		select {
		case ch <- t:
		case <-ctx.Done():
			break loop
		}
	}
	close(ch)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// runTask runs t against providers, starting at t.pref, until it is done
// or every provider failed.
func (dl *download) runTask(ctx context.Context, t *task) error {
	np := len(dl.req.Providers)
	var errs []error
	for k := range np {
		pi := (t.pref + k) % np
		dl.mu.Lock()
		bad := dl.bad[pi]
		dl.mu.Unlock()
		if bad != nil {
			errs = append(errs, bad)
			continue
		}
		err := dl.tryProvider(ctx, t, pi)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var pe *ProviderError
		if errors.As(err, &pe) {
			if dl.d.metrics != nil {
				dl.d.metrics.DownloadProviderFailures.WithLabelValues(pe.Reason).Inc()
			}
			dl.d.log.Info("provider failed, trying next", "remote", pe.Provider.ShortString(), "reason", pe.Reason, "err", pe.Err)
			if pe.Reason == "verify" || pe.Reason == "connect" {
				dl.mu.Lock()
				dl.bad[pi] = err
				dl.mu.Unlock()
			}
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("%w: %w", ErrNoProviders, errors.Join(errs...))
}

// tryProvider runs t once against provider pi: it asks for what is still
// missing and writes what verifies.
func (dl *download) tryProvider(ctx context.Context, t *task, pi int) error {
	addr := dl.req.Providers[pi]
	perr := func(reason string, err error) error {
		return &ProviderError{Provider: addr.ID, Reason: reason, Err: err}
	}
	// What is missing, from the store's current state.
	var req *GetRequest
	var hashes []Hash // hash of each non-empty index, in order
	if t.seq == nil {
		bf, err := dl.d.store.Bitfield(ctx, t.hash)
		if err != nil {
			return err
		}
		missing := bf.MissingRanges(t.ranges)
		if missing.IsEmpty() {
			return nil
		}
		req = &GetRequest{Hash: t.hash, Ranges: bao.SeqBlob(missing)}
		hashes = []Hash{t.hash}
	} else {
		rs := make([]bao.ChunkRanges, t.last+1)
		any := false
		for i := t.first; i < t.last; i++ {
			bf, err := dl.d.store.Bitfield(ctx, t.seq[i])
			if err != nil {
				return err
			}
			m := bf.MissingRanges(bao.All())
			if !m.IsEmpty() {
				rs[i+1] = m
				hashes = append(hashes, t.seq[i])
				any = true
			}
		}
		if !any {
			return nil
		}
		req = &GetRequest{Hash: t.hash, Ranges: bao.SeqFromRanges(rs)}
	}
	conn, err := dl.d.conn(ctx, addr)
	if err != nil {
		return perr("connect", err)
	}
	st, err := conn.OpenStream(ctx)
	if err != nil {
		dl.d.mu.Lock()
		pc := dl.d.conns[addr.ID]
		dl.d.mu.Unlock()
		if pc != nil && pc.conn == conn {
			dl.d.drop(addr.ID, pc)
		}
		return perr("connect", err)
	}
	stop := context.AfterFunc(ctx, func() {
		st.CancelRead(0)
		st.CancelWrite(0)
	})
	defer stop()
	defer st.CancelRead(0)
	if _, err := st.Write(req.AppendBinary(nil)); err != nil {
		return perr("io", err)
	}
	if err := st.Close(); err != nil {
		return perr("io", err)
	}
	r := &countReader{r: st}
	if err := dl.receiveResponse(ctx, req, hashes, r); err != nil {
		var ve *bao.VerifyError
		switch {
		case errors.As(err, &ve):
			return perr("verify", err)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errLocal):
			return err
		case r.n == 0:
			return perr("not_found", err)
		default:
			return perr("io", err)
		}
	}
	return nil
}

// receiveResponse decodes the response to req from r into the store:
// hashes[i] is the hash of the i-th index req selects.
func (dl *download) receiveResponse(ctx context.Context, req *GetRequest, hashes []Hash, r io.Reader) error {
	dec := bao.NewDecoder(r, [32]byte{}, bao.ChunkRanges{})
	i := 0
	for _, ranges := range req.Ranges.NonEmpty() {
		if i >= len(hashes) {
			break
		}
		if err := dl.receiveBlob(ctx, dec, r, hashes[i], ranges); err != nil {
			return err
		}
		i++
	}
	return nil
}

// errLocal marks failures of the local store (not the provider's fault).
var errLocal = errors.New("local store")

type countReader struct {
	r io.Reader
	n uint64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += uint64(n)
	return n, err
}

// receiveBlob decodes one blob's part of a response into the store.
func (dl *download) receiveBlob(ctx context.Context, dec *bao.Decoder, r io.Reader, h Hash, ranges bao.ChunkRanges) error {
	dec.Reset(r, h, ranges)
	size, err := dec.Size()
	if err != nil {
		return err
	}
	w, err := dl.d.store.OpenWriter(ctx, h)
	if err != nil {
		return fmt.Errorf("%w: %w", errLocal, err)
	}
	before := w.Bitfield()
	if err := w.SetSize(size); err != nil {
		w.Close()
		return err
	}
	if !before.Known || before.Size != size {
		dl.total.Add(size)
		if before.Known {
			dl.total.Add(-before.Size)
		}
	}
	// The pair goes to the writer through this one buffer: passing
	// &it.Pair would move every Item to the heap.
	pair := new([bao.PairSize]byte)
	for {
		it, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			w.Close()
			return err
		}
		switch it.Kind {
		case bao.ItemLeaf:
			if err := w.WriteChunks(it.Offset/ChunkSize, it.Data); err != nil {
				w.Close()
				return fmt.Errorf("%w: %w", errLocal, err)
			}
			dl.fetched.Add(it.Len)
			dl.local.Add(it.Len)
			if dl.d.metrics != nil {
				dl.d.metrics.DownloadBytes.Add(float64(it.Len))
			}
		case bao.ItemParent:
			if it.OutboardIndex >= 0 {
				*pair = it.Pair
				if err := w.WriteParent(uint64(it.OutboardIndex), pair); err != nil {
					w.Close()
					return fmt.Errorf("%w: %w", errLocal, err)
				}
			}
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("%w: %w", errLocal, err)
	}
	return nil
}
