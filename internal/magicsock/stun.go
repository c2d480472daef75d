package magicsock

import (
	"context"
	"crypto/rand"
	"net/netip"
	"sync"
	"time"

	"github.com/iroh-go/iroh/netreport"
)

// stunState matches STUN answers to the requests STUN sent.
type stunState struct {
	mu   sync.Mutex
	wait map[netreport.TxID]chan netip.AddrPort
}

// STUN sends a binding request to server from the socket of its family and
// returns the address the server saw: our public address for peers behind
// the same NAT mapping. The answer also becomes a direct address candidate.
// It implements netreport.Prober.
func (c *Conn) STUN(ctx context.Context, server netip.AddrPort) (netip.AddrPort, error) {
	var tx netreport.TxID
	_, _ = rand.Read(tx[:])
	ch := make(chan netip.AddrPort, 1)
	c.stun.mu.Lock()
	if c.stun.wait == nil {
		c.stun.wait = map[netreport.TxID]chan netip.AddrPort{}
	}
	c.stun.wait[tx] = ch
	c.stun.mu.Unlock()
	defer func() {
		c.stun.mu.Lock()
		delete(c.stun.wait, tx)
		c.stun.mu.Unlock()
	}()
	server = netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	if err := c.sendUDP(netreport.BuildBindingRequest(tx), server); err != nil {
		return netip.AddrPort{}, err
	}
	select {
	case ap := <-ch:
		return ap, nil
	case <-ctx.Done():
		return netip.AddrPort{}, ctx.Err()
	case <-c.closing:
		return netip.AddrPort{}, context.Canceled
	}
}

// handleSTUN takes a STUN message received on a UDP socket.
func (c *Conn) handleSTUN(b []byte) {
	tx, mapped, err := netreport.ParseBindingResponse(b)
	if err != nil {
		c.metrics.Dropped.WithLabelValues("bad_stun").Inc()
		return
	}
	c.stun.mu.Lock()
	ch := c.stun.wait[tx]
	c.stun.mu.Unlock()
	if ch == nil {
		c.metrics.Dropped.WithLabelValues("bad_stun").Inc()
		return
	}
	mapped = netip.AddrPortFrom(mapped.Addr().Unmap(), mapped.Port())
	c.mu.Lock()
	if _, seen := c.observed[mapped]; seen || len(c.observed) < 16 {
		c.observed[mapped] = time.Now()
	}
	c.mu.Unlock()
	select {
	case ch <- mapped:
	default:
	}
}
