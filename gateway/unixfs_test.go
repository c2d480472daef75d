package gateway_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/gateway"
)

// unixfsCAR builds a UnixFS directory (dag-pb, sha2-256, as Kubo would)
// holding hello.txt and big.bin (cut into 1 KiB leaves) and returns its
// CARv1 and root.
func unixfsCAR(t *testing.T, big []byte) ([]byte, cid.Cid, int) {
	t.Helper()
	ctx := context.Background()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	dag := merkledag.NewDAGService(blockservice.New(bs, nil))
	dir, err := uio.NewDirectory(dag)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"hello.txt": []byte("hello unixfs\n"), "big.bin": big} {
		nd, err := importer.BuildDagFromReader(dag, chunker.NewSizeSplitter(bytes.NewReader(data), 1024))
		if err != nil {
			t.Fatal(err)
		}
		if err := dir.AddChild(ctx, name, nd); err != nil {
			t.Fatal(err)
		}
	}
	root, err := dir.GetNode()
	if err != nil {
		t.Fatal(err)
	}
	if err := dag.Add(ctx, root); err != nil {
		t.Fatal(err)
	}
	keys, err := bs.AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cids := []cid.Cid{root.Cid()}
	datas := [][]byte{root.RawData()}
	for k := range keys {
		if k.Hash().String() == root.Cid().Hash().String() {
			continue
		}
		b, err := bs.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		cids = append(cids, b.Cid())
		datas = append(datas, b.RawData())
	}
	return carV1(t, cids, datas), root.Cid(), len(cids)
}

// TestUnixFS serves a UnixFS directory imported from a CAR: the path
// gateway (listing, files, ranges) and the trustless gateway (CARs with
// dag-scope and entity-bytes, which import back verified).
func TestUnixFS(t *testing.T) {
	big := randBytes(20 << 10)
	car, root, nBlocks := unixfsCAR(t, big)
	s := mem.New()
	defer s.Close()
	if _, n, err := gateway.ImportCAR(t.Context(), s, bytes.NewReader(car)); err != nil || n != nBlocks {
		t.Fatalf("import: %d of %d blocks, %v", n, nBlocks, err)
	}
	srv, _ := serve(t, s, &gateway.Options{IPFS: &gateway.IPFSOptions{}})
	base := "/ipfs/" + root.String()

	resp, body := do(t, srv, req{path: base + "/"})
	if resp.StatusCode != 200 || !strings.Contains(string(body), "big.bin") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("directory listing: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, body = do(t, srv, req{path: base + "/hello.txt"})
	if resp.StatusCode != 200 || string(body) != "hello unixfs\n" || resp.Header.Get("Etag") == "" {
		t.Errorf("file: %d %q etag %q", resp.StatusCode, body, resp.Header.Get("Etag"))
	}
	resp, body = do(t, srv, req{path: base + "/big.bin", hdr: map[string]string{"Range": "bytes=5000-9099"}})
	if resp.StatusCode != 206 || !bytes.Equal(body, big[5000:9100]) {
		t.Errorf("range over several leaves: %d, %d bytes", resp.StatusCode, len(body))
	}
	countCAR := func(p string) int {
		t.Helper()
		resp, body := do(t, srv, req{path: p, hdr: map[string]string{"Accept": "application/vnd.ipld.car"}})
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, body)
		}
		s2 := mem.New()
		defer s2.Close()
		_, n, err := gateway.ImportCAR(t.Context(), s2, bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: CAR does not import: %v", p, err)
		}
		return n
	}
	if n := countCAR(base); n != nBlocks {
		t.Errorf("whole DAG CAR: %d blocks, want %d", n, nBlocks)
	}
	all := countCAR(base + "/big.bin?dag-scope=entity")
	some := countCAR(base + "/big.bin?dag-scope=entity&entity-bytes=0:1023")
	if block := countCAR(base + "/big.bin?dag-scope=block"); block != 2 || some >= all || some < 3 {
		t.Errorf("blocks: scope=block %d (want dir+file root), entity %d, entity-bytes 0:1023 %d", block, all, some)
	}
}
