package dnsserver

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Defaults of Options.
const (
	// DefaultOrigin is the origin served when Options.Origins is empty, as
	// in iroh-dns-server's example configuration.
	DefaultOrigin = "irohdns.example."
	// DefaultMaxAge is how long a packet is kept after its timestamp:
	// iroh-dns-server evicts after 7 days.
	DefaultMaxAge = 7 * 24 * time.Hour
	// DefaultMaxFuture is how far ahead of our clock a packet's timestamp
	// may be: generous for clock skew, short enough that a packet cannot
	// pin a record.
	DefaultMaxFuture = time.Hour
	// DefaultEvictInterval is how often old packets are looked for.
	DefaultEvictInterval = 10 * time.Second
	// DefaultRateLimitBurst and DefaultRateLimitPeriod are iroh-dns-server's
	// PUT limits: two requests at once, one more every 4 seconds.
	DefaultRateLimitBurst  = 2
	DefaultRateLimitPeriod = 4 * time.Second
	// soaTTL, nsTTL and aTTL are the TTLs of the static origin records
	// (14 days, 12 hours, 1 hour), as in iroh-dns-server.
	soaTTL = 14 * 24 * 3600
	nsTTL  = 12 * 3600
	aTTL   = 3600
)

// RateLimitMode selects how PUT /pkarr requests are attributed to clients.
type RateLimitMode int

const (
	// RateLimitSimple limits per peer IP address (the default).
	RateLimitSimple RateLimitMode = iota
	// RateLimitSmart takes the client IP from X-Forwarded-For, X-Real-IP or
	// Forwarded headers (for a server behind a proxy), falling back to the
	// peer IP. The headers count only on requests from
	// Options.TrustedProxies.
	RateLimitSmart
	// RateLimitDisabled does not limit.
	RateLimitDisabled
)

// ParseRateLimitMode parses "simple", "smart" or "disabled".
func ParseRateLimitMode(s string) (RateLimitMode, error) {
	switch strings.ToLower(s) {
	case "simple", "":
		return RateLimitSimple, nil
	case "smart":
		return RateLimitSmart, nil
	case "disabled", "off", "none":
		return RateLimitDisabled, nil
	}
	return 0, fmt.Errorf("dnsserver: rate limit mode %q: want simple, smart or disabled", s)
}

// RateLimit configures the per-client limit on PUT /pkarr.
type RateLimit struct {
	// Mode selects the client key; zero is RateLimitSimple.
	Mode RateLimitMode
	// Burst is how many PUTs a client may make at once; zero means
	// DefaultRateLimitBurst.
	Burst int
	// Period is the time after which a client gets one more PUT; zero
	// means DefaultRateLimitPeriod.
	Period time.Duration
}

// Options configures a Server. A nil *Options means all defaults, which
// serves nothing but is useful for Handler-only tests.
type Options struct {
	// DataDir is the directory of the packet store. Empty means a new
	// temporary directory, removed by Close (records do not survive).
	DataDir string

	// HTTPAddr is the TCP address of the HTTP listener (pkarr relay, DoH,
	// health), e.g. "127.0.0.1:8080". Empty means no HTTP listener.
	HTTPAddr string

	// DNSAddr is the address of the DNS listeners, UDP and TCP on the same
	// port, e.g. "127.0.0.1:5300". Port 0 picks a port free for both.
	// Empty means no DNS listener.
	DNSAddr string

	// Origins are the zones the server is authoritative for, absolute
	// names such as "irohdns.example." ("." serves keys directly under the
	// root). Empty means [DefaultOrigin].
	Origins []string

	// SOA is the zone-file RDATA of the SOA record of every origin, e.g.
	// "ns1.irohdns.example. hostmaster.irohdns.example. 0 10800 3600
	// 604800 3600". Empty means "ns1.<origin> hostmaster.<origin> 0 10800
	// 3600 604800 3600" for each origin.
	SOA string

	// NS are the name servers of every origin. Empty means the SOA's
	// primary name server.
	NS []string

	// Addrs are A and AAAA records of the origins themselves. Empty means
	// none.
	Addrs []netip.Addr

	// MaxAge is how long after its timestamp a packet is kept. Zero means
	// DefaultMaxAge.
	MaxAge time.Duration

	// EvictInterval is how often packets older than MaxAge are deleted.
	// Zero means DefaultEvictInterval.
	EvictInterval time.Duration

	// MaxFuture is how far ahead of the server's clock a packet's
	// timestamp may be; a PUT beyond it is refused (such a packet would
	// never age out and would win over every honest update). Zero means
	// DefaultMaxFuture.
	MaxFuture time.Duration

	// SyncPuts makes a PUT wait until its packet is fsynced before it is
	// acknowledged. False (the default) acknowledges it once accepted: it
	// is served at once and committed with the next group (a crash loses
	// at most the group in flight, which publishers repeat); see the
	// package doc for throughput.
	SyncPuts bool

	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For, X-Real-IP and Forwarded headers name the client in
	// RateLimitSmart mode. Requests from elsewhere are limited by their
	// peer address whatever headers they carry. Empty means no proxy is
	// trusted, and smart mode limits like simple mode.
	TrustedProxies []netip.Prefix

	// RateLimit limits PUT /pkarr per client.
	RateLimit RateLimit

	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger

	// Metrics receives the server's metrics; nil means new unregistered
	// metrics.
	Metrics *Metrics

	// now is the clock of rate limiting and eviction; nil means time.Now.
	// Tests set it.
	now func() time.Time
}

// zone is the static part of one origin.
type zone struct {
	origin string // lowercase, absolute
	soa    *dns.SOA
	ns     []dns.RR
	addrs  []dns.RR
}

// fill copies o, fills defaults and checks the values.
func (o *Options) fill() (Options, []zone, error) {
	var c Options
	if o != nil {
		c = *o
	}
	c.Origins = append([]string(nil), c.Origins...)
	if len(c.Origins) == 0 {
		c.Origins = []string{DefaultOrigin}
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.EvictInterval == 0 {
		c.EvictInterval = DefaultEvictInterval
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = DefaultMaxFuture
	}
	if c.MaxAge < 0 || c.EvictInterval < 0 || c.MaxFuture < 0 {
		return c, nil, fmt.Errorf("dnsserver: negative MaxAge, EvictInterval or MaxFuture")
	}
	c.TrustedProxies = append([]netip.Prefix(nil), c.TrustedProxies...)
	for _, pr := range c.TrustedProxies {
		if !pr.IsValid() {
			return c, nil, fmt.Errorf("dnsserver: trusted proxy %v is not a valid prefix", pr)
		}
	}
	if c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = DefaultRateLimitBurst
	}
	if c.RateLimit.Period == 0 {
		c.RateLimit.Period = DefaultRateLimitPeriod
	}
	if c.RateLimit.Burst < 0 || c.RateLimit.Period < 0 || c.RateLimit.Mode < RateLimitSimple || c.RateLimit.Mode > RateLimitDisabled {
		return c, nil, fmt.Errorf("dnsserver: invalid rate limit %+v", c.RateLimit)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.now == nil {
		c.now = time.Now
	}
	var zones []zone
	seen := map[string]bool{}
	for _, org := range c.Origins {
		if !dns.IsFqdn(org) {
			return c, nil, fmt.Errorf("dnsserver: origin %q is not absolute (must end in '.')", org)
		}
		if _, ok := dns.IsDomainName(org); !ok {
			return c, nil, fmt.Errorf("dnsserver: origin %q is not a domain name", org)
		}
		org = strings.ToLower(dns.CanonicalName(org))
		if seen[org] {
			return c, nil, fmt.Errorf("dnsserver: origin %q given twice", org)
		}
		seen[org] = true
		z := zone{origin: org}
		soa := c.SOA
		if soa == "" {
			ns1 := dns.Fqdn("ns1." + strings.TrimSuffix(org, "."))
			soa = ns1 + " " + dns.Fqdn("hostmaster."+strings.TrimSuffix(org, ".")) + " 0 10800 3600 604800 3600"
		}
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN SOA %s", org, soaTTL, soa))
		if err != nil || rr == nil {
			return c, nil, fmt.Errorf("dnsserver: SOA %q: %v", soa, err)
		}
		z.soa = rr.(*dns.SOA)
		ns := c.NS
		if len(ns) == 0 {
			ns = []string{z.soa.Ns}
		}
		for _, n := range ns {
			if _, ok := dns.IsDomainName(n); !ok {
				return c, nil, fmt.Errorf("dnsserver: NS %q is not a domain name", n)
			}
			z.ns = append(z.ns, &dns.NS{Hdr: dns.RR_Header{Name: org, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: nsTTL}, Ns: dns.Fqdn(n)})
		}
		for _, a := range c.Addrs {
			if a.Is4() {
				z.addrs = append(z.addrs, &dns.A{Hdr: dns.RR_Header{Name: org, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: aTTL}, A: a.AsSlice()})
			} else {
				z.addrs = append(z.addrs, &dns.AAAA{Hdr: dns.RR_Header{Name: org, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: aTTL}, AAAA: a.AsSlice()})
			}
		}
		zones = append(zones, z)
	}
	return c, zones, nil
}
