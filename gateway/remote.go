package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// poolConn is a provider connection shared by the requests of a gateway.
type poolConn struct {
	ready chan struct{} // closed once conn or err is set
	conn  blobs.Conn
	err   error
}

// maxPooledConns bounds the provider connections kept open.
const maxPooledConns = 256

// conn returns a pooled connection to addr, dialing it if needed.
func (g *Gateway) conn(ctx context.Context, addr endpointaddr.Addr) (blobs.Conn, error) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, errors.New("gateway closed")
	}
	pc := g.conns[addr.ID]
	if pc == nil {
		if len(g.conns) >= maxPooledConns {
			for id, old := range g.conns { // evict one at random
				delete(g.conns, id)
				go func() {
					<-old.ready
					if old.conn != nil {
						old.conn.Close(0, "evicted")
					}
				}()
				break
			}
		}
		pc = &poolConn{ready: make(chan struct{})}
		g.conns[addr.ID] = pc
		g.mu.Unlock()
		pc.conn, pc.err = g.dial(ctx, addr)
		close(pc.ready)
		if pc.err != nil {
			g.drop(addr.ID, pc)
		}
		return pc.conn, pc.err
	}
	g.mu.Unlock()
	select {
	case <-pc.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return pc.conn, pc.err
}

// drop forgets a pooled connection that failed and closes it.
func (g *Gateway) drop(id key.PublicKey, pc *poolConn) {
	g.mu.Lock()
	if g.conns[id] == pc {
		delete(g.conns, id)
	}
	g.mu.Unlock()
	if pc.conn != nil {
		pc.conn.Close(0, "")
	}
}

// fetch asks addr for ranges of blob h and decodes the response: every
// verified leaf and parent is written to the store (so the data stays), and
// each leaf is passed to leaf (nil: none) after it is verified. onSize, if
// set, is called with the size header before any leaf. A failure to
// connect or to open a stream drops the pooled connection and is retried
// once on a fresh one.
func (g *Gateway) fetch(ctx context.Context, addr endpointaddr.Addr, h blobs.Hash, ranges bao.ChunkRanges,
	onSize func(uint64) error, leaf func(off uint64, data []byte) error) error {
	var st io.ReadWriteCloser
	var abort func()
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, g.timeout)
		c, err := g.conn(cctx, addr)
		if err == nil {
			s, serr := c.OpenStream(cctx)
			if serr == nil {
				cancel()
				st, abort = s, func() { s.CancelRead(0) }
				break
			}
			err = serr
		}
		cancel()
		g.mu.Lock()
		pc := g.conns[addr.ID]
		g.mu.Unlock()
		if pc != nil {
			g.drop(addr.ID, pc)
		}
		if attempt > 0 || ctx.Err() != nil {
			return fmt.Errorf("provider %s: connect: %w", addr.ID.ShortString(), err)
		}
	}
	req := &blobs.GetRequest{Hash: h, Ranges: bao.SeqBlob(ranges)}
	if _, err := st.Write(req.AppendBinary(nil)); err != nil {
		return fmt.Errorf("provider %s: send request: %w", addr.ID.ShortString(), err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("provider %s: send request: %w", addr.ID.ShortString(), err)
	}
	// Stop reading when done, or when the caller gives up (the HTTP client
	// went away).
	defer abort()
	stop := context.AfterFunc(ctx, abort)
	defer stop()
	dec := bao.NewDecoder(bufio.NewReaderSize(st, 64<<10), h, ranges)
	size, err := dec.Size()
	if err != nil {
		return fmt.Errorf("provider %s: %w", addr.ID.ShortString(), err)
	}
	w, err := g.store.OpenWriter(ctx, h)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer w.Close()
	if err := w.SetSize(size); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if onSize != nil {
		if err := onSize(size); err != nil {
			return err
		}
	}
	pair := new([bao.PairSize]byte)
	for {
		it, err := dec.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("provider %s: %w", addr.ID.ShortString(), err)
		}
		switch it.Kind {
		case bao.ItemLeaf:
			if err := w.WriteChunks(it.Offset/blobs.ChunkSize, it.Data); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			if g.metrics != nil {
				g.metrics.RemoteBytes.Add(float64(it.Len))
			}
			if leaf != nil {
				if err := leaf(it.Offset, it.Data); err != nil {
					return err
				}
			}
		case bao.ItemParent:
			if it.OutboardIndex >= 0 {
				*pair = it.Pair
				if err := w.WriteParent(uint64(it.OutboardIndex), pair); err != nil {
					return fmt.Errorf("store: %w", err)
				}
			}
		}
	}
}

// groupChunks is the number of chunks in a chunk group (16 KiB).
const groupChunks = 16

// groupRanges returns the chunk groups covering bytes [start, end).
func groupRanges(start, end uint64) bao.ChunkRanges {
	s := start / blobs.ChunkSize / groupChunks * groupChunks
	e := (end + blobs.ChunkSize*groupChunks - 1) / (blobs.ChunkSize * groupChunks) * groupChunks
	return bao.Range(s, e)
}

// ensureComplete fetches what the store lacks of h from addr.
func (g *Gateway) ensureComplete(ctx context.Context, addr endpointaddr.Addr, h blobs.Hash) error {
	bf, err := g.store.Bitfield(ctx, h)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if bf.Complete() {
		return nil
	}
	return g.fetch(ctx, addr, h, bao.All(), nil, nil)
}

// validatedSize returns the verified size of h, fetching the last chunk
// (which proves it) when the store does not know it yet.
func (g *Gateway) validatedSize(ctx context.Context, addr endpointaddr.Addr, h blobs.Hash) (uint64, error) {
	bf, err := g.store.Bitfield(ctx, h)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	if bf.SizeValidated() {
		return bf.Size, nil
	}
	if err := g.fetch(ctx, addr, h, bao.LastChunk(), nil, nil); err != nil {
		return 0, err
	}
	bf, err = g.store.Bitfield(ctx, h)
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	if !bf.SizeValidated() {
		return 0, fmt.Errorf("provider %s: size of %s not proven", addr.ID.ShortString(), h.ShortString())
	}
	return bf.Size, nil
}
