// Package pkarrlookup publishes endpoint info to a pkarr relay and
// resolves it from one, over the relay's HTTP API (spec core.md §7.3):
// a signed packet is PUT to <relay>/<z32> and fetched with GET from the
// same URL. It is iroh's PkarrPublisher and PkarrResolver.
//
// The Publisher signs the `_iroh` TXT records with the endpoint's secret
// key (package pkarr) at the current time; like iroh it publishes relay
// URLs and user data only, unless PublisherOptions.PublishDirect adds the
// direct addresses. Drive it with addrlookup.PublishLoop to get iroh's
// republish-and-retry behaviour. The Resolver verifies every packet with
// the key it asked for, so a relay cannot forge answers.
//
// N0PublisherOptions and N0ResolverOptions configure n0's public relay
// (https://dns.iroh.link/pkarr); they are configuration only.
//
// Both types are safe for concurrent use and start no goroutines.
package pkarrlookup
