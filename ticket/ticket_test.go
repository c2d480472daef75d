package ticket

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

type ticketVector struct {
	Name  string `json:"name"`
	Input struct {
		ID      string   `json:"endpoint_id_hex"`
		Relay   *string  `json:"relay_url"`
		IPAddrs []string `json:"ip_addrs"`
	} `json:"input"`
	Ticket      string `json:"ticket"`
	PostcardHex string `json:"postcard_hex"`
	ParsedBack  *struct {
		Relay   *string  `json:"relay_url"`
		IPAddrs []string `json:"ip_addrs"`
	} `json:"parsed_back"`
	UpperTicket *bool `json:"uppercase_ticket_parses"`
	UpperBody   *bool `json:"base32_body_uppercase_parses"`
}

func TestEndpointTicketVectors(t *testing.T) {
	var v struct {
		Tickets []ticketVector `json:"tickets"`
	}
	testutil.LoadVectors(t, "core.json", &v)
	if len(v.Tickets) < 5 {
		t.Fatalf("only %d ticket vectors", len(v.Tickets))
	}
	for _, tv := range v.Tickets {
		t.Run(tv.Name, func(t *testing.T) {
			got, err := ParseEndpoint(tv.Ticket)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := Decode(EndpointKind, tv.Ticket)
			if hex.EncodeToString(raw) != tv.PostcardHex {
				t.Errorf("postcard: got %x want %s", raw, tv.PostcardHex)
			}
			// Build the ticket from the vector's input; "<port>" placeholders
			// take the port Rust encoded (the vectors hide loopback ports).
			in := endpointaddr.Addr{ID: mustKey(t, tv.Input.ID)}
			if tv.Input.Relay != nil {
				u, err := endpointaddr.ParseRelayURL(*tv.Input.Relay)
				if err != nil {
					t.Fatal(err)
				}
				in.RelayURLs = append(in.RelayURLs, u)
			}
			for _, s := range tv.Input.IPAddrs {
				if strings.Contains(s, "<port>") {
					host := strings.TrimSuffix(s, ":<port>")
					for _, d := range got.Direct {
						if d.Addr().String() == strings.Trim(host, "[]") {
							s = netip.AddrPortFrom(d.Addr(), d.Port()).String()
						}
					}
				}
				ap, err := netip.ParseAddrPort(s)
				if err != nil {
					t.Fatalf("vector addr %q: %v", s, err)
				}
				in.Direct = append(in.Direct, ap)
			}
			if enc := EncodeEndpoint(in); enc != tv.Ticket {
				t.Errorf("encode:\n got %s\nwant %s", enc, tv.Ticket)
			}
			if enc := EncodeEndpoint(got); enc != tv.Ticket {
				t.Errorf("re-encode of parsed ticket differs")
			}
			if tv.ParsedBack != nil {
				var rel string
				if tv.ParsedBack.Relay != nil {
					rel = *tv.ParsedBack.Relay
				}
				if string(got.RelayURL()) != rel {
					t.Errorf("relay %q want %q", got.RelayURL(), rel)
				}
				if len(got.Direct) != len(tv.ParsedBack.IPAddrs) {
					t.Fatalf("direct %v want %v", got.Direct, tv.ParsedBack.IPAddrs)
				}
				for i, s := range tv.ParsedBack.IPAddrs {
					if g := got.Direct[i].String(); g != s && !strings.Contains(s, "<port>") {
						t.Errorf("addr %d: %s want %s", i, g, s)
					}
				}
			}
			if tv.UpperTicket != nil {
				_, err := ParseEndpoint(strings.ToUpper(tv.Ticket))
				if (err == nil) != *tv.UpperTicket {
					t.Errorf("uppercase ticket parses=%v, Rust %v", err == nil, *tv.UpperTicket)
				}
			}
			if tv.UpperBody != nil {
				_, err := ParseEndpoint(EndpointKind + strings.ToUpper(strings.TrimPrefix(tv.Ticket, EndpointKind)))
				if (err == nil) != *tv.UpperBody {
					t.Errorf("uppercase body parses=%v, Rust %v", err == nil, *tv.UpperBody)
				}
			}
		})
	}
}

func mustKey(t *testing.T, s string) key.PublicKey {
	t.Helper()
	k, err := key.ParsePublicKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCustomAddrRoundTrip(t *testing.T) {
	a := endpointaddr.Addr{ID: key.SecretKey{}.Public(), Custom: []endpointaddr.CustomAddr{
		{ID: 1, Data: []byte{0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6}},
		{ID: 0x20, Data: make([]byte, 40)},
	}}
	b := AppendEndpointAddr(nil, a)
	// spec §3 worked example for the inline form
	want := "0201" + "0006a1b2c3d4e5f6" + strings.Repeat("00", 24)
	if !strings.Contains(hex.EncodeToString(b), want) {
		t.Errorf("inline custom encoding %x lacks %s", b, want)
	}
	got, n, err := ParseEndpointAddr(b)
	if err != nil || n != len(b) || len(got.Custom) != 2 || got.Custom[1].ID != 0x20 || len(got.Custom[1].Data) != 40 {
		t.Fatalf("round trip: %+v %d %v", got, n, err)
	}
}

func TestBadTickets(t *testing.T) {
	good := EncodeEndpoint(endpointaddr.Addr{ID: key.SecretKey{}.Public(), Direct: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}})
	for name, c := range map[string]struct{ in, want string }{
		"prefix":    {"nodeaa", "missing prefix"},
		"base32":    {"endpoint!!!!", "invalid base32"},
		"empty":     {"endpoint", "empty body"},
		"version":   {Encode(EndpointKind, []byte{1, 2, 3}), "unsupported version 1"},
		"short":     {Encode(EndpointKind, []byte{0, 1, 2}), "need at least 32"},
		"trailing":  {Encode(EndpointKind, append(mustDecode(good), 9)), "trailing"},
		"truncated": {Encode(EndpointKind, mustDecode(good)[:40]), "truncated"},
		"badkind":   {Encode(EndpointKind, append(append([]byte{0}, key.SecretKey{}.Public().Bytes()...), 1, 9)), "unknown transport address kind 9"},
	} {
		_, err := ParseEndpoint(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, c.want)
		}
	}
}

func mustDecode(s string) []byte {
	b, err := Decode(EndpointKind, s)
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzParseEndpoint(f *testing.F) {
	f.Add("endpointaa5wuj54z23killcuounaktpbvzwkmqvo4o6eq5ghlaerimllhncsaa")
	f.Add("endpointaa5wuj54z23killcuounaktpbvzwkmqvo4o6eq5ghlaerimllhncsayadnuhi5dqom5c6l3smvwgc6jomv4gc3lqnrss433sm4xc6aiap4aaaaosbeaqcaaaaaaaaaaaaaaaaaaaaaaaaanofq")
	f.Add("endpoint")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseEndpoint(s)
		if err != nil {
			return
		}
		b, err := ParseEndpoint(EncodeEndpoint(a))
		if err != nil {
			t.Fatalf("re-encoded ticket does not parse: %v", err)
		}
		if EncodeEndpoint(b) != EncodeEndpoint(a) {
			t.Fatal("round trip differs")
		}
	})
}
