package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/iroh-go/iroh/internal/testutil"
	mh "github.com/multiformats/go-multihash"
)

// tinyCAR is a CARv1 holding one raw sha2-256 block.
func tinyCAR(t *testing.T, data []byte) ([]byte, cid.Cid) {
	m, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	c := cid.NewCidV1(cid.Raw, m)
	root := append([]byte{0}, c.Bytes()...)
	hdr := append([]byte{0xa2, 0x65}, "roots"...)
	hdr = append(hdr, 0x81, 0xd8, 0x2a, 0x58, byte(len(root)))
	hdr = append(append(hdr, root...), 0x67)
	hdr = append(append(hdr, "version"...), 0x01)
	out := binary.AppendUvarint(nil, uint64(len(hdr)))
	out = append(out, hdr...)
	out = binary.AppendUvarint(out, uint64(len(c.Bytes())+len(data)))
	return append(append(out, c.Bytes()...), data...), c
}

func TestGatewayCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "a.txt"), []byte("hello gateway"), 0o644)
	var out bytes.Buffer
	env := &cmdEnv{stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }}
	if err := run(t.Context(), []string{"blobs", "add", "--data-dir", data, src}, env); err != nil {
		t.Fatal(err)
	}
	root := strings.TrimPrefix(strings.Fields(out.String())[0], "s")

	car, c := tinyCAR(t, []byte("block from a car"))
	carPath := filepath.Join(dir, "x.car")
	os.WriteFile(carPath, car, 0o644)
	out.Reset()
	if err := run(t.Context(), []string{"gateway", "import-car", "--data-dir", data, carPath}, env); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != "root "+c.String() {
		t.Errorf("import-car printed %q", got)
	}
	bad := append([]byte{}, car...)
	bad[len(bad)-1] ^= 1
	os.WriteFile(carPath, bad, 0o644)
	if err := run(t.Context(), []string{"gateway", "import-car", "--data-dir", data, carPath}, env); err == nil || !strings.Contains(err.Error(), "integrity") {
		t.Errorf("corrupt CAR: %v", err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	genv := &cmdEnv{stdin: strings.NewReader(""), stdout: io.Discard, stderr: pw, getenv: func(string) string { return "" }}
	go func() {
		done <- run(ctx, []string{"gateway", "--addr", "127.0.0.1:0", "--data-dir", data, "--offline"}, genv)
		pw.Close()
	}()
	var base string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "gateway listening on "); ok {
			base = v
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if base == "" {
		t.Fatalf("gateway printed no address: %v", <-done)
	}
	for path, want := range map[string]string{
		"/collection/" + root + "/src/sub/a.txt": "hello gateway",
		"/ipfs/" + c.String() + "?format=raw":    "block from a car",
	} {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	cancel()
	if err := testutil.WaitFor(t, done, 30*time.Second, "gateway returning after cancel"); err != nil {
		t.Fatalf("gateway: %v", err)
	}
	if err := run(t.Context(), []string{"gateway", "--allow-provider", "nope", "--offline"}, env); err == nil || !strings.Contains(err.Error(), "allow-provider") {
		t.Errorf("bad --allow-provider: %v", err)
	}
}
