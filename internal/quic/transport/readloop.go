package transport

import (
	"errors"
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
		for i := range batch[:n] {
			d := &batch[i]
			d.segments(func(b []byte) {
				if c := t.handleDatagram(now, b, d); c != nil && !c.inBatch {
					c.inBatch = true
					touched = append(touched, c)
				}
			})
		}
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
		if !long || !t.opts.Server {
			return nil // stateless reset: later
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
