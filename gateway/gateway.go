package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// Options configures New. A nil *Options means all defaults.
type Options struct {
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// AccessLog logs every request at Info instead of Debug.
	AccessLog bool
	// Metrics to record into; nil means none.
	Metrics *Metrics
	// Dial connects to a provider (ALPN blobs.ALPN), for /ticket content
	// that is not in the store; blobs.EndpointDialer makes one from an
	// endpoint. Nil means tickets are served from the store only (502 for
	// content it lacks).
	Dial blobs.DialFunc
	// AllowProvider says whether the gateway may fetch from the provider of
	// a ticket; it is called on request goroutines and must not block. Nil
	// means no provider is allowed: the gateway never connects to an
	// address the operator did not admit (403). AllowAllProviders admits
	// every one.
	AllowProvider func(endpointaddr.Addr) bool
	// MaxRemoteFetches bounds the on-demand fetches in flight (503 beyond).
	// Zero means 64.
	MaxRemoteFetches int
	// FetchTimeout bounds a remote fetch's connect and first response
	// bytes. Zero means 30s.
	FetchTimeout time.Duration
	// IPFS configures the /ipfs routes; nil means they answer 501.
	IPFS *IPFSOptions
}

// AllowAllProviders is an Options.AllowProvider that admits every provider.
func AllowAllProviders(endpointaddr.Addr) bool { return true }

// AllowProviders returns an Options.AllowProvider that admits the given
// endpoint ids only.
func AllowProviders(ids ...key.PublicKey) func(endpointaddr.Addr) bool {
	set := make(map[key.PublicKey]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return func(a endpointaddr.Addr) bool { return set[a.ID] }
}

// Gateway is the HTTP handler. Create it with New; it is safe for
// concurrent use.
type Gateway struct {
	// Set in New, then read-only.
	store   blobs.Store
	log     *slog.Logger
	access  slog.Level
	metrics *Metrics
	dial    blobs.DialFunc
	allow   func(endpointaddr.Addr) bool
	fetches chan struct{} // semaphore of remote fetches
	timeout time.Duration
	ipfs    http.Handler // nil: 501

	// mu guards the following.
	mu     sync.Mutex
	conns  map[key.PublicKey]*poolConn
	closed bool
}

// New returns a gateway serving s. The caller keeps ownership of s and
// closes it after the gateway.
func New(s blobs.Store, opts *Options) (*Gateway, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxRemoteFetches < 0 {
		return nil, fmt.Errorf("gateway: negative MaxRemoteFetches %d", o.MaxRemoteFetches)
	}
	if o.MaxRemoteFetches == 0 {
		o.MaxRemoteFetches = 64
	}
	if o.FetchTimeout < 0 {
		return nil, fmt.Errorf("gateway: negative FetchTimeout %v", o.FetchTimeout)
	}
	if o.FetchTimeout == 0 {
		o.FetchTimeout = 30 * time.Second
	}
	if o.AllowProvider == nil {
		o.AllowProvider = func(endpointaddr.Addr) bool { return false }
	}
	g := &Gateway{
		store:   s,
		log:     o.Logger.With("component", "gateway"),
		access:  slog.LevelDebug,
		metrics: o.Metrics,
		dial:    o.Dial,
		allow:   o.AllowProvider,
		fetches: make(chan struct{}, o.MaxRemoteFetches),
		timeout: o.FetchTimeout,
		conns:   make(map[key.PublicKey]*poolConn),
	}
	if o.AccessLog {
		g.access = slog.LevelInfo
	}
	if o.IPFS != nil {
		h, err := newIPFSHandler(s, o.IPFS, g.log)
		if err != nil {
			return nil, err
		}
		g.ipfs = h
	}
	return g, nil
}

// Close closes the pooled provider connections. Requests still running
// fail. It is safe to call twice.
func (g *Gateway) Close() error {
	g.mu.Lock()
	g.closed = true
	conns := g.conns
	g.conns = make(map[key.PublicKey]*poolConn)
	g.mu.Unlock()
	for _, pc := range conns {
		<-pc.ready
		if pc.conn != nil {
			pc.conn.Close(0, "gateway closed")
		}
	}
	return nil
}

// NewServer returns an http.Server for h on addr with the limits a public
// gateway needs: 16 KiB of request headers, 10 s to send them (slowloris),
// 2 minutes idle. There is no write timeout: large downloads take as long
// as they take.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &respWriter{ResponseWriter: w, start: time.Now()}
	route := routeOf(r.URL.Path)
	rw.route = route
	defer g.finish(rw, r)
	setCORS(w.Header())
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Max-Age", "86400")
		rw.WriteHeader(http.StatusNoContent)
		return
	}
	if route == "ipfs" || route == "ipns" {
		if g.ipfs == nil || (route == "ipns" && !isIPNSKey(r.URL.Path)) {
			httpError(rw, http.StatusNotImplemented, "%s is not supported by this gateway", r.URL.Path)
			return
		}
		if err := checkIPFSPath(r.URL.Path); err != nil {
			httpError(rw, http.StatusNotImplemented, "%v", err)
			return
		}
		rw.inline = route == "ipfs" && inlineIPFSPath(r.URL.Path)
		g.ipfs.ServeHTTP(rw, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rw.Header().Set("Allow", "GET, HEAD, OPTIONS")
		httpError(rw, http.StatusMethodNotAllowed, "method %s not allowed", r.Method)
		return
	}
	switch route {
	case "blob":
		g.serveBlobRoute(rw, r, strings.TrimPrefix(r.URL.Path, "/blob/"))
	case "collection":
		g.serveCollectionRoute(rw, r, strings.TrimPrefix(r.URL.Path, "/collection/"))
	case "ticket":
		g.serveTicketRoute(rw, r, strings.TrimPrefix(r.URL.Path, "/ticket/"))
	default:
		if r.URL.Path == "/" {
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprint(rw, "iroh gateway: /blob/{hash}, /collection/{hash}[/{path}], /ticket/{ticket}[/{path}], /ipfs/{cid}[/{path}]\n")
			return
		}
		httpError(rw, http.StatusNotFound, "no route for %s", r.URL.Path)
	}
}

func routeOf(p string) string {
	for _, r := range []string{"blob", "collection", "ticket", "ipfs", "ipns"} {
		if strings.HasPrefix(p, "/"+r+"/") || p == "/"+r {
			return r
		}
	}
	return "other"
}

func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Range, Accept, Content-Type, User-Agent, X-Requested-With")
	h.Set("Access-Control-Expose-Headers", "Content-Range, Content-Length, Content-Type, ETag, Accept-Ranges, X-Ipfs-Path, X-Ipfs-Roots, X-Chunked-Output, X-Stream-Output, X-Content-Type-Options")
}

func (g *Gateway) finish(rw *respWriter, r *http.Request) {
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	dur := time.Since(rw.start)
	if m := g.metrics; m != nil {
		m.Requests.WithLabelValues(rw.route, strconv.Itoa(status)).Inc()
		m.ResponseBytes.WithLabelValues(rw.route).Add(float64(rw.n))
		if !rw.first.IsZero() {
			m.TimeToFirstByte.WithLabelValues(rw.route).Observe(rw.first.Sub(rw.start).Seconds())
		}
	}
	if g.log.Enabled(r.Context(), g.access) {
		g.log.Log(r.Context(), g.access, "request", "method", r.Method, "path", r.URL.Path, "status", status,
			"bytes", rw.n, "dur", dur, "remote", r.RemoteAddr, "route", rw.route)
	}
}

// respWriter records the status, body bytes and time of the first byte.
type respWriter struct {
	http.ResponseWriter
	route  string
	start  time.Time
	first  time.Time
	status int
	n      int64
	// inline is set for an /ipfs CID with its content inline: boxo answers
	// 500 when that content does not decode (a dag-pb node that is not
	// UnixFS, say), but the content is the request's, so that is a 400.
	inline bool
}

func (w *respWriter) WriteHeader(code int) {
	if w.inline && code == http.StatusInternalServerError {
		code = http.StatusBadRequest
	}
	if w.status == 0 {
		w.status = code
		if code >= 200 {
			w.first = time.Now()
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// ReadFrom lets net/http send files with sendfile through the wrapper.
func (w *respWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		w.n += n
		return n, err
	}
	return io.Copy(writerOnly{w}, r)
}

// writerOnly hides ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// Flush implements http.Flusher.
func (w *respWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// httpError writes a plain-text error; the body gives the reason.
func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	h := w.Header()
	for _, k := range []string{"ETag", "Cache-Control", "Content-Disposition", "Content-Range", "Last-Modified"} {
		h.Del(k)
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, format+"\n", args...)
}

// errStatus maps an error to its HTTP status.
func errStatus(err error) int {
	var he *httpErr
	switch {
	case errors.As(err, &he):
		return he.code
	case errors.Is(err, blobs.ErrNotFound):
		return http.StatusNotFound
	default:
		return http.StatusBadGateway
	}
}

// httpErr carries a status code with an error.
type httpErr struct {
	code int
	err  error
}

func (e *httpErr) Error() string { return e.err.Error() }
func (e *httpErr) Unwrap() error { return e.err }

func statusErr(code int, format string, args ...any) error {
	return &httpErr{code: code, err: fmt.Errorf(format, args...)}
}
