package gossip

import (
	"fmt"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/internal/postcard"
	"github.com/iroh-go/iroh/ticket"
)

// TicketKind is the prefix of a Ticket string.
const TicketKind = "gossip"

// maxTicketPeers bounds the peers accepted in a ticket.
const maxTicketPeers = 256

// Ticket invites to a topic: its id and peers to join through. The body
// is postcard {topic: [32], peers: Vec<EndpointAddr>}, the shape of the
// ticket of iroh-gossip's chat example, behind the kind prefix "gossip".
type Ticket struct {
	Topic TopicID
	Peers []iroh.EndpointAddr
}

// AppendBinary appends the postcard body of t.
func (t Ticket) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, t.Topic[:]...)
	b = postcard.AppendUvarint(b, uint64(len(t.Peers)))
	for _, p := range t.Peers {
		b = ticket.AppendEndpointAddr(b, p)
	}
	return b, nil
}

// String returns the ticket text: "gossip" and lowercase base32.
func (t Ticket) String() string {
	b, _ := t.AppendBinary(nil)
	return ticket.Encode(TicketKind, b)
}

// ParseTicket decodes a ticket string.
func ParseTicket(s string) (Ticket, error) {
	b, err := ticket.Decode(TicketKind, s)
	if err != nil {
		return Ticket{}, err
	}
	return ParseTicketBinary(b)
}

// ParseTicketBinary decodes a ticket body; trailing bytes are an error.
func ParseTicketBinary(b []byte) (Ticket, error) {
	var t Ticket
	if len(b) < 32 {
		return t, fmt.Errorf("gossip ticket: %d bytes, need 32 for the topic", len(b))
	}
	copy(t.Topic[:], b)
	off := 32
	n, m, err := postcard.Uvarint(b[off:])
	if err != nil {
		return t, fmt.Errorf("gossip ticket: peer count: %w", err)
	}
	off += m
	if n > maxTicketPeers || n > uint64(len(b)-off)/33 {
		return t, fmt.Errorf("gossip ticket: %d peers in %d bytes (at most %d)", n, len(b)-off, maxTicketPeers)
	}
	for i := range n {
		a, m, err := ticket.ParseEndpointAddr(b[off:])
		if err != nil {
			return t, fmt.Errorf("gossip ticket: peer %d: %w", i, err)
		}
		off += m
		t.Peers = append(t.Peers, a)
	}
	if off != len(b) {
		return t, fmt.Errorf("gossip ticket: %d trailing bytes", len(b)-off)
	}
	return t, nil
}
