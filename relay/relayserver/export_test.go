package relayserver

import "time"

// SetKeepaliveForTest sets the server's ping interval and jitter; call it
// before the server accepts clients.
func SetKeepaliveForTest(s *Server, interval, jitter time.Duration) {
	s.pingInterval = interval
	s.pingJitter = jitter
}
