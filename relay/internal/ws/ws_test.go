package ws

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var sizes = []int{0, 1, 125, 126, 127, 1200, 65535, 65536, 70000, 1 << 20}

// TestClientAgainstCoderWebsocket runs our client framing against an
// independent implementation (github.com/coder/websocket) as the server.
func TestClientAgainstCoderWebsocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"p"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(2 << 20)
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second)) // a stalled echo fails, not hangs
	k := NewKey()
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: p\r\n\r\n", k)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != AcceptKey(k) {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	c := NewConn(nc, br, true, 2<<20)
	for _, n := range sizes {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		for i := range msg {
			msg[i] = byte(i * 7)
		}
		orig := bytes.Clone(msg)
		if err := c.WriteMessages(OpBinary, [][]byte{msg, msg}, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(msg, orig) {
			t.Fatal("WriteMessages modified the caller's buffer")
		}
		for range 2 {
			op, got, err := c.ReadMessage()
			if err != nil || op != OpBinary || !bytes.Equal(got, orig) {
				t.Fatalf("size %d: echo op %d len %d err %v", n, op, len(got), err)
			}
		}
	}
	if err := c.WriteClose(1000, "bye"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); !errors.Is(err, io.EOF) {
		t.Fatalf("after close: %v", err)
	}
}

// TestServerAgainstCoderWebsocket runs our server framing with
// github.com/coder/websocket as the client (masked frames, pings,
// fragmented messages).
func TestServerAgainstCoderWebsocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer nc.Close()
		fmt.Fprintf(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: p\r\n\r\n", AcceptKey(r.Header.Get("Sec-WebSocket-Key")))
		c := NewConn(nc, brw.Reader, false, 2<<20)
		for {
			op, msg, err := c.ReadMessage()
			if err != nil {
				close(done)
				return
			}
			c.WriteMessage(op, msg, time.Now().Add(5*time.Second))
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	wc, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/", &websocket.DialOptions{Subprotocols: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	wc.SetReadLimit(2 << 20)
	for _, n := range sizes {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i * 13)
		}
		if err := wc.Write(ctx, websocket.MessageBinary, msg); err != nil {
			t.Fatal(err)
		}
		typ, got, err := wc.Read(ctx)
		if err != nil || typ != websocket.MessageBinary || !bytes.Equal(got, msg) {
			t.Fatalf("size %d: %v len %d", n, err, len(got))
		}
	}
	// A fragmented text message.
	w, err := wc.Writer(ctx, websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "hello ")
	io.WriteString(w, "world")
	w.Close()
	wc.Close(websocket.StatusNormalClosure, "")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("server did not see the close")
	}
}

// rwConn is a net.Conn over a reader that discards writes: the fuzz target
// drives the frame parser without a peer.
type rwConn struct {
	net.Conn
	r io.Reader
}

func (c rwConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c rwConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c rwConn) SetWriteDeadline(time.Time) error { return nil }
func (c rwConn) SetDeadline(time.Time) error      { return nil }
func (c rwConn) SetReadDeadline(time.Time) error  { return nil }
func (c rwConn) Close() error                     { return nil }

func TestReadErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"reserved bits", []byte{0xf2, 0x00}, ErrProtocol},
		{"unknown opcode", []byte{0x83, 0x00}, ErrProtocol},
		{"fragmented control", []byte{0x09, 0x00}, ErrProtocol},
		{"long control", []byte{0x89, 126, 0, 200}, ErrProtocol},
		{"continuation first", []byte{0x80, 0x00}, ErrProtocol},
		{"too large", []byte{0x82, 127, 0, 0, 0, 0, 0, 0x20, 0, 0}, ErrMessageTooLarge},
		{"huge length", []byte{0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ErrMessageTooLarge},
		{"data inside fragment", []byte{0x02, 0x01, 'a', 0x02, 0x01, 'b'}, ErrProtocol},
		{"truncated", []byte{0x82, 0x05, 'a'}, io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Read as a client: server frames are unmasked.
			conn := NewConn(rwConn{r: bytes.NewReader(c.in)}, nil, true, 1<<20)
			if _, _, err := conn.ReadMessage(); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// frame encodes one unfragmented frame, masked with a random key if masked.
func frame(op int, payload []byte, masked bool) []byte {
	var buf bytes.Buffer
	c := NewConn(rwConnW{&buf}, nil, masked, 1<<20)
	c.WriteMessage(op, payload, time.Time{})
	return buf.Bytes()
}

// TestMaskingEnforced: RFC 6455 §5.1 makes a server close on an unmasked
// client frame and a client close on a masked server frame.
func TestMaskingEnforced(t *testing.T) {
	for _, client := range []bool{false, true} {
		// A frame masked the wrong way for the reader.
		in := frame(OpBinary, []byte("hi"), client)
		conn := NewConn(rwConn{r: bytes.NewReader(in)}, nil, client, 1<<20)
		if _, _, err := conn.ReadMessage(); !errors.Is(err, ErrProtocol) {
			t.Errorf("client=%v: read a wrongly masked frame: %v", client, err)
		}
		// The right way round is accepted.
		in = frame(OpBinary, []byte("hi"), !client)
		conn = NewConn(rwConn{r: bytes.NewReader(in)}, nil, client, 1<<20)
		if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "hi" {
			t.Errorf("client=%v: read %q, %v", client, msg, err)
		}
	}
}

// TestPingDoesNotStallReader: a peer that sends pings but never reads must
// not block the reader (a synchronous pong write would, over a net.Pipe,
// which has no buffer); the latest ping is answered once, by FlushControl.
func TestPingDoesNotStallReader(t *testing.T) {
	srvSide, peer := net.Pipe()
	defer srvSide.Close()
	defer peer.Close()
	srv := NewConn(srvSide, nil, false, 1<<20)
	go func() {
		for i := range 10 {
			peer.Write(frame(OpPing, []byte{byte(i)}, true))
		}
		peer.Write(frame(OpBinary, []byte("data"), true))
	}()
	got := make(chan error, 1)
	go func() {
		_, msg, err := srv.ReadMessage()
		if err == nil && string(msg) != "data" {
			err = fmt.Errorf("read %q", msg)
		}
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reader stalled behind pongs the peer never read")
	}
	select {
	case <-srv.ControlPending():
	default:
		t.Fatal("no pong pending after pings")
	}
	flushed := make(chan error, 1)
	go func() { flushed <- srv.FlushControl(time.Now().Add(5 * time.Second)) }()
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	h := make([]byte, 3)
	if _, err := io.ReadFull(peer, h); err != nil {
		t.Fatal(err)
	}
	if h[0] != 0x80|OpPong || h[1] != 1 || h[2] != 9 {
		t.Fatalf("pong frame % x, want the latest ping's payload 09", h)
	}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	// Nothing more pending: FlushControl writes nothing.
	if err := srv.FlushControl(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
}

func FuzzReadMessage(f *testing.F) {
	var buf bytes.Buffer
	c := NewConn(rwConn{r: strings.NewReader("")}, nil, true, 1<<20)
	c.nc = rwConnW{&buf}
	for _, n := range []int{0, 5, 126, 300} {
		buf.Reset()
		c.WriteMessages(OpBinary, [][]byte{make([]byte, n), []byte("x")}, time.Time{})
		f.Add(bytes.Clone(buf.Bytes()))
	}
	f.Add([]byte{0x01, 0x02, 'a', 'b', 0x89, 0x00, 0x80, 0x01, 'c'})
	f.Add([]byte{0x88, 0x02, 0x03, 0xe8})
	f.Fuzz(func(t *testing.T, b []byte) {
		conn := NewConn(rwConn{r: bytes.NewReader(b)}, nil, false, 4096)
		for {
			op, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if op != OpBinary && op != OpText {
				t.Fatalf("returned opcode %d", op)
			}
			if len(msg) > 4096 {
				t.Fatalf("message of %d bytes above the limit", len(msg))
			}
		}
	})
}

type rwConnW struct{ w io.Writer }

func (c rwConnW) Read(p []byte) (int, error)       { return 0, io.EOF }
func (c rwConnW) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c rwConnW) Close() error                     { return nil }
func (c rwConnW) LocalAddr() net.Addr              { return nil }
func (c rwConnW) RemoteAddr() net.Addr             { return nil }
func (c rwConnW) SetDeadline(time.Time) error      { return nil }
func (c rwConnW) SetReadDeadline(time.Time) error  { return nil }
func (c rwConnW) SetWriteDeadline(time.Time) error { return nil }
