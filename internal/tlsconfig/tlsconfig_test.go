package tlsconfig

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
)

// handshake runs a TLS 1.3 handshake between cli and srv over an
// in-memory pipe and returns both sides' errors and states.
func handshake(t *testing.T, cli, srv *tls.Config) (cliErr, srvErr error, cs, ss tls.ConnectionState) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, s := tls.Client(a, cli), tls.Server(b, srv)
	done := make(chan error, 1)
	go func() { done <- s.HandshakeContext(ctx); b.Close() }()
	cliErr = c.HandshakeContext(ctx)
	a.Close()
	srvErr = <-done
	return cliErr, srvErr, c.ConnectionState(), s.ConnectionState()
}

func mustCert(t *testing.T, sk key.SecretKey) tls.Certificate {
	t.Helper()
	c, err := Certificate(sk)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMutualAuthentication(t *testing.T) {
	ssk, csk := key.NewSecretKey(), key.NewSecretKey()
	srv := Server(ssk, mustCert(t, ssk), func() []string { return []string{"a/1", "a/2"} })
	cli := Client(csk, mustCert(t, csk), ssk.Public(), []string{"a/2", "a/1"}, nil)
	cerr, serr, cs, ss := handshake(t, cli, srv)
	if cerr != nil || serr != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, serr)
	}
	if id, err := PeerID(ss); err != nil || id != csk.Public() {
		t.Fatalf("server sees %v %v, want the client's id", id, err)
	}
	if id, err := VerifiedPeerID(cs); err != nil || id != ssk.Public() {
		t.Fatalf("client sees %v %v", id, err)
	}
	if cs.NegotiatedProtocol != "a/2" {
		t.Fatalf("alpn %q: the dialer's first choice that is served wins", cs.NegotiatedProtocol)
	}
}

func TestWrongPeerNamesBothIDs(t *testing.T) {
	ssk, csk, want := key.NewSecretKey(), key.NewSecretKey(), key.NewSecretKey().Public()
	srv := Server(ssk, mustCert(t, ssk), func() []string { return []string{"a"} })
	cli := Client(csk, mustCert(t, csk), want, []string{"a"}, nil)
	cerr, _, _, _ := handshake(t, cli, srv)
	var wp *WrongPeerError
	if !errors.As(cerr, &wp) || wp.Want != want || wp.Got != ssk.Public() {
		t.Fatalf("got %v", cerr)
	}
	if !strings.Contains(cerr.Error(), want.String()) || !strings.Contains(cerr.Error(), ssk.Public().String()) {
		t.Fatalf("error does not name both ids: %v", cerr)
	}
}

func TestNoALPNOverlapRefused(t *testing.T) {
	ssk, csk := key.NewSecretKey(), key.NewSecretKey()
	srv := Server(ssk, mustCert(t, ssk), func() []string { return []string{"a"} })
	cli := Client(csk, mustCert(t, csk), ssk.Public(), []string{"b"}, nil)
	cerr, serr, _, _ := handshake(t, cli, srv)
	if cerr == nil || serr == nil {
		t.Fatalf("no common ALPN accepted: client %v, server %v", cerr, serr)
	}
}

func TestNonEd25519AndChainsRejected(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	ec, _ := x509.ParseCertificate(der)
	if _, err := certID([]*x509.Certificate{ec}, true); err == nil || !strings.Contains(err.Error(), "want Ed25519") {
		t.Fatalf("ECDSA certificate: %v", err)
	}
	sk := key.NewSecretKey()
	c := mustCert(t, sk)
	leaf, _ := x509.ParseCertificate(c.Certificate[0])
	if _, err := certID([]*x509.Certificate{leaf, leaf}, true); err == nil || !strings.Contains(err.Error(), "exactly 1") {
		t.Fatalf("chain of two: %v", err)
	}
	// A certificate carrying one key but signed by another.
	other := key.NewSecretKey()
	ft := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "forged"}, NotAfter: time.Now().Add(time.Hour)}
	forged, err := x509.CreateCertificate(rand.Reader, ft, ft, sk.Ed25519().Public(), other.Ed25519())
	if err != nil {
		t.Fatal(err)
	}
	fc, err := x509.ParseCertificate(forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certID([]*x509.Certificate{fc}, true); err == nil {
		t.Fatal("certificate not signed by its own key accepted")
	}
	if _, err := PeerID(tls.ConnectionState{}); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("no certificate: %v", err)
	}
}
