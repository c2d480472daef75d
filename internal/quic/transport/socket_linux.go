package transport

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

type rawSocket = syscall.RawConn

var oobPool = sync.Pool{New: func() any { return new([unix.SizeofCmsghdr + 8]byte) }}

func (s *UDPSocket) setup() {
	rc, err := s.c.SyscallConn()
	if err != nil {
		return
	}
	s.sysConn = rc
	rc.Control(func(fd uintptr) {
		if _, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT); err == nil {
			s.gso = true
		}
		if unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil {
			s.gro = true
		}
		// Receive the ECN bits of incoming datagrams, to report them in
		// ACK_ECN frames (we do not mark our own packets yet).
		unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_RECVTOS, 1)
		unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1)
	})
}

var nativeEndian = func() binary.ByteOrder {
	x := uint16(1)
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}()

// ReadBatch reads one datagram (or one GRO run of datagrams) into ds[0].
func (s *UDPSocket) ReadBatch(ds []Datagram) (int, error) {
	oob := &s.readOOB
	d := &ds[0]
	n, oobn, _, addr, err := s.c.ReadMsgUDPAddrPort(d.Buf[:cap(d.Buf)], oob[:])
	if err != nil {
		return 0, err
	}
	d.N, d.Addr = n, unmapAddr(addr)
	d.Segment, d.ECN = parseOOB(oob[:oobn])
	return 1, nil
}

// parseOOB reads the control messages of a received datagram: the GRO
// segment size and the ECN bits of the TOS / traffic class byte.
func parseOOB(oob []byte) (segment int, ecn uint8) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return
		}
		data := oob[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			segment = int(nativeEndian.Uint32(data))
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS && len(data) >= 1:
			ecn = data[0] & 3
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS && len(data) >= 4:
			ecn = uint8(nativeEndian.Uint32(data)) & 3
		}
		oob = oob[min(unix.CmsgSpace(l-unix.SizeofCmsghdr), len(oob)):]
	}
	return
}

// WriteBatch sends every entry, a GSO run in one system call.
func (s *UDPSocket) WriteBatch(ds []Datagram) error {
	for i := range ds {
		d := &ds[i]
		if s.gso && d.Segment > 0 && d.Segment < d.N {
			op := oobPool.Get().(*[unix.SizeofCmsghdr + 8]byte)
			oob := op
			h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
			h.Level = unix.IPPROTO_UDP
			h.Type = unix.UDP_SEGMENT
			h.SetLen(unix.CmsgLen(2))
			nativeEndian.PutUint16(oob[unix.CmsgLen(0):], uint16(d.Segment))
			_, _, err := s.c.WriteMsgUDPAddrPort(d.Buf[:d.N], oob[:unix.CmsgSpace(2)], d.Addr)
			oobPool.Put(op)
			if err == nil {
				continue
			}
			if !errors.Is(err, unix.EIO) && !errors.Is(err, unix.EINVAL) {
				return err
			}
			s.gso = false // no offload on this device: one by one
		}
		var werr error
		d.segments(func(b []byte) {
			if werr == nil {
				_, werr = s.c.WriteToUDPAddrPort(b, d.Addr)
			}
		})
		if werr != nil {
			return werr
		}
	}
	return nil
}

func unmapAddr(a netip.AddrPort) netip.AddrPort {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return a
}
