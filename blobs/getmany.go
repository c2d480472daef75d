package blobs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/endpointaddr"
)

// MaxDownloadManyRequest is the most hashes DownloadMany puts in one
// GetMany request (32 KiB of hashes, far below MaxRequestSize); more are
// fetched with further requests on the same connection, one after another.
const MaxDownloadManyRequest = 1024

// ErrEmptyResponse reports a response stream that ended cleanly before its
// first blob: what a provider that does not know GetMany (iroh-blobs 0.35)
// answers.
var ErrEmptyResponse = errors.New("provider finished the response before the first blob")

// DownloadMany fetches raw blobs from one provider with GetMany requests
// (iroh-blobs 0.9x and later, spec §5), asking only for what the store
// lacks: many small blobs in one stream instead of a stream each. Every
// blob is verified as it arrives and kept even when a later one fails. It
// returns how many of the distinct hashes are complete in the store
// afterwards and the first error: a *ProviderError when the provider
// failed or lacked a blob (those after it were not fetched), wrapping
// ErrEmptyResponse when it sent nothing at all. Unlike Download it uses
// one provider and returns no TempTag: the caller protects the blobs from
// garbage collection beforehand and falls back to Download for what is
// still missing.
func (d *Downloader) DownloadMany(ctx context.Context, provider endpointaddr.Addr, hashes []Hash) (int, error) {
	hs := slices.Clone(hashes)
	slices.SortFunc(hs, func(a, b Hash) int { return slices.Compare(a[:], b[:]) })
	hs = slices.Compact(hs)
	complete := 0
	var want []Hash
	var ranges []bao.ChunkRanges
	for _, h := range hs {
		bf, err := d.store.Bitfield(ctx, h)
		if err != nil {
			return complete, err
		}
		if m := bf.MissingRanges(bao.All()); !m.IsEmpty() {
			want = append(want, h)
			ranges = append(ranges, m)
		} else {
			complete++
		}
	}
	var err error
	received := 0
	for i := 0; i < len(want) && err == nil; i += MaxDownloadManyRequest {
		j := min(len(want), i+MaxDownloadManyRequest)
		var n int
		n, err = d.getMany(ctx, provider, want[i:j], ranges[i:j])
		received += n
	}
	complete += received
	if received > 0 {
		if serr := d.store.Sync(ctx); serr != nil && err == nil {
			err = fmt.Errorf("%w: %w", errLocal, serr)
		}
	}
	if d.metrics != nil {
		r := "ok"
		if err != nil {
			r = "failed"
		}
		d.metrics.Downloads.WithLabelValues(r).Inc()
	}
	if err != nil {
		return complete, fmt.Errorf("download many (%d blobs): %w", len(hs), err)
	}
	return complete, nil
}

// getMany runs one GetMany request for hs (sorted, distinct, each with its
// missing ranges) and returns how many blobs were received whole.
func (d *Downloader) getMany(ctx context.Context, provider endpointaddr.Addr, hs []Hash, ranges []bao.ChunkRanges) (int, error) {
	perr := func(reason string, err error) error {
		return &ProviderError{Provider: provider.ID, Reason: reason, Err: err}
	}
	req := &GetManyRequest{Hashes: hs, Ranges: bao.SeqFromRanges(ranges)}
	conn, err := d.conn(ctx, provider)
	if err != nil {
		return 0, perr("connect", err)
	}
	st, err := conn.OpenStream(ctx)
	if err != nil {
		d.mu.Lock()
		pc := d.conns[provider.ID]
		d.mu.Unlock()
		if pc != nil && pc.conn == conn {
			d.drop(provider.ID, pc)
		}
		return 0, perr("connect", err)
	}
	stop := context.AfterFunc(ctx, func() {
		st.CancelRead(0)
		st.CancelWrite(0)
	})
	defer stop()
	defer st.CancelRead(0)
	if _, err := st.Write(req.AppendBinary(nil)); err != nil {
		return 0, perr("io", err)
	}
	if err := st.Close(); err != nil {
		return 0, perr("io", err)
	}
	dl := &download{d: d, req: DownloadRequest{Content: HashAndFormat{Hash: hs[0]}, Providers: []endpointaddr.Addr{provider}}, root: hs[0], bad: map[int]error{}, start: time.Now()}
	r := &countReader{r: st}
	br := bufio.NewReaderSize(r, 32<<10) // many small blobs, few stream reads
	dec := bao.NewDecoder(br, [32]byte{}, bao.ChunkRanges{})
	for i, h := range hs {
		err := dl.receiveBlob(ctx, dec, br, h, ranges[i])
		if err == nil {
			continue
		}
		var ve *bao.VerifyError
		switch {
		case errors.As(err, &ve):
			return i, perr("verify", err)
		case ctx.Err() != nil:
			return i, ctx.Err()
		case errors.Is(err, errLocal):
			return i, err
		case r.n == 0:
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = ErrEmptyResponse // a clean end, not a reset
			}
			return i, perr("not_found", err)
		default:
			return i, perr("io", err)
		}
	}
	return len(hs), nil
}
