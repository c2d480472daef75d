package quic

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic/sim"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/wire"
)

// simNode runs one core in the simulator; app is the application, called
// after every input.
type simNode struct {
	t    *testing.T
	addr netip.AddrPort
	c    *Conn
	cfg  *Config // server: the config for the connection the first Initial creates
	app  func(now time.Time)
}

func (n *simNode) Receive(now time.Time, from, to netip.AddrPort, d []byte) {
	if n.c == nil {
		h, err := wire.ParseHeader(d, 8)
		if err != nil || h.Type != wire.PacketInitial {
			return
		}
		c, err := NewServer(n.cfg, now, from, MakeConnectionID(h.DstCID))
		if err != nil {
			n.t.Fatal(err)
		}
		n.c = c
	}
	n.c.Receive(now, d, from, 0)
	if n.app != nil {
		n.app(now)
	}
}

func (n *simNode) Poll(now time.Time, buf []byte) (sim.Datagram, bool) {
	if n.c == nil {
		return sim.Datagram{}, false
	}
	m, _, to := n.c.Send(now, buf[:min(len(buf), 1500)], 1)
	if m == 0 {
		return sim.Datagram{}, false
	}
	return sim.Datagram{From: n.addr, To: to, Data: buf[:m]}, true
}

func (n *simNode) Timeout() time.Time {
	if n.c == nil {
		return time.Time{}
	}
	return n.c.Timeout()
}

func (n *simNode) HandleTimeout(now time.Time) {
	n.c.HandleTimeout(now)
	if n.app != nil {
		n.app(now)
	}
}

// simPair builds a client and a server node on a simulated network.
func simPair(t *testing.T, seed uint64, link sim.LinkConfig, mod func(c, s *Config)) (*sim.Sim, *simNode, *simNode) {
	t.Helper()
	s := sim.New(&sim.Options{Seed1: seed, Seed2: seed + 1})
	srvKey := testKey(1)
	ccfg := &Config{
		TLS:  tls13.Config{SecretKey: testKey(100), ALPNs: []string{testALPN}, ServerName: srvKey.Public().SNIName(), Rand: rand.NewChaCha8([32]byte{byte(seed), 3}), Groups: []tls13.Group{tls13.X25519}},
		CIDs: seededCIDs(seed, 1),
		Rand: rand.NewChaCha8([32]byte{byte(seed), 1}),
	}
	scfg := &Config{
		TLS:  tls13.Config{SecretKey: srvKey, ALPNs: []string{testALPN}, Rand: rand.NewChaCha8([32]byte{byte(seed), 4})},
		CIDs: seededCIDs(seed, 2),
		Rand: rand.NewChaCha8([32]byte{byte(seed), 2}),
	}
	if mod != nil {
		mod(ccfg, scfg)
	}
	cn := &simNode{t: t, addr: clientAddr}
	sn := &simNode{t: t, addr: serverAddr, cfg: scfg}
	c, err := NewClient(ccfg, s.Now(), serverAddr)
	if err != nil {
		t.Fatal(err)
	}
	cn.c = c
	s.AddNode(cn, clientAddr)
	s.AddNode(sn, serverAddr)
	s.LinkBoth(clientAddr, serverAddr, link)
	return s, cn, sn
}

// seededCIDs is a reproducible CIDSource.
type seededCIDSource struct {
	r *rand.ChaCha8
}

func seededCIDs(seed uint64, n byte) *seededCIDSource {
	return &seededCIDSource{r: rand.NewChaCha8([32]byte{byte(seed), n, 9})}
}

func (s *seededCIDSource) NewConnectionID() (ConnectionID, ResetToken) {
	var b [8]byte
	var tok ResetToken
	s.r.Read(b[:])
	s.r.Read(tok[:])
	return MakeConnectionID(b[:]), tok
}

func (s *seededCIDSource) RetireConnectionID(ConnectionID) {}

// streamApp writes payload on one stream from the client and reads it
// at the server.
type streamApp struct {
	payload  []byte
	written  int
	id       StreamID
	opened   bool
	got      []byte
	rid      StreamID
	accepted bool
	fin      bool
	buf      []byte
}

func (a *streamApp) clientSide(c *Conn) func(time.Time) {
	return func(now time.Time) {
		if !c.HandshakeComplete() {
			return
		}
		if !a.opened {
			id, err := c.OpenStream(false)
			if err != nil {
				return
			}
			a.id, a.opened = id, true
		}
		for a.written < len(a.payload) {
			n, _ := c.StreamWrite(a.id, a.payload[a.written:])
			if n == 0 {
				break
			}
			a.written += n
			if a.written == len(a.payload) {
				c.StreamClose(a.id)
			}
		}
	}
}

func (a *streamApp) serverSide(n *simNode) func(time.Time) {
	a.buf = make([]byte, 256<<10)
	return func(now time.Time) {
		c := n.c
		if !a.accepted {
			a.rid, a.accepted = c.AcceptStream(false)
		}
		for a.accepted && !a.fin {
			m, fin, err := c.StreamRead(now, a.rid, a.buf)
			if err != nil {
				return
			}
			a.got = append(a.got, a.buf[:m]...)
			a.fin = fin
			if m == 0 {
				break
			}
		}
	}
}

// TestSimLossyTransfer sends tens of MiB through loss, reordering,
// duplication and a bandwidth limit; the bytes arrive identical, keys
// update several times, and the same seed gives the same run.
func TestSimLossyTransfer(t *testing.T) {
	size := 24 << 20
	if testing.Short() || raceEnabled {
		size = 16 << 20
	}
	payload := make([]byte, size)
	rand.NewChaCha8([32]byte{7}).Read(payload)
	link := sim.LinkConfig{Delay: 10 * time.Millisecond, Loss: 0.002, Duplicate: 0.005, Reorder: 0.01, Rate: 200e6, QueueBytes: 512 << 10, MTU: 1500}
	var hashes []uint64
	for run := range 2 {
		s, cn, sn := simPair(t, 42, link, nil)
		app := &streamApp{payload: payload}
		cn.app = app.clientSide(cn.c)
		sn.app = app.serverSide(sn)
		start := s.Now()
		if err := s.RunUntil(func() bool { return app.fin }, start.Add(10*time.Minute)); err != nil {
			t.Fatalf("run %d: %v (got %d of %d bytes; client err %v)", run, err, len(app.got), size, cn.c.Err())
		}
		if !bytes.Equal(app.got, payload) {
			t.Fatalf("run %d: received data differs", run)
		}
		el := s.Now().Sub(start)
		st := s.LinkBetween(clientAddr, serverAddr).Stats()
		t.Logf("run %d: %d MiB in %v simulated (%.0f Mbit/s of 200), %d datagrams dropped, %d duplicated, %d reordered; key updates client %d server %d",
			run, size>>20, el, float64(size)*8/el.Seconds()/1e6, st.TotalDropped(), st.Duplicated, st.Reordered, cn.c.keys.updates, sn.c.keys.updates)
		if cn.c.keys.updates < 2 || sn.c.keys.updates < 2 {
			t.Errorf("run %d: only %d/%d key updates", run, cn.c.keys.updates, sn.c.keys.updates)
		}
		hashes = append(hashes, s.TraceHash())
	}
	if hashes[0] != hashes[1] {
		t.Fatalf("same seed, different runs: %x %x", hashes[0], hashes[1])
	}
}

// TestSimRebinding: the client's NAT rebinds mid-transfer; the server
// follows the new address (validating it) and the transfer completes.
func TestSimRebinding(t *testing.T) {
	payload := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{9}).Read(payload)
	s, cn, sn := simPair(t, 5, sim.LinkConfig{Delay: 5 * time.Millisecond, Rate: 100e6, QueueBytes: 256 << 10}, nil)
	app := &streamApp{payload: payload}
	cn.app = app.clientSide(cn.c)
	sn.app = app.serverSide(sn)
	if err := s.RunUntil(func() bool { return len(app.got) > 1<<20 }, s.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	newAddr := netip.MustParseAddrPort("10.0.0.9:4444")
	if err := s.Rebind(clientAddr, newAddr); err != nil {
		t.Fatal(err)
	}
	if err := s.RunUntil(func() bool { return app.fin }, s.Now().Add(time.Minute)); err != nil {
		t.Fatalf("after rebinding: %v (got %d, server err %v)", err, len(app.got), sn.c.Err())
	}
	if !bytes.Equal(app.got, payload) {
		t.Fatal("data differs")
	}
	if sn.c.RemoteAddr() != newAddr || sn.c.paths[0].state != pathValidated {
		t.Fatalf("server path %v state %d", sn.c.RemoteAddr(), sn.c.paths[0].state)
	}
}

// TestSimLossyHandshake: handshakes complete through heavy loss (lost
// Initials and Handshake flights are probed and resent), for many seeds.
func TestSimLossyHandshake(t *testing.T) {
	for seed := range uint64(20) {
		s, cn, sn := simPair(t, 100+seed, sim.LinkConfig{Delay: 15 * time.Millisecond, Loss: 0.3}, nil)
		done := func() bool {
			return cn.c.HandshakeComplete() && sn.c != nil && sn.c.HandshakeComplete() && cn.c.confirmed
		}
		if err := s.RunUntil(done, s.Now().Add(60*time.Second)); err != nil {
			t.Fatalf("seed %d: %v (client err %v)", seed, err, cn.c.Err())
		}
	}
}
