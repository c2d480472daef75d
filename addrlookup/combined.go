package addrlookup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/iroh-go/iroh/key"
)

// Defaults of CombinedOptions.
const (
	// DefaultCacheTTL is how long an answer without a TTL is cached: the
	// TTL iroh publishes its records with.
	DefaultCacheTTL = 30 * time.Second
	// DefaultMaxCacheTTL caps the TTL of cached answers, so a long DNS TTL
	// cannot pin stale addresses.
	DefaultMaxCacheTTL = 5 * time.Minute
	// DefaultCacheSize bounds the number of cached endpoints.
	DefaultCacheSize = 4096
)

// CombinedOptions configures a Combined lookup. A nil *CombinedOptions
// means all defaults.
type CombinedOptions struct {
	// Timeout bounds one Resolve (all lookups together). Zero means no
	// bound beyond the caller's context.
	Timeout time.Duration
	// CacheTTL is how long an answer whose TTL is zero stays cached. Zero
	// means DefaultCacheTTL; negative disables caching.
	CacheTTL time.Duration
	// MaxCacheTTL caps the cached lifetime of any answer. Zero means
	// DefaultMaxCacheTTL.
	MaxCacheTTL time.Duration
	// CacheSize bounds the cache; zero means DefaultCacheSize.
	CacheSize int
	// Logger receives debug logs of failed lookups; nil means
	// slog.Default().
	Logger *slog.Logger
	// Metrics counts resolves; nil means new unregistered metrics.
	Metrics *Metrics
}

// Combined runs several Lookups concurrently: the first valid answer (for
// the right id, with at least one address) wins and the others are
// cancelled. Answers are cached for their TTL. The zero value is not
// usable; use NewCombined.
type Combined struct {
	// Set in NewCombined, then read-only.
	lookups []Lookup
	opts    CombinedOptions
	log     *slog.Logger

	// mu guards the following.
	mu    sync.Mutex
	cache map[key.PublicKey]cached
}

type cached struct {
	info    EndpointInfo
	expires time.Time
}

// NewCombined returns a lookup that asks all of lookups at once.
func NewCombined(lookups []Lookup, opts *CombinedOptions) (*Combined, error) {
	var o CombinedOptions
	if opts != nil {
		o = *opts
	}
	if o.Timeout < 0 || o.MaxCacheTTL < 0 || o.CacheSize < 0 {
		return nil, fmt.Errorf("addrlookup: negative Timeout, MaxCacheTTL or CacheSize")
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.MaxCacheTTL == 0 {
		o.MaxCacheTTL = DefaultMaxCacheTTL
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	for i, l := range lookups {
		if l == nil {
			return nil, fmt.Errorf("addrlookup: lookup %d is nil", i)
		}
	}
	return &Combined{lookups: append([]Lookup(nil), lookups...), opts: o,
		log: o.Logger.With("component", "addrlookup"), cache: map[key.PublicKey]cached{}}, nil
}

// Resolve returns a cached answer for id if there is a fresh one, else
// asks every lookup concurrently and returns the first valid answer. If
// none succeeds it returns an error wrapping ErrNotFound when every lookup
// said so, otherwise the other errors joined (without ErrNotFound). It waits for every lookup it
// started before returning.
func (c *Combined) Resolve(ctx context.Context, id key.PublicKey) (EndpointInfo, error) {
	if info, ok := c.cached(id); ok {
		c.opts.Metrics.Resolves.WithLabelValues("cached").Inc()
		return info, nil
	}
	info, err := c.resolve(ctx, id)
	switch {
	case err == nil:
		c.opts.Metrics.Resolves.WithLabelValues("found").Inc()
	case errors.Is(err, ErrNotFound):
		c.opts.Metrics.Resolves.WithLabelValues("not_found").Inc()
	default:
		c.opts.Metrics.Resolves.WithLabelValues("error").Inc()
	}
	return info, err
}

// resolve asks every lookup; see Resolve.
func (c *Combined) resolve(ctx context.Context, id key.PublicKey) (EndpointInfo, error) {
	if len(c.lookups) == 0 {
		return EndpointInfo{}, fmt.Errorf("addrlookup: %s: no lookups configured: %w", id.ShortString(), ErrNotFound)
	}
	if c.opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		info EndpointInfo
		err  error
	}
	results := make(chan result, len(c.lookups))
	var wg sync.WaitGroup
	for _, l := range c.lookups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := l.Resolve(ctx, id)
			if err == nil && info.ID != id {
				err = fmt.Errorf("addrlookup: lookup %T answered for %s, asked %s", l, info.ID.ShortString(), id.ShortString())
			} else if err == nil && !info.HasAddr() {
				err = fmt.Errorf("addrlookup: lookup %T: no address: %w", l, ErrNotFound)
			}
			results <- result{info, err}
		}()
	}
	// On success the others are cancelled first; wait for them so no
	// goroutine outlives Resolve.
	defer wg.Wait()
	var errs []error
	allNotFound := true
	for range c.lookups {
		r := <-results
		if r.err == nil {
			cancel()
			c.store(r.info)
			return r.info, nil
		}
		if !errors.Is(r.err, ErrNotFound) {
			errs = append(errs, r.err)
			allNotFound = false
		}
		if c.log.Enabled(ctx, slog.LevelDebug) {
			c.log.Debug("lookup failed", "endpoint_id", id.ShortString(), "err", r.err)
		}
	}
	if err := ctx.Err(); err != nil {
		return EndpointInfo{}, fmt.Errorf("addrlookup: resolve %s: %w", id.ShortString(), err)
	}
	if allNotFound {
		return EndpointInfo{}, fmt.Errorf("addrlookup: resolve %s: %w", id.ShortString(), ErrNotFound)
	}
	// Not-found answers are left out, so that errors.Is(err, ErrNotFound)
	// means every lookup definitely knew nothing.
	return EndpointInfo{}, fmt.Errorf("addrlookup: resolve %s: %w", id.ShortString(), errors.Join(errs...))
}

// Len returns the number of lookups.
func (c *Combined) Len() int { return len(c.lookups) }

// Forget drops any cached answer for id (for example after connecting
// with it failed).
func (c *Combined) Forget(id key.PublicKey) {
	c.mu.Lock()
	delete(c.cache, id)
	c.mu.Unlock()
}

func (c *Combined) cached(id key.PublicKey) (EndpointInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[id]
	if !ok {
		return EndpointInfo{}, false
	}
	now := time.Now()
	if !now.Before(e.expires) {
		delete(c.cache, id)
		return EndpointInfo{}, false
	}
	info := e.info
	info.TTL = e.expires.Sub(now)
	return info, true
}

func (c *Combined) store(info EndpointInfo) {
	ttl := info.TTL
	if ttl <= 0 {
		ttl = c.opts.CacheTTL
	}
	ttl = min(ttl, c.opts.MaxCacheTTL)
	if ttl <= 0 {
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cache[info.ID]; !ok && len(c.cache) >= c.opts.CacheSize {
		for id, e := range c.cache {
			if !now.Before(e.expires) {
				delete(c.cache, id)
			}
		}
		for id := range c.cache { // still full: drop an arbitrary entry
			if len(c.cache) < c.opts.CacheSize {
				break
			}
			delete(c.cache, id)
		}
	}
	c.cache[info.ID] = cached{info: info, expires: now.Add(ttl)}
}
