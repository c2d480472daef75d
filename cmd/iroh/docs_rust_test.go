package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/testutil"
)

// TestDocsRust035 drives the CLI against a real Rust iroh-docs 0.35 node:
// `iroh docs join` imports the document of a ticket Rust printed and gets
// every entry and its content; `iroh docs share --write --v035` prints a
// ticket Rust joins, and Rust gets every entry and its content.
func TestDocsRust035(t *testing.T) {
	testutil.RequireRust035(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	r := testutil.StartRust035(t)
	b64 := base64.StdEncoding.EncodeToString
	vals := map[string]string{"greeting": "hello from rust 0.35", "dir/one": "1", "dir/big": strings.Repeat("0123456789abcdef", 20000)}

	// Rust's document, joined with `iroh docs join`.
	res, err := r.Do(ctx, "create", nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := res["doc"].(string)
	for k, v := range vals {
		if _, err := r.Do(ctx, "set", map[string]any{"doc": doc, "key": b64([]byte(k)), "value": b64([]byte(v))}); err != nil {
			t.Fatal(err)
		}
	}
	res, err = r.Do(ctx, "share", map[string]any{"doc": doc, "mode": "Read"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, err := docsRun(t, ctx, append([]string{"join", "--data-dir", dir}, append(loopbackFlags, res["ticket"].(string))...)...)
	if err != nil {
		t.Fatalf("docs join: %v\nrust stderr:\n%s", err, r.Stderr())
	}
	if strings.TrimSpace(out) != doc {
		t.Fatalf("join printed %q, want %s", out, doc)
	}
	for k, v := range vals {
		got, err := docsRun(t, ctx, "get", "--data-dir", dir, doc, k)
		if err != nil || strings.TrimSuffix(got, "\n") != v {
			t.Fatalf("docs get %s: %d bytes, %v", k, len(got), err)
		}
	}

	// Our document, shared with `iroh docs share --v035`, joined by Rust.
	a := t.TempDir()
	out, err = docsRun(t, ctx, "create", "--data-dir", a)
	if err != nil {
		t.Fatal(err)
	}
	ours := strings.TrimSpace(out)
	for k, v := range vals {
		if _, err := docsRun(t, ctx, "set", "--data-dir", a, ours, "go/"+k, v); err != nil {
			t.Fatal(err)
		}
	}
	shareCtx, stopShare := context.WithCancel(ctx)
	ticket, done := startShare(t, shareCtx, "--data-dir", a, "--write", "--v035", ours)
	defer func() {
		stopShare()
		testutil.WaitFor(t, done, 30*time.Second, "docs share returning after cancel")
	}()
	if res, err = r.Do(ctx, "join", map[string]any{"ticket": ticket}); err != nil {
		t.Fatalf("rust join of %s: %v\nrust stderr:\n%s", ticket, err, r.Stderr())
	}
	for {
		res, err = r.Do(ctx, "entries", map[string]any{"doc": ours})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]byte{}
		for _, x := range res["entries"].([]any) {
			m := x.(map[string]any)
			k, _ := base64.StdEncoding.DecodeString(m["key"].(string))
			if c, ok := m["content"].(string); ok {
				got[string(k)], _ = base64.StdEncoding.DecodeString(c)
			}
		}
		missing := 0
		for k, v := range vals {
			c, ok := got["go/"+k]
			if !ok {
				missing++
				continue
			}
			if !bytes.Equal(c, []byte(v)) {
				t.Fatalf("rust content of go/%s: %d bytes, want %d", k, len(c), len(v))
			}
		}
		if missing == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("rust 0.35 lacks %d of %d entries with content: %s\nrust stderr:\n%s", missing, len(vals), fmt.Sprint(res["entries"]), r.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
