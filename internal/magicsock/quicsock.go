package magicsock

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/iroh-go/iroh/internal/quic/transport"
)

// QUICSocket presents a Conn as the socket of our own QUIC driver
// (transport.Socket): datagrams are addressed by the remote's mapped
// address, exactly as quic-go sees them through the net.PacketConn
// methods. Both faces may not be used at once on one Conn (they share the
// receive queue). See the package doc, "Our QUIC".
type QUICSocket struct {
	c *Conn
	// pc is the UDP socket the reader reads itself (IPv4 if bound).
	pc *net.UDPConn

	// Owned by the reader (under c.rxMu).
	oob [rxOOBSize]byte
}

var _ transport.Socket = (*QUICSocket)(nil)

// QUICSocket returns the Conn as a transport.Socket (the same one on
// every call). From now on the goroutine calling ReadBatch reads the
// first UDP socket itself, with no hand-off to another goroutine; the
// other socket and the relays still deliver through the queue. The UDP
// socket buffers stay as New set them (7 MiB asked, like the driver's own
// 8 MiB). Closing the socket (which transport.Transport.Close does)
// closes the Conn.
func (c *Conn) QUICSocket() *QUICSocket {
	c.quicOnce.Do(func() {
		s := &QUICSocket{c: c, pc: c.pc4}
		if s.pc == nil {
			s.pc = c.pc6
		}
		c.inlineHanded = make(chan struct{})
		c.inlinePC.Store(s.pc)
		// Wake the socket's readLoop so it sees the hand-over and exits.
		_ = s.pc.SetReadDeadline(time.Unix(1, 0))
		select {
		case <-c.inlineHanded:
		case <-c.closing:
		}
		_ = s.pc.SetReadDeadline(time.Time{})
		c.quicSock = s
	})
	return c.quicSock
}

// wakeInlineReader makes the QUIC socket's reader, if it is blocked in a
// UDP read, return from it to take what was just queued (a packet from
// a relay or the other socket).
func (c *Conn) wakeInlineReader() {
	if c.inlineWaiting.Load() {
		if pc := c.inlinePC.Load(); pc != nil {
			_ = pc.SetReadDeadline(time.Unix(1, 0))
		}
	}
}

// Conn returns the magic socket under s.
func (s *QUICSocket) Conn() *Conn { return s.c }

// LocalAddr returns the first bound UDP address (IPv4 if bound).
func (s *QUICSocket) LocalAddr() netip.AddrPort {
	return s.c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close closes the Conn; a blocked ReadBatch returns net.ErrClosed.
func (s *QUICSocket) Close() error { return s.c.Close() }

// ReadBatch fills ds with received QUIC packets, blocking until at least
// one is there (or the Conn is closed: net.ErrClosed). Each entry gets
// packets of one sender, copied into its Buf up to Buf's capacity: a run
// of same-size packets (as one GRO read delivered them, the last possibly
// shorter) becomes one entry with Segment set. Addr is the sender's
// mapped address, ECN its ECN codepoint (0 when unknown). It is called
// from one goroutine (the driver's read loop) and allocates nothing:
// with nothing queued it reads the first UDP socket itself.
func (s *QUICSocket) ReadBatch(ds []transport.Datagram) (int, error) {
	c := s.c
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	n := 0
	for n < len(ds) {
		if c.closed.Load() {
			if n > 0 {
				break
			}
			return 0, net.ErrClosed
		}
		b, _ := c.nextBatchLocked(false)
		if b == nil {
			if n > 0 {
				break
			}
			var err error
			if b, err = s.readLocked(); err != nil {
				return 0, err
			}
			if b == nil {
				continue
			}
		}
		fillDatagram(&ds[n], b)
		n++
		if b.next == len(b.pkts) {
			c.rxCur = nil
			b.release()
		}
	}
	return n, nil
}

// readLocked reads the socket once and routes what it read: it returns
// a batch of QUIC packets, or nil when the read held none (disco, STUN, a
// packet from an unknown source) or was woken for a queued batch.
func (s *QUICSocket) readLocked() (*rxBatch, error) {
	c := s.c
	c.inlineWaiting.Store(true)
	select {
	case b := <-c.rx:
		c.inlineWaiting.Store(false)
		c.rxCur = b
		return b, nil
	default:
	}
	b := rxPool.Get().(*rxBatch)
	n, oobn, src, err := readPacket(s.pc, b.buf, s.oob[:])
	c.inlineWaiting.Store(false)
	if err != nil {
		b.release()
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			// Woken by wakeInlineReader: the caller takes the queue.
			_ = s.pc.SetReadDeadline(time.Time{})
			return nil, nil
		case c.closed.Load() || errors.Is(err, net.ErrClosed):
			return nil, net.ErrClosed
		default:
			c.log.Debug("udp read", "err", err)
			return nil, nil
		}
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	gso, ecn := parseRxOOB(s.oob[:oobn])
	if !c.routeRead(b, n, gso, ecn, src) {
		return nil, nil
	}
	c.recvPackets.Add(float64(len(b.pkts)))
	c.rxCur = b
	return b, nil
}

// maxRxSegments bounds the packets put in one Datagram (the kernel's GRO
// and GSO limit).
const maxRxSegments = 64

// fillDatagram copies the next run of b's packets into d: packets of the
// first one's sender, ECN and size, the last of the run possibly shorter,
// as many as fit in d.Buf's capacity. A first packet larger than the
// buffer is truncated, as a UDP read would.
func fillDatagram(d *transport.Datagram, b *rxBatch) {
	buf := d.Buf[:cap(d.Buf)]
	first := &b.pkts[b.next]
	seg := len(first.data)
	off := copy(buf, first.data)
	b.next++
	count := 1
	for off == count*seg && count < maxRxSegments && b.next < len(b.pkts) {
		p := &b.pkts[b.next]
		if p.from != first.from || p.ecn != first.ecn || len(p.data) > seg || len(p.data) == 0 || off+len(p.data) > len(buf) {
			break
		}
		off += copy(buf[off:], p.data)
		b.next++
		count++
	}
	d.Buf = buf
	d.N = off
	d.Addr = first.from.AddrPort()
	d.ECN = first.ecn & 3
	d.Segment = 0
	if count > 1 {
		d.Segment = seg
	}
}

// WriteBatch sends each entry to the remote behind its mapped address,
// over that remote's best path: a GSO run (Segment set) goes to a trusted
// direct path in one system call, or to a relay-only remote as relay
// batch frames; otherwise it is split (see WriteMsgUDP). Entries for an
// address that is not a remote's are dropped and counted; path errors are
// not returned (another path may still work). The only error is
// net.ErrClosed. Safe for concurrent use.
func (s *QUICSocket) WriteBatch(ds []transport.Datagram) error {
	c := s.c
	if c.closed.Load() {
		return net.ErrClosed
	}
	for i := range ds {
		d := &ds[i]
		r := c.remoteByMapped(d.Addr)
		if r == nil {
			c.metrics.Dropped.WithLabelValues("unknown_destination").Inc()
			continue
		}
		r.sendBatch(d.Buf[:d.N], d.Segment, d.ECN&3)
	}
	return nil
}

// remoteByMapped returns the remote behind a mapped address, or nil.
func (c *Conn) remoteByMapped(ap netip.AddrPort) *remote {
	v, ok := c.byMapped.Load(ap)
	if !ok {
		return nil
	}
	return v.(*remote)
}
