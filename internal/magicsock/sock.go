package magicsock

import (
	"net"
	"net/netip"
)

// writeSplit writes a run of seg-sized packets to dst one datagram at a
// time: the portable form of a GSO write.
func writeSplit(pc *net.UDPConn, p []byte, seg int, dst netip.AddrPort) error {
	if seg <= 0 {
		seg = len(p)
	}
	var first error
	for len(p) > 0 {
		s := p[:min(seg, len(p))]
		p = p[len(s):]
		if _, err := pc.WriteToUDPAddrPort(s, dst); err != nil && first == nil {
			first = err
		}
	}
	return first
}
