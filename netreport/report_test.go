package netreport

import (
	"testing"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
)

func TestPreferredRelayHysteresis(t *testing.T) {
	a, b := endpointaddr.RelayURL("http://a/"), endpointaddr.RelayURL("http://b/")
	prev := &Report{PreferredRelay: a}
	r := &Report{RelayLatency: map[endpointaddr.RelayURL]time.Duration{a: 30 * time.Millisecond, b: 25 * time.Millisecond}}
	r.summarize(prev)
	if r.PreferredRelay != a {
		t.Errorf("switched for a small gain: %s", r.PreferredRelay)
	}
	r = &Report{RelayLatency: map[endpointaddr.RelayURL]time.Duration{a: 30 * time.Millisecond, b: 10 * time.Millisecond}}
	r.summarize(prev)
	if r.PreferredRelay != b {
		t.Errorf("kept a much slower relay: %s", r.PreferredRelay)
	}
}
