// Package endpointaddr describes how to reach an endpoint: its EndpointID
// plus the relay URLs and direct socket addresses it can be reached at
// (Rust iroh-base 1.0's EndpointAddr, TransportAddr and RelayUrl,
// src/endpoint_addr.rs and src/relay_url.rs).
//
// It is a leaf package: it knows nothing about sockets or connections.
// Addr values are plain data, safe to copy; the ordering of Canonical
// matches Rust's BTreeSet<TransportAddr> so encodings are byte-identical.
package endpointaddr

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/iroh-go/iroh/key"
)

// RelayURL is the normalized URL of a relay server, as Rust's RelayUrl
// serializes it: lowercase scheme and host, no default port, and "/" for an
// empty path ("http://localhost:3340" becomes "http://localhost:3340/").
// Relays are compared by this string. The zero value means no relay.
type RelayURL string

// ParseRelayURL parses and normalizes a relay URL. The scheme must be http
// or https and the URL must have a host.
func ParseRelayURL(s string) (RelayURL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("relay url %q: %w", s, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("relay url %q: scheme must be http or https", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("relay url %q: no host", s)
	}
	host, port := u.Hostname(), u.Port()
	host = strings.ToLower(host)
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	if u.Path == "" {
		u.Path = "/"
	}
	return RelayURL(u.String()), nil
}

// String returns the URL.
func (r RelayURL) String() string { return string(r) }

// CustomAddr is an address of a custom transport: a transport id from
// Rust iroh's TRANSPORTS.md registry and opaque data.
type CustomAddr struct {
	ID   uint64
	Data []byte
}

// String returns "<hex id>_<hex data>" as Rust displays a CustomAddr.
func (c CustomAddr) String() string {
	return strconv.FormatUint(c.ID, 16) + "_" + hex.EncodeToString(c.Data)
}

// Addr is the address of an endpoint: its id and the transport addresses
// it may be reached at. An Addr with only an ID needs address lookup.
type Addr struct {
	ID        key.PublicKey
	RelayURLs []RelayURL
	Direct    []netip.AddrPort
	Custom    []CustomAddr
}

// FromID returns an Addr holding only id.
func FromID(id key.PublicKey) Addr { return Addr{ID: id} }

// RelayURL returns the first relay URL, or "" if there is none.
func (a Addr) RelayURL() RelayURL {
	if len(a.RelayURLs) == 0 {
		return ""
	}
	return a.RelayURLs[0]
}

// IsIDOnly reports whether a has no transport address at all.
func (a Addr) IsIDOnly() bool {
	return len(a.RelayURLs) == 0 && len(a.Direct) == 0 && len(a.Custom) == 0
}

// Canonical returns a copy of a with each kind of address sorted and
// deduplicated in Rust's BTreeSet order: relay URLs by string; socket
// addresses IPv4 before IPv6, then by address bytes, then port; custom
// addresses by id, then data. IPv6 zones are dropped, as Rust's encoding
// drops scope ids; IPv4-mapped IPv6 addresses are kept as they are.
func (a Addr) Canonical() Addr {
	out := Addr{ID: a.ID}
	out.RelayURLs = slices.Clone(a.RelayURLs)
	slices.Sort(out.RelayURLs)
	out.RelayURLs = slices.Compact(out.RelayURLs)
	for _, d := range a.Direct {
		out.Direct = append(out.Direct, netip.AddrPortFrom(d.Addr().WithZone(""), d.Port()))
	}
	slices.SortFunc(out.Direct, CompareSocketAddr)
	out.Direct = slices.Compact(out.Direct)
	out.Custom = slices.Clone(a.Custom)
	slices.SortFunc(out.Custom, compareCustom)
	out.Custom = slices.CompactFunc(out.Custom, func(x, y CustomAddr) bool { return compareCustom(x, y) == 0 })
	return out
}

// CompareSocketAddr orders socket addresses as Rust's SocketAddr Ord does.
func CompareSocketAddr(x, y netip.AddrPort) int {
	x4, y4 := x.Addr().Is4(), y.Addr().Is4()
	if x4 != y4 {
		if x4 {
			return -1
		}
		return 1
	}
	if c := x.Addr().Compare(y.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(x.Port(), y.Port())
}

// compareCustom orders custom addresses by id, then by Rust's derived
// order of the inner data: inline (≤ 30 bytes) before heap, inline by
// length then bytes, heap by bytes.
func compareCustom(x, y CustomAddr) int {
	if c := cmp.Compare(x.ID, y.ID); c != 0 {
		return c
	}
	xi, yi := len(x.Data) <= 30, len(y.Data) <= 30
	if xi != yi {
		if xi {
			return -1
		}
		return 1
	}
	if xi {
		if c := cmp.Compare(len(x.Data), len(y.Data)); c != 0 {
			return c
		}
	}
	return bytes.Compare(x.Data, y.Data)
}

// String returns a readable form for logs and the CLI.
func (a Addr) String() string {
	var sb strings.Builder
	sb.WriteString(a.ID.String())
	for _, r := range a.RelayURLs {
		sb.WriteString(" relay:" + string(r))
	}
	for _, d := range a.Direct {
		sb.WriteString(" ip:" + d.String())
	}
	for _, c := range a.Custom {
		sb.WriteString(" custom:" + c.String())
	}
	return sb.String()
}
