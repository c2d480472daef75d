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

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay/internal/ws"
)

// silentRelay is a relay on loopback that completes the handshake and then
// reads frames without ever answering: no Pong.
type silentRelay struct {
	ln    net.Listener
	conns atomic.Int32
	done  chan struct{}
	// after, if set, runs after the handshake (on the connection's goroutine).
	after func(wc *ws.Conn)
}

func startSilentRelay(t *testing.T) *silentRelay {
	return startScriptedRelay(t, nil)
}

func startScriptedRelay(t *testing.T, after func(wc *ws.Conn)) *silentRelay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &silentRelay{ln: ln, done: make(chan struct{}), after: after}
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
	if r.after != nil {
		r.after(wc)
	}
	for {
		if _, _, err := wc.ReadMessage(); err != nil {
			return
		}
	}
}

// TestClientPongTimeoutRedials: a relay that never answers the Ping sent
// right after connecting loses the client, which redials.
func TestClientPongTimeoutRedials(t *testing.T) {
	timers := defaultClientTimers
	timers.firstPong = 200 * time.Millisecond
	r := startSilentRelay(t)
	c, err := NewClient(ClientOptions{URL: "http://" + r.ln.Addr().String() + "/", SecretKey: key.NewSecretKey(),
		Logger: slog.New(slog.DiscardHandler), timers: &timers})
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
	timers := defaultClientTimers
	timers.maxQueueAge = 50 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	m := NewMetrics(nil)
	c, err := NewClient(ClientOptions{URL: "http://" + addr + "/", SecretKey: key.NewSecretKey(), Metrics: m,
		Logger: slog.New(slog.DiscardHandler), timers: &timers})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 5 {
		c.Send(key.NewSecretKey().Public(), 0, 0, []byte("stale"))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for testutil.MetricValue(m.SendDrops.WithLabelValues("expired")) != 5 {
		if ctx.Err() != nil {
			t.Fatalf("expired drops %v, want 5", testutil.MetricValue(m.SendDrops.WithLabelValues("expired")))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClientFrameRules: what a client accepts from a relay after the
// handshake (core.md §5.4): Status, Restarting, EndpointGone and datagrams
// keep the connection; Health on a v2 connection, a handshake frame, or a
// datagram from bytes that are not a key end it.
func TestClientFrameRules(t *testing.T) {
	gone := key.NewSecretKey().Public()
	src := key.NewSecretKey().Public()
	var bad key.PublicKey
	for i := range 256 {
		bad[0], bad[31] = byte(i), 0x7f
		if !bad.Valid() {
			break
		}
	}
	frame := func(f Frame) []byte { return AppendFrame(nil, &f) }
	cases := []struct {
		name  string
		send  []byte
		keeps bool
	}{
		{"status", frame(Frame{Type: FrameStatus, Status: StatusSameEndpointIDConnected}), true},
		{"unknown status", frame(Frame{Type: FrameStatus, Status: 9}), true},
		{"restarting", frame(Frame{Type: FrameRestarting, ReconnectIn: 10, TryFor: 20}), true},
		{"endpoint gone", frame(Frame{Type: FrameEndpointGone, Key: gone}), true},
		{"datagram", frame(Frame{Type: FrameRelayToClientDatagramBatch, Key: src, ECN: 2, SegmentSize: 3, Contents: []byte("abcdef")}), true},
		{"health on v2", frame(Frame{Type: FrameHealth, Text: []byte("sick")}), false},
		{"second challenge", frame(NewChallenge()), false},
		{"client frame", frame(Frame{Type: FrameClientToRelayDatagram, Key: src, Contents: []byte("x")}), false},
		{"datagram from a non-key", frame(Frame{Type: FrameRelayToClientDatagram, Key: bad, Contents: []byte("x")}), false},
		{"unknown type", []byte{0x20}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := startScriptedRelay(t, func(wc *ws.Conn) {
				wc.WriteMessage(ws.OpBinary, c.send, time.Now().Add(5*time.Second))
				// Answer the client's pings so only the frame under test matters.
				for {
					_, msg, err := wc.ReadMessage()
					if err != nil {
						return
					}
					if f, _, err := ParseFrame(msg); err == nil && f.Type == FramePing {
						p := Frame{Type: FramePong, Data: f.Data}
						wc.WriteMessage(ws.OpBinary, AppendFrame(nil, &p), time.Now().Add(5*time.Second))
					}
				}
			})
			var gotGone, gotDgram atomic.Int32
			cl, err := NewClient(ClientOptions{URL: "http://" + r.ln.Addr().String() + "/", SecretKey: key.NewSecretKey(),
				Logger: slog.New(slog.DiscardHandler),
				OnEndpointGone: func(id key.PublicKey) {
					if id == gone {
						gotGone.Add(1)
					}
				},
				OnDatagrams: func(s key.PublicKey, ecn uint8, seg uint16, b []byte) {
					if s == src && ecn == 2 && seg == 3 && string(b) == "abcdef" {
						gotDgram.Add(1)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if c.keeps {
				time.Sleep(150 * time.Millisecond)
				if n := r.conns.Load(); n != 1 {
					t.Fatalf("client dialed %d times, want 1 (state %+v)", n, cl.State())
				}
				switch c.name {
				case "status":
					if cl.State().Status != StatusSameEndpointIDConnected {
						t.Fatalf("status %d", cl.State().Status)
					}
				case "endpoint gone":
					if gotGone.Load() != 1 {
						t.Fatal("OnEndpointGone not called")
					}
				case "datagram":
					if gotDgram.Load() != 1 {
						t.Fatal("OnDatagrams not called with the batch")
					}
				}
				return
			}
			deadline := time.Now().Add(5 * time.Second)
			for r.conns.Load() < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("client kept the connection; state %+v", cl.State())
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}
