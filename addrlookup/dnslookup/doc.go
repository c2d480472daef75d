// Package dnslookup resolves endpoint info from DNS: the TXT records at
// `_iroh.<z32 of the id>.<origin>` (spec core.md §7.1, §7.4), as served
// by an iroh DNS server (package dnsserver, or n0's at dns.iroh.link.)
// from the pkarr packets endpoints publish. It is iroh's DnsAddressLookup.
//
// Queries go to one configured server (HOST:PORT), or to the first
// name server of the system configuration (/etc/resolv.conf) when none is
// given. Like iroh, a lookup is "staggered": the first query is sent at
// once and further ones 200, 300, 600, 1000, 2000 and 3000 ms later while
// no answer has arrived; each has a 3 s timeout and the first success
// wins. A truncated UDP answer is retried over TCP. Unlike iroh, an
// NXDOMAIN answer ends the lookup at once (it is authoritative).
//
// N0Options configures n0's public origin (dns.iroh.link.); it is
// configuration only.
//
// A Resolver is safe for concurrent use; Resolve's goroutines end before
// it returns.
package dnslookup
