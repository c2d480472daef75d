package transport

import (
	"crypto/rand"
	"net/netip"

	"errors"
	"github.com/iroh-go/iroh/internal/quic/wire"
	"syscall"

	"github.com/iroh-go/iroh/internal/quic"
)

// readBufSize holds a GRO run of datagrams.
const readBufSize = 64 << 10

// readLoop owns the socket's read side: it reads batches, finds each
// datagram's connection and processes it inline under that connection's
// lock; touched connections flush their sends once per batch.
func (t *Transport) readLoop() {
	defer t.wg.Done()
	batch := make([]Datagram, 1)
	for i := range batch {
		batch[i].Buf = make([]byte, readBufSize)
	}
	var touched []*Conn
	for {
		n, err := t.sock.ReadBatch(batch)
		if err != nil {
			select {
			case <-t.closing:
				return
			default:
			}
			if isTemporary(err) {
				continue
			}
			t.log.Debug("socket read failed", "err", err)
			return
		}
		now := timeNow()
		var segs, bytes int
		for i := range batch[:n] {
			d := &batch[i]
			d.segments(func(b []byte) {
				segs++
				bytes += len(b)
				if c := t.handleDatagram(now, b, d); c != nil && !c.inBatch {
					c.inBatch = true
					touched = append(touched, c)
				}
			})
		}
		t.m.DatagramsRecv.Add(float64(segs))
		t.m.BytesRecv.Add(float64(bytes))
		for i, c := range touched {
			c.mu.Lock()
			c.inBatch = false
			c.afterInputLocked()
			c.mu.Unlock()
			touched[i] = nil
		}
		touched = touched[:0]
	}
}

// handleDatagram delivers one datagram; it returns the connection that
// took it, with the datagram processed (its lock released again), or nil.
func (t *Transport) handleDatagram(now timeT, b []byte, d *Datagram) *Conn {
	dcid, long, ok := peekDCID(b, cidLen)
	if !ok {
		return nil
	}
	t.mu.Lock()
	c := t.conns[dcid]
	t.mu.Unlock()
	if c == nil {
		if !long {
			if c := t.matchStatelessReset(now, b); c != nil {
				return c
			}
			t.sendStatelessReset(now, b, d.Addr, dcid)
			return nil
		}
		if !t.opts.Server {
			return nil
		}
		if t.maybeVersionNegotiation(b, d.Addr) {
			return nil
		}
		c = t.acceptInitial(now, b, d, dcid)
		if c == nil {
			return nil
		}
	}
	c.mu.Lock()
	c.core.Receive(now, b, d.Addr, d.ECN)
	c.mu.Unlock()
	return c
}

// peekDCID reads the destination connection id of a QUIC packet: after
// the version in a long header, or the shortLen bytes after the first
// byte of a short header.
func peekDCID(b []byte, shortLen int) (id quic.ConnectionID, long, ok bool) {
	if len(b) == 0 {
		return id, false, false
	}
	if b[0]&0x80 == 0 {
		if len(b) < 1+shortLen {
			return id, false, false
		}
		return quic.MakeConnectionID(b[1 : 1+shortLen]), false, true
	}
	if len(b) < 6 {
		return id, true, false
	}
	n := int(b[5])
	if n > quic.MaxConnectionIDLen || len(b) < 6+n {
		return id, true, false
	}
	return quic.MakeConnectionID(b[6 : 6+n]), true, true
}

// isTemporary reports read errors to retry: ICMP-induced errors such as
// ECONNREFUSED surface on Linux UDP sockets and mean nothing for us.
func isTemporary(err error) bool {
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EMSGSIZE)
}

// maxResetsPerSecond bounds the stateless resets (and version
// negotiation packets) sent, so a flood of junk cannot make us a
// reflector.
const maxResetsPerSecond = 100

// statelessAllowed takes one of this second's stateless replies.
func (t *Transport) statelessAllowed(now timeT) bool {
	sec := now.Unix()
	if sec != t.replySec {
		t.replySec, t.replies = sec, 0
	}
	if t.replies >= maxResetsPerSecond {
		return false
	}
	t.replies++
	return true
}

// sendStatelessReset answers a short-header packet for a connection we
// do not know with a stateless reset (RFC 9000 §10.3): shorter than the
// packet that caused it, so two endpoints cannot loop, and at least 21
// bytes, random but for the token derived from the id.
func (t *Transport) sendStatelessReset(now timeT, b []byte, to netip.AddrPort, dcid quic.ConnectionID) {
	const minLen = 1 + 20 + 16 // look like a short header with a long id
	if len(b) <= minLen || !t.statelessAllowed(now) {
		return
	}
	n := min(len(b)-1, minLen+8)
	pkt := make([]byte, n)
	rand.Read(pkt[:n-16])
	pkt[0] = 0x40 | pkt[0]&0x3f
	tok := t.resetToken(dcid)
	copy(pkt[n-16:], tok[:])
	t.m.StatelessReplies.WithLabelValues("reset").Inc()
	t.sock.WriteBatch([]Datagram{{Buf: pkt, N: n, Addr: to}})
}

// maybeVersionNegotiation answers a long-header packet of another QUIC
// version with the versions we speak (RFC 9000 §6), if it is large enough
// to be a client's first packet.
func (t *Transport) maybeVersionNegotiation(b []byte, to netip.AddrPort) bool {
	h, err := wire.ParseHeader(b, cidLen)
	if err != nil || h.Type != wire.PacketUnknownVersion {
		return false
	}
	if len(b) < wire.MinInitialDatagramSize || !t.statelessAllowed(timeNow()) {
		return true
	}
	var r [1]byte
	rand.Read(r[:])
	pkt := wire.AppendVersionNegotiation(nil, h.DstCID, h.SrcCID, []uint32{wire.Version1}, r[0])
	t.m.StatelessReplies.WithLabelValues("version_negotiation").Inc()
	t.sock.WriteBatch([]Datagram{{Buf: pkt, N: len(pkt), Addr: to}})
	return true
}

// matchStatelessReset offers an unroutable datagram to every connection
// as a possible stateless reset from its peer; it returns the connection
// it ended.
func (t *Transport) matchStatelessReset(now timeT, b []byte) *Conn {
	if len(b) < 21 || !t.statelessAllowed(now) {
		return nil // a junk flood costs at most 100 scans a second
	}
	t.mu.Lock()
	conns := make([]*Conn, 0, len(t.all))
	for c := range t.all {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.mu.Lock()
		ok := c.core != nil && c.core.HandleStatelessReset(now, b)
		c.mu.Unlock()
		if ok {
			return c
		}
	}
	return nil
}
