package relayserver

import (
	"errors"
	"fmt"
	"net"

	"github.com/iroh-go/iroh/internal/stun"
)

// DefaultSTUNPort is the IANA STUN port, where the relay answers binding
// requests by default.
const DefaultSTUNPort = 3478

// ServeSTUN answers STUN binding requests on pc with the sender's address
// (address discovery for clients) until pc is closed or the server shuts
// down; it then returns nil. Other packets are counted and ignored.
func (s *Server) ServeSTUN(pc net.PacketConn) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		pc.Close()
		return nil
	}
	s.stunConn[pc] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.stunConn, pc)
		s.mu.Unlock()
	}()
	s.log.Info("stun listening", "addr", pc.LocalAddr().String())
	buf := make([]byte, stun.MaxPacket)
	out := make([]byte, 0, 64)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("relayserver: stun read: %w", err)
		}
		tx, err := stun.ParseRequest(buf[:n])
		if err != nil {
			s.m.STUNBad.Inc()
			continue
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		s.m.STUNRequests.Inc()
		out = stun.AppendResponse(out[:0], tx, ua.AddrPort())
		pc.WriteTo(out, from)
	}
}
