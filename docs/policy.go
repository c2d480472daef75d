package docs

import (
	"bytes"
	"fmt"

	"github.com/iroh-go/iroh/internal/postcard"
)

// DownloadPolicy selects the entries whose content is downloaded (spec
// §7.4): everything except the filters' matches, or nothing except them.
type DownloadPolicy struct {
	NothingExcept bool
	Filters       []KeyFilter
}

// KeyFilter matches an entry key exactly or by prefix.
type KeyFilter struct {
	Prefix bool
	Key    []byte
}

// DownloadEverything is the default policy.
func DownloadEverything() DownloadPolicy { return DownloadPolicy{} }

// Selects reports whether the policy downloads the content of key k.
func (p DownloadPolicy) Selects(k []byte) bool {
	matched := false
	for _, f := range p.Filters {
		if (f.Prefix && bytes.HasPrefix(k, f.Key)) || (!f.Prefix && bytes.Equal(k, f.Key)) {
			matched = true
			break
		}
	}
	return matched == p.NothingExcept
}

// maxPolicyFilters bounds the filters of a decoded policy.
const maxPolicyFilters = 4096

// AppendBinary appends the postcard encoding of iroh-docs' DownloadPolicy
// (spec §7.4): [0] NothingExcept or [1] EverythingExcept, then the filters,
// each [0] Prefix(bytes) or [1] Exact(bytes).
func (p DownloadPolicy) AppendBinary(b []byte) []byte {
	if p.NothingExcept {
		b = append(b, 0)
	} else {
		b = append(b, 1)
	}
	b = postcard.AppendUvarint(b, uint64(len(p.Filters)))
	for _, f := range p.Filters {
		if f.Prefix {
			b = append(b, 0)
		} else {
			b = append(b, 1)
		}
		b = postcard.AppendBytes(b, f.Key)
	}
	return b
}

// ParseDownloadPolicy decodes a policy; the whole input must be consumed.
func ParseDownloadPolicy(b []byte) (DownloadPolicy, error) {
	var p DownloadPolicy
	if len(b) == 0 || b[0] > 1 {
		return p, fmt.Errorf("download policy: bad variant")
	}
	p.NothingExcept = b[0] == 0
	n, off, err := postcard.Uvarint(b[1:])
	if err != nil {
		return p, fmt.Errorf("download policy filter count: %w", err)
	}
	off++
	if n > maxPolicyFilters || n > uint64(len(b)-off)/2 {
		return p, fmt.Errorf("download policy: %d filters in %d bytes", n, len(b)-off)
	}
	for i := uint64(0); i < n; i++ {
		if off >= len(b) || b[off] > 1 {
			return p, fmt.Errorf("download policy filter %d: bad kind", i)
		}
		prefix := b[off] == 0
		k, m, err := postcard.Bytes(b[off+1:], MaxKeySize)
		if err != nil {
			return p, fmt.Errorf("download policy filter %d: %w", i, err)
		}
		p.Filters = append(p.Filters, KeyFilter{Prefix: prefix, Key: bytes.Clone(k)})
		off += 1 + m
	}
	if off != len(b) {
		return p, fmt.Errorf("download policy: %d bytes left over", len(b)-off)
	}
	return p, nil
}
