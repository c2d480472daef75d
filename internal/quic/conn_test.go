package quic

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/key"
)

const testALPN = "iroh-go-quic-test/1"

func testKey(seed byte) key.SecretKey {
	var k key.SecretKey
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

var (
	clientAddr = netip.MustParseAddrPort("10.0.0.1:1000")
	serverAddr = netip.MustParseAddrPort("10.0.0.2:2000")
)

// pair is a client and server core joined by a perfect in-memory link
// with a fixed one-way delay, driven by a virtual clock.
type pair struct {
	t          *testing.T
	now        time.Time
	client     *Conn
	server     *Conn
	srvKey     key.SecretKey
	inflight   []packetInFlight
	delay      time.Duration
	dropFilter func(toServer bool, b []byte) bool
}

type packetInFlight struct {
	at       time.Time
	toServer bool
	b        []byte
}

func newPair(t *testing.T, mod func(c, s *Config)) *pair {
	t.Helper()
	p := &pair{t: t, now: t0, delay: 5 * time.Millisecond, srvKey: testKey(1)}
	ccfg := &Config{
		TLS:  tls13.Config{SecretKey: testKey(100), ALPNs: []string{testALPN}, ServerName: p.srvKey.Public().SNIName()},
		CIDs: mapCIDs{},
		Rand: rand.NewChaCha8([32]byte{1}),
	}
	scfg := &Config{
		TLS:  tls13.Config{SecretKey: p.srvKey, ALPNs: []string{testALPN}},
		CIDs: mapCIDs{},
		Rand: rand.NewChaCha8([32]byte{2}),
	}
	if mod != nil {
		mod(ccfg, scfg)
	}
	c, err := NewClient(ccfg, p.now, serverAddr)
	if err != nil {
		t.Fatal(err)
	}
	p.client = c
	p.send(c, true)
	first := p.inflight[0]
	dcid := c.origDCID
	s, err := NewServer(scfg, p.now, clientAddr, dcid)
	if err != nil {
		t.Fatal(err)
	}
	p.server = s
	_ = first
	return p
}

// send drains one side's datagrams onto the link.
func (p *pair) send(c *Conn, toServer bool) {
	buf := make([]byte, 64*1500)
	for {
		n, seg, _ := c.Send(p.now, buf, 64)
		if n == 0 {
			return
		}
		b := buf[:n]
		for len(b) > 0 {
			m := min(seg, len(b))
			d := bytes.Clone(b[:m])
			b = b[m:]
			if p.dropFilter != nil && p.dropFilter(toServer, d) {
				continue
			}
			p.inflight = append(p.inflight, packetInFlight{at: p.now.Add(p.delay), toServer: toServer, b: d})
		}
	}
}

// step advances the clock to the next event (a packet arriving or a
// timer) and processes it; it reports false when nothing is left.
func (p *pair) step() bool {
	next := time.Time{}
	at := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, f := range p.inflight {
		at(f.at)
	}
	at(p.client.Timeout())
	if p.server != nil {
		at(p.server.Timeout())
	}
	if next.IsZero() {
		return false
	}
	if next.After(p.now) {
		p.now = next
	}
	kept := p.inflight[:0]
	var due []packetInFlight
	for _, f := range p.inflight {
		if !f.at.After(p.now) {
			due = append(due, f)
		} else {
			kept = append(kept, f)
		}
	}
	p.inflight = kept
	for _, f := range due {
		if f.toServer {
			p.server.Receive(p.now, f.b, clientAddr, 0)
		} else {
			p.client.Receive(p.now, f.b, serverAddr, 0)
		}
	}
	for _, c := range []*Conn{p.client, p.server} {
		if t := c.Timeout(); !t.IsZero() && !t.After(p.now) {
			c.HandleTimeout(p.now)
		}
	}
	p.send(p.client, true)
	p.send(p.server, false)
	return true
}

// run steps until cond holds, failing after limit of virtual time.
func (p *pair) run(limit time.Duration, cond func() bool) {
	p.t.Helper()
	end := p.now.Add(limit)
	for !cond() {
		if !p.step() || p.now.After(end) {
			p.t.Fatalf("condition not reached by %v (client err %v, server err %v)", p.now.Sub(t0), p.client.Err(), p.server.Err())
		}
	}
}

func TestHandshake(t *testing.T) {
	p := newPair(t, nil)
	p.run(2*time.Second, func() bool { return p.client.HandshakeComplete() && p.server.HandshakeComplete() && p.client.confirmed })
	if p.client.PeerKey() != p.srvKey.Public() || p.server.PeerKey() != testKey(100).Public() {
		t.Fatal("peer keys wrong")
	}
	if p.client.ALPN() != testALPN {
		t.Fatalf("ALPN %q", p.client.ALPN())
	}
	t.Logf("handshake done after %v", p.now.Sub(t0))
}

func handshake(t *testing.T, mod func(c, s *Config)) *pair {
	t.Helper()
	p := newPair(t, mod)
	p.run(2*time.Second, func() bool { return p.client.HandshakeComplete() && p.server.HandshakeComplete() && p.client.confirmed })
	return p
}

// transfer sends payload from one side to the other over a new stream
// and returns what the receiver read.
func (p *pair) transfer(from, to *Conn, payload []byte, limit time.Duration) []byte {
	p.t.Helper()
	id, err := from.OpenStream(false)
	if err != nil {
		p.t.Fatal(err)
	}
	written := 0
	var got []byte
	buf := make([]byte, 100_000)
	var rid StreamID
	accepted := false
	fin := false
	p.run(limit, func() bool {
		for written < len(payload) {
			n, err := from.StreamWrite(id, payload[written:])
			if err != nil {
				p.t.Fatalf("write: %v", err)
			}
			if n == 0 {
				break
			}
			written += n
			if written == len(payload) {
				from.StreamClose(id)
			}
		}
		if !accepted {
			rid, accepted = to.AcceptStream(false)
		}
		for accepted && !fin {
			n, f, err := to.StreamRead(p.now, rid, buf)
			if err != nil {
				p.t.Fatalf("read: %v", err)
			}
			got = append(got, buf[:n]...)
			fin = f
			if n == 0 {
				break
			}
		}
		return fin
	})
	return got
}

func TestStreamTransfer(t *testing.T) {
	p := handshake(t, nil)
	payload := make([]byte, 5<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	got := p.transfer(p.client, p.server, payload, 30*time.Second)
	if !bytes.Equal(got, payload) {
		t.Fatalf("received %d bytes, differ", len(got))
	}
	t.Logf("5 MiB in %v virtual, key updates %d/%d, path MTU %d/%d", p.now.Sub(t0), p.client.keys.updates, p.server.keys.updates, p.client.paths[0].mtu, p.server.paths[0].mtu)
	if p.client.paths[0].mtu != DefaultMaxUDPPayloadSize {
		t.Errorf("path MTU discovery reached %d, want %d", p.client.paths[0].mtu, DefaultMaxUDPPayloadSize)
	}
	back := p.transfer(p.server, p.client, payload[:100000], 10*time.Second)
	if !bytes.Equal(back, payload[:100000]) {
		t.Fatal("server to client differs")
	}
}

func TestDatagrams(t *testing.T) {
	p := handshake(t, nil)
	for i := range 10 {
		if err := p.client.SendDatagram([]byte{byte(i), 1, 2, 3}); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]byte
	p.run(time.Second, func() bool {
		for {
			d, ok := p.server.ReceiveDatagram()
			if !ok {
				break
			}
			got = append(got, d)
		}
		return len(got) == 10
	})
	for i, d := range got {
		if d[0] != byte(i) {
			t.Fatalf("datagram %d is %v", i, d)
		}
	}
	if err := p.client.SendDatagram(make([]byte, 2000)); err != ErrDatagramTooLarge {
		t.Fatalf("oversized datagram: %v", err)
	}
}

func TestCloseCodes(t *testing.T) {
	for _, fromClient := range []bool{true, false} {
		p := handshake(t, nil)
		a, b := p.server, p.client
		if fromClient {
			a, b = p.client, p.server
		}
		a.Close(p.now, 42, "bye now", true)
		p.run(time.Second, func() bool { return b.Err() != nil })
		var ae *ApplicationError
		if err := b.Err(); !asErr(err, &ae) || ae.Code != 42 || ae.Reason != "bye now" || !ae.Remote {
			t.Fatalf("peer saw %v", err)
		}
		if err := a.Err(); !asErr(err, &ae) || ae.Remote {
			t.Fatalf("closer has %v", err)
		}
		p.run(5*time.Second, func() bool { return a.Drained() && b.Drained() })
	}
}

func TestIdleTimeout(t *testing.T) {
	p := handshake(t, func(c, s *Config) { c.MaxIdleTimeout = 2 * time.Second })
	start := p.now
	p.run(time.Minute, func() bool { return p.client.Err() != nil && p.server.Err() != nil })
	var ie *IdleTimeoutError
	if !asErr(p.client.Err(), &ie) || !asErr(p.server.Err(), &ie) {
		t.Fatalf("errors %v / %v", p.client.Err(), p.server.Err())
	}
	if d := p.now.Sub(start); d < 2*time.Second || d > 3*time.Second {
		t.Fatalf("idle timeout after %v, want 2s (the smaller of both)", d)
	}
}

func TestKeepAlive(t *testing.T) {
	p := handshake(t, func(c, s *Config) {
		c.MaxIdleTimeout = 2 * time.Second
		c.KeepAlivePeriod = 500 * time.Millisecond
	})
	end := p.now.Add(10 * time.Second)
	for p.now.Before(end) {
		if !p.step() {
			t.Fatal("nothing scheduled")
		}
	}
	if p.client.Err() != nil || p.server.Err() != nil {
		t.Fatalf("keep-alive did not keep the connection: %v / %v", p.client.Err(), p.server.Err())
	}
}

func asErr[T error](err error, target *T) bool { return errorsAs(err, target) }

var errorsAs = func(err error, target any) bool { return errors.As(err, target) }

// TestAntiAmplification: a server that hears only the client's first
// flight sends at most three times what it received (RFC 9000 §8.1),
// however long its retransmission timers run.
func TestAntiAmplification(t *testing.T) {
	p := newPair(t, nil)
	var toServer, toClient int
	firstFlight := true
	p.dropFilter = func(server bool, b []byte) bool {
		if server {
			if !firstFlight {
				return true
			}
			toServer += len(b)
			return false
		}
		firstFlight = false // the client's later packets never arrive
		toClient += len(b)
		return false
	}
	// The client's first flight is already on the link.
	for _, f := range p.inflight {
		toServer += len(f.b)
	}
	end := p.now.Add(20 * time.Second)
	for p.now.Before(end) && p.step() {
	}
	if toClient > 3*toServer {
		t.Fatalf("server sent %d bytes for %d received", toClient, toServer)
	}
	if toClient == 0 {
		t.Fatal("server sent nothing")
	}
	t.Logf("server sent %d bytes for %d received", toClient, toServer)
}

// TestDatagramQueueBounded: datagrams the application does not read are
// dropped oldest first beyond the queue length.
func TestDatagramQueueBounded(t *testing.T) {
	p := handshake(t, func(c, s *Config) { s.DatagramQueueLen = 8 })
	for i := range 100 {
		if err := p.client.SendDatagram([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 100 {
		p.step()
		if len(p.client.dgramOut) == 0 && len(p.inflight) == 0 {
			break
		}
	}
	if n := len(p.server.dgramIn); n != 8 {
		t.Fatalf("%d datagrams queued, want 8", n)
	}
	d, _ := p.server.ReceiveDatagram()
	if d[0] != 92 {
		t.Fatalf("oldest kept is %d, want 92", d[0])
	}
}

// TestWriteRoomFreedBySending: SendBufferSize bounds the data written and
// not yet sent, so sending (not the peer's ACK) makes room, and the
// writer is told once, when half the buffer is free.
func TestWriteRoomFreedBySending(t *testing.T) {
	const bufSize = 8000
	p := handshake(t, func(c, s *Config) { c.SendBufferSize = bufSize })
	for {
		if _, ok := p.client.PollEvent(); !ok {
			break
		}
	}
	id, err := p.client.OpenStream(false)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := p.client.StreamWrite(id, make([]byte, 3*bufSize)); n != bufSize || err != nil {
		t.Fatalf("first write took %d (%v), want %d", n, err, bufSize)
	}
	if n, _ := p.client.StreamWrite(id, make([]byte, 10)); n != 0 {
		t.Fatalf("write into a full buffer took %d", n)
	}
	// Send without delivering anything: no ACK can come back.
	before := len(p.inflight)
	p.send(p.client, true)
	if len(p.inflight) == before {
		t.Fatal("nothing sent")
	}
	writable := 0
	for {
		e, ok := p.client.PollEvent()
		if !ok {
			break
		}
		if e.Kind == EventStreamWritable && e.Stream == id {
			writable++
		}
	}
	if writable != 1 {
		t.Fatalf("%d writable events after sending, want 1", writable)
	}
	if n, err := p.client.StreamWrite(id, make([]byte, 3*bufSize)); n != bufSize || err != nil {
		t.Fatalf("write after sending took %d (%v), want %d", n, err, bufSize)
	}
}

// TestStreamQuantum: with several streams sending, the first keeps its
// turn for streamQuantum bytes of frames, then the next has its turn,
// so a batch of packets mostly carries one stream.
func TestStreamQuantum(t *testing.T) {
	p := handshake(t, nil)
	c := p.client
	var ids [2]StreamID
	for i := range ids {
		id, err := c.OpenStream(false)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		if n, err := c.StreamWrite(id, make([]byte, 4*streamQuantum)); err != nil || n == 0 {
			t.Fatalf("write: %d %v", n, err)
		}
	}
	// Build packets' payloads straight from the stream queue and note
	// whose frames each one carries.
	buf := make([]byte, 1200)
	var turns []StreamID // one entry per run of packets of one stream
	var runBytes []int
	for range 4 * streamQuantum / 1000 {
		w := frameWriter{b: buf[:0], limit: len(buf)}
		c.appendStreams(&w)
		if len(w.recs) == 0 {
			break
		}
		for _, r := range w.recs {
			if r.kind != frStream {
				continue
			}
			id := StreamID(r.id)
			if len(turns) == 0 || turns[len(turns)-1] != id {
				turns = append(turns, id)
				runBytes = append(runBytes, 0)
			}
			runBytes[len(runBytes)-1] += int(r.n)
		}
	}
	if len(turns) < 4 {
		t.Fatalf("turns %v: want the streams to alternate", turns)
	}
	for i, n := range runBytes[:len(runBytes)-1] {
		if turns[i] == turns[i+1] || n < streamQuantum-2400 || n > streamQuantum+1200 || n < 20*len(buf) {
			t.Fatalf("turn %d: stream %d sent %d bytes (want about %d), turns %v", i, turns[i], n, streamQuantum, turns)
		}
	}
}
