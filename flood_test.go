package iroh_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/internal/testutil"
)

// TestProbeFloodDoesNotStarveTraffic floods an endpoint's socket with
// forged and garbage disco packets (valid magic, random sender keys, bad
// boxes) while a transfer runs: the transfer completes intact and the
// forged packets are counted as dropped.
func TestProbeFloodDoesNotStarveTraffic(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	a, err := iroh.Bind(ctx, &iroh.Options{ALPNs: []string{"echo/1"}, BindAddrV4: loopback4, DisableIPv6: true, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	b := bind(t)
	done := echoOnce(t, a)

	// The flood: a stranger's socket sends disco-looking packets.
	flooder, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer flooder.Close()
	target := net.UDPAddrFromAddrPort(a.LocalAddrs()[0])
	// The flood's rate: a 16 KB burst per millisecond (several thousand
	// packets a second) without the race detector; with it every packet
	// costs the target several times more, so the flood is four times
	// thinner and the transfer smaller. Either way the target's one read
	// goroutine must keep QUIC moving while it rejects the flood.
	burst, size := 64, 8<<20
	if raceEnabled {
		burst, size = 16, 2<<20
	}
	// Connected first: the flood hits a running connection.
	c, err := b.Connect(ctx, a.Addr(), "echo/1")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sent int
	wg.Add(1)
	// Real points as senders, made beforehand: the flood costs the
	// flooder little, the target a key agreement per new sender.
	senders := make([][]byte, 256)
	for i := range senders {
		senders[i] = iroh.NewSecretKey().Public().Bytes()
	}
	go func() {
		defer wg.Done()
		pkt := make([]byte, 120)
		copy(pkt, "TS\xf0\x9f\x92\xac")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if sent%2 == 0 {
				// a real point as sender, so the packet gets as far as
				// the box: forged
				copy(pkt[6:], senders[(sent/2)%len(senders)])
			} else {
				rand.Read(pkt[6:])
			}
			flooder.WriteToUDP(pkt, target)
			sent++
			if sent%burst == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()

	s, err := c.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bound(s)
	msg := make([]byte, size)
	rand.Read(msg)
	go func() { s.Write(msg); s.Close() }()
	got, err := io.ReadAll(s)
	close(stop)
	wg.Wait()
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("transfer under flood: %d bytes, %v", len(got), err)
	}
	c.Close(0, "")
	testutil.WaitFor(t, done, 30*time.Second, "echo server end")
	dropped := counterSum(t, reg, "iroh_magicsock_disco_dropped_total")
	if dropped < 100 {
		t.Fatalf("only %v of %d flood packets counted as dropped", dropped, sent)
	}
	t.Logf("flood: %d packets sent, %v counted dropped", sent, dropped)
}

func counterSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += counterValue(m)
		}
	}
	return sum
}

func counterValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return 0
}
