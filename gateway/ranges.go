package gateway

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxRanges bounds the ranges of one Range header.
const MaxRanges = 32

// ByteRange is one satisfiable range of a Range header: Length bytes from
// Start.
type ByteRange struct {
	Start, Length uint64
}

// ErrUnsatisfiable is returned by ParseRange when no range of a valid header
// overlaps the content (416).
var ErrUnsatisfiable = errors.New("range not satisfiable")

// ParseRange parses a Range header value (RFC 9110 §14.1.2: "bytes=" then
// comma-separated first-last, first- or -suffix) against content of size
// bytes. Ranges that start at or beyond size are dropped; if none is left
// the error is ErrUnsatisfiable. Syntax errors say what was wrong and where.
func ParseRange(s string, size uint64) ([]ByteRange, error) {
	spec, ok := strings.CutPrefix(s, "bytes=")
	if !ok {
		return nil, fmt.Errorf("range %q: unit must be bytes", trunc(s))
	}
	var out []ByteRange
	parts := strings.Split(spec, ",")
	if len(parts) > MaxRanges {
		return nil, fmt.Errorf("range: %d ranges exceed max %d", len(parts), MaxRanges)
	}
	for i, p := range parts {
		p = strings.TrimSpace(p)
		first, last, ok := strings.Cut(p, "-")
		if !ok {
			return nil, fmt.Errorf("range %d %q: missing '-'", i, trunc(p))
		}
		if first == "" {
			n, err := parseDigits(last)
			if err != nil {
				return nil, fmt.Errorf("range %d %q: suffix length: %v", i, trunc(p), err)
			}
			if n == 0 || size == 0 {
				continue
			}
			n = min(n, size)
			out = append(out, ByteRange{Start: size - n, Length: n})
			continue
		}
		a, err := parseDigits(first)
		if err != nil {
			return nil, fmt.Errorf("range %d %q: first byte: %v", i, trunc(p), err)
		}
		end := size - 1
		if last != "" {
			b, err := parseDigits(last)
			if err != nil {
				return nil, fmt.Errorf("range %d %q: last byte: %v", i, trunc(p), err)
			}
			if b < a {
				return nil, fmt.Errorf("range %d %q: last byte before first", i, trunc(p))
			}
			end = min(b, size-1)
		}
		if a >= size {
			continue
		}
		out = append(out, ByteRange{Start: a, Length: end - a + 1})
	}
	if len(out) == 0 {
		return nil, ErrUnsatisfiable
	}
	return out, nil
}

func parseDigits(s string) (uint64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("byte %q at offset %d is not a digit", s[i], i)
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errors.New("too large")
	}
	return n, nil
}

// trunc shortens s for an error message.
func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
