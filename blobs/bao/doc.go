// Package bao implements BLAKE3 verified streaming as iroh-blobs uses it
// (bao-tree with 16 KiB chunk groups, chunk_log 4): the chunk range sets and
// their wire encodings, the blob hash and pre-order outboard, the encoder a
// provider writes responses with, and the incrementally verifying decoder a
// getter reads them with. It matches the bao-tree crate (0.15, as used by
// iroh-blobs 0.35: src/io/outboard.rs, src/io/sync.rs, ChunkRanges in
// range-collections) byte for byte; the tests assert bao, range,
// request-range, transfer and collection vectors captured from Rust
// iroh-blobs 0.35.
//
// # Tree
//
// A blob is the BLAKE3 binary tree over 1 KiB chunks (ChunkSize). Subtrees of
// at most 16 chunks (a chunk group, GroupSize bytes) are never split on the
// wire or in storage unless a request selects part of one; the parent pairs
// above them (left CV || right CV, PairSize bytes) are kept in a pre-order
// outboard of OutboardSize(size) bytes with no size prefix. Hashes are plain
// [32]byte values so this package stays below blobs (blobs.Hash converts).
//
//   - Sum, HashReader: the blob hash (zeebo/blake3).
//   - OutboardBytes, ComputeOutboard, OutboardFromReader: hash plus
//     pre-order outboard, streaming 1 MiB at a time, on all cores.
//
// # Ranges
//
// ChunkRanges is a set of chunk numbers (range-collections RangeSet: sorted
// boundaries, optional open final run). Empty, All, Range, From, LastChunk
// and FromByteRange build one; Union, Intersect, Difference, Contains,
// IntersectsRange, ContainsRange and Truncate (the effective selection for a
// size, spec §6.2) operate on them. AppendRangeSpec/ParseRangeSpec are the
// delta-encoded request form (§4.2); AppendBoundaries/ParseBoundaries the
// absolute form used by Observe (§8). ChunkRangesSeq (SeqBlob, SeqAll,
// SeqFromRanges, At, NonEmpty, Append, ParseChunkRangesSeq) selects ranges
// for a blob and its hash-sequence children (§4.3).
//
// # Responses
//
// Encode (or an Encoder) writes one blob's part of a response: the u64 LE
// size header, then parent pairs and data in pre-order for
// ranges.Truncate(size) (§6). EncodedLen predicts its length. Several blobs of
// a response are simply encoded one after the other on the same writer.
//
// A Decoder reads one blob's part from a reader and returns verified Items:
// parents (with their outboard index, so a store can build the outboard as
// data arrives) and leaves (offset, data). It never returns unverified bytes
// and stops at the first piece that fails with a *VerifyError naming the
// byte range (errors.Is(err, ErrHashMismatch)); Item.Chunks gives the chunks
// an item covers for a store's bitfield. The size header is only
// proven once the last chunk verified (SizeVerified). Decode is the
// convenience loop writing to io.WriterAt.
//
// # Concurrency and allocation
//
// ChunkRanges and ChunkRangesSeq are immutable values, safe to share. An
// Encoder or Decoder belongs to one goroutine; both reuse fixed buffers and
// allocate nothing per chunk group. ComputeOutboard starts goroutines and
// waits for them before returning.
//
// # Not here
//
// Request and response framing, hash sequences and stores live in package
// blobs. The hashing uses lukechampine.com/blake3/guts, whose AVX-512 kernel
// hashes one 16-chunk group per call; zeebo/blake3 is faster per core but
// exposes no chaining values, so large outboards use several cores instead.
package bao
