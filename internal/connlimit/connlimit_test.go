package connlimit

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCaps: real TCP on loopback; connections past the per-IP cap and the
// total cap are closed by the server and counted; closing one frees its
// slot.
func TestCaps(t *testing.T) {
	for _, c := range []struct {
		name           string
		total, perIP   int
		reason         string
		wantAcceptable int
	}{
		{"per ip", 0, 3, ReasonPerIP, 3},
		{"total", 4, 0, ReasonTotal, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var refused atomic.Int32
			l := New(inner, Options{MaxConns: c.total, MaxConnsPerIP: c.perIP, OnRefuse: func(r string) {
				if r == c.reason {
					refused.Add(1)
				}
			}})
			defer l.Close()
			accepted := make(chan net.Conn, 16)
			go func() {
				for {
					sc, err := l.Accept()
					if err != nil {
						close(accepted)
						return
					}
					accepted <- sc
				}
			}()
			var clients []net.Conn
			for range c.wantAcceptable + 2 {
				cc, err := net.Dial("tcp", inner.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				clients = append(clients, cc)
			}
			var server []net.Conn
			for i := range c.wantAcceptable {
				select {
				case sc, ok := <-accepted:
					if !ok {
						t.Fatalf("listener failed after %d of %d accepts", i, c.wantAcceptable)
					}
					server = append(server, sc)
				case <-time.After(10 * time.Second):
					t.Fatalf("accepted %d of %d connections within 10 s", i, c.wantAcceptable)
				}
			}
			// The two over the cap are closed by the server: reads see EOF.
			for _, cc := range clients[c.wantAcceptable:] {
				cc.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := cc.Read(make([]byte, 1)); err == nil {
					t.Fatal("connection over the cap was not closed")
				} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("connection over the cap still open after 5 s")
				}
			}
			if got := refused.Load(); got != 2 {
				t.Fatalf("refused %d, want 2", got)
			}
			if l.Open() != c.wantAcceptable {
				t.Fatalf("open %d, want %d", l.Open(), c.wantAcceptable)
			}
			// Closing one (twice: counted once) frees a slot.
			server[0].Close()
			server[0].Close()
			if l.Open() != c.wantAcceptable-1 {
				t.Fatalf("open after close %d", l.Open())
			}
			cc, err := net.Dial("tcp", inner.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, cc)
			select {
			case sc := <-accepted:
				server = append(server, sc)
			case <-time.After(5 * time.Second):
				t.Fatal("freed slot not reused")
			}
			for _, x := range append(clients, server...) {
				x.Close()
			}
			l.Close()
			for range accepted {
			}
		})
	}
}
