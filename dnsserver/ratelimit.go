package dnsserver

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the per-client table; when it is full, idle entries
// (whose bucket has refilled) are dropped first and, failing that, the
// whole table is reset (a flood of distinct IPs gets a fresh burst, which
// is the cheap failure mode).
const maxLimiters = 100_000

// limiter is a per-client token bucket table.
type limiter struct {
	mode    RateLimitMode
	burst   int
	period  time.Duration
	proxies []netip.Prefix // whose forwarded headers are believed

	mu      sync.Mutex
	clients map[netip.Addr]*clientLimit
}

type clientLimit struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiter(rl RateLimit, proxies []netip.Prefix) *limiter {
	return &limiter{mode: rl.Mode, burst: rl.Burst, period: rl.Period, proxies: proxies, clients: map[netip.Addr]*clientLimit{}}
}

// allow reports whether a PUT from the client of r may proceed at now.
func (l *limiter) allow(r *http.Request, now time.Time) bool {
	if l.mode == RateLimitDisabled {
		return true
	}
	ip := l.clientIP(r)
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[ip]
	if c == nil {
		if len(l.clients) >= maxLimiters {
			l.pruneLocked(now)
		}
		c = &clientLimit{lim: rate.NewLimiter(rate.Every(l.period), l.burst)}
		l.clients[ip] = c
	}
	c.last = now
	return c.lim.AllowN(now, 1)
}

// pruneLocked drops clients idle long enough for a full bucket.
func (l *limiter) pruneLocked(now time.Time) {
	idle := l.period * time.Duration(l.burst)
	for ip, c := range l.clients {
		if now.Sub(c.last) >= idle {
			delete(l.clients, ip)
		}
	}
	if len(l.clients) >= maxLimiters {
		clear(l.clients)
	}
}

// clientIP returns the address a request is attributed to: its peer
// address, or in smart mode, for a peer that is a trusted proxy, the
// client its forwarding headers name. Anyone else's headers are ignored,
// so a client cannot pick its own rate-limit bucket.
func (l *limiter) clientIP(r *http.Request) netip.Addr {
	peer := peerIP(r)
	if l.mode == RateLimitSmart && l.trusted(peer) {
		if ip, ok := forwardedIP(r.Header); ok {
			return ip
		}
	}
	return peer
}

func (l *limiter) trusted(a netip.Addr) bool {
	for _, p := range l.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func peerIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		a, _ := netip.ParseAddr(host)
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

// forwardedIP reads the client address from proxy headers: the first
// X-Forwarded-For entry, X-Real-IP, or the first Forwarded for=.
func forwardedIP(h http.Header) (netip.Addr, bool) {
	parse := func(s string) (netip.Addr, bool) {
		s = strings.Trim(strings.TrimSpace(s), `"`)
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ap.Addr().Unmap(), true
		}
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		a, err := netip.ParseAddr(s)
		return a.Unmap(), err == nil
	}
	if v := h.Get("X-Forwarded-For"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		if a, ok := parse(first); ok {
			return a, true
		}
	}
	if v := h.Get("X-Real-Ip"); v != "" {
		if a, ok := parse(v); ok {
			return a, true
		}
	}
	if v := h.Get("Forwarded"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		for _, part := range strings.Split(first, ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.EqualFold(k, "for") {
				if a, ok := parse(val); ok {
					return a, true
				}
			}
		}
	}
	return netip.Addr{}, false
}
