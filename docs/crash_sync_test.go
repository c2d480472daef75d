package docs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/key"
)

// TestCrashDuringSyncLosesNothingAcknowledged: a child process serves a
// sync session on its stdin/stdout from a bbolt store; we send it entries,
// read its answer (the acknowledgement), kill it with SIGKILL before the
// session ends, and find every entry of the answered message on disk.
func TestCrashDuringSyncLosesNothingAcknowledged(t *testing.T) {
	if dir := os.Getenv("DOCS_SYNC_CRASH_CHILD"); dir != "" {
		syncCrashChild(dir)
		return
	}
	dir := t.TempDir()
	secret := NewNamespaceSecret()
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.ImportNamespace(WriteCapability(secret))
	r, _ := s.Replica(secret.ID())
	a, _ := s.NewAuthor()
	set(t, r, a, "local", "x") // the child's replica is not empty
	s.Close()

	// Bounded: a stuck child is killed, which ends the reads below.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashDuringSyncLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "DOCS_SYNC_CRASH_CHILD="+dir)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The child prints "ready" on a line, then speaks the protocol.
	br := bufio.NewReader(out)
	if line, err := br.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	author := NewAuthor()
	now := uint64(time.Now().UnixMicro())
	var vals []ranger.Value[*SignedEntry]
	for i := range 50 {
		v := fmt.Appendf(nil, "v%d", i)
		vals = append(vals, ranger.Value[*SignedEntry]{Entry: Sign(secret, author, Entry{Key: fmt.Appendf(nil, "remote/%02d", i), Len: uint64(len(v)), Hash: blobs.ComputeHash(v), Timestamp: now})})
	}
	whole := ranger.Range{X: defaultID, Y: defaultID}
	init := Message{Kind: MsgInit, Namespace: secret.ID(), Msg: ProtocolMessage{Parts: []ranger.Part[*SignedEntry]{{Kind: ranger.RangeItem, Range: whole, Values: vals}}}}
	if _, err := WriteFrame(in, &init); err != nil {
		t.Fatal(err)
	}
	reply, _, err := ReadFrame(br)
	if err != nil || reply.Kind != MsgSync {
		t.Fatalf("reply: %v kind %d", err, reply.Kind)
	}
	// Acknowledged. Crash the child mid-session (we never finish).
	cmd.Process.Kill()
	cmd.Wait()

	s, err = OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, _ = s.Replica(secret.ID())
	got, _ := r.Query(Query{Author: new(author.ID()), Key: []byte("remote/"), KeyPrefix: true})
	if len(got) != 50 {
		t.Fatalf("%d of 50 acknowledged entries on disk after the crash", len(got))
	}
}

func syncCrashChild(dir string) {
	s, err := OpenStore(dir, nil)
	if err != nil {
		os.Exit(3)
	}
	fmt.Println("ready")
	rw := struct {
		io.Reader
		io.Writer
	}{os.Stdin, os.Stdout}
	s.SyncAccept(context.Background(), rw, key.PublicKey{1}, nil, nil, ranger.Limits{})
	// Wait to be killed.
	time.Sleep(time.Minute)
	os.Exit(0)
}
