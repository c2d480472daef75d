package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGossipChatExample(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	// Loopback only: the test must not send to the machine's other addresses.
	opts := &iroh.Options{BindAddrV4: netip.MustParseAddrPort("127.0.0.1:0"), DisableIPv6: true, Logger: slog.New(slog.DiscardHandler)}
	if err := run(ctx, &out, opts); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`alice heard "bob: hello, room"`, `alice heard "carol: hello, room"`, `carol heard "alice: hello, room"`, `bob heard "carol: hello, room"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %s in:\n%s", want, out.String())
		}
	}
}
