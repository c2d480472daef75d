package pkarr

import (
	"testing"

	"github.com/iroh-go/iroh/key"
)

// FuzzParseRelayPayload: the body of every pkarr PUT, arbitrary bytes from
// the network. No panic; what parses verifies and re-encodes identically.
func FuzzParseRelayPayload(f *testing.F) {
	sk := key.NewSecretKey()
	p, err := SignInfo(sk, Info{RelayURLs: []string{"https://relay.example.org./"}, UserData: "x"}, 0, 0)
	if err != nil {
		f.Fatal(err)
	}
	k := sk.Public()
	f.Add(p.AppendRelayPayload(nil))
	f.Add([]byte{})
	f.Add(make([]byte, 72))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := ParseRelayPayload(k, b)
		if err != nil {
			return
		}
		if err := q.Verify(); err != nil {
			t.Fatalf("parsed payload does not verify: %v", err)
		}
		if got := string(q.AppendRelayPayload(nil)); got != string(b) {
			t.Fatal("re-encoding differs")
		}
	})
}
