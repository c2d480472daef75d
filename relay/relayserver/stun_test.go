package relayserver_test

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/stun"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/relay/relayserver"
)

func TestSTUN(t *testing.T) {
	srv, err := relayserver.New(&relayserver.Options{Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	for _, network := range []string{"udp4", "udp6"} {
		t.Run(network, func(t *testing.T) {
			laddr := "127.0.0.1:0"
			if network == "udp6" {
				laddr = "[::1]:0"
			}
			pc, err := net.ListenPacket(network, laddr)
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			done := make(chan error, 1)
			go func() { done <- srv.ServeSTUN(pc) }()
			defer func() {
				pc.Close()
				if err := <-done; err != nil {
					t.Errorf("ServeSTUN: %v", err)
				}
			}()
			c, err := net.Dial(network, pc.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Garbage is ignored and counted.
			c.Write([]byte("not stun"))
			tx := stun.TxID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
			c.Write(stun.AppendRequest(nil, tx))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 1500)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			gotTx, addr, err := stun.ParseResponse(buf[:n])
			if err != nil {
				t.Fatal(err)
			}
			want := c.LocalAddr().(*net.UDPAddr).AddrPort()
			if gotTx != tx || addr != want {
				t.Fatalf("response tx %x addr %v, want %x %v", gotTx, addr, tx, want)
			}
		})
	}
	if testutil.MetricValue(srv.Metrics().STUNRequests) < 1 || testutil.MetricValue(srv.Metrics().STUNBad) < 1 {
		t.Fatalf("stun metrics %v %v", testutil.MetricValue(srv.Metrics().STUNRequests), testutil.MetricValue(srv.Metrics().STUNBad))
	}
	srv.Close()
}

func TestSTUNParseErrors(t *testing.T) {
	good := stun.AppendRequest(nil, stun.TxID{})
	for name, b := range map[string][]byte{
		"short":       good[:19],
		"response":    append([]byte{0x01, 0x01}, good[2:]...),
		"bad length":  append(bytes.Clone(good[:3]), append([]byte{4}, good[4:]...)...),
		"bad cookie":  append(bytes.Clone(good[:4]), append([]byte{0, 0, 0, 0}, good[8:]...)...),
		"odd padding": append(append(bytes.Clone(good[:2]), 0, 2), append(bytes.Clone(good[4:]), 0, 0)...),
	} {
		if _, err := stun.ParseRequest(b); err == nil {
			t.Errorf("%s: accepted %x", name, b)
		}
	}
	if _, err := stun.ParseRequest(good); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseSTUN(f *testing.F) {
	tx := stun.TxID{9, 8, 7}
	f.Add(stun.AppendRequest(nil, tx))
	f.Add(stun.AppendResponse(nil, tx, netip.MustParseAddrPort("192.0.2.1:3478")))
	f.Add(stun.AppendResponse(nil, tx, netip.MustParseAddrPort("[2001:db8::1]:1")))
	f.Fuzz(func(t *testing.T, b []byte) {
		if tx, err := stun.ParseRequest(b); err == nil {
			if _, err := stun.ParseRequest(stun.AppendRequest(nil, tx)); err != nil {
				t.Fatal(err)
			}
		}
		if tx, addr, err := stun.ParseResponse(b); err == nil {
			tx2, addr2, err := stun.ParseResponse(stun.AppendResponse(nil, tx, addr))
			if err != nil || tx2 != tx || addr2 != netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()) {
				t.Fatalf("round trip: %v %v %v", addr, addr2, err)
			}
		}
	})
}
