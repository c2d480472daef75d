package transport

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/key"
)

// Dial opens a connection to the endpoint holding remote's key at addr,
// offering alpns in order of preference, and waits for the handshake.
func (t *Transport) Dial(ctx context.Context, addr netip.AddrPort, remote key.PublicKey, alpns ...string) (*Conn, error) {
	cfg := t.opts.Config
	cfg.TLS.ServerName = remote.SNIName()
	if len(alpns) > 0 {
		cfg.TLS.ALPNs = alpns
	}
	c := newConn(t)
	cfg.CIDs = cidSource{t: t, c: c}
	if err := t.register(c); err != nil {
		return nil, err
	}
	c.mu.Lock()
	core, err := quic.NewClient(&cfg, timeNow(), addr)
	if err != nil {
		c.mu.Unlock()
		t.forget(c)
		return nil, fmt.Errorf("quic: dial %v: %w", addr, err)
	}
	c.core = core
	c.afterInputLocked()
	c.mu.Unlock()
	select {
	case <-c.handshake:
	case <-ctx.Done():
		c.Close(0, "")
		return nil, ctx.Err()
	case <-t.closing:
		return nil, net.ErrClosed
	}
	c.mu.Lock()
	err = c.connErrLocked()
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("quic: dial %v: %w", addr, err)
	}
	return c, nil
}

// acceptInitial creates the server side of a connection for a client's
// first Initial packet, registered under the id the client chose. It
// returns nil when the datagram is not one to accept.
func (t *Transport) acceptInitial(now timeT, b []byte, d *Datagram, dcid quic.ConnectionID) *Conn {
	if len(b) < 1200 || !quic.IsInitial(b) {
		return nil // too small to be a client's Initial (RFC 9000 §14.1), or not one
	}
	t.mu.Lock()
	if t.closed || len(t.all) >= maxConns {
		t.mu.Unlock()
		return nil
	}
	c := newConn(t)
	t.all[c] = struct{}{}
	t.conns[dcid] = c
	t.mu.Unlock()
	cfg := t.opts.Config
	cfg.CIDs = cidSource{t: t, c: c}
	c.mu.Lock()
	core, err := quic.NewServer(&cfg, now, d.Addr, dcid)
	if err != nil {
		c.mu.Unlock()
		t.log.Debug("server connection refused", "err", err)
		t.forget(c)
		return nil
	}
	c.core = core
	c.mu.Unlock()
	return c
}

// maxConns bounds the connections of one Transport.
const maxConns = 1 << 16
