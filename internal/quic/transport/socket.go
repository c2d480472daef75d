package transport

import (
	"net"
	"net/netip"
)

// maxSegments bounds the segments of one GSO send (the kernel's limit is
// 64) and of one GRO receive.
const maxSegments = 64

// Datagram is one entry of a socket batch: a datagram, or a run of
// same-size datagrams to or from one address (GSO/GRO).
type Datagram struct {
	// Buf holds the bytes: on read, its capacity is filled; N is the
	// length used.
	Buf []byte
	N   int
	// Addr is the remote address.
	Addr netip.AddrPort
	// Segment, when positive and below N, splits Buf[:N] into datagrams
	// of Segment bytes (the last may be shorter).
	Segment int
	// ECN is the ECN codepoint (0 not-ECT, 1 ECT(1), 2 ECT(0), 3 CE).
	ECN uint8
}

// Socket is what the driver reads and writes datagrams through: a UDP
// socket here, magicsock's transports later. ReadBatch blocks until at
// least one entry is filled and returns how many; it is called from one
// goroutine. WriteBatch may be called concurrently and sends every entry
// (or fails). Close unblocks ReadBatch with an error.
type Socket interface {
	ReadBatch(ds []Datagram) (int, error)
	WriteBatch(ds []Datagram) error
	LocalAddr() netip.AddrPort
	Close() error
}

// UDPSocket is a Socket over a *net.UDPConn, using GSO and GRO where the
// kernel has them (Linux).
type UDPSocket struct {
	c       *net.UDPConn
	gso     bool
	gro     bool
	sysConn rawSocket
	readOOB [64]byte // owned by the one reader
}

// NewUDPSocket wraps c; the Socket owns it from now on (Close closes it).
func NewUDPSocket(c *net.UDPConn) *UDPSocket {
	s := &UDPSocket{c: c}
	// Large socket buffers: at hundreds of MB/s the default (about
	// 200 KB) overflows between two reads, and every drop costs a
	// congestion window reduction. The kernel caps them (net.core.*mem_max).
	c.SetReadBuffer(socketBufferSize)
	c.SetWriteBuffer(socketBufferSize)
	s.setup()
	return s
}

// socketBufferSize is the send and receive buffer asked for.
const socketBufferSize = 8 << 20

// LocalAddr returns the socket's bound address.
func (s *UDPSocket) LocalAddr() netip.AddrPort {
	return s.c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close closes the socket.
func (s *UDPSocket) Close() error { return s.c.Close() }

// segments calls f for each datagram of d.
func (d *Datagram) segments(f func(b []byte)) {
	b := d.Buf[:d.N]
	if d.Segment <= 0 || d.Segment >= len(b) {
		f(b)
		return
	}
	for len(b) > 0 {
		n := min(d.Segment, len(b))
		f(b[:n])
		b = b[n:]
	}
}
