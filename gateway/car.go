package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"

	"github.com/iroh-go/iroh/blobs"
)

// maxCARBlock bounds one block of an imported CAR (IPFS blocks are at most
// 2 MiB in practice; 4 MiB leaves room).
const maxCARBlock = 4 << 20

func importCAR(ctx context.Context, s blobs.Store, idx *cidIndex, r io.Reader) ([]cid.Cid, int, error) {
	br, err := carv2.NewBlockReader(r, carv2.MaxAllowedSectionSize(maxCARBlock+1024))
	if err != nil {
		return nil, 0, fmt.Errorf("car: %w", err)
	}
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return br.Roots, n, err
		}
		blk, err := br.Next()
		if errors.Is(err, io.EOF) {
			return br.Roots, n, nil
		}
		if err != nil {
			return br.Roots, n, fmt.Errorf("car: block %d: %w", n, err)
		}
		if len(blk.RawData()) > maxCARBlock {
			return br.Roots, n, fmt.Errorf("car: block %d (%s): %d bytes exceeds max %d", n, blk.Cid(), len(blk.RawData()), maxCARBlock)
		}
		if err := putBlock(ctx, s, idx, blk); err != nil {
			return br.Roots, n, fmt.Errorf("car: block %d: %w", n, err)
		}
		n++
	}
}
