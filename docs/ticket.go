package docs

import (
	"fmt"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/postcard"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/ticket"
)

// TicketKind is the prefix of a DocTicket's text form.
const TicketKind = "doc"

// maxTicketNodes bounds the endpoints a ticket may list.
const maxTicketNodes = 256

// DocTicket is what joining a document needs: a capability and endpoints
// that serve it. Its text form is iroh-docs 0.100's (EndpointAddr layout,
// spec §9); ParseDocTicket also reads 0.35's (NodeAddr layout), and
// String035 writes it for Rust iroh 0.35 nodes, which read no other.
type DocTicket struct {
	Capability Capability
	Nodes      []endpointaddr.Addr
}

// AppendBinary appends the postcard encoding: variant 0, capability, nodes.
func (t DocTicket) AppendBinary(b []byte) []byte {
	b = append(b, 0)
	b = t.Capability.AppendBinary(b)
	b = postcard.AppendUvarint(b, uint64(len(t.Nodes)))
	for _, n := range t.Nodes {
		b = ticket.AppendEndpointAddr(b, n)
	}
	return b
}

// String returns "doc" + base32 of the encoding.
func (t DocTicket) String() string { return ticket.Encode(TicketKind, t.AppendBinary(nil)) }

// AppendBinary035 appends the encoding in iroh-docs 0.35's layout (spec
// §9): each node is its id, an optional relay URL (the first of
// RelayURLs; 0.35 holds one) and its socket addresses.
func (t DocTicket) AppendBinary035(b []byte) []byte {
	b = append(b, 0)
	b = t.Capability.AppendBinary(b)
	b = postcard.AppendUvarint(b, uint64(len(t.Nodes)))
	for _, n := range t.Nodes {
		b = append(b, n.ID[:]...)
		if len(n.RelayURLs) > 0 {
			b = postcard.AppendString(append(b, 1), string(n.RelayURLs[0]))
		} else {
			b = append(b, 0)
		}
		b = postcard.AppendUvarint(b, uint64(len(n.Direct)))
		for _, a := range n.Direct {
			b = postcard.AppendSocketAddr(b, a)
		}
	}
	return b
}

// String035 returns the text form in iroh-docs 0.35's layout, the only one
// a Rust iroh 0.35 node reads (DocTicket.fromString in its bindings).
func (t DocTicket) String035() string {
	return ticket.Encode(TicketKind, t.AppendBinary035(nil))
}

// ParseDocTicket parses the text form. A ticket without nodes is refused,
// as Rust refuses it. Tickets of iroh-docs 0.35 (NodeAddr layout) are
// accepted too: when the input does not parse whole as 0.100, it is read
// as 0.35.
func ParseDocTicket(s string) (DocTicket, error) {
	b, err := ticket.Decode(TicketKind, s)
	if err != nil {
		return DocTicket{}, err
	}
	t, n, err := ParseDocTicketBinary(b)
	if err == nil && n == len(b) {
		return t, nil
	}
	if t35, n35, err35 := parseDocTicket035(b); err35 == nil && n35 == len(b) {
		return t35, nil
	}
	if err != nil {
		return DocTicket{}, err
	}
	return DocTicket{}, fmt.Errorf("doc ticket: %d bytes left over", len(b)-n)
}

// parseDocTicket035 reads the 0.35 layout: each node is id, Option<relay
// URL>, then a set of socket addresses.
func parseDocTicket035(b []byte) (DocTicket, int, error) {
	var t DocTicket
	if len(b) == 0 || b[0] != 0 {
		return t, 0, fmt.Errorf("doc ticket: unknown variant")
	}
	c, n, err := ParseCapability(b[1:])
	if err != nil {
		return t, 0, err
	}
	t.Capability = c
	off := 1 + n
	cnt, n, err := postcard.Uvarint(b[off:])
	if err != nil {
		return t, 0, err
	}
	off += n
	if cnt == 0 || cnt > maxTicketNodes {
		return t, 0, fmt.Errorf("doc ticket: %d nodes", cnt)
	}
	for i := uint64(0); i < cnt; i++ {
		if len(b)-off < 33 {
			return t, 0, postcard.ErrTruncated
		}
		a := endpointaddr.Addr{ID: key.PublicKey(b[off : off+32])}
		off += 32
		switch b[off] {
		case 0:
			off++
		case 1:
			u, n, err := postcard.Bytes(b[off+1:], 4096)
			if err != nil {
				return t, 0, err
			}
			r, err := endpointaddr.ParseRelayURL(string(u))
			if err != nil {
				return t, 0, err
			}
			a.RelayURLs = append(a.RelayURLs, r)
			off += 1 + n
		default:
			return t, 0, fmt.Errorf("doc ticket: relay option tag %d", b[off])
		}
		na, n, err := postcard.Uvarint(b[off:])
		if err != nil {
			return t, 0, err
		}
		off += n
		if na > 1024 {
			return t, 0, fmt.Errorf("doc ticket: %d addresses", na)
		}
		for j := uint64(0); j < na; j++ {
			ap, n, err := postcard.SocketAddr(b[off:])
			if err != nil {
				return t, 0, err
			}
			a.Direct = append(a.Direct, ap)
			off += n
		}
		t.Nodes = append(t.Nodes, a)
	}
	return t, off, nil
}

// ParseDocTicketBinary decodes the binary form and returns the bytes used.
func ParseDocTicketBinary(b []byte) (DocTicket, int, error) {
	var t DocTicket
	if len(b) == 0 || b[0] != 0 {
		return t, 0, fmt.Errorf("doc ticket: unknown variant")
	}
	c, n, err := ParseCapability(b[1:])
	if err != nil {
		return t, 0, fmt.Errorf("doc ticket: %w", err)
	}
	t.Capability = c
	off := 1 + n
	cnt, n, err := postcard.Uvarint(b[off:])
	if err != nil {
		return t, 0, fmt.Errorf("doc ticket node count: %w", err)
	}
	off += n
	if cnt == 0 {
		return t, 0, fmt.Errorf("doc ticket: no nodes")
	}
	if cnt > maxTicketNodes {
		return t, 0, fmt.Errorf("doc ticket: %d nodes, max %d", cnt, maxTicketNodes)
	}
	for i := uint64(0); i < cnt; i++ {
		a, n, err := ticket.ParseEndpointAddr(b[off:])
		if err != nil {
			return t, 0, fmt.Errorf("doc ticket node %d: %w", i, err)
		}
		t.Nodes = append(t.Nodes, a)
		off += n
	}
	return t, off, nil
}
