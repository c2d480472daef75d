package relayserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
	"github.com/iroh-go/iroh/relay/internal/ws"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// received is one datagram frame seen by a test client.
type received struct {
	src      key.PublicKey
	ecn      uint8
	seg      uint16
	contents []byte
}

// testClient is a relay.Client whose received datagrams go to a channel.
type testClient struct {
	*relay.Client
	key  key.SecretKey
	recv chan received
	gone chan key.PublicKey
}

func newTestClient(t *testing.T, url string, mod func(*relay.ClientOptions)) *testClient {
	t.Helper()
	tc := &testClient{key: key.NewSecretKey(), recv: make(chan received, 4096), gone: make(chan key.PublicKey, 16)}
	opts := relay.ClientOptions{
		URL:       url,
		SecretKey: tc.key,
		Logger:    slog.New(slog.DiscardHandler),
		OnDatagrams: func(src key.PublicKey, ecn uint8, seg uint16, contents []byte) {
			select {
			case tc.recv <- received{src, ecn, seg, append([]byte(nil), contents...)}:
			default:
			}
		},
		OnEndpointGone: func(id key.PublicKey) {
			select {
			case tc.gone <- id:
			default:
			}
		},
	}
	if mod != nil {
		mod(&opts)
	}
	c, err := relay.NewClient(opts)
	if err != nil {
		t.Fatal(err)
	}
	tc.Client = c
	t.Cleanup(func() { c.Close() })
	return tc
}

func (tc *testClient) id() key.PublicKey { return tc.key.Public() }

func waitConnected(t *testing.T, cs ...*testClient) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, c := range cs {
		if err := c.WaitConnected(ctx); err != nil {
			t.Fatalf("client %s not connected: %v (last error %v)", c.id().ShortString(), err, c.State().LastError)
		}
	}
}

func (tc *testClient) expect(t *testing.T, d time.Duration) received {
	t.Helper()
	select {
	case r := <-tc.recv:
		return r
	case <-time.After(d):
		t.Fatalf("client %s: no datagram within %v", tc.id().ShortString(), d)
		return received{}
	}
}

// rawConn is a hand-driven relay connection for tests that need to send
// what relay.Client never sends.
type rawConn struct {
	t     *testing.T
	nc    net.Conn
	wc    *ws.Conn
	proto string
	sk    key.SecretKey
}

// dialRaw upgrades /relay offering protocols (comma list) with extra headers.
func dialRaw(t *testing.T, addr string, protocols string, hdr map[string]string, tlsConf *tls.Config) (*rawConn, *http.Response) {
	t.Helper()
	return dialRawPath(t, addr, "/relay", protocols, hdr, tlsConf)
}

func dialRawPath(t *testing.T, addr, path string, protocols string, hdr map[string]string, tlsConf *tls.Config) (*rawConn, *http.Response) {
	t.Helper()
	return dialRawWith(t, addr, path, protocols, hdr, tlsConf, nil)
}

// dialRawTLSExporter upgrades over TLS sending a valid TLS-exporter header
// for sk made on this connection.
func dialRawTLSExporter(t *testing.T, addr string, sk key.SecretKey, tlsConf *tls.Config) *rawConn {
	t.Helper()
	rc, _ := dialRawWith(t, addr, "/relay", relay.ProtocolV2, nil, tlsConf, func(cs tls.ConnectionState) (string, string) {
		a, err := relay.NewKeyMaterialAuth(sk, cs.ExportKeyingMaterial)
		if err != nil {
			t.Fatal(err)
		}
		return relay.ClientAuthHeader, a.HeaderValue()
	})
	if rc == nil {
		t.Fatal("upgrade failed")
	}
	return rc
}

func dialRawWith(t *testing.T, addr, path string, protocols string, hdr map[string]string, tlsConf *tls.Config,
	extra func(tls.ConnectionState) (string, string)) (*rawConn, *http.Response) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if tlsConf != nil {
		if tlsConf.ServerName == "" {
			tlsConf.ServerName = "127.0.0.1"
		}
		tc := tls.Client(nc, tlsConf)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		nc = tc
		if extra != nil {
			k, v := extra(tc.ConnectionState())
			if hdr == nil {
				hdr = map[string]string{}
			}
			hdr[k] = v
		}
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	k := ws.NewKey()
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", path, addr, k)
	if protocols != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Protocol: %s\r\n", protocols)
	}
	for h, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", h, v)
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(nc, b.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, resp
	}
	if resp.Header.Get("Sec-WebSocket-Accept") != ws.AcceptKey(k) {
		t.Fatalf("bad accept key")
	}
	return &rawConn{t: t, nc: nc, wc: ws.NewConn(nc, br, true, relay.MaxFrameSize), proto: resp.Header.Get("Sec-WebSocket-Protocol")}, resp
}

// auth runs the challenge handshake with sk and returns the server's answer.
func (rc *rawConn) auth(sk key.SecretKey) relay.Frame {
	rc.t.Helper()
	rc.sk = sk
	f := rc.read()
	if f.Type != relay.FrameServerChallenge {
		rc.t.Fatalf("first frame %s, want ServerChallenge", f.Type)
	}
	a := relay.SignChallenge(sk, f.Challenge)
	rc.send(&a)
	return rc.read()
}

func (rc *rawConn) send(f *relay.Frame) {
	rc.t.Helper()
	rc.sendBytes(relay.AppendFrame(nil, f))
}

func (rc *rawConn) sendBytes(b []byte) {
	rc.t.Helper()
	if err := rc.wc.WriteMessage(ws.OpBinary, b, time.Now().Add(5*time.Second)); err != nil {
		rc.t.Fatalf("send: %v", err)
	}
}

// read returns the next frame, failing the test on error.
func (rc *rawConn) read() relay.Frame {
	rc.t.Helper()
	f, err := rc.tryRead()
	if err != nil {
		rc.t.Fatalf("read: %v", err)
	}
	return f
}

func (rc *rawConn) tryRead() (relay.Frame, error) {
	rc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	op, msg, err := rc.wc.ReadMessage()
	if err != nil {
		return relay.Frame{}, err
	}
	if op != ws.OpBinary {
		return relay.Frame{}, fmt.Errorf("opcode %d", op)
	}
	f, _, err := relay.ParseFrame(msg)
	f.Contents = append([]byte(nil), f.Contents...)
	f.Text = append([]byte(nil), f.Text...)
	return f, err
}

// readUntil skips frames (server pings are answered) until one of type t.
func (rc *rawConn) readUntil(t relay.FrameType) relay.Frame {
	rc.t.Helper()
	for {
		f := rc.read()
		if f.Type == t {
			return f
		}
		if f.Type == relay.FramePing {
			p := relay.Frame{Type: relay.FramePong, Data: f.Data}
			rc.send(&p)
		}
	}
}

// expectClosed reads until the connection ends; it fails if that takes
// more than 10 s.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	for {
		if _, err := rc.tryRead(); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				rc.t.Fatalf("connection not closed by the server")
			}
			return
		}
	}
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// scanWithin scans the next line a child process printed, killing the child
// (which ends the scan) if none comes within d, so that a stuck child fails
// the test rather than hanging it.
func scanWithin(sc *bufio.Scanner, child *exec.Cmd, d time.Duration) bool {
	kill := time.AfterFunc(d, func() { child.Process.Kill() })
	defer kill.Stop()
	return sc.Scan()
}
