package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// inNetns runs a shell script in a new network namespace whose only
// interface is loopback (up): nothing it sends can leave the machine.
// The script sees $IROH (the built binary) and $DIR (a temp dir). It needs
// root (or unprivileged user namespaces) and iproute2.
func inNetns(t *testing.T, script string) (string, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (scripts/test.sh installs it): %v", tool, err)
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "sh", "-ec", "ip link set lo up\n"+script)
	cmd.Env = append(os.Environ(), "IROH="+buildIroh(t), "DIR="+dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitLine is a shell function: wait up to $2 tenths of a second for a
// line starting with $3 in file $1, print it.
const waitLine = `waitline() { i=0; while [ $i -lt $2 ]; do l=$(grep -m1 "^$3" "$1" || true); if [ -n "$l" ]; then echo "$l"; return 0; fi; sleep 0.1; i=$((i+1)); done; echo "no $3 line in $1:" >&2; cat "$1" >&2; return 1; }
`

// TestOfflineNoNonLoopbackDial is the guard of item 3: with --offline,
// `pipe listen` and `pipe connect` (and `send`/`receive`) attempt no
// connection and send no datagram to anything but loopback, as strace
// records every connect, sendto, sendmsg and sendmmsg they make.
func TestOfflineNoNonLoopbackDial(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("strace not installed (scripts/test.sh installs it): %v", err)
		}
		t.Skip("strace not installed")
	}
	out, err := inNetns(t, waitLine+`
trace() { f=$1; shift; strace -f -qq -e trace=connect,sendto,sendmsg,sendmmsg -o "$f" "$IROH" "$@"; }
trace $DIR/listen.trace pipe listen --offline > $DIR/got 2> $DIR/listen.err < /dev/null &
tk=$(waitline $DIR/listen.err 300 endpoint)
echo hello-offline | trace $DIR/connect.trace pipe connect --offline "$tk" > /dev/null 2> $DIR/connect.err
wait
dd if=/dev/urandom of=$DIR/file bs=1k count=64 2>/dev/null
trace $DIR/send.trace send --offline $DIR/file 2> $DIR/send.err &
btk=$(waitline $DIR/send.err 300 blob)
mkdir $DIR/out
trace $DIR/receive.trace receive --offline -q --out $DIR/out "$btk" 2> $DIR/receive.err
kill -INT $(head -1 $DIR/send.trace | cut -d' ' -f1); wait
cat $DIR/got; echo
cat $DIR/*.trace
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "hello-offline") {
		t.Fatalf("pipe did not carry the data:\n%s", out)
	}
	addrs := regexp.MustCompile(`inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"`).FindAllStringSubmatch(out, -1)
	if len(addrs) == 0 {
		t.Fatalf("strace recorded no addresses at all:\n%s", out)
	}
	for _, m := range addrs {
		a := m[1] + m[2]
		if !loopbackHost(a) && a != "0.0.0.0" && a != "::" {
			t.Errorf("offline command reached %s", a)
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, `"`+a+`"`) {
					t.Log(l)
					break
				}
			}
		}
	}
}

// TestOfflineMachineDefaults (item 3): with the defaults (n0's relays and
// DNS lookup), a machine with no network still pipes on its LAN at once:
// the ticket comes within seconds, holds its direct addresses, and the
// connect works. Nothing leaves the namespace (only loopback exists).
func TestOfflineMachineDefaults(t *testing.T) {
	out, err := inNetns(t, waitLine+`
start=$(date +%s%N)
"$IROH" pipe listen > $DIR/got 2> $DIR/listen.err < /dev/null &
tk=$(waitline $DIR/listen.err 300 endpoint)
echo "ticket_ms $(( ($(date +%s%N) - start) / 1000000 ))"
echo hello-lan | "$IROH" pipe connect "$tk" > /dev/null 2> $DIR/connect.err || { cat $DIR/connect.err; exit 1; }
wait
echo "got $(cat $DIR/got)"
cat $DIR/listen.err
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "got hello-lan") {
		t.Fatalf("pipe with defaults on an offline machine failed:\n%s", out)
	}
	m := regexp.MustCompile(`ticket_ms (\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal(out)
	}
	ms := 0
	for _, c := range m[1] {
		ms = ms*10 + int(c-'0')
	}
	if ms > 4000 {
		t.Errorf("offline machine waited %d ms for its ticket", ms)
	}
	t.Logf("ticket after %d ms offline:\n%s", ms, out)
}

// TestRelayDevServesSTUN (item 4): `iroh relay --dev` with no other flag
// serves STUN on its default port, and says so; a net report through it
// sees UDP work and our address.
func TestRelayDevServesSTUN(t *testing.T) {
	out, err := inNetns(t, waitLine+`
"$IROH" relay --dev --http-addr 127.0.0.1:3340 2> $DIR/relay.err &
waitline $DIR/relay.err 100 'time=.*stun listening' > /dev/null
"$IROH" net-report --relay http://127.0.0.1:3340 --bind6 ""
kill -INT $!; wait
cat $DIR/relay.err
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"udp ipv4: true", "public ipv4: 127.0.0.1:", "stun listening", ":3478"} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
}
