package gossip

import (
	"fmt"
	"net/netip"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/postcard"
)

// maxPeerDataAddrs bounds the direct addresses accepted in peer data.
const maxPeerDataAddrs = 64

// AppendPeerData appends the peer data iroh-gossip shares in Join,
// Neighbor and Shuffle messages: postcard AddrInfo{relay_url:
// Option<String>, direct_addresses: BTreeSet<SocketAddr>} (spec §2.2),
// from a's first relay URL and its direct addresses in Rust's order.
func AppendPeerData(b []byte, a iroh.EndpointAddr) []byte {
	a = a.Canonical()
	if len(a.RelayURLs) > 0 {
		b = postcard.AppendString(append(b, 1), string(a.RelayURLs[0]))
	} else {
		b = append(b, 0)
	}
	b = postcard.AppendUvarint(b, uint64(len(a.Direct)))
	for _, d := range a.Direct {
		b = postcard.AppendSocketAddr(b, d)
	}
	return b
}

// ParsePeerData decodes peer data into an address of id. Empty data
// means no information (a zero-address Addr).
func ParsePeerData(id iroh.EndpointID, b []byte) (iroh.EndpointAddr, error) {
	a := iroh.EndpointAddr{ID: id}
	if len(b) == 0 {
		return a, nil
	}
	off := 1
	switch b[0] {
	case 0:
	case 1:
		s, n, err := postcard.Bytes(b[1:], 1024)
		if err != nil {
			return a, fmt.Errorf("gossip peer data: relay url: %w", err)
		}
		off += n
		u, err := endpointaddr.ParseRelayURL(string(s))
		if err != nil {
			return a, fmt.Errorf("gossip peer data: %w", err)
		}
		a.RelayURLs = []iroh.RelayURL{u}
	default:
		return a, fmt.Errorf("gossip peer data: relay url option tag %d", b[0])
	}
	cnt, n, err := postcard.Uvarint(b[off:])
	if err != nil {
		return a, fmt.Errorf("gossip peer data: address count: %w", err)
	}
	off += n
	if cnt > maxPeerDataAddrs {
		return a, fmt.Errorf("gossip peer data: %d direct addresses exceed %d", cnt, maxPeerDataAddrs)
	}
	for range cnt {
		ap, n, err := postcard.SocketAddr(b[off:])
		if err != nil {
			return a, fmt.Errorf("gossip peer data: direct address at offset %d: %w", off, err)
		}
		off += n
		a.Direct = append(a.Direct, ap)
	}
	if off != len(b) {
		return a, fmt.Errorf("gossip peer data: %d trailing bytes", len(b)-off)
	}
	return a, nil
}

// usable drops addresses a dialer cannot use (unspecified, port 0).
func usable(a iroh.EndpointAddr) iroh.EndpointAddr {
	out := a
	out.Direct = nil
	for _, d := range a.Direct {
		if d.IsValid() && d.Port() != 0 && !d.Addr().IsUnspecified() {
			out.Direct = append(out.Direct, netip.AddrPortFrom(d.Addr(), d.Port()))
		}
	}
	return out
}
