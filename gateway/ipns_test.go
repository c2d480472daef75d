package gateway_test

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/gateway"
)

func TestIPNS(t *testing.T) {
	s := mem.New()
	defer s.Close()
	h := addBytes(t, s, []byte("named content"))
	sk, pk, err := ic.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := peer.IDFromPublicKey(pk)
	name := ipns.NameFromPeer(pid)
	rec, err := ipns.NewRecord(sk, path.FromCid(gateway.CID(h)), 1, time.Now().Add(time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	data, err := ipns.MarshalRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := gateway.ImportIPNSRecord(t.Context(), s, name.String(), data); err != nil {
		t.Fatal(err)
	}
	// A record under someone else's name, or damaged, is refused.
	_, pk2, _ := ic.GenerateEd25519Key(rand.Reader)
	pid2, _ := peer.IDFromPublicKey(pk2)
	if err := gateway.ImportIPNSRecord(t.Context(), s, pid2.String(), data); err == nil {
		t.Errorf("record imported under a name whose key did not sign it")
	}
	bad := append([]byte{}, data...)
	bad[len(bad)-3] ^= 1
	if err := gateway.ImportIPNSRecord(t.Context(), s, name.String(), bad); err == nil {
		t.Errorf("damaged record imported")
	}
	if err := gateway.ImportIPNSRecord(t.Context(), s, "example.com", data); err == nil {
		t.Errorf("record imported under a DNS name")
	}

	srv, _ := serve(t, s, &gateway.Options{IPFS: &gateway.IPFSOptions{}})
	resp, body := do(t, srv, req{path: "/ipns/" + name.String()})
	if resp.StatusCode != 200 || string(body) != "named content" {
		t.Errorf("/ipns/name: %d %q", resp.StatusCode, body)
	}
	resp, body = do(t, srv, req{path: "/ipns/" + name.String() + "?format=ipns-record"})
	if resp.StatusCode != 200 || !bytes.Equal(body, data) || resp.Header.Get("Content-Type") != "application/vnd.ipfs.ipns-record" {
		t.Errorf("ipns-record: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := do(t, srv, req{path: "/ipns/" + pid2.String()}); resp.StatusCode != 404 {
		t.Errorf("name without a record: %d", resp.StatusCode)
	}
	if resp, _ := do(t, srv, req{path: "/ipns/example.com/x"}); resp.StatusCode != 501 {
		t.Errorf("DNSLink: %d", resp.StatusCode)
	}
}
