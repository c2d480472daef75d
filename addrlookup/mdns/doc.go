// Package mdns finds endpoints on the local network with multicast DNS,
// in the wire format of the swarm-discovery crate that Rust iroh used for
// its local address lookup up to v0.98 (spec core.md §7.5). It is both an
// addrlookup.Lookup and an addrlookup.Publisher.
//
// # Wire format
//
// Messages go to 224.0.0.251:5353 (and [ff02::fb]:5353). The service name
// is `_irohv1._udp.local.`; an endpoint's instance name is the lowercase
// RFC 4648 base32 (no padding) of its EndpointID. A query is one PTR
// question for the service name. A response (ID 0, QR and AA set) has in
// its answer section one SRV record per distinct port, owner
// `<instance>._irohv1._udp.local.`, priority 0, weight 0, target
// `<instance>-<port>.local.`, and one TXT record at the same owner holding
// the attributes `relay=<url>` (the first relay only) and
// `user-data=<text>`; its additional section holds the A and AAAA records
// of each target. All TTLs are 0, as swarm-discovery writes them. A
// response without addresses is ignored by receivers, so an endpoint with
// no direct address is not advertised.
//
// # Behaviour
//
// Every QueryInterval (10 s, with jitter) a Lookup queries for the
// service unless it saw another endpoint's query in that time; it answers
// every query after a random delay of up to 100 ms, announces itself
// unsolicited when its info changes, and sends a query at once when asked
// to resolve an endpoint it does not know (then waits up to
// LookupTimeout). Endpoints not heard from for PeerTTL are forgotten.
//
// # Concurrency
//
// A Lookup owns one goroutine per socket reading packets and one actor
// goroutine holding all state; Close stops and waits for them. Methods are
// safe for concurrent use.
package mdns
