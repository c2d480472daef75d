package quic

import (
	"fmt"
	"time"
)

// Stats are a connection's counters and current path figures.
type Stats struct {
	// RTT is path 0's smoothed round-trip time, MinRTT its minimum.
	RTT, MinRTT time.Duration
	// Window is path 0's congestion window in bytes; MTU its datagram
	// size (after path MTU discovery).
	Window, MTU int
	// PacketsSent, PacketsLost and BytesSent are path 0's recovery
	// counters.
	PacketsSent, PacketsLost, BytesSent uint64
	// KeyUpdates counts 1-RTT key phases after the first (ours and the
	// peer's).
	KeyUpdates uint64
	// ZeroRTTPackets counts the 0-RTT packets we sent (client) or
	// accepted (server).
	ZeroRTTPackets uint64
	// DatagramsDropped counts datagrams dropped from full queues.
	DatagramsDropped uint64
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	p := c.paths[0]
	rs := p.rec.Stats()
	return Stats{
		RTT: p.rec.RTT().Smoothed(), MinRTT: p.rec.RTT().Min(),
		Window: p.rec.Window(), MTU: p.mtu,
		PacketsSent: rs.PacketsSent, PacketsLost: rs.PacketsLost, BytesSent: rs.BytesSent,
		KeyUpdates:       c.keys.updates,
		ZeroRTTPackets:   c.zeroRTTPackets,
		DatagramsDropped: c.dgramDropped,
	}
}

// PMTUDStatsForTest exposes the path MTU discovery state (tests).
func (c *Conn) PMTUDStatsForTest() string {
	p := c.paths[0]
	if p.pmtud == nil {
		return "no pmtud"
	}
	return fmt.Sprintf("%+v %v cur %d", p.pmtud.Stats(), p.pmtud.State(), p.pmtud.Current())
}
