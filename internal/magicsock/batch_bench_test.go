package magicsock

import (
	"net"
	"testing"
)

// BenchmarkSplitReadBatch measures the socket layer's own receive work
// for one coalesced read of 44 packets of 1452 bytes (a full GRO read):
// splitting, routing to the remote, queueing, and copying into quic-go's
// messages. The kernel read is not included.
func BenchmarkSplitReadBatch(b *testing.B) {
	c := newTestConn(b)
	peer, _ := newPeerSocket(b, c)
	src := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	const seg, segs = 1452, 44
	run, _ := gsoRun(segs, seg)
	ms := newMessages(8)
	b.SetBytes(int64(len(run)))
	b.ReportAllocs()
	for b.Loop() {
		rb := rxPool.Get().(*rxBatch)
		n := copy(rb.buf, run)
		c.splitRead(rb, n, seg, ecnKnown, src)
		for got := 0; got < segs; {
			k, err := c.ReadBatch(ms, 0)
			if err != nil {
				b.Fatal(err)
			}
			got += k
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*segs), "ns/packet")
}

// BenchmarkWriteMsgUDPGSO measures quic-go's write path through the
// socket: a GSO batch of 10 packets of 1452 bytes to a remote on a
// trusted direct path (sendmsg included; a goroutine drains the peer).
func BenchmarkWriteMsgUDPGSO(b *testing.B) {
	c := newTestConn(b)
	peer, r := newPeerSocket(b, c)
	trust(r, peer.LocalAddr().(*net.UDPAddr).AddrPort())
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			if _, err := peer.Read(buf); err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() { peer.Close(); <-done })
	run, _ := gsoRun(10, 1452)
	oob := txOOBForTest(1452, 0)
	b.SetBytes(int64(len(run)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.WriteMsgUDP(run, oob, r.mapped); err != nil {
			b.Fatal(err)
		}
	}
}
