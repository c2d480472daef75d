package dnslookup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
	"github.com/miekg/dns"
)

// N0Origin is the origin of n0's public iroh DNS server.
const N0Origin = "dns.iroh.link."

// DefaultStagger are the offsets, from the start of a lookup, at which
// further queries are sent while none has succeeded (iroh's schedule).
var DefaultStagger = []time.Duration{200 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond,
	time.Second, 2 * time.Second, 3 * time.Second}

// DefaultTimeout bounds one query.
const DefaultTimeout = 3 * time.Second

// Options configures a Resolver.
type Options struct {
	// Server is the DNS server as HOST:PORT. Empty means the first name
	// server of /etc/resolv.conf, or, where there is none (Windows,
	// Android, a container without one), the platform's resolver
	// (net.DefaultResolver), which finds the system's name servers itself.
	Server string
	// Origin is the zone the records live under, such as
	// "irohdns.example." (the trailing dot may be omitted). Required.
	Origin string
	// Timeout bounds one query; zero means DefaultTimeout.
	Timeout time.Duration
	// Stagger are the offsets of the additional queries; nil means
	// DefaultStagger, an empty non-nil slice sends a single query.
	Stagger []time.Duration
	// TCP sends queries over TCP instead of UDP.
	TCP bool
}

// N0Options returns options for n0's public DNS origin, queried through
// the system's name server.
func N0Options() Options { return Options{Origin: N0Origin} }

// Resolver looks endpoints up in DNS.
type Resolver struct {
	// Set in New, then read-only.
	server  string
	origin  string
	timeout time.Duration
	stagger []time.Duration
	net     string
	sys     *net.Resolver // non-nil: ask the platform resolver, not server
}

// resolvConf is the file naming the system's name servers; a variable so
// tests can point it at a missing file.
var resolvConf = "/etc/resolv.conf"

// systemResolver is what a Resolver without a server uses; tests point its
// Dial at a local server.
var systemResolver = net.DefaultResolver

// systemTTL is the TTL given to answers of the platform resolver, which
// does not report one.
const systemTTL = 30 * time.Second

// New returns a resolver for opts.
func New(opts *Options) (*Resolver, error) {
	if opts == nil || opts.Origin == "" {
		return nil, errors.New("dnslookup: an Origin is required")
	}
	o := *opts
	origin := dns.Fqdn(strings.ToLower(o.Origin))
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, fmt.Errorf("dnslookup: origin %q is not a domain name", o.Origin)
	}
	if o.Timeout < 0 {
		return nil, errors.New("dnslookup: negative Timeout")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Stagger == nil {
		o.Stagger = DefaultStagger
	}
	server := o.Server
	var sys *net.Resolver
	if server == "" {
		if conf, err := dns.ClientConfigFromFile(resolvConf); err == nil && len(conf.Servers) > 0 {
			server = net.JoinHostPort(conf.Servers[0], conf.Port)
		} else {
			sys = systemResolver
		}
	}
	if sys == nil {
		if _, _, err := net.SplitHostPort(server); err != nil {
			return nil, fmt.Errorf("dnslookup: server %q: want HOST:PORT: %w", server, err)
		}
	}
	r := &Resolver{server: server, origin: origin, timeout: o.Timeout, stagger: append([]time.Duration(nil), o.Stagger...), net: "udp", sys: sys}
	if o.TCP {
		r.net = "tcp"
	}
	return r, nil
}

// Name returns the DNS name queried for id.
func (r *Resolver) Name(id key.PublicKey) string {
	if r.origin == "." {
		return pkarr.IrohLabel + "." + id.Z32() + "."
	}
	return pkarr.IrohLabel + "." + id.Z32() + "." + r.origin
}

// Resolve queries the TXT records of id, staggered, and returns the first
// valid answer. NXDOMAIN or an answer without records is reported as
// addrlookup.ErrNotFound.
func (r *Resolver) Resolve(ctx context.Context, id key.PublicKey) (addrlookup.EndpointInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		info addrlookup.EndpointInfo
		err  error
	}
	n := 1 + len(r.stagger)
	results := make(chan result, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // runs before wg.Wait
	start := func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := r.query(ctx, id)
			results <- result{info, err}
		}()
	}
	start()
	started, done := 1, 0
	t0 := time.Now()
	var timer *time.Timer
	var timerC <-chan time.Time
	next := func() {
		if started < n {
			timer = time.NewTimer(max(0, r.stagger[started-1]-time.Since(t0)))
			timerC = timer.C
		} else {
			timerC = nil
		}
	}
	next()
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: resolve %s: %w", id.ShortString(), ctx.Err())
		case <-timerC:
			start()
			started++
			next()
		case res := <-results:
			done++
			if res.err == nil || errors.Is(res.err, addrlookup.ErrNotFound) {
				return res.info, res.err
			}
			lastErr = res.err
			if done == started && started == n {
				return addrlookup.EndpointInfo{}, lastErr
			}
		}
	}
}

// query sends one query (UDP, then TCP if truncated) and reads the answer.
func (r *Resolver) query(ctx context.Context, id key.PublicKey) (addrlookup.EndpointInfo, error) {
	if r.sys != nil {
		return r.querySystem(ctx, id)
	}
	name := r.Name(id)
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	resp, err := exchange(ctx, r.net, r.timeout, m, r.server)
	if err == nil && resp.Truncated && r.net == "udp" {
		resp, err = exchange(ctx, "tcp", r.timeout, m, r.server)
	}
	if err != nil {
		return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: query %s at %s: %w", name, r.server, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: %s: NXDOMAIN: %w", name, addrlookup.ErrNotFound)
	default:
		return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: query %s at %s: %s", name, r.server, dns.RcodeToString[resp.Rcode])
	}
	info, ttl, err := pkarr.InfoFromRecords(id, resp.Answer)
	if err != nil {
		if errors.Is(err, pkarr.ErrNoRecords) {
			return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: %s: %w (%w)", name, err, addrlookup.ErrNotFound)
		}
		return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: %s: %w", name, err)
	}
	return addrlookup.InfoFromPkarr(id, info, ttl), nil
}

// querySystem asks the platform resolver for the TXT records of id. It
// joins each record's character-strings, as iroh's records hold one each.
func (r *Resolver) querySystem(ctx context.Context, id key.PublicKey) (addrlookup.EndpointInfo, error) {
	name := r.Name(id)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	txts, err := r.sys.LookupTXT(ctx, name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: %s: not found: %w", name, addrlookup.ErrNotFound)
		}
		return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: query %s with the system resolver: %w", name, err)
	}
	rrs := make([]dns.RR, 0, len(txts))
	for _, txt := range txts {
		rrs = append(rrs, &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET,
			Ttl: uint32(systemTTL / time.Second)}, Txt: []string{txt}})
	}
	info, ttl, err := pkarr.InfoFromRecords(id, rrs)
	if err != nil {
		if errors.Is(err, pkarr.ErrNoRecords) {
			return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: %s: %w (%w)", name, err, addrlookup.ErrNotFound)
		}
		return addrlookup.EndpointInfo{}, fmt.Errorf("dnslookup: %s: %w", name, err)
	}
	return addrlookup.InfoFromPkarr(id, info, ttl), nil
}

// exchange sends m and reads the answer on a connection of its own, closed
// when ctx ends (miekg/dns only applies the context's deadline, so a
// cancelled attempt would otherwise wait out its timeout).
func exchange(ctx context.Context, network string, timeout time.Duration, m *dns.Msg, server string) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: timeout}
	co, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	stop := context.AfterFunc(ctx, func() { co.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, m, co)
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return resp, err
}
