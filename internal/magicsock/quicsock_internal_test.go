package magicsock

import (
	"net"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic/transport"
)

// TestQUICSocketBatches checks both directions of the QUIC socket: a GSO
// run written to a remote's mapped address leaves as same-size datagrams
// on its trusted direct path; a GRO read from that path comes back as
// one Datagram with the segment size, the mapped address and the ECN
// bits; a run that changes size ends an entry.
func TestQUICSocketBatches(t *testing.T) {
	c := newTestConn(t)
	qs := c.QUICSocket()
	peer, r := newPeerSocket(t, c)
	src := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	trust(r, src)

	// Out: 5 packets of 1000 bytes and one of 300 as one GSO entry.
	run := make([]byte, 0, 5300)
	for i := range 6 {
		n := 1000
		if i == 5 {
			n = 300
		}
		run = append(run, quicish(i, n)...)
	}
	if err := qs.WriteBatch([]transport.Datagram{{Buf: run, N: len(run), Addr: r.mappedAP, Segment: 1000}}); err != nil {
		t.Fatal(err)
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2000)
	for i := 0; i < 6; {
		n, _, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if looksLikeDisco(buf[:n]) {
			continue // the socket's own pings to its new path
		}
		want := 1000
		if i == 5 {
			want = 300
		}
		if n != want || string(buf[:n]) != string(quicish(i, want)) {
			t.Fatalf("datagram %d: %d bytes, want %d (or wrong contents)", i, n, want)
		}
		i++
	}

	// In: a coalesced read of 4x1200 + 500, then 2 packets of 1300.
	b := rxPool.Get().(*rxBatch)
	n := 0
	for i := range 5 {
		size := 1200
		if i == 4 {
			size = 500
		}
		n += copy(b.buf[n:], quicish(i, size))
	}
	c.splitRead(b, n, 1200, ecnKnown|2, src)
	b = rxPool.Get().(*rxBatch)
	n = copy(b.buf, quicish(7, 1300))
	n += copy(b.buf[n:], quicish(8, 1300))
	c.splitRead(b, n, 1300, 0, src)

	ds := []transport.Datagram{{Buf: make([]byte, 64<<10)}, {Buf: make([]byte, 64<<10)}, {Buf: make([]byte, 64<<10)}}
	var got []transport.Datagram
	for len(got) < 2 {
		k, err := qs.ReadBatch(ds)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds[:k] {
			d.Buf = append([]byte(nil), d.Buf[:d.N]...)
			got = append(got, d)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d entries, want 2", len(got))
	}
	if d := got[0]; d.N != 4*1200+500 || d.Segment != 1200 || d.Addr != r.mappedAP || d.ECN != 2 {
		t.Fatalf("first entry: N %d segment %d addr %v ecn %d", d.N, d.Segment, d.Addr, d.ECN)
	}
	if d := got[1]; d.N != 2600 || d.Segment != 1300 || d.Addr != r.mappedAP || d.ECN != 0 {
		t.Fatalf("second entry: N %d segment %d addr %v ecn %d", d.N, d.Segment, d.Addr, d.ECN)
	}
	if string(got[1].Buf[1300:]) != string(quicish(8, 1300)) {
		t.Fatal("second entry's contents wrong")
	}

	// A buffer smaller than the run: the entry ends where the next
	// packet would not fit, and the rest comes in the next call.
	b = rxPool.Get().(*rxBatch)
	n = 0
	for i := range 3 {
		n += copy(b.buf[n:], quicish(i, 1000))
	}
	c.splitRead(b, n, 1000, 0, src)
	small := []transport.Datagram{{Buf: make([]byte, 2500)}}
	k, err := qs.ReadBatch(small)
	if err != nil || k != 1 || small[0].N != 2000 || small[0].Segment != 1000 {
		t.Fatalf("small buffer: k %d N %d segment %d err %v", k, small[0].N, small[0].Segment, err)
	}
	k, err = qs.ReadBatch(small)
	if err != nil || k != 1 || small[0].N != 1000 || small[0].Segment != 0 {
		t.Fatalf("rest: k %d N %d segment %d err %v", k, small[0].N, small[0].Segment, err)
	}
}

// TestQUICSocketNoAllocs checks the steady state of the hot paths: a GSO
// write to a trusted direct path, and a datagram from a known path read
// by the socket's reader and handed out by ReadBatch, allocate nothing
// (counted over all goroutines).
func TestQUICSocketNoAllocs(t *testing.T) {
	c := newTestConn(t)
	qs := c.QUICSocket()
	peer, r := newPeerSocket(t, c)
	src := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	trust(r, src)
	dst := c.LocalAddrs()[0]

	out := []transport.Datagram{{Buf: make([]byte, 10*1200), N: 10 * 1200, Addr: r.mappedAP, Segment: 1200}}
	for i := 0; i < 10; i++ {
		out[0].Buf[i*1200] = 0x40
	}
	peerBuf := make([]byte, 2000)
	pkt := quicish(1, 1200)
	in := []transport.Datagram{{Buf: make([]byte, 64<<10)}}
	// Bounded once for all rounds (a deadline per round could allocate): a
	// datagram lost on the way fails the peer's read, and a blocked
	// ReadBatch ends when the watchdog closes the socket.
	const limit = 60 * time.Second
	peer.SetReadDeadline(time.Now().Add(limit))
	watchdog := time.AfterFunc(limit, func() { c.Close() })
	defer watchdog.Stop()
	round := func() {
		if err := qs.WriteBatch(out); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; {
			n, _, err := peer.ReadFromUDPAddrPort(peerBuf)
			if err != nil {
				t.Fatalf("peer read of the GSO batch (datagram %d of 10): %v", i, err)
			}
			if !looksLikeDisco(peerBuf[:n]) {
				i++
			}
		}
		if _, err := peer.WriteToUDPAddrPort(pkt, dst); err != nil {
			t.Fatal(err)
		}
		if k, err := qs.ReadBatch(in); err != nil || k != 1 || in[0].N != len(pkt) {
			t.Fatalf("socket read of the peer's datagram: %d %d %v", k, in[0].N, err)
		}
	}
	for range 50 {
		round() // warm the pools
	}
	if a := testing.AllocsPerRun(200, round); a > 0.5 {
		t.Errorf("%.1f allocations per round (GSO write of 10 + read of 1), want 0", a)
	}
}
