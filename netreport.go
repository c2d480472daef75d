package iroh

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/iroh-go/iroh/netreport"
)

// NetReport is what the endpoint learned of its network: public addresses,
// NAT behaviour, relay latencies and the preferred relay.
type NetReport = netreport.Report

// netReporter runs net reports: one at Bind, then every 20-26 s, and on
// demand; the preferred relay of each report becomes the home relay.
type netReporter struct {
	ep  *Endpoint
	cfg netreport.Config

	mu      sync.Mutex
	last    *NetReport
	running chan struct{} // closed when the running report ends; nil if none
	first   chan struct{} // closed when the first report ended
}

func newNetReporter(ep *Endpoint, o *Options) *netReporter {
	port := o.STUNPort
	nr := &netReporter{ep: ep, first: make(chan struct{})}
	nr.cfg = netreport.Config{
		Relays:      ep.relay.relays,
		STUNPort:    port,
		STUNServers: o.STUNServers,
		Prober:      ep.sock,
		HTTPClient:  &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: o.RelayTLSConfig}},
	}
	if o.RelayOnly {
		nr.cfg.Prober = nil
	}
	return nr
}

// loop runs until the endpoint closes.
func (nr *netReporter) loop() {
	defer nr.ep.wg.Done()
	for {
		nr.run(nr.ep.ctx)
		d := 20*time.Second + rand.N(6*time.Second)
		select {
		case <-nr.ep.ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// run makes one report, or waits for the one running.
func (nr *netReporter) run(ctx context.Context) (*NetReport, error) {
	nr.mu.Lock()
	if ch := nr.running; ch != nil {
		nr.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		nr.mu.Lock()
		defer nr.mu.Unlock()
		return nr.last, nil
	}
	ch := make(chan struct{})
	nr.running = ch
	cfg := nr.cfg
	cfg.Previous = nr.last
	nr.mu.Unlock()

	rep, err := netreport.Run(ctx, cfg)

	nr.mu.Lock()
	if rep != nil {
		nr.last = rep
	}
	nr.running = nil
	close(ch)
	select {
	case <-nr.first:
	default:
		close(nr.first)
	}
	nr.mu.Unlock()
	if rep != nil {
		if rep.PreferredRelay != "" {
			nr.ep.sock.SetHomeRelay(rep.PreferredRelay)
		}
		nr.ep.log.Debug("net report", "global_v4", rep.GlobalV4, "global_v6", rep.GlobalV6,
			"preferred_relay", rep.PreferredRelay, "errors", len(rep.Errors))
	}
	return rep, err
}

// close releases the HTTP connections kept for /ping probes.
func (nr *netReporter) close() {
	if nr.cfg.HTTPClient != nil {
		nr.cfg.HTTPClient.CloseIdleConnections()
	}
}

// waitFirst waits (bounded by ctx) for the first report to end.
func (nr *netReporter) waitFirst(ctx context.Context) {
	select {
	case <-nr.first:
	case <-ctx.Done():
	}
}

// NetReport runs a net report now and returns it: public addresses seen by
// the relays' STUN servers, whether the NAT's mapping varies by destination,
// relay latencies and the preferred relay (which becomes the home relay).
func (ep *Endpoint) NetReport(ctx context.Context) (*NetReport, error) {
	return ep.netrep.run(ctx)
}

// LastNetReport returns the latest net report, or nil if none finished yet.
func (ep *Endpoint) LastNetReport() *NetReport {
	ep.netrep.mu.Lock()
	defer ep.netrep.mu.Unlock()
	return ep.netrep.last
}
