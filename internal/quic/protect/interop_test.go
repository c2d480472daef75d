package protect

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/quic/wire"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/ticket"
)

const interopChildEnv = "IROH_PROTECT_INTEROP_CHILD"

// TestRustIrohInitial has a real Rust iroh 1.0 endpoint (npm bindings,
// shared/interop/rust-peer.mjs) dial a UDP socket of ours, in a
// loopback-only network namespace, and opens its Initial packets with
// this package and wire: header layout (DCID 20, SCID 8, 1200 bytes),
// packet protection (opening, and sealing back to the same bytes), frames
// (re-encoded to the same bytes), and the transport parameters inside the
// ClientHello (core.md §6.3).
func TestRustIrohInitial(t *testing.T) {
	if os.Getenv(interopChildEnv) != "" {
		rustInitialChild(t)
		return
	}
	runInNamespace(t, "TestRustIrohInitial")
}

// runInNamespace runs the test named name of this binary again, as a
// child inside a new loopback-only network namespace (root: unshare -n;
// else an unprivileged user namespace), where Rust iroh's port mapper
// finds nothing to probe. The child sees interopChildEnv set.
func runInNamespace(t *testing.T, name string) {
	t.Helper()
	if testing.Short() {
		t.Skip("interop: skipped in -short mode")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("interop: needs linux/amd64 (prebuilt iroh bindings and network namespaces)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("interop: node not installed")
	}
	args := []string{"-n"}
	if os.Geteuid() != 0 {
		if err := exec.Command("unshare", "-r", "-n", "true").Run(); err != nil {
			t.Skipf("interop: not root and no unprivileged user namespaces (%v)", err)
		}
		args = []string{"-r", "-n"}
	}
	shared := testutil.SharedDir(t)
	args = append(args, "sh", "-c", `ip link set lo up && exec "$0" -test.run="^$1\$" -test.v`, os.Args[0], name)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Env = append(os.Environ(), interopChildEnv+"=1", "IROH_SHARED="+shared)
	cmd.WaitDelay = 10 * time.Second // a Rust peer outliving a killed child does not hold the output open
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("interop child in a network namespace: %v\n%s", err, out)
	}
	t.Logf("child:\n%s", out)
}

func rustInitialChild(t *testing.T) {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	addr := endpointaddr.Addr{ID: key.NewSecretKey().Public(), Direct: []netip.AddrPort{conn.LocalAddr().(*net.UDPAddr).AddrPort()}}
	peer := exec.Command("node", filepath.Join(testutil.SharedDir(t), "interop", "rust-peer.mjs"),
		"connect", ticket.EncodeEndpoint(addr), "--timeout", "20")
	var peerOut bytes.Buffer
	peer.Stdout, peer.Stderr = &peerOut, &peerOut
	if err := peer.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		peer.Process.Kill()
		peer.Wait()
		if t.Failed() {
			t.Logf("rust-peer output:\n%s", peerOut.String())
		}
	}()

	buf := make([]byte, 65536)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var crypto []byte
	var scid []byte
	for tries := 0; ; tries++ {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no Initial from Rust iroh: %v", err)
		}
		d := buf[:n]
		if n < wire.MinInitialDatagramSize {
			t.Fatalf("Initial datagram of %d bytes, want at least 1200", n)
		}
		pkts, err := wire.SplitCoalesced(nil, d, 0)
		if err != nil {
			t.Fatalf("split: %v", err)
		}
		h, err := wire.ParseHeader(pkts[0], 0)
		if err != nil || h.Type != wire.PacketInitial {
			t.Fatalf("first packet: %v %v", h.Type, err)
		}
		if len(h.DstCID) != 20 || len(h.SrcCID) != 8 || len(h.Token) != 0 || !h.FixedBit() {
			t.Fatalf("Initial header: DCID %d bytes, SCID %d, token %d", len(h.DstCID), len(h.SrcCID), len(h.Token))
		}
		scid = bytes.Clone(h.SrcCID)
		_, open := InitialKeys(h.DstCID, false)
		pkt := bytes.Clone(pkts[0])
		pn, payload, err := open.OpenPacket(pkt, h.PNOffset, wire.NoPacketNumber)
		if err != nil {
			t.Fatalf("open Rust Initial: %v", err)
		}
		// Our sealing of the opened packet gives Rust's bytes back.
		seal, _ := InitialKeys(h.DstCID, true)
		pnLen := int(pkt[0]&3) + 1
		resealed, err := seal.SealPacket(bytes.Clone(pkt[:len(pkt)-TagLen]), h.PNOffset, pnLen, pn)
		if err != nil || !bytes.Equal(resealed, pkts[0]) {
			t.Fatalf("re-sealed Initial pn %d differs from Rust's (%v)", pn, err)
		}
		var reenc []byte
		it := wire.NewFrameIter(payload)
		for it.Next() {
			f := it.Frame()
			reenc = wire.AppendFrame(reenc, f)
			if !f.Type.Allowed(wire.PacketInitial) {
				t.Fatalf("%v frame in an Initial", f.Type)
			}
			if f.Type == wire.FrameCrypto && f.Crypto.Offset == uint64(len(crypto)) {
				crypto = append(crypto, f.Crypto.Data...)
			}
		}
		if it.Err() != nil {
			t.Fatalf("frames of Initial pn %d: %v", pn, it.Err())
		}
		if !bytes.Equal(reenc, payload) {
			t.Fatalf("frames of Initial pn %d re-encode differently:\n got %x\nwant %x", pn, reenc[:64], payload[:64])
		}
		t.Logf("Initial pn %d: %d bytes, %d bytes of CRYPTO so far", pn, n, len(crypto))
		if tp, ok, err := clientHelloParams(crypto); err != nil {
			t.Fatal(err)
		} else if ok {
			checkRustParams(t, tp, scid)
			return
		}
		if tries > 10 {
			t.Fatal("ClientHello not complete after 10 datagrams")
		}
	}
}

// clientHelloParams returns the quic_transport_parameters extension of
// the ClientHello in crypto, once it is complete.
func clientHelloParams(b []byte) ([]byte, bool, error) {
	if len(b) < 4 {
		return nil, false, nil
	}
	if b[0] != 1 {
		return nil, false, fmt.Errorf("handshake message type %d, want ClientHello", b[0])
	}
	l := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if len(b) < 4+l {
		return nil, false, nil
	}
	m := b[4 : 4+l]
	skip := func(n int) bool {
		if len(m) < n {
			return false
		}
		m = m[n:]
		return true
	}
	vec := func(lenBytes int) bool {
		if len(m) < lenBytes {
			return false
		}
		n := 0
		for i := range lenBytes {
			n = n<<8 | int(m[i])
		}
		return skip(lenBytes + n)
	}
	if !skip(2+32) || !vec(1) || !vec(2) || !vec(1) || len(m) < 2 {
		return nil, false, errors.New("ClientHello truncated")
	}
	m = m[2:]
	for len(m) >= 4 {
		typ := binary.BigEndian.Uint16(m)
		n := int(binary.BigEndian.Uint16(m[2:]))
		if len(m) < 4+n {
			break
		}
		if typ == 0x39 {
			return m[4 : 4+n], true, nil
		}
		m = m[4+n:]
	}
	return nil, false, errors.New("ClientHello has no quic_transport_parameters")
}

func checkRustParams(t *testing.T, b, scid []byte) {
	p, err := wire.ParseTransportParameters(b, false)
	if err != nil {
		t.Fatalf("Rust transport parameters: %v", err)
	}
	if p.InitialSourceCID == nil || !bytes.Equal(p.InitialSourceCID.Bytes(), scid) {
		t.Errorf("initial_source_connection_id %v, header SCID %x", p.InitialSourceCID, scid)
	}
	if p.MaxIdleTimeout != 30000 || p.MaxUDPPayloadSize != 1472 || p.InitialMaxData != wire.MaxVarint ||
		p.InitialMaxStreamDataBidiLocal != 1250000 || p.InitialMaxStreamsBidi != 100 ||
		p.ActiveConnectionIDLimit != 5 || p.MaxDatagramFrameSize != 65535 ||
		!p.HasMinAckDelay || p.MinAckDelay != 1000 || !p.HasInitialMaxPathID || p.InitialMaxPathID != 7 ||
		p.NATTraversal != 32 {
		t.Errorf("Rust transport parameters differ from core.md §6.3: %+v", p)
	}
	t.Logf("Rust iroh transport parameters (%d bytes) decoded: %+v", len(b), p)
}
