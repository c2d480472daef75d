package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
)

// startSend runs `iroh send PATH` in-process and returns the ticket it
// prints alone on its own stderr line.
func startSend(t *testing.T, ctx context.Context, args ...string) (string, chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, testFlags(append([]string{"send"}, args...)), testEnv(nil, io.Discard, pw))
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "blob") {
			go io.Copy(io.Discard, pr)
			return line, done
		}
	}
	t.Fatalf("send printed no ticket: %v", <-done)
	return "", nil
}

func writeTree(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func randData(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestSendReceive sends a multi-MiB file and a directory tree with the
// commands and checks they arrive byte-identical under their own names,
// with the partial state directory removed.
func TestSendReceive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := map[string][]byte{
		"tree/a.txt":          []byte("hello\n"),
		"tree/empty":          {},
		"tree/sub/big.bin":    randData(5<<20 + 17),
		"tree/sub/deep/x.bin": randData(40000),
		"single.bin":          randData(3 << 20),
	}
	writeTree(t, src, files)
	for _, what := range []string{"tree", "single.bin"} {
		t.Run(what, func(t *testing.T) {
			sctx, stop := context.WithCancel(ctx)
			ticket, done := startSend(t, sctx, filepath.Join(src, what))
			out := t.TempDir()
			var stderr bytes.Buffer
			err := run(ctx, append([]string{"receive", ticket, "--out", out}, loopbackFlags...), testEnv(nil, io.Discard, &stderr))
			stop()
			if err != nil {
				t.Fatalf("receive: %v\n%s", err, stderr.String())
			}
			if err := testutil.WaitFor(t, done, 30*time.Second, "send returning after cancel"); err != nil {
				t.Fatalf("send: %v", err)
			}
			for name, want := range files {
				if !strings.HasPrefix(name, what) {
					continue
				}
				got, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(name)))
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: differs (%v)", name, err)
				}
			}
			ents, _ := os.ReadDir(out)
			if len(ents) != 1 {
				t.Errorf("output dir holds %d entries, want only %s (state dir must be removed)", len(ents), what)
			}
			if !strings.Contains(stderr.String(), "received") {
				t.Errorf("no summary on stderr: %q", stderr.String())
			}
		})
	}
}

// TestReceiveBadTicket: a bad ticket is a usage error naming the problem.
func TestReceiveBadTicket(t *testing.T) {
	err := run(context.Background(), []string{"receive", "blobnotbase32!"}, testEnv(nil, io.Discard, io.Discard))
	if err == nil || !strings.Contains(err.Error(), "blob ticket") {
		t.Fatalf("error %v", err)
	}
}

// TestBlobsCommands drives add, list, tags, export, gc on one store.
func TestBlobsCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := t.TempDir()
	writeTree(t, dir, map[string][]byte{"f.bin": randData(100000), "d/x": []byte("x"), "d/y/z": []byte("zz")})
	exec := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append(args, "--data-dir", data), testEnv(nil, &out, io.Discard)); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	add := exec("blobs", "add", filepath.Join(dir, "f.bin"), "--tag", "file")
	fileHash := strings.Fields(add)[0]
	add = exec("blobs", "add", filepath.Join(dir, "d"), "--tag", "dir")
	dirHash := strings.Fields(add)[0]
	if !strings.HasPrefix(dirHash, "s") {
		t.Fatalf("directory added as %q, want a hash seq", dirHash)
	}
	if l := exec("blobs", "list"); strings.Count(l, "complete") != 6 { // file, x, z, meta, seq...
		t.Logf("list:\n%s", l)
	}
	tags := exec("blobs", "tags")
	if !strings.Contains(tags, "file "+fileHash) || !strings.Contains(tags, "dir "+dirHash) {
		t.Fatalf("tags:\n%s", tags)
	}
	out := t.TempDir()
	exec("blobs", "export", dirHash, out)
	if b, _ := os.ReadFile(filepath.Join(out, "d", "y", "z")); string(b) != "zz" {
		t.Fatalf("exported collection: %q", b)
	}
	exec("blobs", "export", fileHash, filepath.Join(out, "f"))
	exec("blobs", "tags", "--delete", "dir")
	gc := exec("blobs", "gc")
	if !strings.Contains(gc, "deleted 4") {
		t.Errorf("gc: %s", gc)
	}
	if l := exec("blobs", "list"); strings.Count(l, "\n") != 1 {
		t.Errorf("after gc:\n%s", l)
	}
	var stderr bytes.Buffer
	err := run(ctx, []string{"blobs", "list"}, testEnv(nil, io.Discard, &stderr))
	if err == nil || !strings.Contains(err.Error(), "--data-dir") {
		t.Errorf("missing --data-dir: %v", err)
	}
}

// TestReceiveResumesFromState: a rerun of receive picks up the state left
// in .iroh-receive-<hash> by an interrupted run. Here the earlier run got
// everything but the last file; the rerun fetches only that file.
func TestReceiveResumesFromState(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	src := t.TempDir()
	files := map[string][]byte{"tree/a.bin": randData(2 << 20), "tree/b.bin": randData(1 << 20)}
	writeTree(t, src, files)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	ticket, done := startSend(t, sctx, filepath.Join(src, "tree"))
	tk, err := blobs.ParseBlobTicket(ticket)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// The interrupted run: root, metadata and a.bin only.
	st, err := fs.Open(filepath.Join(out, ".iroh-receive-"+tk.Hash.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := iroh.Bind(ctx, &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := blobs.NewDownloader(st, blobs.EndpointDialer(ep), nil)
	root, err := d.Download(ctx, blobs.DownloadRequest{Content: blobs.HashAndFormat{Hash: tk.Hash}, Providers: []endpointaddr.Addr{tk.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	root.Close()
	seq, _ := blobs.ParseHashSeq(mustRead(t, st, tk.Hash))
	for _, h := range seq[:2] { // metadata, a.bin
		tt, err := d.Download(ctx, blobs.DownloadRequest{Content: blobs.HashAndFormat{Hash: h}, Providers: []endpointaddr.Addr{tk.Addr}})
		if err != nil {
			t.Fatal(err)
		}
		tt.Close()
	}
	d.Close()
	ep.Close(ctx)
	st.Close()

	var stderr bytes.Buffer
	if err := run(ctx, append([]string{"receive", ticket, "--out", out, "-q"}, loopbackFlags...), testEnv(nil, io.Discard, &stderr)); err != nil {
		t.Fatalf("receive: %v\n%s", err, stderr.String())
	}
	stop()
	testutil.WaitFor(t, done, 30*time.Second, "send returning after cancel")
	for name, want := range files {
		if got, _ := os.ReadFile(filepath.Join(out, filepath.FromSlash(name))); !bytes.Equal(got, want) {
			t.Errorf("%s differs", name)
		}
	}
	if !strings.Contains(stderr.String(), "1.0 MiB fetched") {
		t.Errorf("rerun did not fetch only the missing 1 MiB: %q", stderr.String())
	}
}

func mustRead(t *testing.T, s blobs.Store, h blobs.Hash) []byte {
	t.Helper()
	r, err := s.OpenReader(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := make([]byte, r.Size())
	r.Data().ReadAt(b, 0)
	return b
}
