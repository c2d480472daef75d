package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testALPN = "iroh-go-transport-test/1"

func newKey(t testing.TB) key.SecretKey {
	t.Helper()
	return key.NewSecretKey()
}

// pair starts a server and a client transport on 127.0.0.1 and dials.
func pair(t testing.TB) (client, server *Conn) {
	t.Helper()
	sk, ck := newKey(t), newKey(t)
	srv, err := Listen("127.0.0.1:0", &Options{Config: quic.Config{TLS: tls13.Config{SecretKey: sk, ALPNs: []string{testALPN}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cli, err := Listen("127.0.0.1:0", &Options{Config: quic.Config{TLS: tls13.Config{SecretKey: ck, ALPNs: []string{testALPN}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		server, err = srv.Accept(ctx)
	}()
	client, cerr := cli.Dial(ctx, srv.LocalAddr(), sk.Public(), testALPN)
	wg.Wait()
	if cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if client.RemoteKey() != sk.Public() || server.RemoteKey() != ck.Public() {
		t.Fatal("remote keys wrong")
	}
	return client, server
}

func TestEcho(t *testing.T) {
	client, server := pair(t)
	go func() {
		s, err := server.AcceptStream(t.Context())
		if err != nil {
			return
		}
		io.Copy(s, s)
		s.Close()
	}()
	s, err := client.OpenStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.SetDeadline(time.Now().Add(10 * time.Second))
	msg := []byte("hello over our own QUIC")
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo %q, %v", got, err)
	}
}

func TestCloseCodes(t *testing.T) {
	client, server := pair(t)
	client.Close(7, "done here")
	select {
	case <-server.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server did not see the close")
	}
	var ae *quic.ApplicationError
	if err := server.Err(); !errors.As(err, &ae) || ae.Code != 7 || ae.Reason != "done here" || !ae.Remote {
		t.Fatalf("server error %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := client.OpenStream(ctx); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("open after local close: %v", err)
	}
	if _, err := server.AcceptStream(ctx); !errors.As(err, &ae) {
		t.Fatalf("accept after remote close: %v", err)
	}
}

// sink reads streams at the server and reports what each held.
func sink(t *testing.T, server *Conn, n int) <-chan []byte {
	out := make(chan []byte, n)
	go func() {
		for range n {
			s, err := server.AcceptStream(context.Background())
			if err != nil {
				close(out)
				return
			}
			go func() {
				b, err := io.ReadAll(s)
				if err != nil {
					t.Errorf("read: %v", err)
				}
				s.Close()
				out <- b
			}()
		}
	}()
	return out
}

func TestLargeStream(t *testing.T) {
	size := 100 << 20
	if raceEnabled {
		size = 16 << 20
	}
	client, server := pair(t)
	got := sink(t, server, 1)
	s, err := client.OpenStream(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.SetWriteDeadline(time.Now().Add(60 * time.Second))
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 31)
	}
	start := time.Now()
	for range size / len(chunk) {
		if _, err := s.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b := testutil.WaitFor(t, got, 60*time.Second, "the server reading the whole stream")
	el := time.Since(start)
	if len(b) != size {
		t.Fatalf("received %d of %d bytes", len(b), size)
	}
	for off := 0; off < size; off += len(chunk) {
		if !bytes.Equal(b[off:off+len(chunk)], chunk) {
			t.Fatalf("data differs at %d", off)
		}
	}
	t.Logf("%d MiB in %v: %.0f MB/s", size>>20, el, float64(size)/el.Seconds()/1e6)
	if us, ok := client.t.sock.(*UDPSocket); ok && runtime.GOOS == "linux" && !us.gso {
		t.Error("GSO got switched off during the transfer")
	}
}

func TestManyStreams(t *testing.T) {
	client, server := pair(t)
	const n = 300 // more than the 100 concurrent streams allowed
	got := sink(t, server, n)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	streamDeadline, _ := ctx.Deadline()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := client.OpenStream(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			s.SetDeadline(streamDeadline)
			msg := bytes.Repeat([]byte{byte(i)}, 1000+i*10)
			if _, err := s.Write(msg); err != nil {
				t.Error(err)
			}
			s.Close()
			io.ReadAll(s) // the server's FIN: the stream is done both ways
		}()
	}
	testutil.WaitGroup(t, &wg, 40*time.Second, "300 client streams written and finished")
	total := 0
	for range n {
		select {
		case b := <-got:
			if len(b) < 1000 || !bytes.Equal(b, bytes.Repeat(b[:1], len(b))) {
				t.Fatalf("stream of %d bytes garbled", len(b))
			}
			total += len(b)
		case <-time.After(20 * time.Second):
			t.Fatal("streams missing")
		}
	}
	// Finished streams leave the driver's table on both sides.
	deadline := time.Now().Add(5 * time.Second)
	for {
		client.mu.Lock()
		nc := len(client.streams)
		client.mu.Unlock()
		server.mu.Lock()
		ns := len(server.streams)
		server.mu.Unlock()
		if nc == 0 && ns == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d client and %d server streams still tracked", nc, ns)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDatagrams(t *testing.T) {
	client, server := pair(t)
	for i := range 20 {
		if err := client.SendDatagram([]byte{byte(i), 'd', 'g'}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	seen := map[byte]bool{}
	for len(seen) < 20 {
		d, err := server.ReceiveDatagram(ctx)
		if err != nil {
			t.Fatalf("after %d datagrams: %v", len(seen), err)
		}
		seen[d[0]] = true
	}
}

func TestStreamResetAndStop(t *testing.T) {
	client, server := pair(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := client.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("some data"))
	s.CancelWrite(77)
	ss, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ss.SetReadDeadline(time.Now().Add(10 * time.Second))
	var re *quic.StreamResetError
	_, err = io.ReadAll(ss)
	if !errors.As(err, &re) || re.Code != 77 {
		t.Fatalf("read of a reset stream: %v", err)
	}
	// STOP_SENDING: the writer learns the code.
	s2, err := client.OpenStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s2.SetWriteDeadline(time.Now().Add(10 * time.Second))
	s2.Write([]byte("x"))
	ss2, err := server.AcceptStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ss2.CloseRead(88)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s2.Write(make([]byte, 1000))
		if errors.As(err, &re) && re.Code == 88 && re.Stop {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("write after STOP_SENDING: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadDeadline(t *testing.T) {
	client, server := pair(t)
	_ = server
	s, _ := client.OpenStream(t.Context())
	s.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := s.Read(make([]byte, 10))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read past the deadline: %v", err)
	}
}
