package magicsock

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

// fakeRelay records what the socket sends through a relay.
type fakeRelay struct {
	mu   sync.Mutex
	sent [][]byte
}

func (f *fakeRelay) Send(_ key.PublicKey, _ uint8, segSize uint16, contents []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if segSize == 0 {
		segSize = uint16(len(contents))
	}
	for len(contents) > 0 {
		n := min(int(segSize), len(contents))
		f.sent = append(f.sent, bytes.Clone(contents[:n]))
		contents = contents[n:]
	}
	return nil
}

func (f *fakeRelay) Close() error { return nil }

// quicOnly returns the packets of ps that are not disco.
func (f *fakeRelay) quicOnly() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for _, p := range f.sent {
		if !looksLikeDisco(p) {
			out = append(out, p)
		}
	}
	return out
}

const testRelay = endpointaddr.RelayURL("http://127.0.0.1:1/")

// newRelayTestConn is newTestConn with testRelay as home relay, served by
// a fakeRelay.
func newRelayTestConn(t *testing.T) (*Conn, *fakeRelay) {
	t.Helper()
	fr := &fakeRelay{}
	c, err := New(&Options{
		SecretKey: key.NewSecretKey(),
		BindV4:    netip.MustParseAddrPort("127.0.0.1:0"),
		DisableV6: true,
		HomeRelay: testRelay,
		DialRelay: func(endpointaddr.RelayURL, func(key.PublicKey, uint8, uint16, []byte)) (RelayClient, error) {
			return fr, nil
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, fr
}

// longPacket returns a long-header QUIC v1 packet of n bytes (first byte
// b0) with the given connection ids.
func longPacket(b0 byte, dcid, scid []byte, n int) []byte {
	p := []byte{b0}
	p = binary.BigEndian.AppendUint32(p, 1)
	p = append(p, byte(len(dcid)))
	p = append(p, dcid...)
	p = append(p, byte(len(scid)))
	p = append(p, scid...)
	for len(p) < n {
		p = append(p, byte(len(p)))
	}
	return p
}

// shortPacket returns a short-header packet of n bytes to dcid.
func shortPacket(dcid []byte, n int) []byte {
	p := append([]byte{0x41}, dcid...)
	for len(p) < n {
		p = append(p, byte(len(p)))
	}
	return p
}

// recvQUIC reads the non-disco datagrams arriving on pc within d.
func recvQUIC(pc *net.UDPConn, d time.Duration) [][]byte {
	var out [][]byte
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(d))
	for {
		n, _, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return out
		}
		if !looksLikeDisco(buf[:n]) {
			out = append(out, bytes.Clone(buf[:n]))
		}
	}
}

// waitPath waits up to d for r's path to become kind.
func waitPath(r *remote, kind PathKind, d time.Duration) PathInfo {
	deadline := time.Now().Add(d)
	for {
		p := r.info(time.Now())
		if p.Kind == kind || time.Now().After(deadline) {
			return p
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHandshakeGoesEveryWay: a handshake packet to a remote with relay
// and direct candidates and no confirmed path goes to each candidate we
// were given and over the relay; a 1-RTT run then goes over the relay
// only, not to unconfirmed candidates.
func TestHandshakeGoesEveryWay(t *testing.T) {
	c, fr := newRelayTestConn(t)
	p1, p2 := newPeerSocketPair(t)
	id := key.NewSecretKey().Public()
	if _, err := c.AddRemote(endpointaddr.Addr{ID: id, RelayURLs: []endpointaddr.RelayURL{testRelay},
		Direct: []netip.AddrPort{udpAddr(p1), udpAddr(p2)}}); err != nil {
		t.Fatal(err)
	}
	v, _ := c.byID.Load(id)
	r := v.(*remote)
	// A candidate the remote only claimed (as in a call-me-maybe) gets
	// pings, never handshake copies.
	claimed, _ := newPeerSocketPair(t)
	r.mu.Lock()
	r.addPathLocked(udpAddr(claimed))
	r.mu.Unlock()
	initial := longPacket(0xc3, []byte("dcid-of-the-peer"), []byte("our-scid"), 1200)
	r.sendBatch(initial, 0, 0)
	for i, pc := range []*net.UDPConn{p1, p2} {
		got := recvQUIC(pc, 200*time.Millisecond)
		if len(got) != 1 || !bytes.Equal(got[0], initial) {
			t.Fatalf("candidate %d got %d QUIC packets, want the Initial", i, len(got))
		}
	}
	if got := recvQUIC(claimed, 100*time.Millisecond); len(got) != 0 {
		t.Fatalf("a claimed candidate got %d handshake packets", len(got))
	}
	if got := fr.quicOnly(); len(got) != 1 || !bytes.Equal(got[0], initial) {
		t.Fatalf("relay got %d QUIC packets, want the Initial", len(got))
	}
	run := bytes.Repeat(shortPacket([]byte("peer-cid"), 1000), 4)
	r.sendBatch(run, 1000, 0)
	if got := recvQUIC(p1, 100*time.Millisecond); len(got) != 0 {
		t.Fatalf("an unconfirmed candidate got %d 1-RTT packets", len(got))
	}
	if got := fr.quicOnly(); len(got) != 5 {
		t.Fatalf("relay got %d QUIC packets, want 5", len(got))
	}
}

// TestQUICConfirmsDirectPath: a candidate becomes the direct path when a
// QUIC packet on it carries a connection id of ours; a packet with
// another id (anyone may send one from a spoofed address) does not
// confirm it, and neither does ours for a remote that speaks disco.
func TestQUICConfirmsDirectPath(t *testing.T) {
	c, _ := newRelayTestConn(t)
	m := c.metrics
	p1, p2 := newPeerSocketPair(t)
	id := key.NewSecretKey().Public()
	if _, err := c.AddRemote(endpointaddr.Addr{ID: id, RelayURLs: []endpointaddr.RelayURL{testRelay},
		Direct: []netip.AddrPort{udpAddr(p1), udpAddr(p2)}}); err != nil {
		t.Fatal(err)
	}
	v, _ := c.byID.Load(id)
	r := v.(*remote)
	ours := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	r.sendBatch(longPacket(0xc3, []byte("dcid-of-the-peer"), ours, 1200), 0, 0)
	for _, pc := range []*net.UDPConn{p1, p2} {
		if got := recvQUIC(pc, 200*time.Millisecond); len(got) != 1 {
			t.Fatalf("a candidate got %d copies of the Initial", len(got))
		}
	}

	send := func(pc *net.UDPConn, p []byte) {
		t.Helper()
		if _, err := pc.WriteToUDPAddrPort(p, c.LocalAddrs()[0]); err != nil {
			t.Fatal(err)
		}
	}
	send(p2, shortPacket([]byte{9, 9, 9, 9, 9, 9, 9, 9}, 100))
	send(p2, longPacket(0xe0, []byte{8, 7, 6, 5, 4, 3, 2, 1}, []byte("x"), 100))
	if p := waitPath(r, PathDirect, 200*time.Millisecond); p.Kind == PathDirect {
		t.Fatalf("packets with a foreign connection id confirmed %v", p.Addr)
	}
	send(p1, longPacket(0xe0, ours, []byte("peer-cid"), 100)) // a Handshake answer
	if p := waitPath(r, PathDirect, 2*time.Second); p.Kind != PathDirect || p.Addr != udpAddr(p1) {
		t.Fatalf("path %v %v after a packet with our id, want direct %v", p.Kind, p.Addr, udpAddr(p1))
	}
	if got := testutil.MetricValue(m.Probes.WithLabelValues("quic_confirmed")); got != 1 {
		t.Errorf("quic_confirmed %v, want 1", got)
	}
	// Now 1-RTT runs go to that path alone, with GSO where there is GSO.
	run := bytes.Repeat(shortPacket([]byte("peer-cid"), 1000), 4)
	r.sendBatch(run, 1000, 0)
	if got := recvQUIC(p1, 200*time.Millisecond); len(got) == 0 {
		t.Fatal("the confirmed path got nothing")
	}
	if got := recvQUIC(p2, 100*time.Millisecond); len(got) != 0 {
		t.Fatalf("the other candidate got %d packets", len(got))
	}

	// Idle past its trust, the path is renewed by any packet on it (the
	// peer may use another of our ids by then) ...
	bp := r.best.Load()
	bp.trustedUntil.Store(time.Now().Add(-time.Second).UnixNano())
	send(p1, shortPacket([]byte("another-id"), 100))
	if p := waitPath(r, PathDirect, 2*time.Second); p.Kind != PathDirect {
		t.Fatalf("path %v after a packet on the lapsed path, want direct", p.Kind)
	}
	// ... and forgotten when nothing came for trust plus ping timeout.
	r.best.Load().trustedUntil.Store(time.Now().Add(-pingTimeout - time.Second).UnixNano())
	r.heartbeat(time.Now())
	if r.best.Load() != nil {
		t.Fatal("a silent QUIC-confirmed path was kept")
	}

	// A remote that speaks disco proves paths with pongs only.
	p3, _ := newPeerSocketPair(t)
	id2 := key.NewSecretKey().Public()
	if _, err := c.AddRemote(endpointaddr.Addr{ID: id2, Direct: []netip.AddrPort{udpAddr(p3)}}); err != nil {
		t.Fatal(err)
	}
	v, _ = c.byID.Load(id2)
	r2 := v.(*remote)
	r2.speaksDisco.Store(true)
	r2.sendBatch(longPacket(0xc3, []byte("dcid-of-the-peer"), ours, 1200), 0, 0)
	send(p3, shortPacket(ours, 100))
	if p := waitPath(r2, PathDirect, 200*time.Millisecond); p.Kind == PathDirect {
		t.Fatal("a disco remote's path was confirmed by a QUIC packet")
	}
}

// TestInitialJoinsItsRelayCopy: a QUIC Initial from an unknown UDP source
// whose copy came over the relay from X reaches QUIC at once as X's (in
// either order), and the source becomes X's candidate.
func TestInitialJoinsItsRelayCopy(t *testing.T) {
	for _, relayFirst := range []bool{true, false} {
		name := "udp first"
		if relayFirst {
			name = "relay first"
		}
		t.Run(name, func(t *testing.T) {
			c, _ := newRelayTestConn(t)
			pc, _ := newPeerSocketPair(t)
			x := key.NewSecretKey().Public()
			initial := longPacket(0xc3, []byte("a-fresh-random-dcid!"), []byte("peer"), 1200)
			start := time.Now()
			if relayFirst {
				c.deliverRelay(testRelay, x, 0, initial)
			}
			if _, err := pc.WriteToUDPAddrPort(initial, c.LocalAddrs()[0]); err != nil {
				t.Fatal(err)
			}
			if !relayFirst {
				time.Sleep(20 * time.Millisecond) // the UDP copy is held first
				c.deliverRelay(testRelay, x, 0, initial)
			}
			ms := newMessages(4)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			got := 0
			v, _ := c.byID.Load(x)
			r := v.(*remote)
			for got < 2 {
				n, err := c.ReadBatch(ms, 0)
				if err != nil {
					t.Fatalf("after %d packets: %v", got, err)
				}
				for _, m := range ms[:n] {
					if m.Addr.(*net.UDPAddr).AddrPort() != r.mappedAP {
						t.Fatalf("packet from %v, want X's mapped address %v", m.Addr, r.mappedAP)
					}
				}
				got += n
			}
			if el := time.Since(start); el >= anonymousAfter {
				t.Errorf("both copies took %v, not less than anonymousAfter", el)
			}
			if cands := r.candidates(); len(cands) != 1 || cands[0].Addr != udpAddr(pc) {
				t.Errorf("X's candidates %v, want %v", cands, udpAddr(pc))
			}
			if got := testutil.MetricValue(c.metrics.Initials.WithLabelValues("adopted")); got != 1 {
				t.Errorf("adopted %v, want 1", got)
			}
		})
	}
}

// TestInitialWithoutHomeRelay: with no home relay no copy of an Initial
// can come another way, so one from an unknown source reaches QUIC at once
// (under an anonymous remote); other packets from unknown sources are
// still held for a disco ping.
func TestInitialWithoutHomeRelay(t *testing.T) {
	c := newTestConn(t)
	pc, _ := newPeerSocketPair(t)
	start := time.Now()
	if _, err := pc.WriteToUDPAddrPort(shortPacket([]byte("whatever"), 100), c.LocalAddrs()[0]); err != nil {
		t.Fatal(err)
	}
	ms := newMessages(4)
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := c.ReadBatch(ms, 0); err == nil {
		t.Fatalf("a short-header packet from an unknown source was not held (%d read)", n)
	}
	pc2, _ := newPeerSocketPair(t)
	start = time.Now()
	initial := longPacket(0xc3, []byte("dcid-dcid"), []byte("peer"), 1200)
	if _, err := pc2.WriteToUDPAddrPort(initial, c.LocalAddrs()[0]); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := c.ReadBatch(ms, 0)
	if err != nil || n != 1 || !bytes.Equal(ms[0].Buffers[0][:ms[0].N], initial) {
		t.Fatalf("read %d, %v; want the Initial", n, err)
	}
	if el := time.Since(start); el >= anonymousAfter {
		t.Errorf("the Initial took %v", el)
	}
	if got := testutil.MetricValue(c.metrics.Initials.WithLabelValues("anonymous")); got != 1 {
		t.Errorf("anonymous %v, want 1", got)
	}
}

// TestStrangerInitialsBounded: Initials from many unknown sources make
// at most maxAnonymous remotes (no home relay), or are held in the
// bounded pending table (home relay); the relay Initials table is a
// fixed ring.
func TestStrangerInitialsBounded(t *testing.T) {
	initial := longPacket(0xc3, []byte("dcid-dcid"), []byte("peer"), 1200)
	now := time.Now()
	c := newTestConn(t)
	made := 0
	for i := range 2000 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 4000)
		if c.adoptInitialSource(src, initial, now) != nil {
			made++
		}
	}
	c.mu.Lock()
	nAnon := len(c.anon)
	c.mu.Unlock()
	if made != maxAnonymous || nAnon != maxAnonymous {
		t.Fatalf("%d anonymous remotes made (%d kept), want %d", made, nAnon, maxAnonymous)
	}

	c2, _ := newRelayTestConn(t)
	for i := range 2000 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)}), 4000)
		if c2.adoptInitialSource(src, initial, now) != nil {
			t.Fatal("an Initial with no relay copy was adopted")
		}
		c2.holdPending(src, initial)
		c2.deliverRelay(testRelay, fakeID(i), 0, longPacket(0xc3, binary.BigEndian.AppendUint32(nil, uint32(i)), nil, 1200))
	}
	c2.mu.Lock()
	nPending, nAnon := len(c2.pending), len(c2.anon)
	c2.mu.Unlock()
	if nPending > pendingMaxSources || nAnon > maxAnonymous {
		t.Fatalf("%d pending sources, %d anonymous remotes", nPending, nAnon)
	}
}

// newPeerSocketPair opens two plain UDP sockets on 127.0.0.1.
func newPeerSocketPair(t *testing.T) (*net.UDPConn, *net.UDPConn) {
	t.Helper()
	var out [2]*net.UDPConn
	for i := range out {
		pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		out[i] = pc
	}
	return out[0], out[1]
}

func udpAddr(pc *net.UDPConn) netip.AddrPort { return pc.LocalAddr().(*net.UDPAddr).AddrPort() }

// FuzzParseLongHeader: the long-header parser never panics, and what it
// returns lies inside its input with lengths as the header says.
func FuzzParseLongHeader(f *testing.F) {
	f.Add(longPacket(0xc3, []byte("dcid-of-the-peer"), []byte("our-scid"), 1200))
	f.Add(longPacket(0xe0, []byte{1, 2, 3, 4, 5, 6, 7, 8}, nil, 50))
	f.Add(shortPacket([]byte("cid"), 30))
	f.Add([]byte{0xc0, 0, 0, 0, 1, 21})
	f.Add([]byte{0xc0, 0, 0, 0, 1, 0, 20})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, dcid, scid, ok := parseLongHeader(b)
		if !ok {
			return
		}
		if b[0]&0x80 == 0 || len(dcid) > maxCIDLen || len(scid) > maxCIDLen || int(b[5]) != len(dcid) {
			t.Fatalf("parsed %x: version %x dcid %x scid %x", b, v, dcid, scid)
		}
		if !bytes.Equal(b[6:6+len(dcid)], dcid) || !bytes.Equal(b[7+len(dcid):7+len(dcid)+len(scid)], scid) {
			t.Fatalf("ids not taken from the header of %x", b)
		}
		if d, ok := initialDCID(b); ok && (v != 1 || len(b) < minInitialSize || !bytes.Equal(d, dcid)) {
			t.Fatalf("initialDCID accepted %x", b[:min(len(b), 64)])
		}
	})
}

// TestNameRemote: an anonymous remote (a dialer from an unknown address)
// becomes the named remote once the handshake proved its id, keeping its
// mapped address and direct path; a known id or a named address is left
// alone.
func TestNameRemote(t *testing.T) {
	c := newTestConn(t)
	src := netip.MustParseAddrPort("127.0.0.1:40001")
	c.mu.Lock()
	anon := c.newAnonymousLocked(src)
	c.mu.Unlock()
	id := key.NewSecretKey().Public()
	if p, _ := c.Paths(id); p.Kind != PathNone {
		t.Fatalf("path before naming: %v", p.Kind)
	}
	if !c.NameRemote(anon.mappedAP, id) {
		t.Fatal("anonymous remote not named")
	}
	if p, _ := c.Paths(id); p.Kind != PathDirect || p.Addr != src {
		t.Fatalf("path after naming: %+v", p)
	}
	v, _ := c.byMapped.Load(anon.mappedAP)
	if r := v.(*remote); r.id != id || r.anonymous {
		t.Fatalf("mapped address now leads to %v (anonymous %v)", r.id.ShortString(), r.anonymous)
	}
	if got, ok := c.RemoteID(net.UDPAddrFromAddrPort(anon.mappedAP)); !ok || got != id {
		t.Fatalf("RemoteID %v %v", got.ShortString(), ok)
	}
	if c.NameRemote(anon.mappedAP, key.NewSecretKey().Public()) {
		t.Error("a named remote was renamed")
	}
	c.mu.Lock()
	other := c.newAnonymousLocked(netip.MustParseAddrPort("127.0.0.1:40002"))
	c.mu.Unlock()
	if c.NameRemote(other.mappedAP, id) {
		t.Error("a second remote took an id the socket already knows")
	}
}
