//go:build linux

package mdns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
	"golang.org/x/sys/unix"
)

// newNetns creates a network namespace of the test's own whose loopback
// carries multicast (lo up, MULTICAST flag, 224.0.0.0/4 routed to it), so
// mDNS traffic never leaves it. It skips the test when that is not
// possible (not root, no ip tool, no namespace support).
func newNetns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mDNS socket test needs root to create a network namespace (multicast stays inside it)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("mDNS socket test needs the ip tool to create a network namespace")
	}
	name := fmt.Sprintf("irohgo-mdns-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	for _, args := range [][]string{
		{"-n", name, "link", "set", "lo", "up"},
		{"-n", name, "link", "set", "lo", "multicast", "on"},
		{"-n", name, "route", "add", "224.0.0.0/4", "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	return name
}

// inNetns runs f on an OS thread switched into the namespace; sockets f
// creates belong to it for their whole life.
func inNetns(t *testing.T, name string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer unix.Close(orig)
	target, err := unix.Open("/var/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Skipf("setns: %v", err)
	}
	f()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: it dies with this goroutine.
		t.Fatalf("restore netns: %v", err)
	}
	runtime.UnlockOSThread()
}

func quietLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// TestDiscoveryOverMulticast runs three Lookups on the real mDNS port in
// a private namespace: two publish, the third (listen-only) and the
// publishers themselves resolve each other over multicast.
func TestDiscoveryOverMulticast(t *testing.T) {
	ns := newNetns(t)
	relay, _ := endpointaddr.ParseRelayURL("http://relay.example:3340")
	mk := func(port uint16, ud string) addrlookup.EndpointInfo {
		return addrlookup.EndpointInfo{ID: key.NewSecretKey().Public(), RelayURLs: []endpointaddr.RelayURL{relay},
			Direct: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)}, UserData: ud}
	}
	a, b := mk(1111, "a"), mk(2222, "b")
	opts := func(listenOnly bool) *Options {
		return &Options{DisableIPv6: true, DisableAdvertise: listenOnly, QueryInterval: time.Second,
			LookupTimeout: 5 * time.Second, Logger: quietLogger(t)}
	}
	var la, lb, lc *Lookup
	inNetns(t, ns, func() {
		var err error
		if la, err = New(a.ID, opts(false)); err != nil {
			t.Fatal(err)
		}
		if lb, err = New(b.ID, opts(false)); err != nil {
			t.Fatal(err)
		}
		if lc, err = New(key.NewSecretKey().Public(), opts(true)); err != nil {
			t.Fatal(err)
		}
	})
	for _, l := range []*Lookup{la, lb, lc} {
		t.Cleanup(func() { l.Close() })
	}
	// Bounded: Resolve waits until the endpoint is found, so a lost
	// announcement fails the test rather than hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := la.Publish(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := lb.Publish(ctx, b); err != nil {
		t.Fatal(err)
	}
	check := func(l *Lookup, want addrlookup.EndpointInfo) {
		t.Helper()
		got, err := l.Resolve(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) || got.TTL <= 0 {
			t.Fatalf("got %+v\nwant %+v", got, want)
		}
	}
	check(lc, a)
	check(lc, b)
	check(la, b)
	check(lb, a)
	if peers := lc.Peers(); len(peers) != 2 {
		t.Fatalf("listener knows %d peers", len(peers))
	}
	// The listen-only lookup is never found.
	short, scancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer scancel()
	if _, err := la.Resolve(short, lc.id); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("listen-only endpoint resolved: %v", err)
	}
	// A change is announced at once.
	b.UserData = "b2"
	if err := lb.Publish(ctx, b); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		got, err := lc.Resolve(ctx, b.ID)
		if err == nil && got.UserData == "b2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("update not seen: %+v %v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Closed lookups report it.
	lc.Close()
	if _, err := lc.Resolve(ctx, a.ID); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}
