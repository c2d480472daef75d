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

func TestEchoExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	// Loopback only: the test must not send to the machine's other addresses.
	opts := &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true}
	if err := run(ctx, &out, opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `echoed "hello, iroh"`) {
		t.Fatalf("output %q", out.String())
	}
}
