// Package ticket implements iroh's ticket text format, a kind prefix
// followed by lowercase RFC 4648 base32 (no padding) of postcard bytes, and
// the EndpointTicket of Rust iroh-tickets 1.0 (crate iroh-tickets),
// byte-identical both ways. Other packages (blobs, docs) build their own
// tickets on Encode, Decode, AppendEndpointAddr and ParseEndpointAddr.
package ticket

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/postcard"
	"github.com/iroh-go/iroh/key"
)

// MaxLen bounds the length of a ticket string accepted by Decode.
const MaxLen = 64 << 10

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Error describes a ticket that failed to parse.
type Error struct {
	Kind string // expected kind prefix, e.g. "endpoint"
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s ticket: %s", e.Kind, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Encode returns kind followed by lowercase base32 of body.
func Encode(kind string, body []byte) string {
	return kind + strings.ToLower(b32.EncodeToString(body))
}

// Decode checks the lowercase kind prefix of s and returns the decoded
// body. The body is case-insensitive, as in Rust.
func Decode(kind, s string) ([]byte, error) {
	if len(s) > MaxLen {
		return nil, &Error{Kind: kind, Msg: fmt.Sprintf("length %d exceeds %d", len(s), MaxLen)}
	}
	rest, ok := strings.CutPrefix(s, kind)
	if !ok {
		p := s
		if len(p) > len(kind) {
			p = p[:len(kind)]
		}
		return nil, &Error{Kind: kind, Msg: fmt.Sprintf("missing prefix %q (starts with %q)", kind, p)}
	}
	b, err := b32.DecodeString(strings.ToUpper(rest))
	if err != nil {
		var ce base32.CorruptInputError
		if errors.As(err, &ce) {
			return nil, &Error{Kind: kind, Msg: fmt.Sprintf("invalid base32 at offset %d", int(ce)+len(kind))}
		}
		return nil, &Error{Kind: kind, Msg: "invalid base32", Err: err}
	}
	return b, nil
}

// Kind returns the kind prefix of a ticket string: the leading lowercase
// letters ("endpoint", "blob", "doc").
func Kind(s string) string {
	for _, k := range []string{"endpoint", "blob", "doc", "node", "gossip"} {
		if strings.HasPrefix(s, k) {
			return k
		}
	}
	return ""
}

// Transport address variants of TransportAddr.
const (
	addrRelay  = 0
	addrIP     = 1
	addrCustom = 2
)

// maxAddrs bounds the address count accepted when decoding, so a hostile
// ticket cannot make us allocate much.
const maxAddrs = 1024

// AppendEndpointAddr appends the postcard encoding of an EndpointAddr: the
// 32-byte id, the address count, then each TransportAddr in canonical order.
func AppendEndpointAddr(b []byte, a endpointaddr.Addr) []byte {
	a = a.Canonical()
	b = append(b, a.ID[:]...)
	b = postcard.AppendUvarint(b, uint64(len(a.RelayURLs)+len(a.Direct)+len(a.Custom)))
	for _, r := range a.RelayURLs {
		b = append(b, addrRelay)
		b = postcard.AppendString(b, string(r))
	}
	for _, d := range a.Direct {
		b = append(b, addrIP)
		b = postcard.AppendSocketAddr(b, d)
	}
	for _, c := range a.Custom {
		b = append(b, addrCustom)
		b = postcard.AppendUvarint(b, c.ID)
		if len(c.Data) <= 30 {
			var pad [30]byte
			copy(pad[:], c.Data)
			b = append(b, 0, byte(len(c.Data)))
			b = append(b, pad[:]...)
		} else {
			b = append(b, 1)
			b = postcard.AppendBytes(b, c.Data)
		}
	}
	return b
}

// ParseEndpointAddr decodes an EndpointAddr written by AppendEndpointAddr
// and returns it with the number of bytes consumed.
func ParseEndpointAddr(b []byte) (endpointaddr.Addr, int, error) {
	var a endpointaddr.Addr
	if len(b) < key.Size {
		return a, 0, fmt.Errorf("endpoint addr: %d bytes, need at least %d for the id", len(b), key.Size)
	}
	id, err := key.PublicKeyFromBytes(b[:key.Size])
	if err != nil {
		return a, 0, fmt.Errorf("endpoint addr: id: %w", err)
	}
	a.ID = id
	off := key.Size
	count, n, err := postcard.Uvarint(b[off:])
	if err != nil {
		return a, 0, fmt.Errorf("endpoint addr: address count at offset %d: %w", off, err)
	}
	off += n
	if count > maxAddrs {
		return a, 0, fmt.Errorf("endpoint addr: %d addresses exceeds limit %d", count, maxAddrs)
	}
	for i := uint64(0); i < count; i++ {
		if off >= len(b) {
			return a, 0, fmt.Errorf("endpoint addr: address %d of %d: %w", i, count, postcard.ErrTruncated)
		}
		kind := b[off]
		off++
		switch kind {
		case addrRelay:
			s, n, err := postcard.Bytes(b[off:], 4096)
			if err != nil {
				return a, 0, fmt.Errorf("endpoint addr: relay url at offset %d: %w", off, err)
			}
			u, err := endpointaddr.ParseRelayURL(string(s))
			if err != nil {
				return a, 0, fmt.Errorf("endpoint addr: %w", err)
			}
			a.RelayURLs = append(a.RelayURLs, u)
			off += n
		case addrIP:
			ap, n, err := postcard.SocketAddr(b[off:])
			if err != nil {
				return a, 0, fmt.Errorf("endpoint addr: socket address at offset %d: %w", off, err)
			}
			a.Direct = append(a.Direct, ap)
			off += n
		case addrCustom:
			id, n, err := postcard.Uvarint(b[off:])
			if err != nil {
				return a, 0, fmt.Errorf("endpoint addr: custom id at offset %d: %w", off, err)
			}
			off += n
			if off >= len(b) {
				return a, 0, fmt.Errorf("endpoint addr: custom data: %w", postcard.ErrTruncated)
			}
			var data []byte
			switch b[off] {
			case 0:
				if len(b)-off < 32 {
					return a, 0, fmt.Errorf("endpoint addr: inline custom data: %w", postcard.ErrTruncated)
				}
				l := int(b[off+1])
				if l > 30 {
					return a, 0, fmt.Errorf("endpoint addr: inline custom data length %d exceeds 30", l)
				}
				data = append([]byte(nil), b[off+2:off+2+l]...)
				off += 32
			case 1:
				d, n, err := postcard.Bytes(b[off+1:], 1<<16)
				if err != nil {
					return a, 0, fmt.Errorf("endpoint addr: custom data at offset %d: %w", off+1, err)
				}
				data = append([]byte(nil), d...)
				off += 1 + n
			default:
				return a, 0, fmt.Errorf("endpoint addr: custom data kind %d at offset %d", b[off], off)
			}
			a.Custom = append(a.Custom, endpointaddr.CustomAddr{ID: id, Data: data})
		default:
			return a, 0, fmt.Errorf("endpoint addr: unknown transport address kind %d at offset %d", kind, off-1)
		}
	}
	return a, off, nil
}

// EndpointKind is the prefix of endpoint tickets.
const EndpointKind = "endpoint"

// EncodeEndpoint returns the EndpointTicket string of a, as Rust prints it.
func EncodeEndpoint(a endpointaddr.Addr) string {
	b := []byte{0} // TicketWireFormat variant 0
	return Encode(EndpointKind, AppendEndpointAddr(b, a))
}

// ParseEndpoint parses an EndpointTicket string.
func ParseEndpoint(s string) (endpointaddr.Addr, error) {
	b, err := Decode(EndpointKind, s)
	if err != nil {
		return endpointaddr.Addr{}, err
	}
	if len(b) == 0 {
		return endpointaddr.Addr{}, &Error{Kind: EndpointKind, Msg: "empty body"}
	}
	if b[0] != 0 {
		return endpointaddr.Addr{}, &Error{Kind: EndpointKind, Msg: fmt.Sprintf("unsupported version %d (want 0)", b[0])}
	}
	a, n, err := ParseEndpointAddr(b[1:])
	if err != nil {
		return endpointaddr.Addr{}, &Error{Kind: EndpointKind, Msg: "decode", Err: err}
	}
	if 1+n != len(b) {
		return endpointaddr.Addr{}, &Error{Kind: EndpointKind, Msg: fmt.Sprintf("%d trailing bytes", len(b)-1-n)}
	}
	return a, nil
}
