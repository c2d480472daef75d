// Package ranger is the I/O-free core of range-based set reconciliation as
// iroh-docs speaks it on /iroh-sync/1 (spec docs.md §4-§6): two replicas of
// an ordered set exchange fingerprints of ranges, split the ranges whose
// fingerprints differ, and send the entries of small ranges, until both hold
// the union (newest record per identifier).
//
// The parts:
//   - Fingerprint and Range: the XOR-of-BLAKE3 set fingerprint seeded with
//     BLAKE3(""), and the ranges with wrap-around of spec §5.
//   - Tree: an ordered index (a treap) that keeps, in every node, the size
//     and XOR fingerprint of its subtree, so rank, select and the fingerprint
//     of any range cost O(log n). Stores keep one per namespace; Rust iroh
//     recomputes a range's fingerprint by scanning it on every call.
//   - Store and Peer: a Peer processes a received Message against a Store
//     and returns the reply, with the spec's part order, split rule (k = 2,
//     pivots p0 = L[s + n/2], p1 = L[s]) and max set size 1, so replies are
//     byte-identical with Rust's.
//   - Message and Part with AppendMessage/ParseMessage, generic over the
//     entry type through a Codec (package docs supplies SignedEntry's).
//
// The package does no I/O and keeps no clocks; validation of entries
// (signatures, timestamps) belongs to the Store's Put. Work per message is
// bounded by Limits.
//
// # Concurrency
//
// A Tree is not safe for concurrent use; its owner locks. A Peer is used by
// one session goroutine at a time.
package ranger
