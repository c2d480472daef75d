package netreport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
)

// DefaultSTUNPort is the port STUN is probed on at each relay's host.
const DefaultSTUNPort = 3478

// Prober sends STUN binding requests from the endpoint's own socket.
type Prober interface {
	// STUN sends one binding request to server and returns the address the
	// server saw, or an error when ctx ends first.
	STUN(ctx context.Context, server netip.AddrPort) (netip.AddrPort, error)
}

// Config says what to probe. The zero value probes nothing.
type Config struct {
	// Relays are probed with GET <relay>/ping for latency, and with STUN at
	// their host on STUNPort.
	Relays []endpointaddr.RelayURL
	// STUNPort is the relays' STUN port; 0 means 3478, negative disables
	// STUN to relays.
	STUNPort int
	// STUNServers are further STUN servers ("host:port").
	STUNServers []string
	// Prober sends STUN requests; nil disables STUN.
	Prober Prober
	// HTTPClient is used for /ping; nil means a client with a 3 s timeout.
	HTTPClient *http.Client
	// Previous is the last report, for the home relay hysteresis.
	Previous *Report
	// Timeout bounds the whole report; zero means 5 s.
	Timeout time.Duration
}

// STUNResult is one answered STUN probe.
type STUNResult struct {
	Server netip.AddrPort
	Relay  endpointaddr.RelayURL // "" for STUNServers
	Mapped netip.AddrPort
	RTT    time.Duration
}

// Report is what a run found.
type Report struct {
	// UDPv4 and UDPv6 report that a STUN probe over that family succeeded.
	UDPv4, UDPv6 bool
	// GlobalV4 and GlobalV6 are our public addresses as STUN servers saw
	// them (the first answer; zero if none).
	GlobalV4, GlobalV6 netip.AddrPort
	// MappingVariesByDestIPv4 is true when two STUN servers saw different
	// public addresses (an endpoint-dependent NAT: hole punching will not
	// work), false when at least two agreed, nil when unknown.
	MappingVariesByDestIPv4 *bool
	MappingVariesByDestIPv6 *bool
	// RelayLatency is the best latency measured to each relay that
	// answered (HTTP /ping or STUN).
	RelayLatency map[endpointaddr.RelayURL]time.Duration
	// PreferredRelay is the relay to use as home relay, "" if none answered.
	PreferredRelay endpointaddr.RelayURL
	// STUN lists the answered STUN probes.
	STUN []STUNResult
	// Errors are the probes that failed, for diagnostics.
	Errors []string
	// Time is when the report was finished.
	Time time.Time
}

// Run probes every relay and STUN server concurrently and returns the
// report. It fails only if ctx ends before anything was measured and
// something was configured.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 3 * time.Second}
	}
	port := cfg.STUNPort
	if port == 0 {
		port = DefaultSTUNPort
	}
	rep := &Report{RelayLatency: map[endpointaddr.RelayURL]time.Duration{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	note := func(relay endpointaddr.RelayURL, d time.Duration) {
		if relay == "" {
			return
		}
		if old, ok := rep.RelayLatency[relay]; !ok || d < old {
			rep.RelayLatency[relay] = d
		}
	}
	fail := func(format string, args ...any) {
		mu.Lock()
		rep.Errors = append(rep.Errors, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	stun := func(relay endpointaddr.RelayURL, hostport string) {
		defer wg.Done()
		servers, err := resolve(ctx, hostport)
		if err != nil {
			fail("stun %s: %v", hostport, err)
			return
		}
		for _, srv := range servers {
			res, err := stunProbe(ctx, cfg.Prober, srv)
			if err != nil {
				fail("stun %s: %v", srv, err)
				continue
			}
			res.Relay = relay
			mu.Lock()
			rep.STUN = append(rep.STUN, res)
			note(relay, res.RTT)
			mu.Unlock()
		}
	}
	for _, r := range cfg.Relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := pingLatency(ctx, hc, r)
			if err != nil {
				fail("ping %s: %v", r, err)
				return
			}
			mu.Lock()
			note(r, d)
			mu.Unlock()
		}()
		if cfg.Prober != nil && cfg.STUNPort >= 0 {
			u, err := url.Parse(string(r))
			if err == nil && u.Hostname() != "" {
				wg.Add(1)
				go stun(r, net.JoinHostPort(u.Hostname(), strconv.Itoa(port)))
			}
		}
	}
	if cfg.Prober != nil {
		for _, s := range cfg.STUNServers {
			wg.Add(1)
			go stun("", s)
		}
	}
	wg.Wait()
	rep.summarize(cfg.Previous)
	rep.Time = time.Now()
	if len(rep.RelayLatency) == 0 && len(rep.STUN) == 0 && len(cfg.Relays)+len(cfg.STUNServers) > 0 && ctx.Err() != nil {
		return rep, fmt.Errorf("netreport: nothing answered: %w", ctx.Err())
	}
	return rep, nil
}

// summarize derives the global addresses, NAT behaviour and preferred
// relay from the raw results.
func (r *Report) summarize(prev *Report) {
	slices.SortFunc(r.STUN, func(a, b STUNResult) int { return endpointaddr.CompareSocketAddr(a.Server, b.Server) })
	var seen4, seen6 []netip.AddrPort
	for _, s := range r.STUN {
		if s.Mapped.Addr().Unmap().Is4() {
			r.UDPv4 = true
			if !r.GlobalV4.IsValid() {
				r.GlobalV4 = s.Mapped
			}
			seen4 = append(seen4, s.Mapped)
		} else {
			r.UDPv6 = true
			if !r.GlobalV6.IsValid() {
				r.GlobalV6 = s.Mapped
			}
			seen6 = append(seen6, s.Mapped)
		}
	}
	r.MappingVariesByDestIPv4 = varies(seen4)
	r.MappingVariesByDestIPv6 = varies(seen6)
	var best endpointaddr.RelayURL
	for u, d := range r.RelayLatency {
		if best == "" || d < r.RelayLatency[best] || (d == r.RelayLatency[best] && u < best) {
			best = u
		}
	}
	if prev != nil && prev.PreferredRelay != "" && best != "" && best != prev.PreferredRelay {
		// Hysteresis: keep the old relay unless the new one is clearly
		// better (less than 2/3 of the old relay's current latency).
		if old, ok := r.RelayLatency[prev.PreferredRelay]; ok && old > 0 && r.RelayLatency[best]*3 >= old*2 {
			best = prev.PreferredRelay
		}
	}
	r.PreferredRelay = best
}

func varies(seen []netip.AddrPort) *bool {
	if len(seen) < 2 {
		return nil
	}
	v := false
	for _, s := range seen[1:] {
		if s != seen[0] {
			v = true
		}
	}
	return &v
}

func resolve(ctx context.Context, hostport string) ([]netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return []netip.AddrPort{ap}, nil
	}
	host, ps, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", ps)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	var out []netip.AddrPort
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(port)))
		if len(out) == 2 {
			break
		}
	}
	return out, nil
}

// stunProbe tries a STUN server up to three times, each attempt waiting up
// to 1 s for its answer, and returns the first answer.
func stunProbe(ctx context.Context, p Prober, srv netip.AddrPort) (STUNResult, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		start := time.Now()
		mapped, err := p.STUN(actx, srv)
		cancel()
		if err == nil {
			return STUNResult{Server: srv, Mapped: mapped, RTT: time.Since(start)}, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return STUNResult{}, lastErr
}

// pingLatency measures GET <relay>/ping three times and returns the best.
func pingLatency(ctx context.Context, hc *http.Client, relay endpointaddr.RelayURL) (time.Duration, error) {
	u, err := url.JoinPath(string(relay), "ping")
	if err != nil {
		return 0, err
	}
	var best time.Duration
	var lastErr error
	for i := 0; i < 3; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			lastErr = fmt.Errorf("status %s", resp.Status)
			continue
		}
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	if best == 0 {
		if lastErr == nil {
			lastErr = errors.New("no answer")
		}
		return 0, lastErr
	}
	return best, nil
}
