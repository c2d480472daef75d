package iroh

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// ProtocolHandler serves one ALPN on a Router. Accept is called on its own
// goroutine for every connection that negotiated the handler's ALPN; ctx
// is canceled when the router shuts down. The handler owns conn and should
// close it when done; errors are only logged.
type ProtocolHandler interface {
	Accept(ctx context.Context, conn *Connection) error
}

// ShutdownHandler is implemented by handlers that need to clean up when
// the router shuts down; Shutdown is called concurrently for all handlers.
type ShutdownHandler interface {
	Shutdown(ctx context.Context) error
}

// EarlyDataHandler is implemented by protocol handlers that accept 0-RTT
// data: a peer that connected before may then send its first request in
// its first packets (Endpoint.ConnectEarly), saving a round trip. Such
// data can be replayed by an attacker, so a handler opts in only if its
// requests are idempotent. Handlers that do not implement it (or return
// false) receive no 0-RTT data: the peer's early data is refused and
// arrives after the handshake instead.
type EarlyDataHandler interface {
	ProtocolHandler
	AcceptsEarlyData() bool
}

// ProtocolHandlerFunc adapts a function to ProtocolHandler.
type ProtocolHandlerFunc func(ctx context.Context, conn *Connection) error

// Accept calls f.
func (f ProtocolHandlerFunc) Accept(ctx context.Context, conn *Connection) error { return f(ctx, conn) }

// Router accepts connections on an endpoint and dispatches them by ALPN.
type Router struct {
	ep *Endpoint

	mu       sync.Mutex
	handlers map[string]ProtocolHandler
	started  bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	done     chan struct{}
}

// NewRouter returns a router for ep. Register handlers with Handle, then
// call Start.
func NewRouter(ep *Endpoint) *Router {
	return &Router{ep: ep, handlers: map[string]ProtocolHandler{}, done: make(chan struct{})}
}

// Handle registers h for alpn. It must be called before Start.
func (r *Router) Handle(alpn string, h ProtocolHandler) *Router {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		panic("iroh: Router.Handle after Start")
	}
	if alpn == "" {
		panic("iroh: Router.Handle with empty ALPN")
	}
	r.handlers[alpn] = h
	return r
}

// Start sets the endpoint's accepted ALPNs to the registered ones (and
// its 0-RTT ALPNs to those of EarlyDataHandlers) and starts accepting
// connections.
func (r *Router) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("iroh: router already started")
	}
	if len(r.handlers) == 0 {
		return errors.New("iroh: router has no handlers")
	}
	r.started = true
	r.ep.SetALPNs(slices.Sorted(maps.Keys(r.handlers)))
	var early []string
	for alpn, h := range r.handlers {
		if eh, ok := h.(EarlyDataHandler); ok && eh.AcceptsEarlyData() {
			early = append(early, alpn)
		}
	}
	r.ep.SetEarlyDataALPNs(early)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return nil
}

// Endpoint returns the router's endpoint.
func (r *Router) Endpoint() *Endpoint { return r.ep }

func (r *Router) run() {
	defer close(r.done)
	for {
		c, err := r.ep.Accept(r.ctx)
		if err != nil {
			return
		}
		h := r.handlers[c.ALPN()]
		if h == nil {
			// The handshake only succeeds for registered ALPNs.
			c.Close(0, "no handler")
			continue
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if err := h.Accept(r.ctx, c); err != nil && r.ctx.Err() == nil {
				r.ep.log.Debug("protocol handler", "alpn", c.ALPN(), "remote", c.RemoteID().ShortString(), "err", err)
			}
		}()
	}
}

// Shutdown stops accepting, calls every handler's Shutdown concurrently,
// cancels the handlers' context, waits for them (bounded by ctx) and
// closes the endpoint.
func (r *Router) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	if !started {
		return r.ep.Close(ctx)
	}
	r.cancel()
	<-r.done
	var wg sync.WaitGroup
	errs := make([]error, 0)
	var emu sync.Mutex
	for alpn, h := range r.handlers {
		if sh, ok := h.(ShutdownHandler); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := sh.Shutdown(ctx); err != nil {
					emu.Lock()
					errs = append(errs, fmt.Errorf("shutdown %s: %w", alpn, err))
					emu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	cerr := r.ep.Close(ctx) // closing connections ends blocked handlers
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("router: handlers still running: %w", ctx.Err()))
	}
	if cerr != nil {
		errs = append(errs, cerr)
	}
	return errors.Join(errs...)
}
