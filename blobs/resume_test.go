package blobs_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/fs"
	"github.com/iroh-go/iroh/endpointaddr"
)

// childMain runs in a child process of the test binary. Mode "download"
// downloads the ticket in $IROH_BLOBS_TICKET into the fs store at
// $IROH_BLOBS_DIR, printing "local N" progress lines, until killed.
func childMain(mode string) int {
	if mode != "download" {
		fmt.Fprintln(os.Stderr, "unknown child mode", mode)
		return 2
	}
	ctx := context.Background()
	t, err := blobs.ParseBlobTicket(os.Getenv("IROH_BLOBS_TICKET"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st, err := fs.Open(os.Getenv("IROH_BLOBS_DIR"), &fs.Options{CheckpointBytes: 512 << 10})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ep, err := iroh.Bind(ctx, &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	d, _ := blobs.NewDownloader(st, blobs.EndpointDialer(ep), nil)
	_, err = d.Download(ctx, blobs.DownloadRequest{Content: t.HashAndFormat(), Providers: []endpointaddr.Addr{t.Addr},
		OnProgress: func(p blobs.DownloadProgress) { fmt.Printf("local %d\n", p.Local) }})
	fmt.Printf("done %v\n", err)
	return 0
}

// slowStore serves a store's blobs slowly (a pause per 1 MiB read) so a
// download can be killed part way.
type slowStore struct{ blobs.Store }

type slowReader struct{ blobs.BlobReader }
type slowReaderAt struct{ r io.ReaderAt }

func (s slowStore) OpenReader(ctx context.Context, h blobs.Hash) (blobs.BlobReader, error) {
	r, err := s.Store.OpenReader(ctx, h)
	if err != nil {
		return nil, err
	}
	return slowReader{r}, nil
}
func (r slowReader) Data() io.ReaderAt { return slowReaderAt{r.BlobReader.Data()} }
func (r slowReaderAt) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(time.Duration(len(p)) * 80 * time.Millisecond / (1 << 20))
	return r.r.ReadAt(p, off)
}

// TestResumeAfterKill9 kills a downloading child process with SIGKILL,
// checks the store it left opens with verified chunks recorded, then
// resumes and checks only the missing bytes are fetched.
func TestResumeAfterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	const size = 24 << 20
	data := randBytes(t, size)
	ps := openFS(t, t.TempDir())
	tt, err := ps.AddBytes(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer tt.Close()
	p := startProvider(t, slowStore{ps}, nil)
	ticket := blobs.BlobTicket{Addr: p.addr(), Hash: tt.Hash()}
	dir := t.TempDir()

	exe, _ := os.Executable()
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "IROH_BLOBS_TEST_CHILD=download", "IROH_BLOBS_DIR="+dir, "IROH_BLOBS_TICKET="+ticket.String())
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "local" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			// Killed at half way, at least a quarter must have been
			// persisted: the slack (6 MiB, 0.5 s of this slow transfer)
			// covers the last checkpoint's commit on a loaded machine.
			if n >= size/2 {
				cmd.Process.Kill() // SIGKILL
				killed = true
				break
			}
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatal("child finished before it could be killed")
	}

	gs, err := fs.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	bf, err := gs.Bitfield(ctx, tt.Hash())
	if err != nil {
		t.Fatal(err)
	}
	kept := bf.VerifiedBytes()
	t.Logf("after SIGKILL: %d of %d bytes verified and persisted (%v)", kept, size, bf.Ranges())
	if kept < size/4 || kept >= size {
		t.Fatalf("persisted %d bytes, want at least %d and less than all", kept, size/4)
	}
	d := newDownloader(t, gs, nil)
	var last blobs.DownloadProgress
	got, err := d.Download(ctx, blobs.DownloadRequest{Content: tt.HashAndFormat(), Providers: []endpointaddr.Addr{p.addr()},
		OnProgress: func(pr blobs.DownloadProgress) { last = pr }})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if last.Fetched != size-kept {
		t.Errorf("resume fetched %d bytes, want exactly the %d missing", last.Fetched, size-kept)
	}
	r, err := gs.OpenReader(ctx, tt.Hash())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := make([]byte, size)
	r.Data().ReadAt(b, 0)
	if blobs.ComputeHash(b) != tt.Hash() {
		t.Fatal("resumed blob does not hash right")
	}
}
