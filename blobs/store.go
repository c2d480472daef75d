package blobs

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned by a Store for a hash it holds no data for.
var ErrNotFound = errors.New("blob not found")

// ErrStoreClosed is returned by a Store after Close.
var ErrStoreClosed = errors.New("blob store closed")

// Store is the blob store the provider serves from and the downloader writes
// into. Implementations live in blobs/store/mem and blobs/store/fs; the
// interface is declared here (and aliased as store.Store) so that this package
// can use it without an import cycle. All methods are safe for concurrent use.
type Store interface {
	// Bitfield returns what the store holds of hash: its size (as claimed by
	// the first size header seen, validated once the last chunk is present)
	// and the verified chunks. A hash the store knows nothing of yields an
	// empty Bitfield and a nil error.
	Bitfield(ctx context.Context, hash Hash) (Bitfield, error)
	// OpenReader opens a complete blob for reading. It returns ErrNotFound
	// if the blob is absent or partial. The caller closes the reader.
	OpenReader(ctx context.Context, hash Hash) (BlobReader, error)
	// OpenWriter opens hash for verified writes (downloads). Writers opened
	// for the same hash share state; each must be closed.
	OpenWriter(ctx context.Context, hash Hash) (BlobWriter, error)
	// AddFile imports the file at path by copying it into the store (the
	// file is streamed, never loaded whole) and returns a TempTag for it.
	AddFile(ctx context.Context, path string) (*TempTag, error)
	// AddReader imports everything read from r.
	AddReader(ctx context.Context, r io.Reader) (*TempTag, error)
	// AddBytes imports b.
	AddBytes(ctx context.Context, b []byte) (*TempTag, error)
	// ExportFile writes the complete blob hash to path (created or
	// truncated, written via a temporary file renamed into place).
	ExportFile(ctx context.Context, hash Hash, path string) error
	// List returns every blob the store holds, complete or partial.
	List(ctx context.Context) ([]BlobInfo, error)
	// SetTag points name at hf, replacing any previous value.
	SetTag(ctx context.Context, name string, hf HashAndFormat) error
	// DeleteTag removes name; removing a missing tag is not an error.
	DeleteTag(ctx context.Context, name string) error
	// Tags lists all tags sorted by name.
	Tags(ctx context.Context) ([]Tag, error)
	// TempTag protects hf from GC until the returned tag is closed.
	TempTag(hf HashAndFormat) *TempTag
	// GC deletes every blob not reachable from a tag or a temp tag (spec
	// §11) and reports what it removed.
	GC(ctx context.Context) (GCStats, error)
	// Observe calls fn with the current Bitfield of hash, then again each
	// time it changes, until ctx is done (returns nil) or fn returns an
	// error (returned). fn runs on the caller's goroutine.
	Observe(ctx context.Context, hash Hash, fn func(Bitfield) error) error
	// Sync waits until everything written before the call is durable.
	Sync(ctx context.Context) error
	// Close releases the store. It is safe to call twice.
	Close() error
}

// BlobInfo describes one stored blob.
type BlobInfo struct {
	Hash     Hash
	Size     uint64
	Complete bool
	// Verified counts the verified bytes (all of Size when Complete).
	Verified uint64
}

// Tag is a named pointer to content.
type Tag struct {
	Name  string
	Value HashAndFormat
}

// GCStats reports a GC run.
type GCStats struct {
	Live    int // blobs kept
	Deleted int // blobs removed
	Bytes   uint64
}

// BlobReader reads a complete blob: its data and its pre-order outboard
// (spec §7.1). Both ReaderAts are safe for concurrent use until Close.
type BlobReader interface {
	Size() uint64
	Data() io.ReaderAt
	Outboard() io.ReaderAt
	Close() error
}

// BlobWriter takes verified pieces of one blob. Data must be verified by
// the caller (the bao decoder) before it is written: the store trusts it.
// Methods are safe for concurrent use by writers of the same hash.
type BlobWriter interface {
	// Bitfield returns the current state.
	Bitfield() Bitfield
	// SetSize records the size header of a response. If it differs from
	// the size already recorded and that size is not validated, the verified
	// state is discarded and the blob starts over; a validated size that
	// differs is an error.
	SetSize(size uint64) error
	// WriteChunks writes verified data starting at chunk start (byte offset
	// start*1024) and marks the chunks it covers as present.
	WriteChunks(start uint64, data []byte) error
	// WriteParent stores a verified parent pair of the node at pre-order
	// outboard index idx (the caller computes idx for the recorded size).
	WriteParent(idx uint64, pair *[64]byte) error
	// Checkpoint makes everything written so far durable and persists the
	// bitfield, so a killed process resumes from here.
	Checkpoint() error
	// Close checkpoints and releases the writer. When the blob is complete
	// the last Close finishes it (the outboard is completed if needed).
	Close() error
}
