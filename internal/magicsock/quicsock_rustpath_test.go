package magicsock_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/magicsock"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay/relaytest"
	"github.com/iroh-go/iroh/ticket"
)

// Tests of the paths to a Rust iroh 1.0 peer (no disco) whose address has
// both a relay and a direct address: QUIC must find the direct path by
// itself (the first packets go to every path, the answers' path wins) and
// run on it at full speed, and fall back to the relay when UDP is blocked.

const rustSinkALPN = "iroh-go-interop/sink/0"

// rustSinkBytes is what the speed tests move: 24 MiB.
const rustSinkBytes = 24 << 20

// rustListenerAddr starts a Rust listener with url as its home relay and
// returns its address with that relay and its 127.0.0.1 address.
func rustListenerAddr(t *testing.T, url string) (*testutil.RustPeer, endpointaddr.Addr) {
	t.Helper()
	peer := testutil.StartRustListener(t, "--relay", url)
	var direct []netip.AddrPort
	for _, s := range peer.Addrs {
		if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Is4() {
			direct = append(direct, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()))
		}
	}
	if len(direct) == 0 {
		t.Fatalf("no IPv4 address in %v", peer.Addrs)
	}
	return peer, endpointaddr.Addr{ID: rustID(t, peer), RelayURLs: []endpointaddr.RelayURL{endpointaddr.RelayURL(url)}, Direct: direct}
}

// sinkToRust dials the Rust peer at addr from a and writes n random bytes
// on one stream of its sink protocol, checking the digest it answers. It
// returns the transfer rate in MB/s (10^6 bytes), from the first write to
// the answer.
func sinkToRust(t *testing.T, a *endpoint, peer *testutil.RustPeer, addr endpointaddr.Addr, n int) float64 {
	t.Helper()
	mapped, err := a.sock.AddRemote(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, err := a.tr.Dial(ctx, mapped.AddrPort(), addr.ID, rustSinkALPN)
	if err != nil {
		t.Fatalf("dial rust: %v\nrust stderr:\n%s", err, peer.Stderr())
	}
	defer c.Close(0, "")
	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Bounded: a stalled sink fails the write and read below rather than
	// hanging them; 24 MiB take a few seconds here, about 50 s at the
	// 0.5 MiB/s seen on a loaded CI machine.
	s.SetDeadline(time.Now().Add(2 * time.Minute))
	data := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{7})
	rng.Read(data)
	want := sha256.Sum256(data)
	start := time.Now()
	werr := make(chan error, 1)
	go func() {
		_, err := s.Write(data)
		if err == nil {
			err = s.Close()
		}
		werr <- err
	}()
	reply, err := io.ReadAll(s)
	el := time.Since(start)
	if err != nil {
		t.Fatalf("sink reply: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("sink write: %v", err)
	}
	if len(reply) != 40 || !bytes.Equal(reply[:32], want[:]) || binary.BigEndian.Uint64(reply[32:]) != uint64(n) {
		t.Fatalf("sink reply %x, want digest %x and length %d", reply, want, n)
	}
	st := c.Stats()
	t.Logf("our sender: %d packets sent, %d lost, window %d, rtt %v, mtu %d", st.PacketsSent, st.PacketsLost, st.Window, st.RTT, st.MTU)
	return float64(n) / el.Seconds() / 1e6
}

// rustConnEvent returns the listener's conn event for our id.
func rustConnEvent(t *testing.T, peer *testutil.RustPeer, a *endpoint) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ev, err := peer.WaitEvent(ctx, func(ev map[string]any) bool {
		return ev["event"] == "conn" && ev["remote"] == a.sk.Public().String()
	})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// rustPathsKind summarizes the QUIC paths a Rust peer reported: "ip",
// "relay", or "mixed" when both carried bytes.
func rustPathsKind(t *testing.T, v any) string {
	t.Helper()
	paths, _ := v.([]any)
	ip, rel := false, false
	for _, p := range paths {
		pm, _ := p.(map[string]any)
		if pm == nil {
			continue
		}
		if pm["ip"] == true {
			ip = true
		}
		if pm["relay"] == true {
			rel = true
		}
	}
	switch {
	case ip && rel:
		return "mixed"
	case ip:
		return "ip"
	case rel:
		return "relay"
	}
	return fmt.Sprintf("none (%v)", v)
}

// gsoSends reads the GSO counter of m.
func gsoSends(m *magicsock.Metrics) float64 { return testutil.MetricValue(m.GSOSends) }

// TestQUICRustRelayAndDirect: we dial a Rust iroh 1.0 endpoint whose
// address has our relay and its UDP address. The Initial goes both ways,
// Rust answers on the direct path, and the connection stays there: Rust
// saw it arrive via ip, our path is direct, and 24 MiB go with GSO.
func TestQUICRustRelayAndDirect(t *testing.T) {
	testutil.RequireRustInterop(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	url := relaytest.URL(t)
	peer, addr := rustListenerAddr(t, url)
	m := magicsock.NewMetrics(nil)
	a := newEndpoint(t, sockMode{relayURL: url, metrics: m})
	mbps := sinkToRust(t, a, peer, addr, rustSinkBytes)
	t.Logf("24 MiB to Rust, relay and direct known: %.1f MB/s, %v GSO sends", mbps, gsoSends(m))
	if ev := rustConnEvent(t, peer, a); ev["via"] != "ip" {
		t.Errorf("rust saw our connection via %v, want ip: %v", ev["via"], ev)
	}
	if p, _ := a.sock.Paths(addr.ID); p.Kind != magicsock.PathDirect || p.Addr != addr.Direct[0] {
		t.Errorf("our path %v %v, want direct %v", p.Kind, p.Addr, addr.Direct[0])
	}
	if gsoSends(m) == 0 {
		t.Error("no GSO send on the direct path")
	}
	if relayBytes := testutil.MetricValue(m.SentBytes.WithLabelValues("relay")); relayBytes > rustSinkBytes/10 {
		t.Errorf("%v bytes went over the relay", relayBytes)
	}
}

// sinkResult is what serveSink saw: the peer's id, or an error.
type sinkResult struct {
	id  key.PublicKey
	err error
}

// serveSink serves the sink protocol on b for one connection: it reads
// one stream to its end and answers its SHA-256 and length.
func serveSink(ctx context.Context, b *endpoint) <-chan sinkResult {
	served := make(chan sinkResult, 1)
	go func() {
		var id key.PublicKey
		err := func() error {
			c, err := b.tr.Accept(ctx)
			if err != nil {
				return err
			}
			id = c.RemoteKey()
			s, err := c.AcceptStream(ctx)
			if err != nil {
				return err
			}
			h := sha256.New()
			n, err := io.Copy(h, s)
			if err != nil {
				return err
			}
			reply := binary.BigEndian.AppendUint64(h.Sum(nil), uint64(n))
			if _, err := s.Write(reply); err != nil {
				return err
			}
			if err := s.Close(); err != nil {
				return err
			}
			select {
			case <-c.Done():
			case <-ctx.Done():
			}
			return nil
		}()
		served <- sinkResult{id, err}
	}()
	return served
}

// rustSinksToUs has the Rust peer dial b with the ticket of addr and write
// n bytes on one stream; it returns Rust's result and the rate in
// MB/s as Rust measured the exchange, and the Rust peer's id.
func rustSinksToUs(t *testing.T, b *endpoint, addr endpointaddr.Addr, n int, args ...string) (map[string]any, float64, key.PublicKey) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	served := serveSink(ctx, b)
	res, err := testutil.RustConnect(ctx, t, ticket.EncodeEndpoint(addr),
		append([]string{"--mode", "sink", "--bytes", strconv.Itoa(n), "--hold", "1"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if res["ok"] != true {
		t.Fatalf("rust connect failed: %v", res)
	}
	var sr sinkResult
	select {
	case sr = <-served:
		if sr.err != nil {
			t.Fatalf("our sink: %v", sr.err)
		}
	case <-ctx.Done():
		t.Fatal("our sink did not finish")
	}
	ms, _ := res["exchange_ms"].(float64)
	return res, float64(n) / (ms / 1000) / 1e6, sr.id
}

// TestQUICRustDialsRelayAndDirect: a Rust iroh 1.0 endpoint dials us with
// a ticket holding our relay and our UDP address. It sends its Initial
// both ways; ours reaches QUIC at once, our answer goes both ways, and the
// connection runs direct: Rust's paths say ip, ours direct, GSO used.
func TestQUICRustDialsRelayAndDirect(t *testing.T) {
	testutil.RequireRustInterop(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	url := relaytest.URL(t)
	m := magicsock.NewMetrics(nil)
	b := newEndpoint(t, sockMode{relayURL: url, metrics: m, alpns: []string{rustSinkALPN}})
	addr := endpointaddr.Addr{ID: b.sk.Public(), RelayURLs: []endpointaddr.RelayURL{endpointaddr.RelayURL(url)}, Direct: b.sock.LocalAddrs()}
	res, mbps, id := rustSinksToUs(t, b, addr, rustSinkBytes, "--relay", url)
	t.Logf("24 MiB from Rust, relay and direct known: %.1f MB/s (connect %v ms), %v GSO sends", mbps, res["connect_ms"], gsoSends(m))
	if k := rustPathsKind(t, res["paths"]); k != "ip" {
		t.Errorf("rust's paths are %s, want ip: %v", k, res["paths"])
	}
	if p, _ := b.sock.Paths(id); p.Kind != magicsock.PathDirect {
		t.Errorf("our path to rust is %v, want direct", p.Kind)
	}
	if got := testutil.MetricValue(m.Initials.WithLabelValues("adopted")); got < 1 {
		t.Errorf("no UDP Initial joined its relay copy")
	}
}

// TestQUICRustRelayAndDirectBlocked: the same two directions with UDP to
// the peer's direct address dropped by the namespace's firewall: the
// connection runs over the relay.
func TestQUICRustRelayAndDirectBlocked(t *testing.T) {
	testutil.RequireRustInterop(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	url := relaytest.URL(t)
	t.Run("we dial", func(t *testing.T) {
		peer, addr := rustListenerAddr(t, url)
		blockUDPPort(t, addr.Direct[0].Port())
		a := newEndpoint(t, sockMode{relayURL: url})
		mbps := sinkToRust(t, a, peer, addr, 1<<20)
		t.Logf("1 MiB to Rust, direct blocked: %.1f MB/s", mbps)
		if ev := rustConnEvent(t, peer, a); ev["via"] != "relay" {
			t.Errorf("rust saw our connection via %v, want relay", ev["via"])
		}
		if p, _ := a.sock.Paths(addr.ID); p.Kind == magicsock.PathDirect {
			t.Errorf("our path is direct (%v) with UDP blocked", p.Addr)
		}
	})
	t.Run("rust dials", func(t *testing.T) {
		b := newEndpoint(t, sockMode{relayURL: url, alpns: []string{rustSinkALPN}})
		blockUDPPort(t, b.sock.LocalAddrs()[0].Port())
		addr := endpointaddr.Addr{ID: b.sk.Public(), RelayURLs: []endpointaddr.RelayURL{endpointaddr.RelayURL(url)}, Direct: b.sock.LocalAddrs()}
		res, mbps, _ := rustSinksToUs(t, b, addr, 1<<20, "--relay", url)
		t.Logf("1 MiB from Rust, direct blocked: %.1f MB/s", mbps)
		if k := rustPathsKind(t, res["paths"]); k != "relay" {
			t.Errorf("rust's paths are %s, want relay: %v", k, res["paths"])
		}
	})
}

// blockUDPPort drops every UDP datagram to or from port in the test's
// namespace (nftables, input hook: senders see no error, as behind a
// firewall that drops).
func blockUDPPort(t *testing.T, port uint16) {
	t.Helper()
	table := fmt.Sprintf("block%d", port)
	rules := fmt.Sprintf(`table inet %[1]s {
	chain in {
		type filter hook input priority 0; policy accept;
		udp dport %[2]d drop
		udp sport %[2]d drop
	}
}`, table, port)
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = bytes.NewReader([]byte(rules))
	if out, err := cmd.CombinedOutput(); err != nil {
		testutil.SkipUnlessCI(t, "nft: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "inet", table).Run() })
}
