package gateway_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/gateway"
)

// carV1 builds a CARv1 holding the given blocks, rooted at the first.
func carV1(t testing.TB, cids []cid.Cid, datas [][]byte) []byte {
	t.Helper()
	root := append([]byte{0}, cids[0].Bytes()...)
	var hdr []byte
	hdr = append(hdr, 0xa2, 0x65)
	hdr = append(hdr, "roots"...)
	hdr = append(hdr, 0x81, 0xd8, 0x2a, 0x58, byte(len(root)))
	hdr = append(hdr, root...)
	hdr = append(hdr, 0x67)
	hdr = append(hdr, "version"...)
	hdr = append(hdr, 0x01)
	out := binary.AppendUvarint(nil, uint64(len(hdr)))
	out = append(out, hdr...)
	for i, c := range cids {
		cb := c.Bytes()
		out = binary.AppendUvarint(out, uint64(len(cb)+len(datas[i])))
		out = append(out, cb...)
		out = append(out, datas[i]...)
	}
	return out
}

func rawCID(t testing.TB, code uint64, data []byte) cid.Cid {
	t.Helper()
	m, err := mh.Sum(data, code, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, m)
}

func carFixture(t testing.TB) []byte {
	a, b := []byte("hello ipfs"), []byte("second block")
	return carV1(t, []cid.Cid{rawCID(t, mh.SHA2_256, a), rawCID(t, mh.SHA2_256, b)}, [][]byte{a, b})
}

func TestIPFS(t *testing.T) {
	s := mem.New()
	defer s.Close()
	roots, n, err := gateway.ImportCAR(t.Context(), s, bytes.NewReader(carFixture(t)))
	if err != nil || n != 2 || len(roots) != 1 {
		t.Fatalf("import: %v roots %v n %d", err, roots, n)
	}
	big := randBytes(3 << 20) // larger than a block: streamed from the store
	h := addBytes(t, s, big)
	srv, _ := serve(t, s, &gateway.Options{IPFS: &gateway.IPFSOptions{MaxBlockSize: 1 << 20}})
	c := gateway.CID(h)
	if !strings.HasPrefix(c.String(), "bafkr4") {
		t.Errorf("blob CID %s does not start with bafkr4", c)
	}
	if got, ok := gateway.BlobOfCID(c); !ok || got != h {
		t.Errorf("BlobOfCID(CID(h)) = %v %v", got, ok)
	}

	resp, body := do(t, srv, req{path: "/ipfs/" + roots[0].String() + "?format=raw"})
	if resp.StatusCode != 200 || string(body) != "hello ipfs" || resp.Header.Get("Content-Type") != "application/vnd.ipld.raw" {
		t.Errorf("imported sha2-256 block: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, body = do(t, srv, req{path: "/ipfs/" + c.String()})
	if resp.StatusCode != 200 || !bytes.Equal(body, big) {
		t.Errorf("blob by CID: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = do(t, srv, req{path: "/ipfs/" + c.String(), hdr: map[string]string{"Range": "bytes=2000000-2000009"}})
	if resp.StatusCode != 206 || !bytes.Equal(body, big[2000000:2000010]) {
		t.Errorf("range of blob by CID: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body = do(t, srv, req{path: "/ipfs/" + c.String(), hdr: map[string]string{"Accept": "application/vnd.ipld.raw"}})
	if resp.StatusCode != 200 || !bytes.Equal(body, big) {
		t.Errorf("raw block of blob: %d, %d bytes", resp.StatusCode, len(body))
	}
	// A blob larger than a block is streamed as a one-block CAR, which
	// imports back (verified against its CID).
	resp, body = do(t, srv, req{path: "/ipfs/" + c.String() + "?format=car"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.ipld.car") {
		t.Errorf("CAR of a large blob: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s2 := mem.New()
	defer s2.Close()
	if roots, n, err := gateway.ImportCAR(t.Context(), s2, bytes.NewReader(body)); err != nil || n != 1 || len(roots) != 1 || roots[0] != c {
		t.Errorf("re-import of the blob's CAR: %v n %d roots %v", err, n, roots)
	}
	if bf, _ := s2.Bitfield(t.Context(), h); !bf.Complete() {
		t.Errorf("blob not complete after re-import")
	}
	if resp, body := do(t, srv, req{path: "/ipfs/" + gateway.CID(addBytes(t, s, []byte("small"))).String() + "?format=car"}); resp.StatusCode != 200 || !bytes.Contains(body, []byte("small")) {
		t.Errorf("CAR of a small blob: %d", resp.StatusCode)
	}
	for _, p := range []string{"/ipfs/not-a-cid", "/ipfs/bafkqaaa/x/../y"} {
		if resp, _ := do(t, srv, req{path: p}); resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := do(t, srv, req{path: "/ipns/en.wikipedia-on-ipfs.org"}); resp.StatusCode != 501 {
		t.Errorf("ipns: %d", resp.StatusCode)
	}
}

func TestImportCARRejectsBadBlock(t *testing.T) {
	s := mem.New()
	defer s.Close()
	a := []byte("hello ipfs")
	car := carV1(t, []cid.Cid{rawCID(t, mh.SHA2_256, a)}, [][]byte{[]byte("hellO ipfs")})
	if _, n, err := gateway.ImportCAR(t.Context(), s, bytes.NewReader(car)); err == nil || n != 0 {
		t.Fatalf("a block that does not match its CID was imported (n %d, err %v)", n, err)
	}
	if _, _, err := gateway.ImportCAR(t.Context(), s, strings.NewReader("not a car")); err == nil {
		t.Fatalf("garbage imported")
	}
}
