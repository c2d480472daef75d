package transport

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"time"

	"context"
	"fmt"
	"github.com/iroh-go/iroh/internal/quic/protect"
	"github.com/iroh-go/iroh/internal/quic/wire"
	"net"
	"net/netip"

	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/key"
)

// Dial opens a connection to the endpoint holding remote's key at addr,
// offering alpns in order of preference, and waits for the handshake.
func (t *Transport) Dial(ctx context.Context, addr netip.AddrPort, remote key.PublicKey, alpns ...string) (*Conn, error) {
	return t.dial(ctx, addr, remote, false, alpns)
}

// DialEarly is Dial that returns as soon as 0-RTT data may be sent: when
// the Config's TLS SessionCache holds a ticket for remote that allows
// early data (and EnableEarlyData is set), before the handshake completes.
// Streams opened and data written before then travel in 0-RTT packets,
// which a server may replay-protect but an attacker may replay: use it
// only for idempotent requests. Without such a ticket it is Dial.
// Conn.EarlyDataAccepted tells, after the handshake, whether the server
// took the 0-RTT data (rejected data is resent automatically).
func (t *Transport) DialEarly(ctx context.Context, addr netip.AddrPort, remote key.PublicKey, alpns ...string) (*Conn, error) {
	return t.dial(ctx, addr, remote, true, alpns)
}

func (t *Transport) dial(ctx context.Context, addr netip.AddrPort, remote key.PublicKey, early bool, alpns []string) (*Conn, error) {
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
	zeroRTT := early && core.ZeroRTT()
	c.mu.Unlock()
	if zeroRTT {
		return c, nil
	}
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
	var odcid quic.ConnectionID
	if t.opts.Config.RequireRetry {
		h, err := wire.ParseHeader(b, cidLen)
		if err != nil {
			return nil
		}
		if len(h.Token) == 0 {
			t.sendRetry(now, &h, d.Addr)
			return nil
		}
		var ok bool
		if odcid, ok = t.checkRetryToken(now, h.Token, d.Addr, dcid); !ok {
			return nil // forged, stale or from another address
		}
	}
	t.mu.Lock()
	if t.closed || len(t.all) >= maxConns {
		t.mu.Unlock()
		return nil
	}
	c := newConn(t)
	t.all[c] = struct{}{}
	t.conns[dcid] = c
	c.ids = append(c.ids, dcid)
	t.mu.Unlock()
	cfg := t.opts.Config
	cfg.CIDs = cidSource{t: t, c: c}
	if t.opts.ServerALPNs != nil {
		cfg.TLS.ALPNs = t.opts.ServerALPNs()
		if len(cfg.TLS.ALPNs) == 0 {
			// Accept nothing a client can offer: the handshake ends with
			// no_application_protocol, which tells the client why.
			cfg.TLS.ALPNs = noALPN
		}
	}
	c.mu.Lock()
	var core *quic.Conn
	var err error
	if odcid.Len() > 0 {
		core, err = quic.NewServerAfterRetry(&cfg, now, d.Addr, dcid, odcid)
	} else {
		core, err = quic.NewServer(&cfg, now, d.Addr, dcid)
	}
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

// noALPN is what a server with no ALPNs to accept serves: a protocol
// name no client offers (ALPN names are printable by convention).
var noALPN = []string{"\x00iroh-go: no protocol accepted"}

// maxConns bounds the connections of one Transport.
const maxConns = 1 << 16

// retryTokenLife bounds how long a Retry token is good for.
const retryTokenLife = 10 * time.Second

// sendRetry answers a tokenless Initial with a Retry (RFC 9000 §8.1.2):
// a new id to use and a token binding the client's address, its original
// id and that new id, so the server keeps no state until the client
// proves it receives at its address.
func (t *Transport) sendRetry(now timeT, h *wire.Header, to netip.AddrPort) {
	if !t.statelessAllowed(now) {
		return
	}
	var scid [cidLen]byte
	rand.Read(scid[:])
	odcid := quic.MakeConnectionID(h.DstCID)
	tok := t.retryToken(now, to, odcid, quic.MakeConnectionID(scid[:]))
	var r [1]byte
	rand.Read(r[:])
	pkt := wire.AppendRetry(nil, wire.Version1, h.SrcCID, scid[:], tok, r[0])
	tag := protect.RetryIntegrityTag(h.DstCID, pkt)
	pkt = append(pkt, tag[:]...)
	t.m.StatelessReplies.WithLabelValues("retry").Inc()
	t.sock.WriteBatch([]Datagram{{Buf: pkt, N: len(pkt), Addr: to}})
}

// retryToken is time (8 bytes) || len(odcid) || odcid || MAC(16).
func (t *Transport) retryToken(now timeT, addr netip.AddrPort, odcid, scid quic.ConnectionID) []byte {
	tok := binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))
	tok = append(tok, byte(odcid.Len()))
	tok = append(tok, odcid.Bytes()...)
	return append(tok, t.retryMAC(tok, addr, scid)...)
}

func (t *Transport) retryMAC(body []byte, addr netip.AddrPort, scid quic.ConnectionID) []byte {
	m := hmac.New(sha256.New, t.resetKey[:])
	m.Write([]byte("iroh-go retry token"))
	m.Write(body)
	ab, _ := addr.MarshalBinary()
	m.Write(ab)
	m.Write(scid.Bytes())
	return m.Sum(nil)[:16]
}

// checkRetryToken validates a token from an Initial sent to dcid from
// addr and returns the client's original destination id.
func (t *Transport) checkRetryToken(now timeT, tok []byte, addr netip.AddrPort, dcid quic.ConnectionID) (quic.ConnectionID, bool) {
	if len(tok) < 8+1+16 {
		return quic.ConnectionID{}, false
	}
	n := int(tok[8])
	if n > quic.MaxConnectionIDLen || len(tok) != 8+1+n+16 {
		return quic.ConnectionID{}, false
	}
	body, mac := tok[:9+n], tok[9+n:]
	if !hmac.Equal(mac, t.retryMAC(body, addr, dcid)) {
		return quic.ConnectionID{}, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(tok)))
	if now.Sub(issued) > retryTokenLife || issued.After(now.Add(time.Second)) {
		return quic.ConnectionID{}, false
	}
	return quic.MakeConnectionID(tok[9 : 9+n]), true
}
