package blobs

import (
	"fmt"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/postcard"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/ticket"
)

// TicketKind is the prefix of a BlobTicket string.
const TicketKind = "blob"

// maxTicketAddrs bounds the direct address count accepted in a ticket.
const maxTicketAddrs = 1024

// BlobTicket is everything needed to fetch content: the provider's address,
// the hash and its format (spec §10). Its bytes use the legacy NodeAddr
// layout shared by iroh-blobs 0.35 and 0.103: only the first relay URL and
// the IP addresses of Addr are kept.
type BlobTicket struct {
	Addr   endpointaddr.Addr
	Hash   Hash
	Format BlobFormat
}

// HashAndFormat returns the content the ticket names.
func (t BlobTicket) HashAndFormat() HashAndFormat {
	return HashAndFormat{Hash: t.Hash, Format: t.Format}
}

// AppendBinary appends the ticket bytes.
func (t BlobTicket) AppendBinary(b []byte) []byte {
	a := t.Addr.Canonical()
	b = append(b, 0) // TicketWireFormat::Variant0
	b = append(b, a.ID[:]...)
	if r := t.Addr.RelayURL(); r != "" {
		b = append(b, 1)
		b = postcard.AppendString(b, string(r))
	} else {
		b = append(b, 0)
	}
	b = postcard.AppendUvarint(b, uint64(len(a.Direct)))
	for _, d := range a.Direct {
		b = postcard.AppendSocketAddr(b, d)
	}
	b = postcard.AppendUvarint(b, uint64(t.Format))
	return append(b, t.Hash[:]...)
}

// String returns "blob" + lowercase base32 of the ticket bytes.
func (t BlobTicket) String() string { return ticket.Encode(TicketKind, t.AppendBinary(nil)) }

// MarshalText implements encoding.TextMarshaler.
func (t BlobTicket) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *BlobTicket) UnmarshalText(b []byte) error {
	v, err := ParseBlobTicket(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// ParseBlobTicket parses the String form.
func ParseBlobTicket(s string) (BlobTicket, error) {
	b, err := ticket.Decode(TicketKind, s)
	if err != nil {
		return BlobTicket{}, err
	}
	t, n, err := ParseBlobTicketBinary(b)
	if err != nil {
		return t, err
	}
	if n != len(b) {
		return t, fmt.Errorf("blob ticket: %d trailing bytes at offset %d", len(b)-n, n)
	}
	return t, nil
}

// ParseBlobTicketBinary decodes ticket bytes and returns the number of bytes
// consumed.
func ParseBlobTicketBinary(b []byte) (BlobTicket, int, error) {
	var t BlobTicket
	if len(b) < 1+key.Size {
		return t, 0, fmt.Errorf("blob ticket: %d bytes, too short", len(b))
	}
	if b[0] != 0 {
		return t, 0, fmt.Errorf("blob ticket: unknown wire format variant %d at offset 0", b[0])
	}
	id, err := key.PublicKeyFromBytes(b[1 : 1+key.Size])
	if err != nil {
		return t, 0, fmt.Errorf("blob ticket: node id: %w", err)
	}
	t.Addr.ID = id
	off := 1 + key.Size
	if off >= len(b) {
		return t, 0, fmt.Errorf("blob ticket: relay url option at offset %d: %w", off, postcard.ErrTruncated)
	}
	switch b[off] {
	case 0:
		off++
	case 1:
		off++
		s, n, err := postcard.Bytes(b[off:], 4096)
		if err != nil {
			return t, 0, fmt.Errorf("blob ticket: relay url at offset %d: %w", off, err)
		}
		u, err := endpointaddr.ParseRelayURL(string(s))
		if err != nil {
			return t, 0, fmt.Errorf("blob ticket: %w", err)
		}
		t.Addr.RelayURLs = []endpointaddr.RelayURL{u}
		off += n
	default:
		return t, 0, fmt.Errorf("blob ticket: invalid option tag %d at offset %d", b[off], off)
	}
	count, n, err := postcard.Uvarint(b[off:])
	if err != nil {
		return t, 0, fmt.Errorf("blob ticket: address count at offset %d: %w", off, err)
	}
	off += n
	if count > maxTicketAddrs {
		return t, 0, fmt.Errorf("blob ticket: %d addresses exceeds limit %d", count, maxTicketAddrs)
	}
	for i := uint64(0); i < count; i++ {
		ap, n, err := postcard.SocketAddr(b[off:])
		if err != nil {
			return t, 0, fmt.Errorf("blob ticket: address %d at offset %d: %w", i, off, err)
		}
		t.Addr.Direct = append(t.Addr.Direct, ap)
		off += n
	}
	f, n, err := postcard.Uvarint(b[off:])
	if err != nil {
		return t, 0, fmt.Errorf("blob ticket: format at offset %d: %w", off, err)
	}
	if f > uint64(HashSeqFormat) {
		return t, 0, fmt.Errorf("blob ticket: unknown format %d at offset %d", f, off)
	}
	t.Format = BlobFormat(f)
	off += n
	if len(b)-off < HashSize {
		return t, 0, fmt.Errorf("blob ticket: hash at offset %d: %w", off, postcard.ErrTruncated)
	}
	copy(t.Hash[:], b[off:])
	return t, off + HashSize, nil
}
