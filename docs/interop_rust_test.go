package docs

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/internal/testutil"
)

const probeALPN = "iroh-go-interop/echo/0"

// rustAddrs are the direct addresses of n as the 0.35 node's NodeAddr
// wants them.
func rustAddrs(n *node) []string {
	var out []string
	for _, a := range n.ep.Addr().Direct {
		out = append(out, a.String())
	}
	return out
}

// TestRust035Handshake: a real Rust iroh 0.35 node dials our endpoint by
// id and direct address, opens a stream on an ALPN we serve and gets its
// bytes echoed.
func TestRust035Handshake(t *testing.T) {
	testutil.RequireRustInterop(t)
	if !testutil.InLoopbackNamespace(t) {
		return
	}
	var logger *slog.Logger
	if os.Getenv("IROH_TEST_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ep, err := iroh.Bind(t.Context(), &iroh.Options{BindAddrV4: loopback4, DisableIPv6: true, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	router := iroh.NewRouter(ep).Handle(probeALPN, iroh.ProtocolHandlerFunc(func(ctx context.Context, c *iroh.Connection) error {
		s, err := c.AcceptStream(ctx)
		if err != nil {
			return err
		}
		io.Copy(s, s)
		s.Close()
		<-c.Context().Done()
		return nil
	}))
	if err := router.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		router.Shutdown(ctx)
		ep.Close(ctx)
	})
	var args []string
	if l := os.Getenv("IROH_TEST_RUSTLOG"); l != "" {
		args = append(args, "--log", l)
	}
	r := testutil.StartRust035(t, args...)
	var addrs []string
	for _, a := range ep.Addr().Direct {
		addrs = append(addrs, a.String())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	msg := []byte("hello from rust 0.35")
	res, err := r.Do(ctx, "connect", map[string]any{"nodeId": ep.ID().String(), "addrs": addrs, "alpn": probeALPN, "data": base64.StdEncoding.EncodeToString(msg)})
	if err != nil {
		t.Fatalf("%v\nrust stderr:\n%s", err, r.Stderr())
	}
	reply, _ := base64.StdEncoding.DecodeString(res["reply"].(string))
	if string(reply) != string(msg) {
		t.Fatalf("echo %q, want %q", reply, msg)
	}
	t.Logf("rust 0.35 dialed us and echoed in %.0f ms", res["ms"])
}
