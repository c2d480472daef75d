package magicsock

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/ipv4"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/stun"
	"github.com/iroh-go/iroh/key"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestConn opens a Conn on 127.0.0.1 only.
func newTestConn(t testing.TB) *Conn {
	t.Helper()
	c, err := New(&Options{
		SecretKey: key.NewSecretKey(),
		BindV4:    netip.MustParseAddrPort("127.0.0.1:0"),
		DisableV6: true,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newPeerSocket opens a plain UDP socket on 127.0.0.1 standing in for a
// remote endpoint, and registers it as a direct path of a new remote of c.
func newPeerSocket(t testing.TB, c *Conn) (*net.UDPConn, *remote) {
	t.Helper()
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	id := key.NewSecretKey().Public()
	if _, err := c.AddRemote(endpointaddr.Addr{ID: id, Direct: []netip.AddrPort{ap}}); err != nil {
		t.Fatal(err)
	}
	v, _ := c.byID.Load(id)
	return pc, v.(*remote)
}

// trust makes dst r's trusted direct path.
func trust(r *remote, dst netip.AddrPort) {
	bp := &bestPath{addr: dst}
	bp.trustedUntil.Store(time.Now().Add(time.Hour).UnixNano())
	r.best.Store(bp)
}

// quicish returns a non-disco packet of n bytes whose bytes encode i.
func quicish(i, n int) []byte {
	p := make([]byte, n)
	for j := range p {
		p[j] = byte(i*7 + j)
	}
	p[0] = 0x40 // QUIC short header
	return p
}

func newMessages(n int) []ipv4.Message {
	ms := make([]ipv4.Message, n)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 1500)}
		ms[i].OOB = make([]byte, 128)
	}
	return ms
}

// readN reads packets with ReadBatch until n arrived or 5s passed.
func readN(t *testing.T, c *Conn, n int) [][]byte {
	t.Helper()
	ms := newMessages(8)
	var out [][]byte
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for len(out) < n {
		k, err := c.ReadBatch(ms, 0)
		if err != nil {
			t.Fatalf("after %d of %d packets: %v", len(out), n, err)
		}
		for _, m := range ms[:k] {
			out = append(out, bytes.Clone(m.Buffers[0][:m.N]))
		}
	}
	return out
}

// TestSplitRead checks the splitting of a coalesced read into quic-go's
// messages: segments of gso bytes and a shorter last one, each tagged with
// the remote's mapped address and ECN bits, in more than one ReadBatch
// call when quic-go's batch is smaller than the read.
func TestSplitRead(t *testing.T) {
	c := newTestConn(t)
	peer, r := newPeerSocket(t, c)
	src := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	const gso, segs = 1000, 11
	var want [][]byte
	b := rxPool.Get().(*rxBatch)
	n := 0
	for i := range segs {
		size := gso
		if i == segs-1 {
			size = 333
		}
		p := quicish(i, size)
		want = append(want, p)
		n += copy(b.buf[n:], p)
	}
	c.splitRead(b, n, gso, ecnKnown|2, src)
	ms := newMessages(8)
	var got [][]byte
	for len(got) < segs {
		k, err := c.ReadBatch(ms, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms[:k] {
			got = append(got, bytes.Clone(m.Buffers[0][:m.N]))
			if m.Addr.(*net.UDPAddr) != r.mapped {
				t.Fatalf("from %v, want mapped %v", m.Addr, r.mapped)
			}
			if gotECN, ok := ecnFromOOB(m.OOB[:m.NN]); ok && gotECN != 2 {
				t.Fatalf("ecn %d, want 2", gotECN)
			}
		}
	}
	if len(got) != segs {
		t.Fatalf("%d packets, want %d", len(got), segs)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d: %d bytes differ from the %d sent", i, len(got[i]), len(want[i]))
		}
	}
}

// TestSplitReadUnknownSource checks that packets from a source that is no
// path of a known remote are held back, not handed to quic-go.
func TestSplitReadUnknownSource(t *testing.T) {
	c := newTestConn(t)
	src := netip.MustParseAddrPort("127.0.0.1:9")
	b := rxPool.Get().(*rxBatch)
	n := copy(b.buf, quicish(0, 500))
	n += copy(b.buf[n:], quicish(1, 500))
	c.splitRead(b, n, 500, 0, src)
	c.mu.Lock()
	held := len(c.pending[src].pkts)
	c.mu.Unlock()
	if held != 2 {
		t.Fatalf("%d packets held, want 2", held)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.ReadBatch(newMessages(1), 0); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadBatch: %v, want deadline exceeded", err)
	}
}

// TestSplitReadDiscoTail checks that a disco packet at the end of a
// coalesced read is taken out (and handled as disco), not given to QUIC.
func TestSplitReadDiscoTail(t *testing.T) {
	c := newTestConn(t)
	peer, _ := newPeerSocket(t, c)
	src := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	b := rxPool.Get().(*rxBatch)
	n := copy(b.buf, quicish(0, 200))
	disco := make([]byte, discoMinLen+10)
	copy(disco, discoMagic[:])
	n += copy(b.buf[n:], disco)
	c.splitRead(b, n, 200, 0, src)
	got := readN(t, c, 1)
	if len(got[0]) != 200 {
		t.Fatalf("packet of %d bytes, want 200", len(got[0]))
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := c.ReadBatch(newMessages(4), 0); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("disco segment reached QUIC (err %v)", err)
	}
}

// TestReadFromSinglePackets checks the net.PacketConn path and relay-style
// single-packet deliveries.
func TestReadFromSinglePackets(t *testing.T) {
	c := newTestConn(t)
	_, r := newPeerSocket(t, c)
	for i := range 3 {
		bp := bufPool.Get().(*[]byte)
		n := copy(*bp, quicish(i, 100+i))
		c.deliver(bp, n, r)
	}
	buf := make([]byte, 1500)
	for i := range 3 {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		if n != 100+i || !bytes.Equal(buf[:n], quicish(i, 100+i)) || from.(*net.UDPAddr) != r.mapped {
			t.Fatalf("packet %d: %d bytes from %v", i, n, from)
		}
	}
}

// TestReadAfterClose checks that a blocked ReadBatch returns net.ErrClosed
// when the socket closes.
func TestReadAfterClose(t *testing.T) {
	c := newTestConn(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReadBatch(newMessages(2), 0)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a blocked ReadBatch did not return within 10 s of Close")
	}
	if _, _, err := c.WriteMsgUDP([]byte{1}, nil, &net.UDPAddr{}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteMsgUDP after Close: %v", err)
	}
}

// readDatagrams reads n datagrams from pc, skipping disco packets.
func readDatagrams(t *testing.T, pc *net.UDPConn, n int) [][]byte {
	t.Helper()
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out [][]byte
	buf := make([]byte, 65536)
	for len(out) < n {
		k, err := pc.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(out), n, err)
		}
		if looksLikeDisco(buf[:k]) {
			continue
		}
		out = append(out, bytes.Clone(buf[:k]))
	}
	return out
}

// gsoRun returns segs packets of seg bytes (the last one shorter) as one
// buffer, and the packets.
func gsoRun(segs, seg int) ([]byte, [][]byte) {
	var run []byte
	var pkts [][]byte
	for i := range segs {
		size := seg
		if i == segs-1 {
			size = seg / 2
		}
		p := quicish(i, size)
		pkts = append(pkts, p)
		run = append(run, p...)
	}
	return run, pkts
}

func checkDatagrams(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d datagrams, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("datagram %d: %d bytes, want %d", i, len(got[i]), len(want[i]))
		}
	}
}

// TestWriteSplit checks the portable fallback of a GSO write.
func TestWriteSplit(t *testing.T) {
	c := newTestConn(t)
	peer, _ := newPeerSocket(t, c)
	dst := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	run, pkts := gsoRun(5, 1200)
	if err := writeSplit(c.pc4, run, 1200, dst); err != nil {
		t.Fatal(err)
	}
	checkDatagrams(t, readDatagrams(t, peer, 5), pkts)
}

// TestWriteMsgUDPRelayFallback checks that a GSO batch to a remote with no
// trusted direct path is split and sent packet by packet to its
// candidates.
func TestWriteMsgUDPRelayFallback(t *testing.T) {
	c := newTestConn(t)
	peer, r := newPeerSocket(t, c)
	run, pkts := gsoRun(4, 1000)
	r.sendBatch(run, 1000, 0)
	checkDatagrams(t, readDatagrams(t, peer, 4), pkts)
}

// TestSyscallConnControl checks that Control reaches every socket.
func TestSyscallConnControl(t *testing.T) {
	c := newTestConn(t)
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := rc.Control(func(uintptr) { calls++ }); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("Control ran %d times, want 1 (one socket)", calls)
	}
	if err := rc.Read(func(uintptr) bool { return true }); err == nil {
		t.Fatal("raw Read: no error")
	}
}

// TestHotPathAllocs asserts that the receive path (split, queue,
// ReadBatch) and the direct send path do not allocate per packet.
func TestHotPathAllocs(t *testing.T) {
	c := newTestConn(t)
	peer, r := newPeerSocket(t, c)
	src := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	trust(r, src)
	run, _ := gsoRun(8, 1200)
	ms := newMessages(8)
	recv := func() {
		b := rxPool.Get().(*rxBatch)
		n := copy(b.buf, run)
		c.splitRead(b, n, 1200, ecnKnown, src)
		if k, err := c.ReadBatch(ms, 0); err != nil || k != 8 {
			t.Fatalf("ReadBatch: %d, %v", k, err)
		}
	}
	recv()
	if a := testing.AllocsPerRun(200, recv); a != 0 {
		t.Errorf("receive path: %v allocs per 8-packet read, want 0", a)
	}
	oob := txOOBForTest(1200, 2)
	send := func() {
		if _, _, err := c.WriteMsgUDP(run, oob, r.mapped); err != nil {
			t.Fatal(err)
		}
	}
	send()
	if a := testing.AllocsPerRun(200, send); a != 0 {
		t.Errorf("send path: %v allocs per GSO write, want 0", a)
	}
}

// ecnFromOOB returns the ECN bits putRxECN wrote, if any.
func ecnFromOOB(oob []byte) (uint8, bool) {
	_, e := parseRxOOB(oob)
	return e & 3, e&ecnKnown != 0
}

// FuzzSplitRead feeds reads built from the input to splitRead, cut into
// segments of gso bytes (0: one datagram), from the known peer or a
// stranger. The read is seg repeated count times, then tail: a GSO run of
// many segments costs a few input bytes, so inputs stay small and the fuzzer
// runs thousands of cases a second (a 1,500-byte seed made every new input
// slow to minimize). No panic, and from the known peer every segment that is
// neither STUN nor disco reaches ReadBatch unchanged, in order.
func FuzzSplitRead(f *testing.F) {
	p := quicish(1, 300)
	f.Add(p, uint8(5), p[:150], uint16(300), true)
	f.Add(p, uint8(5), []byte{}, uint16(0), false)
	f.Add(p[:40], uint8(64), []byte{}, uint16(40), true)
	f.Add([]byte{}, uint8(0), []byte{}, uint16(7), true)
	f.Add(append(bytes.Clone(discoMagic[:]), make([]byte, 60)...), uint8(1), []byte{}, uint16(20), true)
	f.Add(p[:20], uint8(3), append(bytes.Clone(discoMagic[:]), make([]byte, 60)...), uint16(20), true)
	c := newTestConn(f)
	peer, r := newPeerSocket(f, c)
	known := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	unknown := netip.MustParseAddrPort("127.0.0.1:9")
	ms := newMessages(64)
	for i := range ms {
		ms[i].Buffers[0] = make([]byte, maxPacket)
	}
	var want [][]byte
	f.Fuzz(func(t *testing.T, seg []byte, count uint8, tail []byte, gso uint16, fromKnown bool) {
		src := unknown
		if fromKnown {
			src = known
		}
		b := rxPool.Get().(*rxBatch)
		n := 0
		for range count {
			n += copy(b.buf[n:], seg)
		}
		n += copy(b.buf[n:], tail)
		want = want[:0]
		if fromKnown {
			g := int(gso)
			if g == 0 || g > n {
				g = n
			}
			for off := 0; off < n; off += g {
				s := b.buf[off:min(off+g, n)]
				if !stun.Is(s) && !looksLikeDisco(s) {
					want = append(want, bytes.Clone(s))
				}
			}
		}
		c.splitRead(b, n, int(gso), 0, src)
		// Drain what reached quic-go. Packets held for the stranger reach it
		// later (as an anonymous remote's), so only the known peer's count.
		got := 0
		for {
			c.rxMu.Lock()
			b, _ := c.nextBatchLocked(false)
			c.rxMu.Unlock()
			if b == nil {
				break
			}
			k, err := c.ReadBatch(ms, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms[:k] {
				if m.Addr != net.Addr(r.mapped) {
					continue
				}
				if !fromKnown || got >= len(want) || !bytes.Equal(m.Buffers[0][:m.N], want[got]) {
					t.Fatalf("datagram %d of %d: %d bytes, not the segment sent", got, len(want), m.N)
				}
				got++
			}
		}
		if got != len(want) {
			t.Fatalf("%d datagrams reached ReadBatch, want %d", got, len(want))
		}
	})
}

// recordingRelay is a RelayClient that keeps what it is asked to send.
type recordingRelay struct {
	mu     sync.Mutex
	frames []recordedFrame
}

type recordedFrame struct {
	dst      key.PublicKey
	ecn      uint8
	seg      uint16
	contents []byte
}

func (r *recordingRelay) Send(dst key.PublicKey, ecn uint8, seg uint16, contents []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, recordedFrame{dst, ecn, seg, bytes.Clone(contents)})
	return nil
}

func (r *recordingRelay) Close() error { return nil }

// TestSendRelayOnlyBatches checks that a GSO batch to a remote reachable
// only through a relay leaves as relay batch frames of whole segments,
// each within the relay's datagram limit, in order.
func TestSendRelayOnlyBatches(t *testing.T) {
	rec := &recordingRelay{}
	c, err := New(&Options{
		SecretKey: key.NewSecretKey(),
		BindV4:    netip.MustParseAddrPort("127.0.0.1:0"),
		DisableV6: true,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		DialRelay: func(endpointaddr.RelayURL, func(key.PublicKey, uint8, uint16, []byte)) (RelayClient, error) {
			return rec, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u, err := endpointaddr.ParseRelayURL("https://relay.invalid./")
	if err != nil {
		t.Fatal(err)
	}
	id := key.NewSecretKey().Public()
	if _, err := c.AddRemote(endpointaddr.Addr{ID: id, RelayURLs: []endpointaddr.RelayURL{u}}); err != nil {
		t.Fatal(err)
	}
	v, _ := c.byID.Load(id)
	r := v.(*remote)
	run, pkts := gsoRun(100, 1400) // 138 KiB: three frames
	r.sendBatch(run, 1400, 2)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var got [][]byte
	var frames int
	for _, f := range rec.frames {
		if f.seg == 0 && looksLikeDisco(f.contents) {
			continue // the maintenance loop's probes
		}
		frames++
		if f.dst != id || f.ecn != 2 || len(f.contents) > relayMaxContents {
			t.Fatalf("frame to %s ecn %d with %d bytes", f.dst.ShortString(), f.ecn, len(f.contents))
		}
		seg := int(f.seg)
		if seg == 0 {
			seg = len(f.contents)
		}
		for p := f.contents; len(p) > 0; p = p[min(seg, len(p)):] {
			got = append(got, p[:min(seg, len(p))])
		}
	}
	if frames != 3 {
		t.Errorf("%d relay frames, want 3", frames)
	}
	checkDatagrams(t, got, pkts)
}

// TestSplitReadNoGRO checks the read of a plain datagram (no GRO segment
// size, as on platforms without GRO): one packet, whatever its size.
func TestSplitReadNoGRO(t *testing.T) {
	c := newTestConn(t)
	peer, _ := newPeerSocket(t, c)
	src := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	for _, size := range []int{1, 1200, 1452} {
		b := rxPool.Get().(*rxBatch)
		n := copy(b.buf, quicish(size, size))
		c.splitRead(b, n, 0, 0, src)
		got := readN(t, c, 1)
		if !bytes.Equal(got[0], quicish(size, size)) {
			t.Fatalf("size %d: got %d bytes", size, len(got[0]))
		}
	}
}
