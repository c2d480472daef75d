package transport

import (
	"bytes"
	"net"
	"runtime"
	"testing"
	"time"
)

func listenUDP(t *testing.T) *UDPSocket {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := NewUDPSocket(c)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestUDPSocketBatch sends a GSO run of datagrams and checks they arrive
// as the same datagrams, whether GRO coalesces them or not.
func TestUDPSocketBatch(t *testing.T) {
	a, b := listenUDP(t), listenUDP(t)
	const seg, count = 1200, 10
	buf := make([]byte, seg*count-300)
	for i := range buf {
		buf[i] = byte(i / seg)
	}
	if err := a.WriteBatch([]Datagram{{Buf: buf, N: len(buf), Addr: b.LocalAddr(), Segment: seg}}); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	rb := []Datagram{{Buf: make([]byte, 64<<10)}}
	b.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < count {
		n, err := b.ReadBatch(rb)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", len(got), err)
		}
		for i := range rb[:n] {
			if rb[i].Addr != a.LocalAddr() {
				t.Fatalf("from %v, want %v", rb[i].Addr, a.LocalAddr())
			}
			rb[i].segments(func(p []byte) { got = append(got, bytes.Clone(p)) })
		}
	}
	for i, p := range got {
		want := seg
		if i == count-1 {
			want = seg - 300
		}
		if len(p) != want || p[0] != byte(i) || p[len(p)-1] != byte(i) {
			t.Fatalf("datagram %d: %d bytes starting %d", i, len(p), p[0])
		}
	}
	t.Logf("gso %v gro %v", a.gso, b.gro)
}

// TestUDPSocketECN: the ECN bits of a received datagram are reported.
func TestUDPSocketECN(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ECN reading is Linux-only")
	}
	a, b := listenUDP(t), listenUDP(t)
	rc, _ := a.c.SyscallConn()
	rc.Control(func(fd uintptr) { setTOS(int(fd), 2) }) // ECT(0)
	if err := a.WriteBatch([]Datagram{{Buf: []byte("ecn"), N: 3, Addr: b.LocalAddr()}}); err != nil {
		t.Fatal(err)
	}
	rb := []Datagram{{Buf: make([]byte, 1500)}}
	b.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := b.ReadBatch(rb); err != nil {
		t.Fatal(err)
	}
	if rb[0].ECN != 2 {
		t.Fatalf("ECN %d, want 2 (ECT(0))", rb[0].ECN)
	}
}
