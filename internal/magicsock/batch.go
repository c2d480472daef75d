package magicsock

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/iroh-go/iroh/internal/stun"
)

// The receive path hands packets from the socket readers (and relay
// clients) to quic-go in batches: a reader fills one rxBatch per socket
// read (with UDP GRO on Linux, up to 64 KiB of same-sized QUIC packets
// from one source), resolves the source to its remote once, and queues
// the batch; ReadBatch copies packets from queued batches into quic-go's
// messages and recycles a batch when it is used up.

// ecnKnown is set in rxPacket.ecn when the packet's ECN bits were read
// from the IP header; without it quic-go is told nothing about ECN.
const ecnKnown = 0x80

// rxPacket is one QUIC packet of a batch.
type rxPacket struct {
	data []byte
	from *net.UDPAddr // the remote's mapped address
	ecn  uint8        // ECN bits | ecnKnown, or 0
}

// rxBatch is a group of received QUIC packets on its way to ReadBatch.
type rxBatch struct {
	// buf backs the packets of a socket read (nil for single packets).
	buf []byte
	// bp backs a single packet from the relay or the pending queue.
	bp   *[]byte
	pkts []rxPacket
	next int // first packet not yet handed to quic-go
}

// maxGROSegments bounds the packets of one coalesced read (the kernel
// coalesces at most 64).
const maxGROSegments = 64

var (
	rxPool    = sync.Pool{New: func() any { return &rxBatch{buf: make([]byte, maxPacket), pkts: make([]rxPacket, 0, maxGROSegments)} }}
	rxOnePool = sync.Pool{New: func() any { return &rxBatch{pkts: make([]rxPacket, 0, 1)} }}
)

// release recycles b and its buffers.
func (b *rxBatch) release() {
	clear(b.pkts)
	b.pkts = b.pkts[:0]
	b.next = 0
	if b.buf != nil {
		rxPool.Put(b)
		return
	}
	if b.bp != nil {
		bufPool.Put(b.bp)
		b.bp = nil
	}
	rxOnePool.Put(b)
}

// rxQueueLen bounds the batches waiting for quic-go. Socket readers wait
// for room (leaving further packets in the kernel's buffer, as a plain
// UDP socket would); relay deliveries are dropped when it is full.
const rxQueueLen = 256

// splitRead routes the n bytes a socket read put in b.buf: gso > 0 is the
// segment size of a coalesced (GRO) read, ecn the packets' ECN bits
// (|ecnKnown). STUN and disco packets are handled; QUIC packets from known
// paths are queued for quic-go (one batch, one remote lookup per read);
// others are held until a disco ping names their sender. It owns b. It
// runs on a socket's read goroutine.
func (c *Conn) splitRead(b *rxBatch, n, gso int, ecn uint8, src netip.AddrPort) {
	if c.routeRead(b, n, gso, ecn, src) {
		c.queue(b, true)
	}
}

// routeRead does splitRead's work but for queueing: it reports whether b
// holds QUIC packets for the caller, and releases b if not.
func (c *Conn) routeRead(b *rxBatch, n, gso int, ecn uint8, src netip.AddrPort) bool {
	if gso <= 0 || gso > n {
		gso = n
	}
	var r *remote
	looked := false
	total := 0
	for off := 0; off < n; off += gso {
		seg := b.buf[off:min(off+gso, n)]
		if stun.Is(seg) {
			c.handleSTUN(seg)
			continue
		}
		if looksLikeDisco(seg) {
			c.handleDisco(seg, pathAddr{udp: src})
			continue
		}
		if !looked {
			looked = true
			if v, ok := c.byUDP.Load(src); ok {
				r = v.(*remote)
			} else {
				r = c.adoptInitialSource(src, seg, time.Now())
			}
		}
		if r == nil {
			c.holdPending(src, seg)
			continue
		}
		b.pkts = append(b.pkts, rxPacket{data: seg, from: r.mapped, ecn: ecn})
		total += len(seg)
	}
	if len(b.pkts) == 0 {
		b.release()
		return false
	}
	now := time.Now()
	if bp := r.best.Load(); bp == nil || bp.addr != src || now.UnixNano() >= bp.trustedUntil.Load() {
		r.confirmQUIC(src, b.pkts[0].data, now)
	}
	r.noteRecv(pathAddr{udp: src}, total)
	return true
}

// queue hands b to ReadBatch. With wait it blocks while the queue is full
// (until Close); without, it drops b when the queue is full.
func (c *Conn) queue(b *rxBatch, wait bool) {
	n := len(b.pkts)
	if wait {
		select {
		case c.rx <- b:
			c.recvPackets.Add(float64(n))
			c.wakeInlineReader()
		case <-c.closing:
			b.release()
		}
		return
	}
	select {
	case c.rx <- b:
		c.recvPackets.Add(float64(n))
		c.wakeInlineReader()
	default:
		b.release()
		c.metrics.Dropped.WithLabelValues("recv_queue_full").Add(float64(n))
	}
}

// deliver queues one QUIC packet for quic-go; it owns bp. Relay clients
// and the pending queue use it.
func (c *Conn) deliver(bp *[]byte, n int, r *remote) {
	b := rxOnePool.Get().(*rxBatch)
	b.bp = bp
	b.pkts = append(b.pkts, rxPacket{data: (*bp)[:n], from: r.mapped})
	c.queue(b, false)
}

// nextBatchLocked returns the batch to read from: the current one, else a
// queued one. With wait it blocks for one until the read deadline or
// Close; without, it returns nil if none is queued. c.rxMu is held.
func (c *Conn) nextBatchLocked(wait bool) (*rxBatch, error) {
	if c.rxCur != nil {
		return c.rxCur, nil
	}
	select {
	case b := <-c.rx:
		c.rxCur = b
		return b, nil
	default:
	}
	if !wait {
		return nil, nil
	}
	if c.closed.Load() {
		return nil, net.ErrClosed
	}
	for {
		var timer <-chan time.Time
		if dl := c.readDeadline.Load(); dl != nil && !dl.IsZero() {
			d := time.Until(*dl)
			if d <= 0 {
				return nil, os.ErrDeadlineExceeded
			}
			t := time.NewTimer(d)
			defer t.Stop()
			timer = t.C
		}
		select {
		case b := <-c.rx:
			c.rxCur = b
			return b, nil
		case <-c.closing:
			return nil, net.ErrClosed
		case <-timer:
			return nil, os.ErrDeadlineExceeded
		case <-c.deadlineCh:
		}
	}
}

// ReadBatch fills ms with received QUIC packets, blocking until at least
// one arrives: each message gets the packet in Buffers[0], the sender's
// mapped address, and (on Linux) its ECN bits as a control message. It is
// the batch interface quic-go looks for on its socket.
func (c *Conn) ReadBatch(ms []ipv4.Message, _ int) (int, error) {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	n := 0
	for n < len(ms) {
		b, err := c.nextBatchLocked(n == 0)
		if err != nil {
			return 0, err
		}
		if b == nil {
			break
		}
		for b.next < len(b.pkts) && n < len(ms) {
			p := &b.pkts[b.next]
			b.next++
			m := &ms[n]
			n++
			m.N = 0
			if len(m.Buffers) > 0 {
				m.N = copy(m.Buffers[0], p.data)
			}
			m.NN = putRxECN(m.OOB, p.ecn)
			m.Flags = 0
			m.Addr = p.from
		}
		if b.next == len(b.pkts) {
			c.rxCur = nil
			b.release()
		}
	}
	return n, nil
}

// ReadFrom returns the next QUIC packet and the mapped address of its
// sender. It implements net.PacketConn for quic-go.
func (c *Conn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, _, _, addr, err := c.ReadMsgUDP(p, nil)
	if err != nil {
		return 0, nil, err
	}
	return n, addr, nil
}

// ReadMsgUDP is ReadFrom with the packet's ECN bits as a control message
// in oob (on Linux); flags is always 0.
func (c *Conn) ReadMsgUDP(p, oob []byte) (n, oobn, flags int, addr *net.UDPAddr, err error) {
	c.rxMu.Lock()
	defer c.rxMu.Unlock()
	b, err := c.nextBatchLocked(true)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	pk := &b.pkts[b.next]
	n, oobn, addr = copy(p, pk.data), putRxECN(oob, pk.ecn), pk.from
	b.next++
	if b.next == len(b.pkts) {
		c.rxCur = nil
		b.release()
	}
	return n, oobn, 0, addr, nil
}

// WriteMsgUDP sends the QUIC packets in p to the remote behind the mapped
// address addr. oob may carry quic-go's UDP_SEGMENT (GSO: p is a run of
// segment-sized packets) and ECN control messages. On a trusted direct
// path the batch goes to the kernel in one call; otherwise its packets go
// one by one over the relay and the candidates. Errors on a path are not
// returned (another path may still work); the only error is net.ErrClosed.
func (c *Conn) WriteMsgUDP(p, oob []byte, addr *net.UDPAddr) (n, oobn int, err error) {
	if c.closed.Load() {
		return 0, 0, net.ErrClosed
	}
	r := c.remoteByUDPAddr(addr)
	if r == nil {
		c.metrics.Dropped.WithLabelValues("unknown_destination").Inc()
		return len(p), len(oob), nil
	}
	seg, ecn := parseTxOOB(oob)
	r.sendBatch(p, int(seg), ecn)
	return len(p), len(oob), nil
}

// remoteByUDPAddr returns the remote behind a mapped address, or nil.
func (c *Conn) remoteByUDPAddr(ua *net.UDPAddr) *remote {
	if ua == nil {
		return nil
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return nil
	}
	v, ok := c.byMapped.Load(netip.AddrPortFrom(ip, uint16(ua.Port)))
	if !ok {
		return nil
	}
	return v.(*remote)
}

// sendBatch transmits a run of seg-sized QUIC packets (seg 0: p is one
// packet) over r's best path: in one GSO write on a trusted direct path,
// else packet by packet over the relay and the candidates (remote.send's
// rules).
func (r *remote) sendBatch(p []byte, seg int, ecn uint8) {
	if seg <= 0 || seg >= len(p) {
		seg = len(p)
	}
	now := time.Now()
	r.lastSend.Store(now.UnixNano())
	long := len(p) > 0 && p[0]&0x80 != 0
	if long {
		r.noteSentLong(p)
	}
	bp := r.best.Load()
	if bp != nil && now.UnixNano() < bp.trustedUntil.Load() {
		if r.c.sendUDPBatch(p, seg, ecn, bp.addr) == nil {
			return
		}
	}
	if long && bp == nil && !r.anonymous {
		// The handshake, with no direct path confirmed yet: every path
		// (see quicpath.go).
		r.sprayHandshake(p, seg, now)
		return
	}
	if bp == nil && seg < len(p) && r.sendRelayOnly(p, seg, ecn) {
		r.pingDue(now)
		return
	}
	for len(p) > 0 {
		s := p[:min(seg, len(p))]
		p = p[len(s):]
		r.sendSlow(s, bp, now)
	}
}

// relayMaxContents is the most datagram bytes one relay frame carries
// (relay.MaxPacketSize less the key, ECN and segment size).
const relayMaxContents = 65536 - 32 - 1 - 2

// sendRelayOnly sends a run of seg-sized packets as relay batch frames
// when no direct path was ever confirmed and a relay is known: data then
// goes over the relay only (candidates get pings, see remote.sendSlow).
// It reports whether it did; otherwise the caller splits the run for
// remote.sendSlow.
func (r *remote) sendRelayOnly(p []byte, seg int, ecn uint8) bool {
	r.mu.Lock()
	relay := r.relayURL
	r.mu.Unlock()
	if relay == "" {
		return false
	}
	rc, err := r.c.relayFor(relay)
	if err != nil {
		r.c.metrics.Dropped.WithLabelValues("no_path").Add(float64((len(p) + seg - 1) / seg))
		return true
	}
	maxRun := relayMaxContents / seg * seg
	for len(p) > 0 {
		run := p[:min(maxRun, len(p))]
		p = p[len(run):]
		segSize := uint16(seg)
		if len(run) <= seg {
			segSize = 0
		}
		if err := rc.Send(r.id, ecn, segSize, run); err != nil {
			r.c.metrics.Dropped.WithLabelValues("no_path").Add(float64((len(run) + seg - 1) / seg))
			continue
		}
		r.c.metrics.SentBytes.WithLabelValues("relay").Add(float64(len(run)))
	}
	return true
}

// sendUDPBatch writes a run of seg-sized packets to dst, with GSO where
// the platform has it, else one write per packet.
func (c *Conn) sendUDPBatch(p []byte, seg int, ecn uint8, dst netip.AddrPort) error {
	pc := c.pc4
	if !dst.Addr().Is4() {
		pc = c.pc6
	}
	if pc == nil {
		return errNoSocket
	}
	gso, err := writeBatch(pc, p, seg, ecn, dst)
	if err != nil {
		return err
	}
	if gso {
		c.metrics.GSOSends.Inc()
	}
	c.sentDirect.Add(float64(len(p)))
	return nil
}

var errNoSocket = errors.New("magicsock: no socket for the address family")

// SyscallConn returns a raw connection whose Control runs its function on
// each of the socket's UDP sockets in turn (IPv4, then IPv6): quic-go uses
// it to read and set socket options (buffer sizes, DF, ECN, GSO support).
// Read and Write are not supported.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	return sockRawConn{c}, nil
}

type sockRawConn struct{ c *Conn }

func (s sockRawConn) Control(f func(fd uintptr)) error {
	for _, pc := range []*net.UDPConn{s.c.pc4, s.c.pc6} {
		if pc == nil {
			continue
		}
		rc, err := pc.SyscallConn()
		if err != nil {
			return err
		}
		if err := rc.Control(f); err != nil {
			return err
		}
	}
	return nil
}

var errRawIO = errors.New("magicsock: raw socket reads and writes are not supported")

func (sockRawConn) Read(func(fd uintptr) bool) error  { return errRawIO }
func (sockRawConn) Write(func(fd uintptr) bool) error { return errRawIO }
