package pkarr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/miekg/dns"
)

const (
	// IrohLabel is the first label of the owner name of iroh's TXT records:
	// `_iroh.<z32>` in a packet, `_iroh.<z32>.<origin>` in DNS.
	IrohLabel = "_iroh"

	// DefaultTTL is the TTL iroh gives its records, in seconds.
	DefaultTTL = 30

	// MaxUserDataSize is the largest user data iroh publishes, in bytes:
	// "user-data=" plus 245 bytes fills one 255-byte character-string.
	MaxUserDataSize = 245

	// maxCharString is the DNS character-string limit.
	maxCharString = 255
)

// TXT attribute keys (spec §7.1).
const (
	AttrRelay    = "relay"
	AttrAddr     = "addr"
	AttrUserData = "user-data"
)

// Info is what an endpoint publishes about itself in `_iroh` TXT records.
// The zero value publishes nothing.
type Info struct {
	// RelayURLs are the relay URLs, as strings (absolute URLs with a host).
	RelayURLs []string
	// Addrs are direct socket addresses.
	Addrs []netip.AddrPort
	// UserData is free text up to MaxUserDataSize bytes; it should not
	// contain '=' (readers drop the text after a second '=').
	UserData string
}

// TXTStrings returns the TXT character-strings for info in iroh's order:
// all relays, then all addresses, then user data. It fails on a string
// over 255 bytes or user data over MaxUserDataSize.
func (info Info) TXTStrings() ([]string, error) {
	var out []string
	for _, u := range info.RelayURLs {
		out = append(out, AttrRelay+"="+u)
	}
	for _, a := range info.Addrs {
		out = append(out, AttrAddr+"="+netip.AddrPortFrom(a.Addr().WithZone(""), a.Port()).String())
	}
	if info.UserData != "" {
		if len(info.UserData) > MaxUserDataSize {
			return nil, fmt.Errorf("pkarr: user data is %d bytes, max %d", len(info.UserData), MaxUserDataSize)
		}
		out = append(out, AttrUserData+"="+info.UserData)
	}
	for _, s := range out {
		if len(s) > maxCharString {
			return nil, fmt.Errorf("pkarr: TXT string %.40q... is %d bytes, max %d", s, len(s), maxCharString)
		}
	}
	return out, nil
}

// AppendDNS appends the DNS message carrying info for endpoint id to b,
// encoded as Rust iroh does: header ID 0, flags 0x8000, no questions, one
// TXT answer per string with owner `_iroh.<z32>` (relative: no origin),
// later owners compressed to c00c, ttl in seconds (0 means DefaultTTL).
// It fails if a string is too long or the message exceeds MaxDNSSize.
func (info Info) AppendDNS(b []byte, id key.PublicKey, ttl uint32) ([]byte, error) {
	strs, err := info.TXTStrings()
	if err != nil {
		return b, err
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if len(strs) > 0xffff {
		return b, fmt.Errorf("pkarr: %d records: %w", len(strs), ErrTooLarge)
	}
	start := len(b)
	b = append(b, 0, 0, 0x80, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(strs)))
	b = append(b, 0, 0, 0, 0)
	z := id.Z32()
	for i, s := range strs {
		if i == 0 {
			b = append(b, byte(len(IrohLabel)))
			b = append(b, IrohLabel...)
			b = append(b, byte(len(z)))
			b = append(b, z...)
			b = append(b, 0)
		} else {
			b = append(b, 0xc0, 0x0c)
		}
		b = binary.BigEndian.AppendUint16(b, dns.TypeTXT)
		b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
		b = binary.BigEndian.AppendUint32(b, ttl)
		b = binary.BigEndian.AppendUint16(b, uint16(1+len(s)))
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	if n := len(b) - start; n > MaxDNSSize {
		return b[:start], fmt.Errorf("pkarr: DNS message is %d bytes, max %d: %w", n, MaxDNSSize, ErrTooLarge)
	}
	return b, nil
}

// SignInfo builds the DNS message for info, signed by sk, with timestamp
// ts (0 means Now()) and record TTL ttl seconds (0 means DefaultTTL).
func SignInfo(sk key.SecretKey, info Info, ts uint64, ttl uint32) (SignedPacket, error) {
	msg, err := info.AppendDNS(nil, sk.Public(), ttl)
	if err != nil {
		return SignedPacket{}, err
	}
	if ts == 0 {
		ts = Now()
	}
	return Sign(sk, ts, msg)
}

// ErrNoRecords reports a DNS message without `_iroh` TXT records for the
// key asked about.
var ErrNoRecords = errors.New("pkarr: no _iroh TXT records")

// Info parses the `_iroh` TXT records of the packet, returning them and
// their smallest TTL.
func (p SignedPacket) Info() (Info, time.Duration, error) {
	return ParseInfo(p.Key, p.DNS)
}

// ParseInfo reads the `_iroh` TXT records for id from the DNS message
// msg and returns them with their smallest TTL. See InfoFromRecords.
func ParseInfo(id key.PublicKey, msg []byte) (Info, time.Duration, error) {
	var m dns.Msg
	if err := m.Unpack(msg); err != nil {
		return Info{}, 0, fmt.Errorf("pkarr: parse DNS message: %w", err)
	}
	return InfoFromRecords(id, m.Answer)
}

// InfoFromRecords collects the TXT records of rrs whose owner name is
// `_iroh.<z32 of id>`, followed by any origin (or `_iroh` alone, relative
// to the key), and parses their strings with ParseTXTStrings. It returns
// ErrNoRecords if there are none.
func InfoFromRecords(id key.PublicKey, rrs []dns.RR) (Info, time.Duration, error) {
	z := id.Z32()
	var strs []string
	var ttl uint32
	found := false
	for _, rr := range rrs {
		txt, ok := rr.(*dns.TXT)
		if !ok || txt.Hdr.Class != dns.ClassINET || !isIrohName(txt.Hdr.Name, z) {
			continue
		}
		if !found || txt.Hdr.Ttl < ttl {
			ttl = txt.Hdr.Ttl
		}
		found = true
		strs = append(strs, txt.Txt...)
	}
	if !found {
		return Info{}, 0, fmt.Errorf("pkarr: endpoint %s: %w", id.ShortString(), ErrNoRecords)
	}
	info, err := ParseTXTStrings(strs)
	if err != nil {
		return Info{}, 0, err
	}
	return info, time.Duration(ttl) * time.Second, nil
}

// isIrohName reports whether name (presentation form) is "_iroh." or
// "_iroh.<z32>." followed by anything.
func isIrohName(name, z string) bool {
	first, rest, ok := strings.Cut(name, ".")
	if !ok || !strings.EqualFold(first, IrohLabel) {
		return false
	}
	if rest == "" {
		return true
	}
	second, _, _ := strings.Cut(rest, ".")
	return strings.EqualFold(second, z)
}

// ParseTXTStrings parses iroh TXT attributes as Rust iroh does: each
// string is split at '='; the key must be relay, addr or user-data (an
// unknown key rejects the whole set) and the value runs up to the next
// '='. A string without '=' also rejects the set. Relay URLs that are not
// absolute URLs and addresses that are not IP socket addresses (custom
// transports) are skipped; the first valid user data wins. The strings are taken in
// miekg/dns's presentation form: its escapes (\" \\ \DDD) are undone first.
func ParseTXTStrings(strs []string) (Info, error) {
	var info Info
	haveUserData := false
	for i, s := range strs {
		s = UnescapeTXT(s)
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return Info{}, fmt.Errorf("pkarr: TXT string %d: %.40q is not key=value", i, s)
		}
		v, _, _ = strings.Cut(v, "=")
		switch k {
		case AttrRelay:
			u, err := url.Parse(v)
			if err != nil || u.Scheme == "" || u.Host == "" {
				continue
			}
			info.RelayURLs = append(info.RelayURLs, v)
		case AttrAddr:
			a, err := netip.ParseAddrPort(v)
			if err != nil {
				continue
			}
			info.Addrs = append(info.Addrs, a)
		case AttrUserData:
			if !haveUserData && len(v) <= MaxUserDataSize {
				info.UserData = v
				haveUserData = true
			}
		default:
			return Info{}, fmt.Errorf("pkarr: TXT string %d: unknown attribute %.40q", i, k)
		}
	}
	return info, nil
}

// UnescapeTXT undoes miekg/dns's presentation escaping of a TXT string
// (\" \\ and \DDD), leaving other bytes alone.
func UnescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

// EscapeTXT puts a raw TXT character-string in miekg/dns's presentation
// form, the inverse of UnescapeTXT.
func EscapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
