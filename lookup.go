package iroh

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/addrlookup/preset"
	"github.com/iroh-go/iroh/endpointaddr"
)

// AddressLookupOptions selects how endpoints dialed by id alone are found
// (DNS, pkarr relay, mDNS, static) and where this endpoint publishes its
// own address. The zero value uses none. See package addrlookup/preset.
type AddressLookupOptions = preset.Options

// n0Relays are n0's public relays, as in Rust iroh's "n0" preset.
var n0Relays = []RelayURL{
	"https://use1-1.relay.n0.iroh.link./",
	"https://usw1-1.relay.n0.iroh.link./",
	"https://euc1-1.relay.n0.iroh.link./",
	"https://aps1-1.relay.n0.iroh.link./",
}

// N0Options returns options using n0's public infrastructure, like Rust
// iroh's n0 preset: its relays, publishing to and resolving from its pkarr
// relay, and resolving through DNS under dns.iroh.link.
func N0Options() *Options {
	return &Options{Relays: slices.Clone(n0Relays), AddressLookup: preset.N0Options()}
}

// MinimalOptions returns options with no relay and no address lookup:
// peers must be dialed with direct addresses. It is what a nil *Options
// means.
func MinimalOptions() *Options { return &Options{} }

// startLookup starts the address lookup services and the loop that keeps
// our published address up to date.
func (ep *Endpoint) startLookup(o *Options) error {
	set, err := preset.New(ep.sk, &o.AddressLookup)
	if err != nil {
		return fmt.Errorf("iroh: address lookup: %w", err)
	}
	ep.lookups = set
	ep.userData = o.UserData
	if len(set.PublishStatus()) > 0 || o.AddressLookup.MDNS {
		ep.wg.Add(1)
		go ep.publishLoop()
	}
	return nil
}

// publishLoop hands our address to the publishers whenever it changes
// (home relay, direct addresses, public address from net reports).
func (ep *Endpoint) publishLoop() {
	defer ep.wg.Done()
	var last addrlookup.EndpointInfo
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for first := true; ; first = false {
		info := addrlookup.InfoFromAddr(ep.Addr())
		info.UserData = ep.userData
		if first || !info.Equal(last) {
			ep.lookups.Update(info)
			last = info
		}
		select {
		case <-ep.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lookup resolves an id-only address through the configured address
// lookups.
func (ep *Endpoint) lookup(ctx context.Context, id EndpointID) (EndpointAddr, error) {
	if ep.lookups == nil || !ep.lookups.HasLookups() {
		return EndpointAddr{}, ErrNoAddress
	}
	info, err := ep.lookups.Resolve(ctx, id)
	if err != nil {
		return EndpointAddr{}, fmt.Errorf("address lookup: %w", err)
	}
	a := info.Addr()
	if a.IsIDOnly() {
		return EndpointAddr{}, ErrNoAddress
	}
	return a, nil
}

// forgetLookup drops a cached lookup answer after a failed dial.
func (ep *Endpoint) forgetLookup(id EndpointID) {
	if ep.lookups != nil {
		ep.lookups.Forget(id)
	}
}

var _ = endpointaddr.FromID
