package dnsserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iroh-go/iroh/internal/connlimit"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
	"github.com/miekg/dns"
)

// DNSMessageType is the media type of DNS-over-HTTPS bodies (RFC 8484).
const DNSMessageType = "application/dns-message"

// Server is a running iroh DNS server; see the package doc.
type Server struct {
	// Set in New, then read-only.
	opts    Options
	zones   []zone
	store   *store
	log     *slog.Logger
	metrics *Metrics
	limiter *limiter
	tmpDir  string // removed by Close; "" if DataDir was given
	handler http.Handler
	now     func() time.Time // Options.now

	httpLn  net.Listener
	httpSrv *http.Server
	udpSrv  *dns.Server
	tcpSrv  *dns.Server

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	// storedMu orders the updates of the StoredPackets gauge, so that a
	// count read before a put cannot be set after the put's own update.
	storedMu sync.Mutex
}

// New opens the store, binds the listeners of opts and starts serving. It
// returns once everything listens; call Close to stop.
func New(opts *Options) (*Server, error) {
	o, zones, err := opts.fill()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, zones: zones, log: o.Logger.With("component", "dnsserver"), metrics: o.Metrics,
		limiter: newLimiter(o.RateLimit, o.TrustedProxies), now: o.now}
	dir := o.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "iroh-dns-server-"); err != nil {
			return nil, fmt.Errorf("dnsserver: temp data dir: %w", err)
		}
		s.tmpDir = dir
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dnsserver: data dir: %w", err)
	}
	if s.store, err = openStore(dir, o.SyncPuts); err != nil {
		s.removeTmp()
		return nil, err
	}
	s.updateStored()
	s.handler = s.newHandler()

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.listen(); err != nil {
		s.Close()
		return nil, err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.evictLoop(ctx)
	}()
	return s, nil
}

// listen binds and starts the HTTP and DNS listeners.
func (s *Server) listen() error {
	if s.opts.HTTPAddr != "" {
		ln, err := net.Listen("tcp", s.opts.HTTPAddr)
		if err != nil {
			return fmt.Errorf("dnsserver: http listen: %w", err)
		}
		ln = connlimit.New(ln, connlimit.Options{MaxConns: s.opts.MaxConns, MaxConnsPerIP: s.opts.MaxConnsPerIP,
			OnRefuse: func(reason string) { s.metrics.ConnsRefused.WithLabelValues(reason).Inc() }})
		s.httpLn = ln
		s.httpSrv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "err", err)
			}
		}()
		s.log.Info("http listening", "addr", ln.Addr().String())
	}
	if s.opts.DNSAddr != "" {
		pc, ln, err := listenSamePort(s.opts.DNSAddr)
		if err != nil {
			return err
		}
		h := dns.HandlerFunc(s.serveDNS)
		s.udpSrv = &dns.Server{PacketConn: pc, Handler: h}
		s.tcpSrv = &dns.Server{Listener: ln, Handler: h, ReadTimeout: 10 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }}
		for _, srv := range []*dns.Server{s.udpSrv, s.tcpSrv} {
			started := make(chan struct{})
			srv.NotifyStartedFunc = func() { close(started) }
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if err := srv.ActivateAndServe(); err != nil {
					s.log.Error("dns server stopped", "err", err)
				}
			}()
			<-started
		}
		s.log.Info("dns listening", "addr", pc.LocalAddr().String(), "origins", s.opts.Origins)
	}
	return nil
}

// listenSamePort binds UDP and TCP on the same address; with port 0 it
// retries until both get the same free port.
func listenSamePort(addr string) (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dnsserver: dns udp listen: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		lastErr = err
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			break
		}
	}
	return nil, nil, fmt.Errorf("dnsserver: dns tcp listen: %w", lastErr)
}

// HTTPAddr returns the address of the HTTP listener, or nil.
func (s *Server) HTTPAddr() net.Addr {
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// DNSAddr returns the address of the DNS listeners (UDP; TCP uses the same
// port), or nil.
func (s *Server) DNSAddr() net.Addr {
	if s.udpSrv == nil {
		return nil
	}
	return s.udpSrv.PacketConn.LocalAddr()
}

// PkarrURL returns the pkarr relay base URL of the HTTP listener
// ("http://<addr>/pkarr"), or "" without one.
func (s *Server) PkarrURL() string {
	if s.httpLn == nil {
		return ""
	}
	return "http://" + s.httpLn.Addr().String() + "/pkarr"
}

// Handler returns the HTTP handler (pkarr relay, DoH, health), for
// mounting in another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the listeners and background work, waits for them and
// closes the store. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		var errs []error
		if s.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := s.httpSrv.Shutdown(ctx); err != nil {
				s.httpSrv.Close()
			}
			cancel()
		} else if s.httpLn != nil {
			s.httpLn.Close()
		}
		for _, srv := range []*dns.Server{s.udpSrv, s.tcpSrv} {
			if srv != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if err := srv.ShutdownContext(ctx); err != nil {
					errs = append(errs, fmt.Errorf("dnsserver: dns shutdown: %w", err))
				}
				cancel()
			}
		}
		s.wg.Wait()
		if s.store != nil {
			if err := s.store.close(); err != nil {
				errs = append(errs, err)
			}
		}
		s.removeTmp()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Server) removeTmp() {
	if s.tmpDir != "" {
		os.RemoveAll(s.tmpDir)
	}
}

// evictLoop deletes old packets every EvictInterval until ctx ends.
func (s *Server) evictLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.EvictInterval)
	defer t.Stop()
	for {
		s.evict()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// evict deletes packets older than MaxAge once.
func (s *Server) evict() {
	n, err := s.store.evict(s.now().Add(-s.opts.MaxAge))
	if err != nil {
		s.log.Warn("evict failed", "err", err)
		return
	}
	if n > 0 {
		s.metrics.Evictions.Add(float64(n))
		s.log.Debug("evicted old packets", "count", n)
	}
	s.updateStored()
}

// updateStored sets the StoredPackets gauge to the store's count. The read
// and the set happen under storedMu: the eviction loop and the puts both
// update the gauge, and without the lock the eviction at startup could read
// 0, lose the race to a put's update and leave the gauge at 0 with a packet
// stored.
func (s *Server) updateStored() {
	s.storedMu.Lock()
	defer s.storedMu.Unlock()
	s.metrics.StoredPackets.Set(float64(s.store.count()))
}

// serveDNS answers one query over UDP or TCP.
func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := s.answer(req)
	transport := "tcp"
	if _, ok := w.LocalAddr().(*net.UDPAddr); ok {
		transport = "udp"
		size := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = max(int(o.UDPSize()), dns.MinMsgSize)
		}
		resp.Truncate(size)
	}
	s.metrics.DNSQueries.WithLabelValues(transport, rcodeLabel(resp.Rcode)).Inc()
	if err := w.WriteMsg(resp); err != nil {
		s.log.Debug("dns write failed", "remote", w.RemoteAddr().String(), "err", err)
	}
}

// newHandler builds the HTTP routes.
func (s *Server) newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /pkarr/{key}", s.handlePut)
	mux.HandleFunc("GET /pkarr/{key}", s.handleGet)
	mux.HandleFunc("GET /dns-query", s.handleDoH)
	mux.HandleFunc("POST /dns-query", s.handleDoH)
	health := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "OK") }
	mux.HandleFunc("GET /healthz", health)
	mux.HandleFunc("GET /healthcheck", health)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "Hi!") })
	return cors(mux)
}

// cors allows any origin with GET, POST and PUT, as iroh-dns-server does.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT")
			w.Header().Set("Access-Control-Allow-Headers", "*")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// httpError writes iroh-dns-server's JSON error body.
func httpError(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Status string `json:"status"`
		Detail string `json:"detail"`
	}{strconv.Itoa(status), detail})
}

func (s *Server) handlePut(w http.ResponseWriter, r *http.Request) {
	if !s.limiter.allow(r, s.now()) {
		s.metrics.PkarrPuts.WithLabelValues("rate_limited").Inc()
		httpError(w, http.StatusTooManyRequests, "too many requests, slow down")
		return
	}
	k, err := key.ParseZ32(r.PathValue("key"))
	if err != nil {
		s.metrics.PkarrPuts.WithLabelValues("bad_key").Inc()
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	const max = pkarr.MaxPacketSize - key.Size
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		s.metrics.PkarrPuts.WithLabelValues("error").Inc()
		httpError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if len(body) > max {
		s.metrics.PkarrPuts.WithLabelValues("bad_packet").Inc()
		httpError(w, http.StatusBadRequest, fmt.Sprintf("payload over %d bytes: %v", max, pkarr.ErrTooLarge))
		return
	}
	p, err := pkarr.ParseRelayPayload(k, body)
	if err != nil {
		s.metrics.PkarrPuts.WithLabelValues("bad_packet").Inc()
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if limit := s.now().Add(s.opts.MaxFuture); p.Timestamp > uint64(limit.UnixMicro()) {
		s.metrics.PkarrPuts.WithLabelValues("future").Inc()
		httpError(w, http.StatusBadRequest, fmt.Sprintf("packet timestamp %s is more than %v ahead of the server's clock",
			time.UnixMicro(int64(p.Timestamp)).UTC().Format(time.RFC3339), s.opts.MaxFuture))
		return
	}
	stored, err := s.store.put(p)
	if err != nil {
		s.metrics.PkarrPuts.WithLabelValues("error").Inc()
		s.log.Error("store put failed", "endpoint_id", k.ShortString(), "err", err)
		httpError(w, http.StatusInternalServerError, "store error")
		return
	}
	if stored {
		s.metrics.PkarrPuts.WithLabelValues("stored").Inc()
		s.updateStored()
	} else {
		s.metrics.PkarrPuts.WithLabelValues("stale").Inc()
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("pkarr put", "endpoint_id", k.ShortString(), "stored", stored, "remote", r.RemoteAddr)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	k, err := key.ParseZ32(r.PathValue("key"))
	if err != nil {
		s.metrics.PkarrGets.WithLabelValues("bad_key").Inc()
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	p, err := s.store.get(k)
	if errors.Is(err, errNotFound) {
		s.metrics.PkarrGets.WithLabelValues("not_found").Inc()
		httpError(w, http.StatusNotFound, "no packet for "+k.Z32())
		return
	}
	if err != nil {
		s.metrics.PkarrGets.WithLabelValues("error").Inc()
		s.log.Error("store get failed", "endpoint_id", k.ShortString(), "err", err)
		httpError(w, http.StatusInternalServerError, "store error")
		return
	}
	s.metrics.PkarrGets.WithLabelValues("found").Inc()
	w.Header().Set("Content-Type", pkarr.ContentType)
	w.Write(p.AppendRelayPayload(nil))
}

// handleDoH serves RFC 8484 DNS-over-HTTPS (GET ?dns= and POST).
func (s *Server) handleDoH(w http.ResponseWriter, r *http.Request) {
	var raw []byte
	if r.Method == http.MethodGet {
		q := r.URL.Query().Get("dns")
		if q == "" {
			if r.URL.Query().Has("name") {
				s.handleDoHJSON(w, r)
				return
			}
			httpError(w, http.StatusBadRequest, "missing dns (or name) query parameter")
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(q, "="))
		if err != nil {
			httpError(w, http.StatusBadRequest, "dns parameter is not base64url: "+err.Error())
			return
		}
		raw = b
	} else {
		if ct := r.Header.Get("Content-Type"); ct != DNSMessageType {
			httpError(w, http.StatusUnsupportedMediaType, "content type must be "+DNSMessageType)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, dns.MaxMsgSize+1))
		if err != nil || len(b) > dns.MaxMsgSize {
			httpError(w, http.StatusBadRequest, "body unreadable or over 65535 bytes")
			return
		}
		raw = b
	}
	var req dns.Msg
	if err := req.Unpack(raw); err != nil {
		httpError(w, http.StatusBadRequest, "invalid DNS message: "+err.Error())
		return
	}
	resp := s.answer(&req)
	s.metrics.DNSQueries.WithLabelValues("https", rcodeLabel(resp.Rcode)).Inc()
	out, err := resp.Pack()
	if err != nil {
		httpError(w, http.StatusInternalServerError, "pack response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", DNSMessageType)
	if len(resp.Answer) > 0 {
		minTTL := resp.Answer[0].Header().Ttl
		for _, rr := range resp.Answer[1:] {
			minTTL = min(minTTL, rr.Header().Ttl)
		}
		w.Header().Set("Cache-Control", "s-maxage="+strconv.FormatUint(uint64(minTTL), 10))
	}
	w.Write(out)
}
