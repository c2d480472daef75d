// Package fs is the persistent blob store: blob data and pre-order
// outboards in files (data/<hex>.data, data/<hex>.obao4, the layout of Rust
// iroh-blobs, spec §7.2), blobs up to 16 KiB inlined in the index, and an
// embedded bbolt index (index.db) holding each blob's state and the tags.
//
// # Crash safety
//
// The index never names data that is not on disk: an import writes to
// tmp/, fsyncs, renames into data/, and only then commits its record; a
// download writer fsyncs the data file before it persists the bitfield
// (every Options.CheckpointBytes and on Close). After a crash (even
// SIGKILL or power loss) the store opens with every recorded chunk intact,
// so a download resumes without refetching them; files no record names are
// removed at Open. A failed write (full disk, unwritable directory) returns
// an error naming the operation and leaves the index as it was.
//
// # Concurrency
//
// Index updates go through one commit goroutine that batches all pending
// records into one transaction, so many small blobs share an fsync; reads
// see pending records immediately. Sync waits for durability. All methods
// are safe for concurrent use; writers of the same hash share state.
package fs
