package transport

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/quic"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/key"
)

func TestRefusals(t *testing.T) {
	sk := key.NewSecretKey()
	srv, err := Listen("127.0.0.1:0", &Options{Config: quic.Config{TLS: tls13.Config{SecretKey: sk, ALPNs: []string{testALPN}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := Listen("127.0.0.1:0", &Options{Config: quic.Config{TLS: tls13.Config{SecretKey: key.NewSecretKey(), ALPNs: []string{"x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for _, c := range []struct {
		name string
		id   key.PublicKey
		alpn string
		want quic.TransportErrorCode
	}{
		{"wrong id", key.NewSecretKey().Public(), testALPN, quic.CryptoError + 42},
		{"unknown ALPN", sk.Public(), "no-such-protocol/1", quic.CryptoError + 120},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		start := time.Now()
		_, err := cli.Dial(ctx, srv.LocalAddr(), c.id, c.alpn)
		cancel()
		var te *quic.TransportError
		if !errors.As(err, &te) || te.Code != c.want {
			t.Fatalf("%s: %v, want code %v", c.name, err, c.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %v", c.name, d)
		}
	}
}
