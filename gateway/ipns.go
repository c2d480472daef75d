package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
)

// IPNS names resolve from signed records imported into the store
// (ImportIPNSRecord); there is no DHT or DNS lookup. A record is kept as a
// blob, named by the store tag "ipns/<name>" (the name as a CIDv1
// libp2p-key), and checked (signature against the name, validity) when
// imported and again each time it is used.

// ipnsTagPrefix starts the store tags of IPNS records.
const ipnsTagPrefix = "ipns/"

// maxIPNSDepth bounds the chain of /ipns values followed by one request.
const maxIPNSDepth = 8

// ImportIPNSRecord checks the signed IPNS record data against the name
// (a peer id or CIDv1 libp2p-key) and stores it, replacing the record
// previously stored for the name. An expired record or a bad signature is
// refused.
func ImportIPNSRecord(ctx context.Context, s blobs.Store, name string, data []byte) error {
	n, err := ipns.NameFromString(name)
	if err != nil {
		return fmt.Errorf("ipns name %q: %w", trunc(name), err)
	}
	if len(data) > ipns.MaxRecordSize {
		return fmt.Errorf("ipns record: %d bytes exceeds max %d", len(data), ipns.MaxRecordSize)
	}
	rec, err := ipns.UnmarshalRecord(data)
	if err != nil {
		return fmt.Errorf("ipns record: %w", err)
	}
	if err := ipns.ValidateWithName(rec, n); err != nil {
		return fmt.Errorf("ipns record for %s: %w", n, err)
	}
	tt, err := s.AddBytes(ctx, data)
	if err != nil {
		return err
	}
	defer tt.Close()
	return s.SetTag(ctx, ipnsTagPrefix+n.String(), tt.HashAndFormat())
}

// ipnsRecord returns the valid record stored for n.
func ipnsRecord(ctx context.Context, s blobs.Store, idx *cidIndex, n ipns.Name) (*ipns.Record, []byte, error) {
	h, ok := idx.record(ctx, n.String())
	if !ok {
		return nil, nil, boxogw.NewErrorStatusCode(fmt.Errorf("no IPNS record for %s in this gateway", n), http.StatusNotFound)
	}
	data, err := store.ReadBlob(ctx, s, h, uint64(ipns.MaxRecordSize))
	if err != nil {
		return nil, nil, err
	}
	rec, err := ipns.UnmarshalRecord(data)
	if err != nil {
		return nil, nil, err
	}
	if err := ipns.ValidateWithName(rec, n); err != nil {
		return nil, nil, boxogw.NewErrorStatusCode(fmt.Errorf("ipns record for %s: %w", n, err), http.StatusBadGateway)
	}
	return rec, data, nil
}

// GetIPNSRecord implements boxo's IPFSBackend from imported records.
func (b *ipfsBackend) GetIPNSRecord(ctx context.Context, c cid.Cid) ([]byte, error) {
	n, err := ipns.NameFromCid(c)
	if err != nil {
		return nil, boxogw.NewErrorStatusCode(err, http.StatusBadRequest)
	}
	_, data, err := ipnsRecord(ctx, b.s, b.idx, n)
	return data, err
}

// ResolveMutable implements boxo's IPFSBackend: /ipns names through
// imported records; DNSLink names are not supported (501).
func (b *ipfsBackend) ResolveMutable(ctx context.Context, p path.Path) (path.ImmutablePath, time.Duration, time.Time, error) {
	var ttl time.Duration
	var lastMod time.Time
	for depth := 0; p.Mutable(); depth++ {
		if depth >= maxIPNSDepth {
			return path.ImmutablePath{}, 0, time.Time{}, boxogw.NewErrorStatusCode(fmt.Errorf("ipns: more than %d names in a chain", maxIPNSDepth), http.StatusBadGateway)
		}
		segs := p.Segments()
		if len(segs) < 2 {
			return path.ImmutablePath{}, 0, time.Time{}, boxogw.NewErrorStatusCode(errors.New("ipns: empty name"), http.StatusBadRequest)
		}
		n, err := ipns.NameFromString(segs[1])
		if err != nil {
			return path.ImmutablePath{}, 0, time.Time{}, boxogw.NewErrorStatusCode(fmt.Errorf("ipns name %q is not a key: DNSLink is not supported by this gateway", trunc(segs[1])), http.StatusNotImplemented)
		}
		rec, _, err := ipnsRecord(ctx, b.s, b.idx, n)
		if err != nil {
			return path.ImmutablePath{}, 0, time.Time{}, err
		}
		v, err := rec.Value()
		if err != nil {
			return path.ImmutablePath{}, 0, time.Time{}, boxogw.NewErrorStatusCode(err, http.StatusBadGateway)
		}
		if t, err := rec.TTL(); err == nil && (ttl == 0 || t < ttl) {
			ttl = t
		}
		if p, err = path.Join(v, segs[2:]...); err != nil {
			return path.ImmutablePath{}, 0, time.Time{}, boxogw.NewErrorStatusCode(err, http.StatusBadRequest)
		}
	}
	ip, err := path.NewImmutablePath(p)
	return ip, ttl, lastMod, err
}

// GetDNSLinkRecord implements boxo's IPFSBackend: not supported.
func (b *ipfsBackend) GetDNSLinkRecord(context.Context, string) (path.Path, error) {
	return nil, boxogw.NewErrorStatusCode(errors.New("DNSLink is not supported by this gateway"), http.StatusNotImplemented)
}

// isIPNSKey reports whether the first segment of an /ipns path is a key
// name (not a DNSLink domain).
func isIPNSKey(p string) bool {
	seg, _, _ := splitFirst(strings.TrimPrefix(p, "/ipns/"))
	_, err := ipns.NameFromString(seg)
	return err == nil
}
