package main

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDocsExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	// Loopback only: the test must not send to the machine's other addresses.
	opts := &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true}
	if err := run(ctx, &out, opts); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`bob reads greeting = "hello from alice"`, `alice reads todo/2 = "call bob"`, "alice has 2 todos"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output %q lacks %q", out.String(), want)
		}
	}
}
