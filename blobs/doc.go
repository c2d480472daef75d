// Package blobs implements iroh-blobs for iroh-go: content-addressed blobs
// named by their BLAKE3 hash, transferred with verified streaming over the
// /iroh-bytes/4 protocol, byte-compatible with Rust iroh-blobs 0.35 and
// 0.103 (iroh-blobs src/protocol.rs and src/get; the tests check vectors
// produced by Rust iroh-blobs 0.35).
//
// # Parts
//
//   - Hash, BlobFormat, HashAndFormat: names of content and their text and
//     wire forms (§2). HashSeq and Collection: the hash-sequence blob and the
//     named collection built on it (§9). BlobTicket: the "blob…" ticket (§10).
//   - Requests (§5): GetRequest, GetManyRequest, ObserveRequest, PushRequest
//     and ParseRequest; ObserveItem frames (§8). Chunk ranges and the
//     response encoding live in blobs/bao.
//   - Store: the interface of a blob store (implementations in
//     blobs/store/mem and blobs/store/fs; blobs/store has the shared parts:
//     temp tags, GC marking, directories as collections). Bitfield is what a
//     store holds of one blob.
//   - Provider: the protocol handler (an iroh.ProtocolHandler) serving Get,
//     GetMany and Observe from a Store, with typed ProviderEvents and
//     Prometheus Metrics.
//   - Downloader: fetches a blob or a hash sequence from one or more
//     providers into a Store: it asks only for what is missing (resume),
//     splits the work across providers with bounded concurrency, and moves
//     work to another provider when one fails or sends data that does not
//     verify. Nothing unverified is ever written.
//
// # Concurrency
//
// Provider, Downloader and the stores are safe for concurrent use. The
// provider serves each request stream on its own goroutine, owned by the
// connection's Accept call, which waits for them. A download runs its
// request streams on goroutines it waits for before returning.
//
// # Not here
//
// Push is parsed but the provider rejects it (stream reset, code 1). The
// provider serves only complete blobs. There is no RPC layer: the library
// is used in-process and by cmd/iroh (send, receive, blobs).
package blobs
