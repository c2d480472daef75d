package tls13

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/ticket"
)

const (
	interopEnv  = "IROH_TLS13_INTEROP"
	interopALPN = "iroh-go-interop/echo/0"
)

// TestInteropRust runs TLS handshakes against real Rust iroh 1.0 endpoints
// (shared/interop/rust-peer.mjs, the npm bindings): our client against a
// Rust listener, and a Rust client against our server. A test-only QUIC
// packet layer (quicpkt_test.go) carries the handshake; each case runs in
// a loopback-only network namespace (TestInteropRustHelper re-executed
// under unshare), as the interop README requires.
func TestInteropRust(t *testing.T) {
	if testing.Short() {
		t.Skip("interop: skipped in -short mode")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("interop: needs linux/amd64 (prebuilt iroh bindings and network namespaces)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("interop: node not installed (scripts/test.sh installs it)")
	}
	dir := os.Getenv("IROH_INTEROP_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "iroh-interop")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@number0", "iroh", "package.json")); err != nil {
		t.Skipf("interop: Rust iroh bindings not installed in %s (scripts/test.sh runs shared/interop/install.sh)", dir)
	}
	unshare := []string{"unshare", "-n"}
	if os.Geteuid() != 0 {
		unshare = []string{"unshare", "-r", "-n"}
	}
	if out, err := exec.Command(unshare[0], append(unshare[1:], "true")...).CombinedOutput(); err != nil {
		t.Skipf("interop: network namespaces unavailable (%s: %v %s)", strings.Join(unshare, " "), err, out)
	}
	shared := testutil.SharedDir(t)
	for _, mode := range []string{"client", "client-hrr", "client-aes128-p256", "server", "server-hrr", "server-wrong-key", "server-resume"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel() // each in its own namespace; mostly waiting on Rust's timeouts
			args := append(unshare[1:], os.Args[0], "-test.run=^TestInteropRustHelper$", "-test.v", "-test.timeout=60s")
			cmd := exec.Command(unshare[0], args...)
			cmd.Env = append(os.Environ(), interopEnv+"="+mode, "IROH_SHARED="+shared)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestInteropRustHelper") {
				t.Fatalf("interop %s: %v\n%s", mode, err, out)
			}
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, "interop_test.go") {
					t.Log(strings.TrimSpace(l))
				}
			}
		})
	}
}

// rustPeer is a running rust-peer.mjs and its JSON lines.
type rustPeer struct {
	cmd   *exec.Cmd
	lines chan map[string]any
}

func startRustPeer(t *testing.T, args ...string) *rustPeer {
	t.Helper()
	return startNode(t, filepath.Join(testutil.SharedDir(t), "interop", "rust-peer.mjs"), args...)
}

// startNode runs a node script printing JSON lines; the process is stopped
// (stdin closed, then killed) and waited for at cleanup.
func startNode(t *testing.T, script string, args ...string) *rustPeer {
	t.Helper()
	cmd := exec.Command("node", append([]string{script}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &rustPeer{cmd: cmd, lines: make(chan map[string]any, 64)}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.lines <- m
			}
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		for range p.lines {
		}
	})
	return p
}

// wait returns the first line for which match is true.
func (p *rustPeer) wait(t *testing.T, d time.Duration, match func(map[string]any) bool) map[string]any {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-p.lines:
			if !ok {
				t.Fatal("rust peer exited")
			}
			t.Logf("rust: %v", m)
			if match(m) {
				return m
			}
		case <-timer.C:
			t.Fatalf("rust peer: no matching line within %v", d)
		}
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// quicSide drives one Conn over UDP with the test packet layer.
type quicSide struct {
	t        *testing.T
	conn     *Conn
	udp      *net.UDPConn
	peer     *net.UDPAddr
	scid     []byte // ours
	dcid     []byte // the peer's
	read     map[Level]*pktKeys
	write    map[Level]*pktKeys
	streams  map[Level]*cryptoStream
	offsets  map[Level]uint64
	pn       map[Level]uint64
	pending  [][]byte
	done     bool
	tickets  int
	isClient bool
}

func newQuicSide(t *testing.T, c *Conn, udp *net.UDPConn, scid []byte, client bool) *quicSide {
	return &quicSide{t: t, conn: c, udp: udp, scid: scid, isClient: client,
		read: map[Level]*pktKeys{}, write: map[Level]*pktKeys{}, streams: map[Level]*cryptoStream{},
		offsets: map[Level]uint64{}, pn: map[Level]uint64{}}
}

// drain acts on the Conn's events: installs keys and sends handshake data.
func (q *quicSide) drain() {
	for {
		ev := q.conn.NextEvent()
		switch ev.Kind {
		case EventNone:
			return
		case EventSetReadSecret:
			q.read[ev.Level] = newPktKeys(ev.Suite, ev.Data)
		case EventSetWriteSecret:
			q.write[ev.Level] = newPktKeys(ev.Suite, ev.Data)
		case EventHandshakeDone:
			q.done = true
		case EventSessionTicketStored:
			q.tickets++
		case EventWriteData:
			q.send(ev.Level, ev.Data)
		}
	}
}

func (q *quicSide) send(level Level, data []byte) {
	if level == LevelApplication {
		// A NewSessionTicket; with HANDSHAKE_DONE, as a server confirms the handshake.
		payload := append(cryptoFrame(q.offsets[level], data), 0x1e)
		q.offsets[level] += uint64(len(data))
		pkt := sealShort(q.dcid, q.write[level], q.pn[level], payload)
		q.pn[level]++
		if _, err := q.udp.WriteToUDP(pkt, q.peer); err != nil {
			q.t.Fatal(err)
		}
		return
	}
	typ := byte(pktInitial)
	if level == LevelHandshake {
		typ = pktHandshake
	} else if level != LevelInitial {
		q.t.Fatalf("cannot send at %v", level)
	}
	k := q.write[level]
	for len(data) > 0 {
		n := min(len(data), 1000)
		payload := cryptoFrame(q.offsets[level], data[:n])
		q.offsets[level] += uint64(n)
		data = data[n:]
		pad := 0
		if q.isClient && level == LevelInitial {
			pad = 1200
		}
		pkt := sealLong(typ, q.dcid, q.scid, k, q.pn[level], payload, pad)
		q.pn[level]++
		if _, err := q.udp.WriteToUDP(pkt, q.peer); err != nil {
			q.t.Fatal(err)
		}
	}
}

// receive processes one datagram (and packets that waited for keys).
func (q *quicSide) receive(d []byte) error {
	pkts, pending, err := openDatagram(d, len(q.scid), func(l Level) *pktKeys { return q.read[l] })
	if err != nil {
		return err
	}
	q.pending = append(q.pending, pending...)
	for len(pkts) > 0 {
		p := pkts[0]
		pkts = pkts[1:]
		if q.dcid == nil && p.scid != nil && q.isClient {
			q.dcid = append([]byte(nil), p.scid...)
		}
		frames, ferr := cryptoFrames(p.payload)
		if ferr != nil {
			return ferr
		}
		s := q.streams[p.level]
		if s == nil {
			s = &cryptoStream{}
			q.streams[p.level] = s
		}
		if data := s.add(frames); len(data) > 0 {
			if err := q.conn.HandleData(p.level, data); err != nil {
				return err
			}
			q.drain()
		}
		// Keys may have arrived for packets that waited.
		waiting := q.pending
		q.pending = nil
		for _, raw := range waiting {
			more, still, err := openDatagram(raw, len(q.scid), func(l Level) *pktKeys { return q.read[l] })
			if err != nil {
				return err
			}
			pkts = append(pkts, more...)
			q.pending = append(q.pending, still...)
		}
	}
	return nil
}

// loop receives until stop returns true or the deadline passes; it fails
// the test on a packet it cannot process (a peer's CONNECTION_CLOSE too).
func (q *quicSide) loop(d time.Duration, stop func() bool) {
	if err := q.loopErr(d, stop); err != nil {
		q.t.Fatalf("receive: %v", err)
	}
}

func (q *quicSide) loopErr(d time.Duration, stop func() bool) error {
	deadline := time.Now().Add(d)
	buf := make([]byte, 65536)
	for !stop() {
		if time.Now().After(deadline) {
			q.t.Fatalf("timeout: handshake done %v, conn err %v", q.done, q.conn.Err())
		}
		q.udp.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, from, err := q.udp.ReadFromUDP(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		if err != nil {
			q.t.Fatal(err)
		}
		if q.peer == nil {
			q.peer = from
		}
		if err := q.receive(append([]byte(nil), buf[:n]...)); err != nil {
			return err
		}
	}
	return nil
}

// TestInteropRustHelper is the namespaced half of TestInteropRust.
func TestInteropRustHelper(t *testing.T) {
	mode := os.Getenv(interopEnv)
	if mode == "" {
		t.Skip("runs only inside the network namespace TestInteropRust creates")
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v %s", err, out)
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	switch mode {
	case "client":
		interopClient(t, udp, clientOpts{})
	case "client-hrr":
		// Only a hybrid share: Rust's ring build asks for x25519.
		interopClient(t, udp, clientOpts{keyShares: []Group{X25519MLKEM768}, hrr: true})
	case "client-aes128-p256":
		// SHA-256 schedule and binder, P-256, with rustls.
		interopClient(t, udp, clientOpts{suites: []CipherSuite{TLS_AES_128_GCM_SHA256}, groups: []Group{P256}})
	case "server":
		interopServer(t, udp, nil, nil, false)
	case "server-hrr":
		// Rust sends an x25519 share; we want P-256 and ChaCha20.
		interopServer(t, udp, []Group{P256}, []CipherSuite{TLS_CHACHA20_POLY1305_SHA256}, false)
	case "server-wrong-key":
		// Our server presents a key other than the one Rust dials.
		interopServer(t, udp, nil, nil, true)
	case "server-resume":
		interopServerResume(t, udp)
	default:
		t.Fatalf("unknown mode %q", mode)
	}
}

// interopClient: our client against a Rust iroh listener. Our client must
// verify the Rust server (key, signature, Finished), and the Rust server
// must accept our client (it reports the connection with our id).
// clientOpts vary our client in interopClient.
type clientOpts struct {
	keyShares, groups []Group
	suites            []CipherSuite
	hrr               bool // a HelloRetryRequest is expected
}

func interopClient(t *testing.T, udp *net.UDPConn, o clientOpts) {
	rustKey := key.NewSecretKey()
	rust := startRustPeer(t, "listen", "--bind", "127.0.0.1:4433", "--secret", hex.EncodeToString(rustKey[:]), "--alpn", interopALPN)
	rust.wait(t, 30*time.Second, func(m map[string]any) bool { return m["event"] == "ready" })

	ourKey := key.NewSecretKey()
	cache := NewSessionCache(0)
	dial := func(udp *net.UDPConn) (*Conn, *quicSide) {
		scid := randBytes(8)
		dcid := randBytes(16)
		c := Client(&Config{
			SecretKey:           ourKey,
			ALPNs:               []string{interopALPN, "not-served/0"},
			ServerName:          rustKey.Public().SNIName(),
			TransportParameters: encodeTransportParams(nil, scid),
			SessionCache:        cache,
			EnableEarlyData:     true,
			KeyShares:           o.keyShares,
			Groups:              o.groups,
			CipherSuites:        o.suites,
		})
		q := newQuicSide(t, c, udp, scid, true)
		q.peer = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4433}
		q.dcid = dcid
		clientKeys, serverKeys := initialKeys(dcid)
		q.write[LevelInitial], q.read[LevelInitial] = clientKeys, serverKeys
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		q.drain()
		q.dcid = nil // learn the server's SCID from its first packet
		q.loop(15*time.Second, func() bool { return q.done })
		return c, q
	}
	c, q := dial(udp)
	if c.UsedResumption() || c.DidHelloRetryRequest() != o.hrr {
		t.Fatalf("first connection: resumed %v, hrr %v", c.UsedResumption(), c.DidHelloRetryRequest())
	}
	if c.PeerKey() != rustKey.Public() || c.ALPN() != interopALPN {
		t.Fatalf("peer %v alpn %q", c.PeerKey(), c.ALPN())
	}
	t.Logf("our client verified Rust server %s: suite %v, group %v, hrr %v", c.PeerKey().ShortString(), c.CipherSuite(), c.Group(), c.DidHelloRetryRequest())
	conn := rust.wait(t, 10*time.Second, func(m map[string]any) bool { return m["event"] == "conn" })
	if conn["remote"] != ourKey.Public().String() || conn["alpn"] != interopALPN {
		t.Fatalf("Rust server saw %v", conn)
	}
	t.Logf("Rust server accepted our client %s", ourKey.Public().ShortString())
	// Rust sends NewSessionTicket at 1-RTT; take it if it comes.
	deadline := time.Now().Add(2 * time.Second)
	q.loop(3*time.Second, func() bool { return q.tickets > 0 || time.Now().After(deadline) })
	if q.tickets == 0 {
		t.Fatal("no session ticket from Rust")
	}
	t.Logf("session tickets from Rust stored: %d", q.tickets)

	// Resume with a Rust ticket: our binder must verify in rustls.
	udp2, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp2.Close()
	c2, _ := dial(udp2)
	if !c2.UsedResumption() || c2.PeerKey() != rustKey.Public() {
		t.Fatalf("second connection: resumed %v, peer %v", c2.UsedResumption(), c2.PeerKey())
	}
	conn = rust.wait(t, 10*time.Second, func(m map[string]any) bool { return m["event"] == "conn" })
	if conn["remote"] != ourKey.Public().String() {
		t.Fatalf("Rust server saw %v", conn)
	}
	if o.hrr {
		if !c2.EarlyDataOffered() || c2.EarlyDataAccepted() || !c2.DidHelloRetryRequest() {
			t.Fatalf("0-RTT after a HelloRetryRequest: offered %v, accepted %v", c2.EarlyDataOffered(), c2.EarlyDataAccepted())
		}
		t.Logf("resumed with a Rust ticket after a HelloRetryRequest, 0-RTT rejected")
		return
	}
	if !c2.EarlyDataOffered() || !c2.EarlyDataAccepted() {
		t.Fatalf("0-RTT with a Rust ticket: offered %v, accepted %v (Rust iroh accepts early data)", c2.EarlyDataOffered(), c2.EarlyDataAccepted())
	}
	t.Logf("resumed with a Rust ticket, 0-RTT accepted")
}

// interopServer: a Rust iroh client dials our server. Our server must
// verify the Rust client, and the Rust client must accept our server (its
// connect succeeds; the exchange after it then times out, as the test
// speaks no 1-RTT).
func interopServer(t *testing.T, udp *net.UDPConn, groups []Group, suites []CipherSuite, wrongKey bool) {
	ourKey := key.NewSecretKey()
	addr := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	tk := ticket.EncodeEndpoint(endpointaddr.Addr{ID: ourKey.Public(), Direct: []netip.AddrPort{netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())}})
	rustKey := key.NewSecretKey()
	rust := startRustPeer(t, "connect", tk, "--alpn", interopALPN, "--mode", "echo", "--bytes", "16", "--timeout", "2", "--secret", hex.EncodeToString(rustKey[:]))

	scid := randBytes(8)
	var q *quicSide
	buf := make([]byte, 65536)
	udp.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, from, err := udp.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no Initial from the Rust client: %v", err)
	}
	d := append([]byte(nil), buf[:n]...)
	if len(d) < 7 || d[0]&0x80 == 0 {
		t.Fatalf("first datagram is not a long header packet")
	}
	odcid := append([]byte(nil), d[6:6+int(d[5])]...)
	presented := ourKey
	if wrongKey {
		presented = key.NewSecretKey()
	}
	s := Server(&Config{
		SecretKey:           presented,
		ALPNs:               []string{interopALPN},
		TransportParameters: encodeTransportParams(odcid, scid),
		Groups:              groups,
		CipherSuites:        suites,
	})
	q = newQuicSide(t, s, udp, scid, false)
	q.peer = from
	clientKeys, serverKeys := initialKeys(odcid)
	q.read[LevelInitial], q.write[LevelInitial] = clientKeys, serverKeys
	// The client's SCID is our DCID.
	q.dcid = append([]byte(nil), d[7+int(d[5]):7+int(d[5])+int(d[6+int(d[5])])]...)
	if err := q.receive(d); err != nil {
		t.Fatalf("first datagram: %v", err)
	}
	if wrongKey {
		err := q.loopErr(15*time.Second, func() bool { return q.done })
		// 0x130: unknown_ca, what our client sends in the same case.
		if err == nil || !strings.Contains(err.Error(), "peer closed with code 0x130") {
			t.Fatalf("Rust client did not refuse a server with the wrong key: %v (done %v)", err, q.done)
		}
		res := rust.wait(t, 20*time.Second, func(m map[string]any) bool { _, ok := m["ok"]; return ok })
		if res["phase"] != "connect" {
			t.Fatalf("Rust client result %v", res)
		}
		t.Logf("Rust client refused our server presenting %s for %s: %v", presented.Public().ShortString(), ourKey.Public().ShortString(), err)
		return
	}
	q.loop(15*time.Second, func() bool { return q.done })
	if s.PeerKey() != rustKey.Public() || s.ALPN() != interopALPN || s.DidHelloRetryRequest() != (groups != nil) {
		t.Fatalf("peer %v alpn %q hrr %v", s.PeerKey(), s.ALPN(), s.DidHelloRetryRequest())
	}
	t.Logf("our server verified Rust client %s: suite %v, group %v, hrr %v, SNI %s", s.PeerKey().ShortString(), s.CipherSuite(), s.Group(), s.DidHelloRetryRequest(), s.ServerName())
	res := rust.wait(t, 20*time.Second, func(m map[string]any) bool { _, ok := m["ok"]; return ok })
	if res["phase"] == "connect" || res["remote"] != ourKey.Public().String() {
		t.Fatalf("Rust client did not complete its handshake with us: %v", res)
	}
	t.Logf("Rust client connected to our server (then %v in phase %v)", res["error"], res["phase"])
}

// interopServerResume: one Rust endpoint dials our server twice; the first
// connection gets our session tickets (at 1-RTT), the second must resume
// with one (rustls computes the binder, our server checks it).
func interopServerResume(t *testing.T, udp *net.UDPConn) {
	ourKey := key.NewSecretKey()
	addr := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	tk := ticket.EncodeEndpoint(endpointaddr.Addr{ID: ourKey.Public(), Direct: []netip.AddrPort{netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())}})
	rustKey := key.NewSecretKey()
	rust := startNode(t, filepath.Join("testdata", "rust-reconnect.mjs"), tk, interopALPN, hex.EncodeToString(rustKey[:]))
	keys, err := NewTicketKeys(nil, 0)
	if err != nil {
		t.Fatal(err)
	}

	var conns []*quicSide
	byCID := map[string]*quicSide{}
	buf := make([]byte, 65536)
	deadline := time.Now().Add(30 * time.Second)
	for len(conns) < 2 || !conns[1].done {
		if time.Now().After(deadline) {
			t.Fatalf("timeout with %d connections", len(conns))
		}
		udp.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, from, err := udp.ReadFromUDP(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		d := append([]byte(nil), buf[:n]...)
		var dcid []byte
		if d[0]&0x80 != 0 {
			dcid = d[6 : 6+int(d[5])]
		} else {
			dcid = d[1:9]
		}
		q := byCID[string(dcid)]
		if q == nil {
			if d[0]&0xb0 != 0x80 { // not an Initial
				continue
			}
			odcid := append([]byte(nil), dcid...)
			scid := randBytes(8)
			s := Server(&Config{
				SecretKey:           ourKey,
				ALPNs:               []string{interopALPN},
				TransportParameters: encodeTransportParams(odcid, scid),
				TicketKeys:          keys,
			})
			q = newQuicSide(t, s, udp, scid, false)
			q.peer = from
			q.read[LevelInitial], q.write[LevelInitial] = initialKeys(odcid)
			sl := int(d[6+int(d[5])])
			q.dcid = append([]byte(nil), d[7+int(d[5]):7+int(d[5])+sl]...)
			byCID[string(odcid)], byCID[string(scid)] = q, q
			conns = append(conns, q)
		}
		wasDone := q.done
		if err := q.receive(d); err != nil {
			if q.done {
				continue // the Rust side closing a finished connection
			}
			t.Fatalf("connection %d: %v", len(conns), err)
		}
		if q.done && !wasDone && q == conns[0] {
			for range 2 {
				if err := q.conn.SendSessionTicket(); err != nil {
					t.Fatal(err)
				}
			}
			q.drain()
		}
	}
	s1, s2 := conns[0].conn, conns[1].conn
	if s1.UsedResumption() || !s2.UsedResumption() || s2.PeerKey() != rustKey.Public() {
		t.Fatalf("resumed: first %v, second %v (peer %v)", s1.UsedResumption(), s2.UsedResumption(), s2.PeerKey())
	}
	for i := 1; i <= 2; i++ {
		res := rust.wait(t, 15*time.Second, func(m map[string]any) bool { return m["conn"] != nil })
		if res["ok"] != true || res["remote"] != ourKey.Public().String() {
			t.Fatalf("Rust connection %d: %v", i, res)
		}
	}
	t.Logf("a Rust client resumed with our ticket (suite %v)", s2.CipherSuite())
}
