package magicsock

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// txOOBForTest builds the UDP_SEGMENT and IPV6_TCLASS messages quic-go
// passes with a GSO write.
func txOOBForTest(seg uint16, ecn uint8) []byte {
	oob := make([]byte, 0, 64)
	oob, body := putCmsg(oob, unix.SOL_UDP, unix.UDP_SEGMENT, 2)
	binary.NativeEndian.PutUint16(body, seg)
	oob, body = putCmsg(oob, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, 4)
	binary.NativeEndian.PutUint32(body, uint32(ecn))
	return oob
}

func TestParseTxOOB(t *testing.T) {
	seg, ecn := parseTxOOB(txOOBForTest(1200, 2))
	if seg != 1200 || ecn != 2 {
		t.Fatalf("seg %d ecn %d, want 1200 and 2", seg, ecn)
	}
	if seg, ecn := parseTxOOB([]byte{1, 2, 3}); seg != 0 || ecn != 0 {
		t.Fatalf("truncated oob: seg %d ecn %d", seg, ecn)
	}
}

// TestGROCoalesces checks the kernel behaviour the reader relies on: a
// GSO run sent to a socket set up by setupSocket arrives in one read with
// the segment size in a UDP_GRO message, and parseRxOOB finds it.
func TestGROCoalesces(t *testing.T) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if !setupSocket(rx) {
		t.Skip("kernel without UDP GRO")
	}
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	run, _ := gsoRun(10, 1200)
	if _, err := writeBatch(tx, run, 1200, 2, rx.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxPacket)
	oob := make([]byte, rxOOBSize)
	rx.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, oobn, _, _, err := rx.ReadMsgUDPAddrPort(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	gso, ecn := parseRxOOB(oob[:oobn])
	if n != len(run) || gso != 1200 {
		t.Fatalf("read %d bytes with gso %d, want %d and 1200", n, gso, len(run))
	}
	if ecn != ecnKnown|2 {
		t.Fatalf("ecn %#x, want ECT(0) known", ecn)
	}
}

// TestGSOWrite checks that writeBatch's one GSO write arrives as separate
// datagrams at a plain socket.
func TestGSOWrite(t *testing.T) {
	c := newTestConn(t)
	peer, _ := newPeerSocket(t, c)
	run, pkts := gsoRun(7, 1300)
	if _, err := writeBatch(c.pc4, run, 1300, 0, peer.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	checkDatagrams(t, readDatagrams(t, peer, 7), pkts)
}

// TestWriteMsgUDPGSO checks quic-go's write path: a GSO batch with its
// control messages, to a remote on a trusted direct path, arrives as its
// packets.
func TestWriteMsgUDPGSO(t *testing.T) {
	c := newTestConn(t)
	peer, r := newPeerSocket(t, c)
	trust(r, peer.LocalAddr().(*net.UDPAddr).AddrPort())
	run, pkts := gsoRun(9, 1100)
	if _, _, err := c.WriteMsgUDP(run, txOOBForTest(1100, 2), r.mapped); err != nil {
		t.Fatal(err)
	}
	checkDatagrams(t, readDatagrams(t, peer, 9), pkts)
}

// TestGROEndToEnd sends a GSO run from a remote's socket to the Conn and
// reads its packets back through ReadBatch.
func TestGROEndToEnd(t *testing.T) {
	c := newTestConn(t)
	peer, _ := newPeerSocket(t, c)
	run, pkts := gsoRun(20, 1250)
	if _, err := writeBatch(peer, run, 1250, 0, c.LocalAddrs()[0]); err != nil {
		t.Fatal(err)
	}
	checkDatagrams(t, readN(t, c, 20), pkts)
}

// TestGROEndToEndV6 is TestGROEndToEnd over ::1, with ECN marks both
// ways through the IPv6 socket's control messages.
func TestGROEndToEndV6(t *testing.T) {
	c, err := New(&Options{
		SecretKey: key.NewSecretKey(),
		BindV6:    netip.MustParseAddrPort("[::1]:0"),
		DisableV4: true,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer c.Close()
	peer, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer peer.Close()
	setupSocket(peer)
	ap := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	id := key.NewSecretKey().Public()
	if _, err := c.AddRemote(endpointaddr.Addr{ID: id, Direct: []netip.AddrPort{ap}}); err != nil {
		t.Fatal(err)
	}
	v, _ := c.byID.Load(id)
	r := v.(*remote)
	run, pkts := gsoRun(12, 1280)
	if _, err := writeBatch(peer, run, 1280, 1, c.LocalAddrs()[0]); err != nil {
		t.Fatal(err)
	}
	ms := newMessages(16)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got [][]byte
	for len(got) < len(pkts) {
		k, err := c.ReadBatch(ms, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms[:k] {
			if e, ok := ecnFromOOB(m.OOB[:m.NN]); !ok || e != 1 {
				t.Fatalf("ecn %d known %v, want ECT(1)", e, ok)
			}
			got = append(got, bytes.Clone(m.Buffers[0][:m.N]))
		}
	}
	checkDatagrams(t, got, pkts)
	trust(r, ap)
	if _, _, err := c.WriteMsgUDP(run, txOOBForTest(1280, 2), r.mapped); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxPacket)
	oob := make([]byte, rxOOBSize)
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, oobn, _, _, err := peer.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			t.Fatal(err)
		}
		if looksLikeDisco(buf[:n]) {
			continue
		}
		gso, ecn := parseRxOOB(oob[:oobn])
		if n != len(run) || gso != 1280 || ecn != ecnKnown|2 {
			t.Fatalf("read %d bytes gso %d ecn %#x, want %d, 1280, ECT(0)", n, gso, ecn, len(run))
		}
		break
	}
}
