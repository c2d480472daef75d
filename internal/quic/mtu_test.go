package quic

import (
	"testing"
	"time"
)

// TestJumboMTU: path MTU discovery reaches a large max_udp_payload_size
// when both sides allow it and the path carries it.
func TestJumboMTU(t *testing.T) {
	p := handshake(t, func(c, s *Config) { c.MaxUDPPayloadSize = 16384; s.MaxUDPPayloadSize = 16384 })
	p.transfer(p.client, p.server, make([]byte, 1<<20), 10*time.Second)
	if m := p.client.paths[0].mtu; m != 16384 {
		t.Fatalf("path MTU %d (%s), want 16384", m, p.client.PMTUDStatsForTest())
	}
}
