// Package preset assembles the address lookup services an endpoint uses
// from one Options value: publishing to a pkarr relay, resolving from that
// relay and from DNS, and mDNS on the local network. N0Options gives n0's
// public services (pkarr relay https://dns.iroh.link/pkarr, DNS origin
// dns.iroh.link.), like Rust iroh's N0 preset; MinimalOptions gives none,
// like its Minimal preset. Both are configuration only.
//
// A Set is what the endpoint holds: it is an addrlookup.Lookup (all
// resolvers run concurrently, first answer wins, answers cached with their
// TTL) and takes our own info with Update, which every publisher
// (pkarr relay through an addrlookup.PublishLoop, mDNS directly) receives.
//
// # Concurrency
//
// A Set is safe for concurrent use. Close stops its publish loops and the
// mDNS lookup and waits for them.
package preset
