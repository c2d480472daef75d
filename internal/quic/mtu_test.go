package quic

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic/sim"
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

// TestSimCongestionKeepsMTU: queue overflows drop bursts of full-size
// packets, and later full-size packets get through (that is how the
// losses are found); that is congestion, not an MTU black hole, so the
// path keeps its MTU.
func TestSimCongestionKeepsMTU(t *testing.T) {
	payload := make([]byte, 8<<20)
	rand.NewChaCha8([32]byte{11}).Read(payload)
	link := sim.LinkConfig{Delay: 2 * time.Millisecond, Rate: 100e6, QueueBytes: 32 << 10, MTU: 1500}
	s, cn, sn := simPair(t, 7, link, nil)
	app := &streamApp{payload: payload}
	cn.app = app.clientSide(cn.c)
	sn.app = app.serverSide(sn)
	if err := s.RunUntil(func() bool { return app.fin }, s.Now().Add(time.Minute)); err != nil {
		t.Fatalf("%v (got %d bytes)", err, len(app.got))
	}
	st := cn.c.Stats()
	drops := s.LinkBetween(clientAddr, serverAddr).Stats().TotalDropped()
	if drops < 50 || st.PacketsLost < 50 {
		t.Fatalf("only %d drops, %d packets lost: the test needs congestion", drops, st.PacketsLost)
	}
	ps := cn.c.paths[0].pmtud.Stats()
	if ps.BlackHoles != 0 || st.MTU != 1472 {
		t.Fatalf("%d packets lost in %d drops: MTU %d, %s", st.PacketsLost, drops, st.MTU, cn.c.PMTUDStatsForTest())
	}
}

// TestSimBlackHole: the path stops carrying large datagrams mid-transfer.
// Nothing large is acknowledged any more, so only the base-size PTO
// probes get through; their ACKs declare the large packets lost, the
// sender finds the black hole, falls back to the base size, and the
// transfer completes.
func TestSimBlackHole(t *testing.T) {
	payload := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{12}).Read(payload)
	link := sim.LinkConfig{Delay: 5 * time.Millisecond, Rate: 100e6, QueueBytes: 256 << 10, MTU: 1500}
	s, cn, sn := simPair(t, 8, link, nil)
	app := &streamApp{payload: payload}
	cn.app = app.clientSide(cn.c)
	sn.app = app.serverSide(sn)
	if err := s.RunUntil(func() bool { return len(app.got) > 1<<20 }, s.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if m := cn.c.Stats().MTU; m != 1472 {
		t.Fatalf("MTU %d before the black hole (%s)", m, cn.c.PMTUDStatsForTest())
	}
	link.MTU = 1300
	s.LinkBoth(clientAddr, serverAddr, link)
	start := s.Now()
	if err := s.RunUntil(func() bool { return app.fin }, s.Now().Add(time.Minute)); err != nil {
		t.Fatalf("after the black hole: %v (got %d bytes, %s)", err, len(app.got), cn.c.PMTUDStatsForTest())
	}
	if !bytes.Equal(app.got, payload) {
		t.Fatal("data differs")
	}
	ps := cn.c.paths[0].pmtud.Stats()
	if ps.BlackHoles != 1 || cn.c.Stats().MTU != 1200 {
		t.Fatalf("MTU %d, %s", cn.c.Stats().MTU, cn.c.PMTUDStatsForTest())
	}
	t.Logf("rest of the transfer took %v simulated after the black hole", s.Now().Sub(start))
}
