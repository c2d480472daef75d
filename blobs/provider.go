package blobs

import (
	"bufio"
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
	"github.com/iroh-go/iroh/key"
)

// Stream error codes a provider resets streams with (iroh-blobs 0.103,
// spec §1).
const (
	ErrCodePermission uint64 = 1 // request type not allowed (push)
	ErrCodeLimit      uint64 = 2 // request too large
	ErrCodeInternal   uint64 = 3 // malformed request, missing data, I/O failure
)

// requestReadTimeout bounds how long a provider waits for a complete request.
const requestReadTimeout = 30 * time.Second

// MaxHashSeqSize bounds a hash sequence the provider loads to serve
// children (2 Mi hashes).
const MaxHashSeqSize = 64 << 20

// ProviderEventKind says what a ProviderEvent reports.
type ProviderEventKind uint8

const (
	// EventRequest: a request was parsed (or rejected: Err set).
	EventRequest ProviderEventKind = iota + 1
	// EventBlobSent: one blob of a response was written (Bytes = total so far).
	EventBlobSent
	// EventDone: the request finished (Err nil) or failed/aborted (Err set).
	EventDone
)

// ProviderEvent is a typed event about one request stream.
type ProviderEvent struct {
	Kind     ProviderEventKind
	ConnID   uint64
	StreamID int64
	Remote   key.PublicKey
	Type     RequestType
	Hash     Hash   // the requested hash (first hash for GetMany)
	Bytes    uint64 // response bytes written so far
	Dur      time.Duration
	Err      error
}

// ProviderOptions configures NewProvider. A nil *ProviderOptions means all
// defaults.
type ProviderOptions struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Metrics to record into; nil means none.
	Metrics *Metrics
	// OnEvent, if set, is called on the stream's goroutine for every event;
	// it must not block.
	OnEvent func(ProviderEvent)
}

// Provider serves blobs from a Store over /iroh-bytes/4: Get (ranges, hash
// sequences, collections), GetMany and Observe. Push is rejected with
// ErrCodePermission. It is an iroh.ProtocolHandler.
type Provider struct {
	store   Store
	log     *slog.Logger
	metrics *Metrics
	onEvent func(ProviderEvent)

	connIDs atomic.Uint64
	ctx     context.Context // cancelled by Shutdown
	cancel  context.CancelFunc

	// mu guards shut and the Add side of wg (so Shutdown's Wait never
	// races an Add).
	mu   sync.Mutex
	shut bool
	wg   sync.WaitGroup // running ServeConn calls
}

// NewProvider returns a provider serving from s.
func NewProvider(s Store, opts *ProviderOptions) *Provider {
	var o ProviderOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Provider{store: s, log: o.Logger.With("component", "blobs-provider"), metrics: o.Metrics, onEvent: o.OnEvent, ctx: ctx, cancel: cancel}
}

// Stream is what the provider needs of a QUIC bidirectional stream; an
// *iroh.Stream is one.
type Stream interface {
	io.Reader
	io.Writer
	Close() error
	CancelRead(code uint64)
	CancelWrite(code uint64)
	SetReadDeadline(time.Time) error
	StreamID() int64
	// Context is done when the getter stops reading (STOP_SENDING).
	Context() context.Context
}

// StreamAcceptor is what the provider needs of a connection; an
// *iroh.Connection is one.
type StreamAcceptor interface {
	AcceptStream(ctx context.Context) (*iroh.Stream, error)
	RemoteID() key.PublicKey
}

// ServeConn serves the request streams of conn until it closes or ctx (or
// the provider) is done, then waits for its streams to finish.
func (p *Provider) ServeConn(ctx context.Context, conn StreamAcceptor) error {
	p.mu.Lock()
	if p.shut {
		p.mu.Unlock()
		return ErrShutdown
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()
	connID := p.connIDs.Add(1)
	remote := conn.RemoteID()
	var wg sync.WaitGroup
	// Cancel before waiting: Observe streams run until cancelled.
	defer func() {
		cancel()
		wg.Wait()
	}()
	for {
		st, err := conn.AcceptStream(ctx)
		if err != nil {
			return nil // connection closed or shutting down: an expected end
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.HandleStream(ctx, connID, remote, st)
		}()
	}
}

// ErrShutdown is returned by ServeConn after Shutdown.
var ErrShutdown = errors.New("blobs: provider shut down")

// Shutdown stops serving: running requests are cancelled and Shutdown
// waits until every ServeConn has returned (its streams finished), or
// until ctx is done, returning ctx's error. Safe to call more than once.
func (p *Provider) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.shut = true
	p.mu.Unlock()
	p.cancel()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("blobs: provider shutdown: %w", ctx.Err())
	}
}

func (p *Provider) emit(ev ProviderEvent) {
	if p.onEvent != nil {
		p.onEvent(ev)
	}
}

// countWriter counts bytes written to a stream into the metrics.
type countWriter struct {
	w io.Writer
	n uint64
	m *Metrics
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += uint64(n)
	if c.m != nil {
		c.m.ProviderBytesSent.Add(float64(n))
	}
	return n, err
}

// readRequest reads one request from st (spec §3: type byte, then the rest
// to EOF, at most MaxRequestSize bytes). It returns a reset code with errors.
func readRequest(st io.Reader) (Request, uint64, error) {
	var t [1]byte
	if _, err := io.ReadFull(st, t[:]); err != nil {
		return nil, ErrCodeInternal, fmt.Errorf("read request type: %w", err)
	}
	switch RequestType(t[0]) {
	case RequestGet, RequestGetMany, RequestObserve:
	case RequestPush:
		return nil, ErrCodePermission, fmt.Errorf("push requests are not accepted")
	default:
		return nil, ErrCodeInternal, &RequestError{Msg: fmt.Sprintf("unknown request type %d", t[0])}
	}
	buf := make([]byte, 1, 256)
	buf[0] = t[0]
	lr := &io.LimitedReader{R: st, N: MaxRequestSize + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, ErrCodeInternal, fmt.Errorf("read request: %w", err)
		}
	}
	if len(buf)-1 > MaxRequestSize {
		return nil, ErrCodeLimit, fmt.Errorf("request exceeds %d bytes", MaxRequestSize)
	}
	req, n, err := ParseRequest(buf)
	if err != nil {
		return nil, ErrCodeInternal, err
	}
	if n != len(buf) {
		return nil, ErrCodeInternal, &RequestError{Offset: n, Msg: fmt.Sprintf("%d trailing bytes", len(buf)-n)}
	}
	return req, 0, nil
}

// HandleStream serves one request stream and closes it. It never panics on
// bad input: malformed requests reset the stream with ErrCodeInternal (or
// ErrCodeLimit / ErrCodePermission).
func (p *Provider) HandleStream(ctx context.Context, connID uint64, remote key.PublicKey, st Stream) {
	start := time.Now()
	ev := ProviderEvent{ConnID: connID, StreamID: st.StreamID(), Remote: remote}
	st.SetReadDeadline(start.Add(requestReadTimeout))
	req, code, err := readRequest(st)
	st.SetReadDeadline(time.Time{})
	if err != nil {
		st.CancelRead(code)
		st.CancelWrite(code)
		if p.metrics != nil {
			p.metrics.ProviderRequests.WithLabelValues("invalid").Inc()
			p.metrics.ProviderTransfers.WithLabelValues("rejected").Inc()
		}
		ev.Kind, ev.Err = EventRequest, err
		p.emit(ev)
		p.log.Debug("bad request", "remote", remote.ShortString(), "err", err)
		return
	}
	ev.Type = req.Type()
	switch r := req.(type) {
	case *GetRequest:
		ev.Hash = r.Hash
	case *ObserveRequest:
		ev.Hash = r.Hash
	case *GetManyRequest:
		if len(r.Hashes) > 0 {
			ev.Hash = r.Hashes[0]
		}
	}
	if p.metrics != nil {
		p.metrics.ProviderRequests.WithLabelValues(req.Type().String()).Inc()
	}
	ev.Kind = EventRequest
	p.emit(ev)

	cw := &countWriter{w: st, m: p.metrics}
	progress := func() {
		e := ev
		e.Kind, e.Bytes = EventBlobSent, cw.n
		p.emit(e)
	}
	switch r := req.(type) {
	case *GetRequest:
		err = p.serveGet(ctx, cw, r, progress)
	case *GetManyRequest:
		err = p.serveGetMany(ctx, cw, r, progress)
	case *ObserveRequest:
		// Observe runs until the getter stops reading.
		octx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(st.Context(), cancel)
		err = p.serveObserve(octx, cw, r)
		stop()
		cancel()
	}
	result := "completed"
	switch {
	case err == nil:
		err = st.Close()
		if err != nil {
			result = "aborted"
		}
	case errors.Is(err, ErrNotFound):
		result = "not_found"
		st.CancelWrite(ErrCodeInternal)
	case isStreamGone(err) || ctx.Err() != nil:
		result = "aborted"
		st.CancelWrite(ErrCodeInternal)
	default:
		result = "error"
		st.CancelWrite(ErrCodeInternal)
		p.log.Debug("serving request failed", "remote", remote.ShortString(), "hash", ev.Hash.ShortString(), "err", err)
	}
	st.CancelRead(0)
	if p.metrics != nil {
		p.metrics.ProviderTransfers.WithLabelValues(result).Inc()
	}
	ev.Kind, ev.Bytes, ev.Dur, ev.Err = EventDone, cw.n, time.Since(start), err
	p.emit(ev)
}

// isStreamGone reports errors meaning the getter went away.
func isStreamGone(err error) bool {
	var se *iroh.StreamError
	var ae *iroh.ApplicationError
	var te *iroh.TimeoutError
	var tr *iroh.TransportError
	return errors.As(err, &se) || errors.As(err, &ae) || errors.As(err, &te) || errors.As(err, &tr) ||
		errors.Is(err, iroh.ErrConnectionReset) || errors.Is(err, context.Canceled)
}

// sendBlob writes one blob's response part.
func (p *Provider) sendBlob(ctx context.Context, w io.Writer, h Hash, ranges bao.ChunkRanges) error {
	r, err := p.store.OpenReader(ctx, h)
	if err != nil {
		return err
	}
	defer r.Close()
	return bao.Encode(w, r.Data(), r.Size(), r.Outboard(), ranges)
}

func (p *Provider) serveGet(ctx context.Context, w io.Writer, r *GetRequest, progress func()) error {
	var seq HashSeq
	loaded := false
	for i, ranges := range r.Ranges.NonEmpty() {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := r.Hash
		if i > 0 {
			if !loaded {
				b, err := readBlob(ctx, p.store, r.Hash, MaxHashSeqSize)
				if err != nil {
					return err
				}
				if seq, err = ParseHashSeq(b); err != nil {
					return err
				}
				loaded = true
			}
			if i-1 >= uint64(len(seq)) {
				break
			}
			h = seq[i-1]
		}
		if err := p.sendBlob(ctx, w, h, ranges); err != nil {
			return err
		}
		progress()
	}
	return nil
}

func (p *Provider) serveGetMany(ctx context.Context, w io.Writer, r *GetManyRequest, progress func()) error {
	// Many small blobs go out in few stream writes (large parts pass
	// through: the encoder writes about 1 MiB at a time).
	bw := bufio.NewWriterSize(w, getManyBuffer)
	for i, ranges := range r.Ranges.NonEmpty() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if i >= uint64(len(r.Hashes)) {
			break
		}
		if err := p.sendBlob(ctx, bw, r.Hashes[i], ranges); err != nil {
			return err
		}
		progress()
	}
	return bw.Flush()
}

// getManyBuffer is the write buffer of a GetMany response.
const getManyBuffer = 32 << 10

// serveObserve writes the blob's bitfield, then what was added to it, until
// the getter stops reading or ctx is done.
func (p *Provider) serveObserve(ctx context.Context, w io.Writer, r *ObserveRequest) error {
	var prev bao.ChunkRanges
	first := true
	var frame []byte
	err := p.store.Observe(ctx, r.Hash, func(bf Bitfield) error {
		cur := bf.ChunkRanges()
		diff := cur
		if !first {
			diff = cur.Difference(prev)
			if diff.IsEmpty() {
				return nil
			}
		}
		first = false
		prev = cur
		frame = ObserveItem{Size: bf.Size, Ranges: diff}.AppendFrame(frame[:0])
		_, err := w.Write(frame)
		return err
	})
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// readBlob reads a complete blob of at most max bytes.
func readBlob(ctx context.Context, s Store, h Hash, max uint64) ([]byte, error) {
	r, err := s.OpenReader(ctx, h)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Size() > max {
		return nil, fmt.Errorf("blob %s: size %d exceeds limit %d", h.ShortString(), r.Size(), max)
	}
	b := make([]byte, r.Size())
	if _, err := r.Data().ReadAt(b, 0); err != nil && len(b) > 0 {
		return nil, fmt.Errorf("blob %s: read: %w", h.ShortString(), err)
	}
	return b, nil
}
