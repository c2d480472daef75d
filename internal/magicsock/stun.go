package magicsock

import (
	"context"
	"crypto/rand"
	"net/netip"
	"sync"
	"time"

	"github.com/iroh-go/iroh/internal/stun"
)

// stunState matches STUN answers to the requests STUN sent.
type stunState struct {
	mu   sync.Mutex
	wait map[stun.TxID]chan netip.AddrPort
}

// STUN sends a binding request to server from the socket of its family and
// returns the address the server saw: our public address for peers behind
// the same NAT mapping. The answer also becomes a direct address candidate.
// It implements netreport.Prober.
func (c *Conn) STUN(ctx context.Context, server netip.AddrPort) (netip.AddrPort, error) {
	var tx stun.TxID
	_, _ = rand.Read(tx[:])
	ch := make(chan netip.AddrPort, 1)
	c.stunS.mu.Lock()
	if c.stunS.wait == nil {
		c.stunS.wait = map[stun.TxID]chan netip.AddrPort{}
	}
	c.stunS.wait[tx] = ch
	c.stunS.mu.Unlock()
	defer func() {
		c.stunS.mu.Lock()
		delete(c.stunS.wait, tx)
		c.stunS.mu.Unlock()
	}()
	server = netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	if err := c.sendUDP(stun.AppendRequest(nil, tx), server); err != nil {
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
	tx, mapped, err := stun.ParseResponse(b)
	if err != nil {
		c.metrics.Dropped.WithLabelValues("bad_stun").Inc()
		return
	}
	c.stunS.mu.Lock()
	ch := c.stunS.wait[tx]
	c.stunS.mu.Unlock()
	if ch == nil {
		c.metrics.Dropped.WithLabelValues("bad_stun").Inc()
		return
	}
	mapped = netip.AddrPortFrom(mapped.Addr().Unmap(), mapped.Port())
	c.noteObserved(mapped, time.Now())
	select {
	case ch <- mapped:
	default:
	}
}
