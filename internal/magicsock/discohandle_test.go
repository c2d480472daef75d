package magicsock

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
)

// stranger is a UDP socket with a key of its own that speaks disco to c.
type stranger struct {
	sk key.SecretKey
	pc *net.UDPConn
}

func newStranger(t *testing.T) *stranger {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return &stranger{sk: key.NewSecretKey(), pc: pc}
}

func (s *stranger) send(t *testing.T, c *Conn, m *discoMsg) {
	t.Helper()
	bk, err := sharedKey(s.sk, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	pkt := seal(nil, &bk, s.sk.Public(), appendDisco(nil, m), nil)
	if _, err := s.pc.WriteToUDPAddrPort(pkt, c.LocalAddrs()[0]); err != nil {
		t.Fatal(err)
	}
}

// replies counts the packets c sends back within d.
func (s *stranger) replies(d time.Duration) int {
	n := 0
	buf := make([]byte, 2048)
	s.pc.SetReadDeadline(time.Now().Add(d))
	for {
		if _, _, err := s.pc.ReadFrom(buf); err != nil {
			return n
		}
		n++
	}
}

// barrier sends a ping with a fresh transaction id after whatever the test
// sent before, and waits for its pong: the socket handles a source's
// packets in order, so everything sent earlier has been handled by then.
// It returns the other packets that arrived meanwhile.
func (s *stranger) barrier(t *testing.T, c *Conn, txID [12]byte) int {
	t.Helper()
	s.send(t, c, &discoMsg{typ: discoPing, txID: txID, nodeKey: s.sk.Public()})
	bk, err := sharedKey(s.sk, c.ID())
	if err != nil {
		t.Fatal(err)
	}
	other := 0
	buf := make([]byte, 2048)
	s.pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := s.pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no pong to the barrier ping: %v", err)
		}
		if pt, err := open(buf[:n], &bk); err == nil {
			if m, err := parseDisco(pt); err == nil && m.typ == discoPong && m.txID == txID {
				return other
			}
		}
		other++
	}
}

// TestUnsolicitedPongDoesNotPlantAddresses: a pong that answers no ping of
// ours must not change the addresses we advertise.
func TestUnsolicitedPongDoesNotPlantAddresses(t *testing.T) {
	c := newTestConn(t)
	s := newStranger(t)
	s.send(t, c, &discoMsg{typ: discoPing, nodeKey: s.sk.Public()}) // become known
	s.replies(200 * time.Millisecond)
	for i := 0; i < 20; i++ {
		planted := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 4242)
		s.send(t, c, &discoMsg{typ: discoPong, txID: [12]byte{byte(i)}, src: planted})
	}
	s.barrier(t, c, [12]byte{0xba, 0x22})
	for _, a := range c.DirectAddrs() {
		if a.Addr().As4()[0] == 203 {
			t.Fatalf("unsolicited pong planted %s in our addresses", a)
		}
	}
}

// TestPingsFromOneKeyAreRateLimited: one key sending many pings gets a
// bounded number of answers (no amplification).
func TestPingsFromOneKeyAreRateLimited(t *testing.T) {
	c := newTestConn(t)
	s := newStranger(t)
	start := time.Now()
	for i := 0; i < 300; i++ {
		s.send(t, c, &discoMsg{typ: discoPing, txID: [12]byte{byte(i), byte(i >> 8)}, nodeKey: s.sk.Public()})
	}
	got := s.replies(500 * time.Millisecond)
	// The per-remote bucket answers a burst of 40, then 20 a second; on
	// a loaded machine sending takes a while, so allow for the time spent
	// (and a few pings back), but far fewer than one answer per ping.
	limit := 40 + int(20*time.Since(start).Seconds()) + 10
	if got > limit || got > 200 {
		t.Fatalf("300 pings from one key got %d replies (limit %d)", got, limit)
	}
	if got == 0 {
		t.Fatal("no pong at all")
	}
}

// TestPingWithOtherNodeKeyDropped: the key inside a ping must be its sender's.
func TestPingWithOtherNodeKeyDropped(t *testing.T) {
	c := newTestConn(t)
	s := newStranger(t)
	s.send(t, c, &discoMsg{typ: discoPing, txID: [12]byte{1}, nodeKey: key.NewSecretKey().Public()})
	// The barrier's own ping may get a ping back besides its pong, but the
	// forged ping must get no pong: the first pong seen is the barrier's.
	bk, _ := sharedKey(s.sk, c.ID())
	s.send(t, c, &discoMsg{typ: discoPing, txID: [12]byte{2}, nodeKey: s.sk.Public()})
	buf := make([]byte, 2048)
	s.pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		n, _, err := s.pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no pong to the good ping: %v", err)
		}
		pt, err := open(buf[:n], &bk)
		if err != nil {
			continue
		}
		m, err := parseDisco(pt)
		if err != nil || m.typ != discoPong {
			continue
		}
		if m.txID != [12]byte{2} {
			t.Fatalf("a ping naming another key was answered (pong %x)", m.txID)
		}
		break
	}
}

func TestIdleRemotesForgotten(t *testing.T) {
	c := newTestConn(t)
	id := key.NewSecretKey().Public()
	r := c.remoteFor(id)
	r.mu.Lock()
	r.addPathLocked(netip.MustParseAddrPort("192.0.2.1:1"))
	r.mu.Unlock()
	if r.prunable(time.Now()) {
		t.Fatal("a new remote is prunable")
	}
	later := time.Now().Add(remoteIdleTimeout + time.Second)
	_, stop := r.subscribe(1)
	if r.prunable(later) {
		t.Fatal("a remote with a subscriber is prunable")
	}
	stop()
	if !r.prunable(later) {
		t.Fatal("an idle remote is not prunable")
	}
	c.forgetRemote(r)
	if _, ok := c.byID.Load(id); ok {
		t.Fatal("still in byID")
	}
	if _, ok := c.byUDP.Load(netip.MustParseAddrPort("192.0.2.1:1")); ok {
		t.Fatal("still in byUDP")
	}
	if _, ok := c.byMapped.Load(r.mappedAP); ok {
		t.Fatal("still in byMapped")
	}
}

// TestCandidateDoesNotStealConfirmedPath: an address that is another
// remote's confirmed path is not taken over by an unconfirmed claim.
func TestCandidateDoesNotStealConfirmedPath(t *testing.T) {
	c := newTestConn(t)
	a := netip.MustParseAddrPort("192.0.2.7:7")
	owner := c.remoteFor(key.NewSecretKey().Public())
	owner.mu.Lock()
	owner.addPathLocked(a)
	owner.mu.Unlock()
	owner.considerBest(a, time.Millisecond, time.Now())
	thief := c.remoteFor(key.NewSecretKey().Public())
	thief.mu.Lock()
	thief.addPathLocked(a)
	thief.mu.Unlock()
	if v, _ := c.byUDP.Load(a); v.(*remote) != owner {
		t.Fatal("an unconfirmed candidate took over a confirmed path")
	}
}
