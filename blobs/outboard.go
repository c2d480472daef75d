package blobs

import (
	"context"
	"io"

	"github.com/iroh-go/iroh/blobs/bao"
)

// OutboardSize returns the size of the pre-order outboard of a blob of size
// bytes: 64 bytes per tree node above the chunk-group level (spec §7.1).
func OutboardSize(size uint64) uint64 { return bao.OutboardSize(size) }

// ComputeOutboard returns the hash and pre-order outboard of data in memory.
func ComputeOutboard(data []byte) (Hash, []byte) {
	h, ob := bao.OutboardBytes(data)
	return Hash(h), ob
}

// WriteOutboard reads size bytes from data, writes their pre-order
// outboard to ob, and returns the blob hash, hashing on all cores.
func WriteOutboard(data io.ReaderAt, size uint64, ob io.WriterAt) (Hash, error) {
	h, err := bao.ComputeOutboard(context.Background(), data, size, ob, 0)
	return Hash(h), err
}
