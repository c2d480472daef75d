package preset

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/addrlookup/dnslookup"
	"github.com/iroh-go/iroh/addrlookup/mdns"
	"github.com/iroh-go/iroh/addrlookup/pkarrlookup"
	"github.com/iroh-go/iroh/key"
)

// Options selects the address lookup services. The zero value selects none.
type Options struct {
	// PkarrRelay is the base URL of a pkarr relay ("http://host:8080/pkarr")
	// to publish our info to and resolve others from. Empty means none.
	PkarrRelay string
	// PkarrResolve also resolves from PkarrRelay (iroh's N0 preset does);
	// false only publishes there.
	PkarrResolve bool
	// PublishDirect publishes direct addresses to the pkarr relay, not
	// only relay URLs (iroh's default is relay URLs only).
	PublishDirect bool
	// DNSOrigin is the origin of an iroh DNS server to resolve from, such
	// as "dns.iroh.link.". Empty means no DNS lookup.
	DNSOrigin string
	// DNSResolver is the DNS server to ask, HOST:PORT; empty means the
	// system's name server.
	DNSResolver string
	// MDNS enables local network discovery (publishing and resolving).
	MDNS bool
	// MDNSOptions configures mDNS; nil means its defaults.
	MDNSOptions *mdns.Options
	// Lookups are extra lookups to run next to the others (for example an
	// addrlookup.Memory).
	Lookups []addrlookup.Lookup
	// HTTPClient is used for the pkarr relay; nil means a default client.
	HTTPClient *http.Client
	// Combined configures the concurrent lookup and its cache; nil means
	// defaults.
	Combined *addrlookup.CombinedOptions
	// PublishLoop configures republishing and retries; nil means iroh's
	// schedule (5 min, retry after n s).
	PublishLoop *addrlookup.PublishLoopOptions
	// Logger is passed to every service; nil means slog.Default().
	Logger *slog.Logger
	// Metrics counts resolves and publishes (unless Combined or
	// PublishLoop set their own); nil means unregistered metrics.
	Metrics *addrlookup.Metrics
}

// N0Options returns n0's public services: publish to and resolve from
// the pkarr relay at dns.iroh.link, resolve from DNS under dns.iroh.link.
// through the system's name server.
func N0Options() Options {
	return Options{PkarrRelay: pkarrlookup.N0RelayURL, PkarrResolve: true, DNSOrigin: dnslookup.N0Origin}
}

// MinimalOptions returns no services at all: endpoints must be dialed
// with full addresses.
func MinimalOptions() Options { return Options{} }

// Set is a running group of address lookup services; see the package doc.
type Set struct {
	// Set in New, then read-only.
	lookup *addrlookup.Combined
	loops  []*addrlookup.PublishLoop
	mdns   *mdns.Lookup
}

// mdnsNew is mdns.New; tests replace it to simulate a machine without
// multicast.
var mdnsNew = mdns.New

// New starts the services of opts for the endpoint whose secret key is sk.
func New(sk key.SecretKey, opts *Options) (*Set, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	log := o.Logger
	s := &Set{}
	lookups := append([]addrlookup.Lookup(nil), o.Lookups...)
	fail := func(err error) (*Set, error) {
		s.Close()
		return nil, err
	}
	var publishers []addrlookup.Publisher
	if o.PkarrRelay != "" {
		pub, err := pkarrlookup.NewPublisher(sk, &pkarrlookup.PublisherOptions{RelayURL: o.PkarrRelay,
			Client: o.HTTPClient, PublishDirect: o.PublishDirect, Logger: log})
		if err != nil {
			return fail(err)
		}
		publishers = append(publishers, pub)
		if o.PkarrResolve {
			res, err := pkarrlookup.NewResolver(&pkarrlookup.ResolverOptions{RelayURL: o.PkarrRelay, Client: o.HTTPClient})
			if err != nil {
				return fail(err)
			}
			lookups = append(lookups, res)
		}
	}
	if o.DNSOrigin != "" {
		res, err := dnslookup.New(&dnslookup.Options{Server: o.DNSResolver, Origin: o.DNSOrigin})
		if err != nil {
			return fail(err)
		}
		lookups = append(lookups, res)
	} else if o.DNSResolver != "" {
		return fail(errors.New("preset: DNSResolver given without DNSOrigin"))
	}
	if o.MDNS {
		mo := mdns.Options{}
		if o.MDNSOptions != nil {
			mo = *o.MDNSOptions
		}
		if mo.Logger == nil {
			mo.Logger = log
		}
		m, err := mdnsNew(sk.Public(), &mo)
		if errors.Is(err, mdns.ErrUnavailable) {
			// Local discovery is optional: a machine without multicast
			// (no interface, a sandbox, a phone that forbids it) still
			// binds and dials by address, relay and DNS.
			if log != nil {
				log.Warn("mdns unavailable; continuing without local discovery", "err", err)
			}
		} else if err != nil {
			return fail(err)
		} else {
			s.mdns = m
			lookups = append(lookups, m)
		}
	}
	co := addrlookup.CombinedOptions{}
	if o.Combined != nil {
		co = *o.Combined
	}
	if co.Logger == nil {
		co.Logger = log
	}
	if co.Metrics == nil {
		co.Metrics = o.Metrics
	}
	c, err := addrlookup.NewCombined(lookups, &co)
	if err != nil {
		return fail(err)
	}
	s.lookup = c
	for _, p := range publishers {
		po := addrlookup.PublishLoopOptions{}
		if o.PublishLoop != nil {
			po = *o.PublishLoop
		}
		if po.Logger == nil {
			po.Logger = log
		}
		if po.Metrics == nil {
			po.Metrics = o.Metrics
		}
		l, err := addrlookup.NewPublishLoop(p, &po)
		if err != nil {
			return fail(err)
		}
		s.loops = append(s.loops, l)
	}
	return s, nil
}

// Resolve resolves id with every configured lookup; see
// addrlookup.Combined.Resolve. With no lookups it reports
// addrlookup.ErrNotFound.
func (s *Set) Resolve(ctx context.Context, id key.PublicKey) (addrlookup.EndpointInfo, error) {
	return s.lookup.Resolve(ctx, id)
}

// Forget drops the cached answer for id.
func (s *Set) Forget(id key.PublicKey) { s.lookup.Forget(id) }

// Update hands our current info to every publisher. It never blocks on
// the network: publishing happens in the background.
func (s *Set) Update(info addrlookup.EndpointInfo) {
	for _, l := range s.loops {
		l.Update(info)
	}
	if s.mdns != nil {
		s.mdns.Publish(context.Background(), info)
	}
}

// PublishStatus returns the state of each pkarr publish loop.
func (s *Set) PublishStatus() []addrlookup.PublishStatus {
	out := make([]addrlookup.PublishStatus, len(s.loops))
	for i, l := range s.loops {
		out[i] = l.Status()
	}
	return out
}

// HasLookups reports whether any lookup is configured (so an id-only
// address can be resolved at all).
func (s *Set) HasLookups() bool { return s.lookup != nil && s.lookup.Len() > 0 }

// Close stops the publish loops and mDNS and waits for them.
func (s *Set) Close() error {
	for _, l := range s.loops {
		l.Close()
	}
	if s.mdns != nil {
		return s.mdns.Close()
	}
	return nil
}
