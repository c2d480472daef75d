//go:build !linux

package transport

import "net/netip"

type rawSocket = struct{}

func (s *UDPSocket) setup() {}

// ReadBatch reads one datagram into ds[0].
func (s *UDPSocket) ReadBatch(ds []Datagram) (int, error) {
	d := &ds[0]
	n, addr, err := s.c.ReadFromUDPAddrPort(d.Buf[:cap(d.Buf)])
	if err != nil {
		return 0, err
	}
	d.N, d.Addr, d.Segment, d.ECN = n, unmapAddr(addr), 0, 0
	return 1, nil
}

// WriteBatch sends every entry, one datagram per system call.
func (s *UDPSocket) WriteBatch(ds []Datagram) error {
	for i := range ds {
		var werr error
		ds[i].segments(func(b []byte) {
			if werr == nil {
				_, werr = s.c.WriteToUDPAddrPort(b, ds[i].Addr)
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
