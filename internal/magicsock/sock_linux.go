package magicsock

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rxOOBSize is the control buffer of a socket read: room for the GRO
// segment size, the TOS/traffic class and packet info that quic-go may
// switch on through SyscallConn.
const rxOOBSize = 128

// setupSocket switches on, for a UDP socket: UDP GRO (the kernel hands
// over runs of same-sized datagrams from one source in one read), the DF
// bit without kernel PMTU enforcement (so quic-go can discover the path
// MTU), and receiving the ECN bits. It reports whether GRO is on.
func setupSocket(pc *net.UDPConn) bool {
	rc, err := pc.SyscallConn()
	if err != nil {
		return false
	}
	v4 := pc.LocalAddr().(*net.UDPAddr).IP.To4() != nil
	var groErr error
	_ = rc.Control(func(fd uintptr) {
		s := int(fd)
		groErr = unix.SetsockoptInt(s, unix.SOL_UDP, unix.UDP_GRO, 1)
		if v4 {
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_RECVTOS, 1)
		} else {
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS, 1)
		}
	})
	return groErr == nil
}

// readPacket reads one datagram, or with GRO a run of them, and its
// control messages.
func readPacket(pc *net.UDPConn, b, oob []byte) (n, oobn int, src netip.AddrPort, err error) {
	n, oobn, _, src, err = pc.ReadMsgUDPAddrPort(b, oob)
	return n, oobn, src, err
}

// parseRxOOB finds the GRO segment size (0: one datagram) and the ECN
// bits (|ecnKnown, or 0 if absent) in the control messages of a read.
func parseRxOOB(oob []byte) (gso int, ecn uint8) {
	for len(oob) > 0 {
		h, body, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		oob = rest
		switch {
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(body) >= 2:
			if len(body) >= 4 {
				gso = int(binary.NativeEndian.Uint32(body))
			} else {
				gso = int(binary.NativeEndian.Uint16(body))
			}
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS && len(body) >= 1:
			ecn = body[0]&3 | ecnKnown
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS && len(body) >= 4:
			ecn = uint8(binary.NativeEndian.Uint32(body))&3 | ecnKnown
		}
	}
	return gso, ecn
}

// putCmsg appends a control message of level/typ with an n-byte body to
// b (within its capacity) and returns the extended slice and the body.
func putCmsg(b []byte, level, typ int32, n int) ([]byte, []byte) {
	start := len(b)
	space := unix.CmsgSpace(n)
	if cap(b)-start < space {
		return b, nil
	}
	b = b[:start+space]
	clear(b[start:])
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[start]))
	h.Level = level
	h.Type = typ
	h.SetLen(unix.CmsgLen(n))
	off := start + unix.CmsgLen(0)
	return b, b[off : off+n]
}

// putRxECN writes the packet's ECN bits into oob as the IPV6_TCLASS
// message quic-go parses, returning its length (0 if unknown or no room).
func putRxECN(oob []byte, ecn uint8) int {
	if ecn&ecnKnown == 0 {
		return 0
	}
	b, body := putCmsg(oob[:0], unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4)
	if body == nil {
		return 0
	}
	binary.NativeEndian.PutUint32(body, uint32(ecn&3))
	return len(b)
}

// parseTxOOB reads the GSO segment size and ECN bits quic-go put in the
// control messages of a write (its packet info is ignored: the path, and
// so the local address, is ours to choose).
func parseTxOOB(oob []byte) (seg uint16, ecn uint8) {
	for len(oob) > 0 {
		h, body, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			break
		}
		oob = rest
		switch {
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_SEGMENT && len(body) >= 2:
			seg = binary.NativeEndian.Uint16(body)
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TOS && len(body) >= 1:
			ecn = body[0] & 3
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_TCLASS && len(body) >= 4:
			ecn = uint8(binary.NativeEndian.Uint32(body)) & 3
		}
	}
	return seg, ecn
}

// writeBatch writes a run of seg-sized packets to dst in one sendmsg with
// UDP_SEGMENT (GSO), marking them with the ECN bits. If the kernel
// refuses the GSO write, the packets go one by one.
func writeBatch(pc *net.UDPConn, p []byte, seg int, ecn uint8, dst netip.AddrPort) (gso bool, err error) {
	var ob [64]byte
	oob := ob[:0]
	gso = seg > 0 && seg < len(p)
	if gso {
		var body []byte
		oob, body = putCmsg(oob, unix.SOL_UDP, unix.UDP_SEGMENT, 2)
		binary.NativeEndian.PutUint16(body, uint16(seg))
	}
	if ecn&3 != 0 {
		var body []byte
		if dst.Addr().Is4() {
			oob, body = putCmsg(oob, unix.IPPROTO_IP, unix.IP_TOS, 4)
		} else {
			oob, body = putCmsg(oob, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4)
		}
		binary.NativeEndian.PutUint32(body, uint32(ecn&3))
	}
	if len(oob) == 0 {
		_, err = pc.WriteToUDPAddrPort(p, dst)
		return false, err
	}
	_, _, err = pc.WriteMsgUDPAddrPort(p, oob, dst)
	if err != nil && gso && isGSOError(err) {
		return false, writeSplit(pc, p, seg, dst)
	}
	return gso && err == nil, err
}

// isGSOError reports a write error that means the kernel or device
// cannot segment this datagram.
func isGSOError(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP)
}
