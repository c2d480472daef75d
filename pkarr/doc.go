// Package pkarr implements the signed DNS packets ("pkarr" packets) that
// iroh endpoints publish to announce how they can be reached, and the
// `_iroh` TXT records inside them (spec core.md §7.1 and §7.2, vector
// pkarr[0] in vectors/core.json).
//
// A SignedPacket is
//
//	public_key[32] || signature[64] || timestamp u64be || dns_message
//
// where the signature covers the bencode-style prefix
// "3:seqi<timestamp>e1:v<len>:" followed by the DNS message, the timestamp
// counts microseconds since the Unix epoch and the DNS message holds at
// most MaxDNSSize bytes. Sign builds packets, ParseSignedPacket and
// ParseRelayPayload read them and always verify the signature with the
// strict rules of key.PublicKey.Verify; an unverified packet never leaves
// this package.
//
// Info is what iroh puts in the records: relay URLs, direct socket
// addresses and user data, one `key=value` character-string per TXT record
// under the owner name `_iroh.<z32 of the key>`. AppendDNS encodes it
// byte-for-byte as Rust iroh (simple-dns) does: ID 0, flags 0x8000, names
// relative to the key, later owner names compressed to the pointer c00c.
// ParseInfo reads the records back from any DNS message (using
// github.com/miekg/dns), whether they are relative to the key, as in a
// packet, or rooted under a DNS origin, as a DNS server returns them.
//
// The package is shared by the address lookup clients (addrlookup/...)
// and the DNS server (dnsserver); it does no I/O. All functions are safe
// for concurrent use; Now keeps a process-wide clock that is strictly
// increasing.
package pkarr
