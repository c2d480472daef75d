//go:build !linux

package magicsock

import (
	"net"
	"net/netip"
)

// rxOOBSize is the control buffer of a socket read.
const rxOOBSize = 64

// setupSocket tunes a UDP socket; without Linux's UDP GRO there is
// nothing to set here (quic-go sets DF and ECN through SyscallConn).
// It reports whether reads may return coalesced packets.
func setupSocket(*net.UDPConn) bool { return false }

// readPacket reads one datagram; control messages are not used here.
func readPacket(pc *net.UDPConn, b, _ []byte) (n, oobn int, src netip.AddrPort, err error) {
	n, src, err = pc.ReadFromUDPAddrPort(b)
	return n, 0, src, err
}

// parseRxOOB finds the GRO segment size and ECN bits of a read; the
// portable reader has neither.
func parseRxOOB([]byte) (gso int, ecn uint8) { return 0, 0 }

// putRxECN writes a packet's ECN bits for quic-go; not on this platform.
func putRxECN([]byte, uint8) int { return 0 }

// parseTxOOB reads quic-go's GSO segment size and ECN bits; quic-go uses
// neither here.
func parseTxOOB([]byte) (seg uint16, ecn uint8) { return 0, 0 }

// writeBatch writes a run of seg-sized packets to dst, one per datagram.
func writeBatch(pc *net.UDPConn, p []byte, seg int, _ uint8, dst netip.AddrPort) (gso bool, err error) {
	return false, writeSplit(pc, p, seg, dst)
}
