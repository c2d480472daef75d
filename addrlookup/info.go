package addrlookup

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
)

// EndpointInfo is what is published about an endpoint and what a lookup
// finds: its relay URLs, direct addresses and user data.
type EndpointInfo struct {
	// ID is the endpoint the info is about.
	ID key.PublicKey
	// RelayURLs are the endpoint's relays, home relay first.
	RelayURLs []endpointaddr.RelayURL
	// Direct are socket addresses the endpoint may be reached at directly.
	Direct []netip.AddrPort
	// UserData is free text published with the addresses (at most
	// pkarr.MaxUserDataSize bytes, without '=').
	UserData string
	// TTL is, for a resolved info, how long it may be cached (zero means
	// the cache's default), and for a published one the TTL of the records
	// (zero means 30 s).
	TTL time.Duration
}

// Addr returns the endpoint address carried by i (UserData and TTL are
// dropped).
func (i EndpointInfo) Addr() endpointaddr.Addr {
	return endpointaddr.Addr{ID: i.ID, RelayURLs: slices.Clone(i.RelayURLs), Direct: slices.Clone(i.Direct)}
}

// InfoFromAddr returns the info for an endpoint address (custom transport
// addresses are not carried).
func InfoFromAddr(a endpointaddr.Addr) EndpointInfo {
	return EndpointInfo{ID: a.ID, RelayURLs: slices.Clone(a.RelayURLs), Direct: slices.Clone(a.Direct)}
}

// IsEmpty reports whether i carries no address and no user data.
func (i EndpointInfo) IsEmpty() bool {
	return len(i.RelayURLs) == 0 && len(i.Direct) == 0 && i.UserData == ""
}

// HasAddr reports whether i carries at least one relay or direct address.
func (i EndpointInfo) HasAddr() bool { return len(i.RelayURLs) > 0 || len(i.Direct) > 0 }

// Equal reports whether i and j carry the same id, user data and set of
// addresses (order and duplicates ignored; TTL ignored).
func (i EndpointInfo) Equal(j EndpointInfo) bool {
	a, b := i.Addr().Canonical(), j.Addr().Canonical()
	return i.ID == j.ID && i.UserData == j.UserData && slices.Equal(a.RelayURLs, b.RelayURLs) && slices.Equal(a.Direct, b.Direct)
}

// PkarrInfo converts i to the record form of package pkarr.
func (i EndpointInfo) PkarrInfo() pkarr.Info {
	p := pkarr.Info{Addrs: slices.Clone(i.Direct), UserData: i.UserData}
	for _, u := range i.RelayURLs {
		p.RelayURLs = append(p.RelayURLs, u.String())
	}
	return p
}

// InfoFromPkarr converts records read by package pkarr; relay URLs that
// are not valid relay URLs (http or https with a host) are skipped, as
// iroh skips unparseable ones.
func InfoFromPkarr(id key.PublicKey, p pkarr.Info, ttl time.Duration) EndpointInfo {
	info := EndpointInfo{ID: id, Direct: slices.Clone(p.Addrs), UserData: p.UserData, TTL: ttl}
	for _, s := range p.RelayURLs {
		if u, err := endpointaddr.ParseRelayURL(s); err == nil {
			info.RelayURLs = append(info.RelayURLs, u)
		}
	}
	return info
}

// ErrNotFound reports that a lookup has no information about an endpoint.
// Lookups wrap it so that errors.Is(err, ErrNotFound) holds.
var ErrNotFound = errors.New("addrlookup: endpoint not found")

// Lookup resolves an endpoint id to its published info.
type Lookup interface {
	// Resolve returns what the lookup knows about id, or an error
	// (wrapping ErrNotFound when it definitely knows nothing). It blocks
	// until an answer, an error or ctx's end, and must return promptly
	// when ctx is cancelled.
	Resolve(ctx context.Context, id key.PublicKey) (EndpointInfo, error)
}

// Publisher announces our own info.
type Publisher interface {
	// Publish announces info (whose ID is ours) once. It blocks until the
	// announcement is done or failed, or ctx ends.
	Publish(ctx context.Context, info EndpointInfo) error
}

// LookupFunc adapts a function to Lookup.
type LookupFunc func(ctx context.Context, id key.PublicKey) (EndpointInfo, error)

// Resolve calls f.
func (f LookupFunc) Resolve(ctx context.Context, id key.PublicKey) (EndpointInfo, error) {
	return f(ctx, id)
}
