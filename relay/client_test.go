package relay

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay/internal/ws"
	dto "github.com/prometheus/client_model/go"
)

// silentRelay is a relay on loopback that completes the handshake and then
// reads frames without ever answering: no Pong.
type silentRelay struct {
	ln    net.Listener
	conns atomic.Int32
	done  chan struct{}
}

func startSilentRelay(t *testing.T) *silentRelay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &silentRelay{ln: ln, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			r.conns.Add(1)
			go r.serve(nc)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-r.done })
	return r
}

func (r *silentRelay) serve(nc net.Conn) {
	defer nc.Close()
	go func() { <-r.done; nc.Close() }()
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
		ws.AcceptKey(req.Header.Get("Sec-WebSocket-Key")), ProtocolV2)
	wc := ws.NewConn(nc, br, false, MaxFrameSize)
	ch := NewChallenge()
	wc.WriteMessage(ws.OpBinary, AppendFrame(nil, &ch), time.Time{})
	_, msg, err := wc.ReadMessage()
	if err != nil {
		return
	}
	f, _, err := ParseFrame(msg)
	if err != nil || VerifyClientAuth(&f, ch.Challenge) != nil {
		return
	}
	wc.WriteMessage(ws.OpBinary, []byte{byte(FrameServerConfirmsAuth)}, time.Time{})
	for {
		if _, _, err := wc.ReadMessage(); err != nil {
			return
		}
	}
}

func counter(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

// TestClientPongTimeoutRedials: a relay that never answers the Ping sent
// right after connecting loses the client, which redials.
func TestClientPongTimeoutRedials(t *testing.T) {
	old := firstPongTimeout
	firstPongTimeout = 200 * time.Millisecond
	t.Cleanup(func() { firstPongTimeout = old })
	r := startSilentRelay(t)
	c, err := NewClient(ClientOptions{URL: "http://" + r.ln.Addr().String() + "/", SecretKey: key.NewSecretKey(),
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for r.conns.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("client redialed %d times; state %+v", r.conns.Load(), c.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Each connection completed the handshake, so only the missing Pong
	// ended it.
}

// TestClientDropsStaleQueue: datagrams queued while no relay answers are
// dropped after maxQueueAge.
func TestClientDropsStaleQueue(t *testing.T) {
	old := maxQueueAge
	maxQueueAge = 50 * time.Millisecond
	t.Cleanup(func() { maxQueueAge = old })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	m := NewMetrics(nil)
	c, err := NewClient(ClientOptions{URL: "http://" + addr + "/", SecretKey: key.NewSecretKey(), Metrics: m,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 5 {
		c.Send(key.NewSecretKey().Public(), 0, 0, []byte("stale"))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for counter(m.SendDrops.WithLabelValues("expired")) != 5 {
		if ctx.Err() != nil {
			t.Fatalf("expired drops %v, want 5", counter(m.SendDrops.WithLabelValues("expired")))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
