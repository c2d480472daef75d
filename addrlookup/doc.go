// Package addrlookup finds the addresses of an endpoint from its id
// ("address lookup", discovery in older iroh) and publishes our own.
//
// The endpoint sees two small interfaces: a Lookup resolves an
// EndpointID to an EndpointInfo (relay URLs, direct addresses, user
// data), and a Publisher announces our EndpointInfo. The implementations
// live in subpackages, one per mechanism, following Rust iroh:
//
//   - addrlookup/pkarrlookup: publish to and resolve from a pkarr relay
//     over HTTP (iroh's PkarrPublisher and PkarrResolver);
//   - addrlookup/dnslookup: resolve `_iroh.<z32>.<origin>` TXT records
//     from a DNS server (iroh's DnsAddressLookup);
//   - addrlookup/mdns: publish and resolve on the local network with the
//     swarm-discovery mDNS flavour iroh used (service `irohv1`).
//
// This package holds what they share: Combined runs several Lookups at
// once, answers with the first success and caches answers for their TTL;
// Memory is a static lookup (and a Publisher for tests); PublishLoop
// drives a Publisher the way iroh does: publish when the info changes,
// republish every 5 minutes, retry with a growing delay after failures.
//
// addrlookup/preset puts them together from one Options value (with the
// N0Options and MinimalOptions presets) into a Set the endpoint resolves
// with and hands its info to. The wire formats are in package pkarr; spec
// core.md §7.
//
// # Concurrency
//
// Everything here is safe for concurrent use. Combined.Resolve starts one
// goroutine per Lookup and waits for all of them before it returns.
// PublishLoop owns one goroutine, stopped and waited for by Close.
package addrlookup
