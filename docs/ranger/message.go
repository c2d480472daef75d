package ranger

import (
	"fmt"

	"github.com/iroh-go/iroh/internal/postcard"
)

// Codec encodes and decodes the entries of a Message.
type Codec[E any] interface {
	// AppendEntry appends the postcard encoding of e.
	AppendEntry(b []byte, e E) []byte
	// ParseEntry decodes one entry from the start of b and returns it with
	// the number of bytes consumed.
	ParseEntry(b []byte) (E, int, error)
	// MinEntrySize is the fewest bytes an encoded entry takes; the parser
	// uses it to refuse counts the input cannot hold before allocating.
	MinEntrySize() int
}

// MaxIDSize bounds a range bound on the wire; longer ids are refused.
const MaxIDSize = 64 + 4096

// AppendRange appends the postcard encoding of r (two byte strings).
func AppendRange(b []byte, r Range) []byte {
	b = postcard.AppendBytes(b, r.X)
	return postcard.AppendBytes(b, r.Y)
}

// ParseRange decodes a Range. The bounds alias b.
func ParseRange(b []byte) (Range, int, error) {
	x, n, err := postcard.Bytes(b, MaxIDSize)
	if err != nil {
		return Range{}, 0, fmt.Errorf("range x: %w", err)
	}
	y, m, err := postcard.Bytes(b[n:], MaxIDSize)
	if err != nil {
		return Range{}, 0, fmt.Errorf("range y: %w", err)
	}
	return Range{X: x, Y: y}, n + m, nil
}

// AppendMessage appends the postcard encoding of a ProtocolMessage.
func AppendMessage[E any](b []byte, c Codec[E], m Message[E]) []byte {
	b = postcard.AppendUvarint(b, uint64(len(m.Parts)))
	for _, p := range m.Parts {
		b = append(b, byte(p.Kind))
		b = AppendRange(b, p.Range)
		switch p.Kind {
		case RangeFingerprint:
			b = append(b, p.Fingerprint[:]...)
		case RangeItem:
			b = postcard.AppendUvarint(b, uint64(len(p.Values)))
			for _, v := range p.Values {
				b = c.AppendEntry(b, v.Entry)
				b = append(b, byte(v.Status))
			}
			if p.HaveLocal {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		}
	}
	return b
}

// ParseMessage decodes a ProtocolMessage from the start of b and returns it
// with the number of bytes consumed. Counts are checked against the bytes
// left before anything is allocated.
func ParseMessage[E any](b []byte, c Codec[E]) (Message[E], int, error) {
	var m Message[E]
	np, off, err := postcard.Uvarint(b)
	if err != nil {
		return m, 0, fmt.Errorf("message part count: %w", err)
	}
	// A part takes at least 1 + 2 + 1 bytes (kind, two empty ids, bool).
	if np > uint64(len(b)-off)/4 {
		return m, 0, fmt.Errorf("message: %d parts cannot fit in %d bytes", np, len(b)-off)
	}
	m.Parts = make([]Part[E], 0, np)
	for i := uint64(0); i < np; i++ {
		var p Part[E]
		if off >= len(b) {
			return m, 0, fmt.Errorf("message part %d: %w", i, postcard.ErrTruncated)
		}
		p.Kind = PartKind(b[off])
		off++
		r, n, err := ParseRange(b[off:])
		if err != nil {
			return m, 0, fmt.Errorf("message part %d: %w", i, err)
		}
		p.Range = r
		off += n
		switch p.Kind {
		case RangeFingerprint:
			if len(b)-off < FingerprintSize {
				return m, 0, fmt.Errorf("message part %d fingerprint: %w", i, postcard.ErrTruncated)
			}
			copy(p.Fingerprint[:], b[off:])
			off += FingerprintSize
		case RangeItem:
			nv, n, err := postcard.Uvarint(b[off:])
			if err != nil {
				return m, 0, fmt.Errorf("message part %d value count: %w", i, err)
			}
			off += n
			if nv > uint64(len(b)-off)/uint64(c.MinEntrySize()+1) {
				return m, 0, fmt.Errorf("message part %d: %d values cannot fit in %d bytes", i, nv, len(b)-off)
			}
			p.Values = make([]Value[E], 0, nv)
			for j := uint64(0); j < nv; j++ {
				e, n, err := c.ParseEntry(b[off:])
				if err != nil {
					return m, 0, fmt.Errorf("message part %d value %d: %w", i, j, err)
				}
				off += n
				if off >= len(b) {
					return m, 0, fmt.Errorf("message part %d value %d status: %w", i, j, postcard.ErrTruncated)
				}
				st := ContentStatus(b[off])
				if st > Missing {
					return m, 0, fmt.Errorf("message part %d value %d: content status %d unknown", i, j, st)
				}
				off++
				p.Values = append(p.Values, Value[E]{Entry: e, Status: st})
			}
			if off >= len(b) {
				return m, 0, fmt.Errorf("message part %d have_local: %w", i, postcard.ErrTruncated)
			}
			switch b[off] {
			case 0:
			case 1:
				p.HaveLocal = true
			default:
				return m, 0, fmt.Errorf("message part %d: have_local byte %d is not a bool", i, b[off])
			}
			off++
		default:
			return m, 0, fmt.Errorf("message part %d: kind %d unknown", i, p.Kind)
		}
		m.Parts = append(m.Parts, p)
	}
	return m, off, nil
}
