// Package dnsserver is an iroh DNS server: a pkarr relay that accepts
// signed packets over HTTP and an authoritative DNS server that answers
// for them, so endpoints that publish with addrlookup/pkarrlookup can be
// found by id with addrlookup/dnslookup. It follows iroh-dns-server 1.0
// (spec core.md §7.3 and §8).
//
// A Server listens on up to two addresses:
//
//   - HTTP: PUT and GET /pkarr/{z32} (the pkarr relay API, with the exact
//     statuses of §7.3), DNS-over-HTTPS at /dns-query (RFC 8484 GET ?dns=
//     and POST, application/dns-message; and the JSON API, GET ?name=&type=,
//     application/dns-json), /healthz and /.
//   - DNS over UDP and TCP on the same port, authoritative for its
//     origins: a name `<rest>.<z32>.<origin>` is answered from the records
//     `<rest>.<z32>` in the packet stored for that key (typically the
//     `_iroh` TXT records), with the packet's TTLs; the origin itself has
//     SOA and NS records (and optional A/AAAA); unknown keys and names get
//     NXDOMAIN, names outside every origin REFUSED.
//
// Every PUT is verified (key.PublicKey.Verify via pkarr) before it is
// stored; a packet not newer than the stored one is acknowledged with 204
// and dropped, as iroh-dns-server does; a packet dated more than
// Options.MaxFuture (1 hour) ahead of the server's clock is refused.
// Packets live in a bbolt database (signed-packets-1.db in
// Options.DataDir) and are evicted once their timestamp is older than
// Options.MaxAge (7 days). One writer commits PUTs in groups (one fsync
// for all PUTs that arrived during the previous commit), so PUT throughput
// does not fall as the store grows and rises with load; by default a PUT
// is acknowledged and served once accepted and is durable with the next
// commit, Options.SyncPuts acknowledges only durable PUTs. PUTs are rate
// limited per client IP (burst 2, one more every 4 s by default); in smart
// mode forwarding headers count only from Options.TrustedProxies.
//
// What it deliberately does not do: TLS (put it behind a proxy, or use the
// DoH endpoint over plain HTTP on loopback), the mainline DHT fallback,
// and zone transfers (AXFR/IXFR are refused).
//
// # Concurrency
//
// New binds all listeners and starts serving before it returns; Close
// stops every goroutine the Server started, waits for them and closes the
// store. All methods are safe for concurrent use.
package dnsserver
