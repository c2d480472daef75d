// Package storetest is the conformance suite every blobs.Store
// implementation runs (blobs/store/mem and blobs/store/fs call Run): imports
// of all size classes checked against their BLAKE3 hashes and pre-order
// outboards, export, verified partial writes through the real bao encoder
// and decoder and their completion, writers sharing state, tags, temp tags
// and GC of hash sequences, Observe and List. Helpers (Data, CheckBlob,
// WriteVerified) are shared with store-specific tests.
package storetest
