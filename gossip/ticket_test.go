package gossip

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/ticket"
)

func sampleTicket() Ticket {
	return Ticket{Topic: TopicFromName("chat"), Peers: []iroh.EndpointAddr{{
		ID:        iroh.NewSecretKey().Public(),
		RelayURLs: []iroh.RelayURL{"https://relay.example./"},
		Direct:    []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4433")},
	}, {ID: iroh.NewSecretKey().Public()}}}
}

func TestTicketRoundTrip(t *testing.T) {
	tk := sampleTicket()
	s := tk.String()
	if !strings.HasPrefix(s, "gossip") || ticket.Kind(s) != TicketKind {
		t.Fatalf("ticket %q, kind %q", s, ticket.Kind(s))
	}
	got, err := ParseTicket(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tk) {
		t.Fatalf("got %+v\nwant %+v", got, tk)
	}
	for _, bad := range []string{"", "gossip", "gossipzz", "endpointaaaa", s + "aa"} {
		if _, err := ParseTicket(bad); err == nil {
			t.Errorf("ParseTicket(%q) succeeded", bad)
		}
	}
}

func TestPeerData(t *testing.T) {
	// The peer data a Rust 0.35 node sent (shared/spec/vectors/protocols.json).
	const rust = "012368747470733a2f2f757365312d312e72656c61792e69726f682e6e6574776f726b2e2f02007f000001a4f3020100000000000000000000000000000001a5f302"
	b := mustHex(t, rust)
	id := iroh.NewSecretKey().Public()
	a, err := ParsePeerData(id, b)
	if err != nil {
		t.Fatal(err)
	}
	if a.RelayURL() != "https://use1-1.relay.iroh.network./" || len(a.Direct) != 2 || a.Direct[0].String() != "127.0.0.1:47524" || a.Direct[1].String() != "[::1]:47525" {
		t.Fatalf("decoded %+v", a)
	}
	if enc := AppendPeerData(nil, a); !bytes.Equal(enc, b) {
		t.Fatalf("re-encoded %x", enc)
	}
	// Our own Join data of the 0.35 capture: no relay, 127.0.0.1:60845.
	if a, err := ParsePeerData(id, mustHex(t, "0001007f000001addb03")); err != nil || a.Direct[0].Port() != 60845 {
		t.Fatalf("join data: %+v %v", a, err)
	}
	if a, err := ParsePeerData(id, nil); err != nil || !a.IsIDOnly() {
		t.Fatalf("empty data: %+v %v", a, err)
	}
}

func FuzzParsePeerData(f *testing.F) {
	f.Add(mustHex(f, "0001007f000001addb03"))
	f.Add(AppendPeerData(nil, sampleTicket().Peers[0]))
	f.Fuzz(func(t *testing.T, b []byte) {
		id := iroh.EndpointID{1}
		a, err := ParsePeerData(id, b)
		if err != nil || len(b) == 0 {
			return
		}
		a2, err := ParsePeerData(id, AppendPeerData(nil, a))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(a.Canonical(), a2.Canonical()) {
			t.Fatalf("round trip %+v / %+v", a, a2)
		}
	})
}

func FuzzParseTicket(f *testing.F) {
	b, _ := sampleTicket().AppendBinary(nil)
	f.Add(b)
	f.Add(make([]byte, 33))
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := ParseTicketBinary(b)
		if err != nil {
			return
		}
		enc, _ := tk.AppendBinary(nil)
		tk2, err := ParseTicketBinary(enc)
		if err != nil || !reflect.DeepEqual(tk, tk2) {
			t.Fatalf("round trip: %v", err)
		}
		if len(tk.Peers) > len(b)/33 {
			t.Fatalf("%d peers from %d bytes", len(tk.Peers), len(b))
		}
	})
}
