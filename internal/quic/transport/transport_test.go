package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/key"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testALPN = "iroh-go-transport-test/1"

func newKey(t *testing.T) key.SecretKey {
	t.Helper()
	return key.NewSecretKey()
}

// pair starts a server and a client transport on 127.0.0.1 and dials.
func pair(t *testing.T) (client, server *Conn) {
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
	if _, err := client.OpenStream(t.Context()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("open after local close: %v", err)
	}
	if _, err := server.AcceptStream(t.Context()); !errors.As(err, &ae) {
		t.Fatalf("accept after remote close: %v", err)
	}
}
