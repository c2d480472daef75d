// Package docs implements iroh-docs: eventually-consistent, multi-writer
// key-value documents whose values are blobs, wire-compatible with
// iroh-docs 0.100 (and 0.35, whose sync bytes are the same) on
// /iroh-sync/1. Spec: shared/spec/docs.md; byte compatibility is asserted
// against shared/spec/vectors/protocols.json (entries, signatures,
// fingerprints, captured sync frames replayed against our acceptor and
// initiator, tickets, gossip ops).
//
// A document (namespace) is an Ed25519 key: its secret is the write
// capability, its id the read capability. Authors are Ed25519 keys too.
// Every Entry (namespace, author, key -> content hash, length, timestamp)
// is signed by both, so a replica holding only the read capability can
// still verify and relay entries, and no peer can insert without the
// namespace secret. The latest entry per author and key wins; an entry
// removes the same author's older entries under its key (prefix deletion);
// an empty entry is a tombstone.
//
// Parts:
//   - keys.go, entry.go, ticket.go, proto.go: the model and encodings
//     (SignedEntry, Capability, DocTicket, sync Message, gossip Op).
//   - Store and Replica: the replicas, authors and entries, in memory
//     (NewMemStore) or persistent and crash-safe in bbolt (OpenStore), with
//     queries. Each replica keeps an index (ranger.Tree) with subtree sizes
//     and fingerprints, so each reconciliation step costs O(log n); Rust
//     iroh scans the range on every fingerprint.
//   - SyncInitiate and SyncAccept: one /iroh-sync/1 session over a stream,
//     driving the I/O-free core in docs/ranger, with bounded work per
//     session (ranger.Limits) and frames (MaxFrameSize).
//   - Engine: the node-level service: serves /iroh-sync/1 on a Router,
//     syncs with peers on join, gossip neighbours and reports, spreads new
//     entries over live sync (Gossip; FromGossip adapts the gossip
//     package), and downloads content through blobs by DownloadPolicy,
//     retrying missing content from every peer known to have it until it
//     arrives (a peer we sync with becomes a candidate for all missing
//     content, so iroh-docs #82 cannot happen). A gossip subscription that
//     lags triggers syncs, so lost broadcasts are recovered. Content that
//     becomes missing together is fetched in batches of up to 256 hashes
//     per provider (one GetMany request, blobs.Downloader.DownloadMany);
//     what a batch does not bring, and everything from a provider that
//     does not know GetMany (iroh-blobs 0.35), is fetched alone.
//   - verify.go and internal/edverify: signatures are checked with
//     key.PublicKey.Verify's rules (dalek's verify_strict), through
//     per-key precomputed tables for the namespace and author keys that
//     sign many entries, the signatures of a sync message split across
//     the cores; about 11 µs a signature instead of 60. Entries already
//     held (equal or newer) are not verified again, and a message's
//     inserts are one commit.
//
// # Interop with Rust
//
// A real Rust iroh-docs 0.35 node (npm iroh035, driven by
// internal/testutil.StartRust035 in a loopback-only namespace) and a Go
// node sync documents both ways, entries and content, byte for byte
// (interop_rust_test.go; the CLI's join and share in cmd/iroh): 0.35 dials
// our endpoint (raw-key TLS, its disco pings answered by our socket) and we
// dial it. 0.35 reads only its own ticket layout: DocTicket.String035
// writes it; ParseDocTicket reads both. Live sync crosses too, when the
// Engine's Gossip is the gossip package registered for both its ALPNs
// (gossip.ALPN and gossip.ALPN035): it dials offering /iroh-gossip/1 and
// 0.35's /iroh-gossip/0 in one handshake, 0.35 picks /0, and entries
// written on either side reach the other as they are written, content
// included, with no sync (TestRust035LiveSync: a document Rust made and
// one we made). Nothing depends on the ticket's layout. The Rust
// iroh 1.0 bindings (npm @number0/iroh 1.1.0) carry no docs, so iroh-docs
// 0.100 is checked against the spec's vectors only.
//
// # Not yet
//
// Content is protected from blob GC by temp tags while an Engine runs (the iroh command also tags what it
// writes and downloads). The persistent store holds every entry's index in
// memory (about 150 bytes an entry plus the key).
//
// # Concurrency
//
// Store, Replica and Engine are safe for concurrent use. A sync session
// holds the store's lock while it processes one message, so a session sees
// a consistent replica; the signatures of a message's new entries (64 or
// more) are verified before, without the lock, so writers, gossip and
// other sessions are not held up by a large message. Insert events are
// delivered after the lock is released.
package docs
